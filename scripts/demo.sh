#!/usr/bin/env bash
# make demo: generate a multi-city corpus once, run the normalize job over it on a local
# cluster of 2 workers, publish its summaries to Postgres (a throwaway local server when
# DATABASE_URL is unset), then serve the viz page until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${DEMO_SIZE:-200MiB}
# v2: ten cities (an older cached corpus lacks the inputs the job template now reads).
demo=.cache/demo-v2-$size
viz_addr=${VIZ_ADDR:-127.0.0.1:8080}

started_pg=""
viz_pid=""
cleanup() {
  trap - EXIT INT TERM
  [ -n "$viz_pid" ] && kill "$viz_pid" 2>/dev/null && wait "$viz_pid" 2>/dev/null || true
  if [ -n "$started_pg" ]; then scripts/pg-local.sh stop || true; fi
}
trap cleanup EXIT
trap 'echo; echo "== stopping"; exit 0' INT TERM

if [ ! -f "$demo/.done" ]; then
  rm -rf "$demo"
  echo "== generating a $size synthetic corpus of ten cities in $demo/data"
  bin/coordinator gen --out "$demo/data" --size "$size" --seed 42
  touch "$demo/.done"
fi
sed "s|@CORPUS@|data|g" scripts/corpus.job.in > "$demo/demo.job"

if [ -z "${DATABASE_URL:-}" ]; then
  echo "== DATABASE_URL is unset: starting a throwaway PostgreSQL under .cache/pg"
  DATABASE_URL=$(scripts/pg-local.sh start)
  started_pg=1
fi
export DATABASE_URL

echo "== bin/coordinator run $demo/demo.job --workers 2"
bin/coordinator run "$demo/demo.job" --workers 2
echo
echo "The lake is in $demo/out/requests (city=/year=/month=/part-*.parquet), the per-group summaries"
echo "in $demo/out/requests/_summary, rejected records in $demo/out/rejects, and the summaries are"
echo "published to Postgres. Run it again: the same groups are replaced, never duplicated."

# Serve the viz page on the first free port from viz_addr on.
host=${viz_addr%:*}
port=${viz_addr##*:}
while (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do port=$((port + 1)); done
echo
echo "== bin/viz --db \$DATABASE_URL --listen $host:$port"
bin/viz --db "$DATABASE_URL" --listen "$host:$port" &
viz_pid=$!
echo "The viz page: http://$host:$port/   (Ctrl-C stops it$([ -n "$started_pg" ] && echo " and the demo's PostgreSQL"))"
wait "$viz_pid"
