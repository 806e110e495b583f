#!/bin/bash
# usage: stat.sh results.txt labelA labelB -> benchstat of CPU-s (user+sys), user, sys
f=$1; a=$2; b=$3
for l in $a $b; do
  awk -v l=$l '$1==l {printf "BenchmarkTinyJob 1 %.0f cpu-ms/op %.0f user-ms/op %.0f sys-ms/op %d maxrss-KiB/op\n", ($2+$3)*1000, $2*1000, $3*1000, $4}' $f > /tmp/bs-$l.txt
done
~/go/bin/benchstat $a=/tmp/bs-$a.txt $b=/tmp/bs-$b.txt
