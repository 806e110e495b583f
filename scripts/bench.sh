#!/usr/bin/env bash
# make bench: the normalize job over a generated corpus on local clusters of 2 workers and of
# 1 worker (throughput per core, records/s, peak RSS, time per phase, the scaling), the job's
# tasks without the cluster protocol (BenchmarkJob), then the Go benchmarks of the split
# reader, the normalizer and the shuffle. Compare ratios from one run: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${BENCH_SIZE:-1GiB}
seed=${BENCH_SEED:-1}
cores=$(nproc)
# v2: ten cities (an older cached corpus lacks the inputs the job template now reads).
corpus=.cache/bench-v2-$size-seed$seed
if [ ! -f "$corpus/.done" ]; then
  rm -rf "$corpus"
  echo "== generating a $size corpus (seed $seed) in $corpus"
  bin/coordinator gen --out "$corpus/data" --size "$size" --seed "$seed"
  touch "$corpus/.done"
fi
sed "s|@CORPUS@|data|g" scripts/corpus.job.in > "$corpus/bench.job"
for w in 2 1; do
  rm -rf "$corpus/out"
  echo "== coordinator run over $size: $w worker(s), 1 slot each, on $cores cores"
  DATABASE_URL= bin/coordinator run "$corpus/bench.job" --workers "$w" --slots 1 --json > "$corpus/result-$w.json"
  go run ./scripts/benchreport "$corpus/result-$w.json" "$cores"
done
python3 - "$corpus" <<'PY' || true
import json, sys
d = sys.argv[1]
r1, r2 = (json.load(open(f"{d}/result-{w}.json")) for w in (1, 2))
print(f"== scaling: 2 workers run {r1['seconds'] / r2['seconds']:.2f}x as fast as 1 worker")
PY

echo "== the tasks without the protocol (direct) vs on local clusters (BenchmarkJob, 256 MiB)"
BENCH_JOB_SIZE=268435456 go test -run '^$' -bench BenchmarkJob -benchtime 1x -count 3 ./coordinator | grep -E '^Benchmark' || true

echo "== Go benchmarks (split reader, normalizer, shuffle)"
go test -run '^$' -bench . -benchmem -count 1 ./csvsplit ./jobs ./shuffle | grep -E '^(Benchmark|ok|PASS|goos|cpu)' || true
