#!/bin/bash
# usage: bench.sh N label1 bin1 label2 bin2 ... ; appends "label user sys" lines to .runs/${RES:-results.txt}
set -e
cd /work/h-fixed/.runs
C=${CORPUS:-/work/h-fixed/.cache/scale-2MB-seed1-nyc0.6}
export DATABASE_URL=
N=$1; shift
mkdir -p trash
for i in $(seq $N); do
  args=("$@")
  for ((k=0; k<${#args[@]}; k+=2)); do
    lab=${args[k]}; bin=${args[k+1]}
    for d in $C/out data; do [ -e $d ] && mv $d trash/$(basename $d).$RANDOM$RANDOM; done
    /usr/bin/time -f "%U %S %M" -o t.txt $bin run $C/bench.job --workers 2 --slots 1 --json --data-dir data > o.json 2>e.txt
    grep -q '"succeeded"' o.json || { echo FAIL $lab; cat e.txt | tail; exit 1; }
    echo "$lab $(cat t.txt) $(grep '"groups"' o.json)" | tee -a ${RES:-results.txt}
  done
done
