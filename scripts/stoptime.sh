#!/usr/bin/env bash
# stoptime.sh: how long `coordinator serve` takes to stop (SIGTERM to exit) with idle workers
# long-polling it, then how long each worker takes to stop once its coordinator is gone.
#
#   scripts/stoptime.sh [RUNS]      (RUNS: 3)
#
# Everything runs on loopback, on ports the daemons pick themselves (the coordinator's log
# line "coordinator up" names its API and gossip addresses), in a temporary directory that is
# removed at the end. The binaries are built into that directory from this checkout, unless
# STOPTIME_BIN names a directory that already holds `coordinator` and `worker` (built with
# `go build -o DIR/ ./cmd/...`). STOPTIME_WORKERS sets the number of workers (3).
#
# A worker counts as idle once the coordinator lists it with its shuffle address and a poll
# has had time to arrive (a second after the last one registered): from then on it sits in a
# long poll, which is what a stop has to cut short. Times are wall clock, in milliseconds;
# on a loaded machine compare runs made back to back, not numbers from different days.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
nworkers=${STOPTIME_WORKERS:-3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/stoptime.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  [[ -n ${STOPTIME_KEEP:-} ]] || rm -rf "$tmp"
}
trap cleanup EXIT

bin=${STOPTIME_BIN:-}
if [[ -z $bin ]]; then
  bin=$tmp/bin
  go build -o "$bin/" ./cmd/coordinator ./cmd/worker
fi

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/key"
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/token"
token=$(cat "$tmp/token")

now_ms() { date +%s%3N; }

# wait_for SECONDS DESCRIPTION COMMAND...: runs COMMAND every 50 ms until it succeeds.
wait_for() {
  local limit=$(($(now_ms) + $1 * 1000)) what=$2
  shift 2
  until "$@"; do
    if (($(now_ms) > limit)); then
      echo "stoptime: no $what within the time limit; logs in $tmp" >&2
      tail -n 20 "$tmp"/*.log >&2 || true
      trap - EXIT
      exit 1
    fi
    sleep 0.05
  done
}

coordinator_up() { grep -q 'msg="coordinator up"' "$tmp/coordinator.log"; }

workers_registered() {
  local n
  n=$(curl -sf -H "Authorization: Bearer $token" "http://$api/api/v1/workers" | grep -o '"shuffle":"[^"]' | wc -l) || return 1
  ((n == nworkers))
}

# stop PID...: sends SIGTERM to every PID at once and sets elapsed to the milliseconds until
# the last one has exited. (Not in a $(…) subshell: only this shell can wait for its children.)
stop() {
  local start p
  start=$(now_ms)
  kill -TERM "$@"
  for p; do wait "$p" || true; done
  elapsed=$(($(now_ms) - start))
}

echo "run  coordinator_stop_ms  workers_stop_ms (all $nworkers at once, coordinator gone)"
for run in $(seq "$runs"); do
  dir=$tmp/run$run
  mkdir -p "$dir"
  pids=()
  : >"$tmp/coordinator.log"
  "$bin/coordinator" serve --bind 127.0.0.1:0 --api 127.0.0.1:0 --data-dir "$dir/coordinator" \
    --gossip-key-file "$tmp/key" --token-file "$tmp/token" --name coordinator --allow-path "$dir" \
    >"$tmp/coordinator.log" 2>&1 &
  coord=$!
  pids+=("$coord")
  wait_for 30 "coordinator up" coordinator_up
  line=$(grep 'msg="coordinator up"' "$tmp/coordinator.log")
  api=$(sed -E 's/.* api=([^ ]+).*/\1/' <<<"$line")
  gossip=$(sed -E 's/.* gossip=([^ ]+).*/\1/' <<<"$line")
  workers=()
  for i in $(seq "$nworkers"); do
    "$bin/worker" --join "$gossip" --bind 127.0.0.1:0 --listen 127.0.0.1:0 --slots 1 \
      --data-dir "$dir/worker-$i" --name "worker-$i" --gossip-key-file "$tmp/key" \
      --token-file "$tmp/token" --allow-path "$dir" >"$tmp/worker-$i.log" 2>&1 &
    workers+=($!)
    pids+=($!)
  done
  wait_for 60 "$nworkers registered workers" workers_registered
  sleep 1 # let every worker's first poll arrive: it is then long-polling
  stop "$coord"
  c=$elapsed
  # Then the rest of the cluster: every worker at once, each with its coordinator gone.
  stop "${workers[@]}"
  printf '%-4s %-20s %s\n' "$run" "$c" "$elapsed"
done
