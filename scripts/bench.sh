#!/usr/bin/env bash
# make bench: the normalize job over a generated corpus (throughput per core, records/s, peak RSS),
# then the Go benchmarks of the split reader, the normalizer and the shuffle.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${BENCH_SIZE:-1GiB}
seed=${BENCH_SEED:-1}
cores=$(nproc)
corpus=.cache/bench-$size-seed$seed
if [ ! -f "$corpus/.done" ]; then
  rm -rf "$corpus"
  echo "== generating a $size corpus (seed $seed) in $corpus"
  bin/coordinator gen --out "$corpus/data" --size "$size" --seed "$seed"
  touch "$corpus/.done"
fi
sed "s|@CORPUS@|data|g" scripts/corpus.job.in > "$corpus/bench.job"
rm -rf "$corpus/out"
echo "== coordinator run over $size on $cores cores"
bin/coordinator run "$corpus/bench.job" --json > "$corpus/result.json"
go run ./scripts/benchreport "$corpus/result.json" "$cores"

echo "== Go benchmarks (split reader, normalizer, shuffle)"
go test -run '^$' -bench . -benchmem -count 1 ./csvsplit ./jobs ./shuffle | grep -E '^(Benchmark|ok|PASS|goos|cpu)' || true
