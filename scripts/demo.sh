#!/usr/bin/env bash
# make demo: generate a multi-city corpus once, then run the normalize job over it on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${DEMO_SIZE:-200MiB}
demo=.cache/demo-$size
if [ ! -f "$demo/.done" ]; then
  rm -rf "$demo"
  echo "== generating a $size synthetic corpus of five cities in $demo/data"
  bin/coordinator gen --out "$demo/data" --size "$size" --seed 42
  touch "$demo/.done"
fi
sed "s|@CORPUS@|data|g" scripts/corpus.job.in > "$demo/demo.job"
echo "== bin/coordinator run $demo/demo.job"
bin/coordinator run "$demo/demo.job"
echo
echo "The lake is in $demo/out/requests (city=/year=/month=/part-*.parquet), its monthly summaries"
echo "in $demo/out/requests/_summary, rejected records in $demo/out/rejects. Run it again: the same"
echo "groups are replaced, never duplicated."
