#!/usr/bin/env bash
# alternate.sh DIR RUNS OLD_BIN OLD_DB NEW_BIN NEW_DB: runs `make demo`'s job (DIR holds a copy
# of .cache/demo-v2-200MiB: demo.job and data/) with two coordinator binaries in turn, RUNS
# times each, each publishing into its own database (a database is migrated by the binary that
# publishes into it), and prints per run the job's seconds, the publish's, its share of the
# job, the reduce and commit phases, and the CPU of the coordinator process (its in-process
# workers included) and of the whole PostgreSQL server during the run. Each run's output is
# moved to DIR/trash (delete it when done).
set -euo pipefail
dir=$1 runs=$2
pgcpu() { local t=0 s; for p in $(pgrep -u postgres postgres); do s=$(awk '{print $14+$15+$16+$17}' /proc/$p/stat 2>/dev/null || true); t=$((t + ${s:-0})); done; echo "$t"; }
one() { # label bin db
  # Moved aside, not deleted: on this machine's ext4 (no journal) creating files is 10-25x
  # dearer for minutes after many were deleted, and the reducers create thousands.
  mkdir -p "$dir/trash"
  for x in out cluster; do [ -e "$dir/$x" ] && mv "$dir/$x" "$dir/trash/$x-$(date +%s%N)"; done
  local a b; a=$(pgcpu)
  DATABASE_URL=$3 /usr/bin/time -f "%U %S" -o "$dir/time" "$2" run "$dir/demo.job" --workers 2 --json --data-dir "$dir/cluster" >"$dir/result.json" 2>"$dir/log"
  b=$(pgcpu)
  python3 - "$1" "$dir" "$a" "$b" <<'PY'
import json, sys
label, d, a, b = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
j = json.load(open(d + "/result.json")); p = j["phase_seconds"]
u, s = map(float, open(d + "/time").read().split())
print("%-4s job=%.2f publish=%.2f share=%2.0f%% reduce=%.2f commit=%.2f coord_cpu=%.2f pg_cpu=%.2f" % (
    label, j["seconds"], p.get("publish", 0), 100 * p.get("publish", 0) / j["seconds"], p["reduce"], p["commit"], u + s, (b - a) / 100))
PY
}
for _ in $(seq "$runs"); do
  one old "$3" "$4"
  one new "$5" "$6"
done
