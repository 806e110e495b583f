#!/usr/bin/env bash
# make demo: generate a multi-city corpus once, run the normalize job over it on a local
# cluster of 2 workers, publish its summaries to Postgres (a throwaway local server when
# DATABASE_URL is unset), then serve the viz page until Ctrl-C.
#
# Environment: DEMO_SIZE (200MiB), DATABASE_URL (a server to use instead of a throwaway one),
# VIZ_ADDR (127.0.0.1:8080: the first port tried for the page), DEMO_CACHE (.cache: where the
# corpus and the throwaway server live), DEMO_BIN (bin: where the binaries are).
#
# Ctrl-C stops everything the demo started and exits 0, however it was started: `make demo`,
# `make demo 2>&1 | tee demo.log`, or this script. A terminal sends SIGINT to its whole
# foreground process group — make, this script, tee and whatever runs in the foreground —
# so, to stay in charge of the order of shutdown:
#   - every program the demo starts runs in a session of its own (setsid): the terminal's
#     signals reach this script only, which stops viz, then a running job, then the
#     PostgreSQL it started, and waits for each to exit;
#   - under `| tee`, the same Ctrl-C kills tee, and every later write to the pipe fails:
#     SIGPIPE is ignored (a write kills nobody) and messages fall back to /dev/tty;
#   - a second Ctrl-C (or SIGTERM, SIGHUP) while stopping only says so: stopping half-way is
#     how a PostgreSQL used to be left behind;
#   - a stop by signal exits 0, so make does not report "Error 130".
set -euo pipefail
cd "$(dirname "$0")/.."
size=${DEMO_SIZE:-200MiB}
cache=${DEMO_CACHE:-.cache}
bindir=${DEMO_BIN:-bin}
# v2: ten cities (an older cached corpus lacks the inputs the job template now reads).
demo=$cache/demo-v2-$size
viz_addr=${VIZ_ADDR:-127.0.0.1:8080}
export PG_LOCAL_DIR=${PG_LOCAL_DIR:-$cache/pg}

trap '' PIPE

# say prints a line on stdout, or on the terminal when stdout is gone (tee killed by Ctrl-C).
say() {
  { printf '%s\n' "$*"; } 2>/dev/null || { printf '%s\n' "$*" >/dev/tty; } 2>/dev/null || true
}

children=()   # pids of the running programs the demo started, oldest first
started_pg="" # set when this run starts the throwaway PostgreSQL (and so must stop it)
pg_start=""   # pid of `pg-local.sh start` while it runs: let it finish, then stop the server
stopping=""

# spawn CMD...: start CMD in the background in a session of its own; its pid is $!.
spawn() {
  setsid "$@" &
  children+=("$!")
}

# waitfor PID: wait until PID exits and return its status. A trapped signal interrupts the
# wait builtin; the trap runs, and unless it exits, the waiting goes on.
waitfor() {
  local rc=0
  while :; do
    wait "$1" && return 0 || rc=$?
    kill -0 "$1" 2>/dev/null || return "$rc"
  done
}

# forget PID: PID has exited; cleanup need not stop it.
forget() {
  local keep=() p
  for p in "${children[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  children=("${keep[@]+"${keep[@]}"}")
}

# run CMD...: run CMD in a session of its own and wait for it, failing as it fails.
run() {
  spawn "$@"
  local pid=$! rc=0
  waitfor "$pid" || rc=$?
  forget "$pid"
  return "$rc"
}

# cleanup stops what the demo started, newest first, and waits for each. It runs once, on
# any exit; a signal during it only says so (see on_signal). A PostgreSQL start under way is
# not cut short: killed half-way, it would leave a server starting that nobody stops.
cleanup() {
  [ -z "$stopping" ] || return 0
  stopping=1
  set +e
  local i pid
  # A signal between spawn's fork and its children+=("$!") runs this before the new pid is
  # recorded: adopt any background job of this shell that children does not list yet.
  for pid in $(jobs -p); do
    for i in "${children[@]+"${children[@]}"}"; do [ "$i" != "$pid" ] || continue 2; done
    children+=("$pid")
  done
  for ((i = ${#children[@]} - 1; i >= 0; i--)); do
    pid=${children[i]}
    [ "$pid" = "$pg_start" ] || kill -TERM "$pid" 2>/dev/null
    waitfor "$pid"
  done
  children=()
  if [ -n "${DEMO_STOP_GATE:-}" ]; then
    # For the test of a second Ctrl-C: hold here, viz stopped and PostgreSQL not yet.
    : >"$DEMO_STOP_GATE.reached"
    while [ ! -e "$DEMO_STOP_GATE" ]; do sleep 0.05; done
  fi
  if [ -n "$started_pg" ]; then
    spawn scripts/pg-local.sh stop
    pid=$!
    waitfor "$pid" || say "== PostgreSQL under $PG_LOCAL_DIR may still run: scripts/pg-local.sh stop"
  fi
}

on_signal() {
  if [ -n "$stopping" ]; then
    say "== still stopping: waiting for what the demo started to exit"
    return
  fi
  say ""
  say "== stopping"
  cleanup
  say "== stopped"
  exit 0
}
trap cleanup EXIT
trap on_signal INT TERM HUP

# free_port HOST PORT: print the first port from PORT up that nobody listens on at HOST.
free_port() {
  local p=$2
  while (exec 3<>"/dev/tcp/$1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

# answers HOST PORT PATH: true when GET PATH gets 200.
answers() {
  local line=""
  exec 3<>"/dev/tcp/$1/$2" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$3" "$1" "$2" >&3 &&
    IFS= read -r -t 10 line <&3
  exec 3<&-
  [[ $line == "HTTP/1."?" 200"* ]]
}

if [ ! -f "$demo/.done" ]; then
  rm -rf "$demo"
  say "== generating a $size synthetic corpus of ten cities in $demo/data"
  run "$bindir/coordinator" gen --out "$demo/data" --size "$size" --seed 42
  touch "$demo/.done"
fi
sed "s|@CORPUS@|data|g" scripts/corpus.job.in >"$demo/demo.job"

if [ -n "${DATABASE_URL:-}" ]; then
  say "== reusing the PostgreSQL of DATABASE_URL (the demo neither starts nor stops it)"
elif scripts/pg-local.sh status; then
  DATABASE_URL=$(scripts/pg-local.sh url)
  say "== reusing the PostgreSQL already running under $PG_LOCAL_DIR (${DATABASE_URL#*@}); it keeps running after the demo: scripts/pg-local.sh stop"
else
  say "== DATABASE_URL is unset: starting a throwaway PostgreSQL under $PG_LOCAL_DIR"
  # Set first: a Ctrl-C during the start still stops the server once it is up.
  started_pg=1
  mkdir -p "$cache"
  spawn scripts/pg-local.sh start >"$cache/pg-url"
  pg_start=$!
  rc=0
  waitfor "$pg_start" || rc=$?
  forget "$pg_start"
  pg_start=""
  [ "$rc" = 0 ] || exit "$rc"
  DATABASE_URL=$(cat "$cache/pg-url")
fi
export DATABASE_URL

say "== $bindir/coordinator run $demo/demo.job --workers 2"
run "$bindir/coordinator" run "$demo/demo.job" --workers 2
say ""
say "The lake is in $demo/out/requests (city=/year=/month=/part-*.parquet; $bindir/coordinator lake shows it),"
say "the summary datasets in $demo/out/summaries, rejected records in $demo/out/rejects, and the summaries are"
say "published to Postgres. Run it again: the same groups are replaced, never duplicated."

# viz on the first free port from VIZ_ADDR's, its admin listener (/metrics, /debug/pprof/)
# on the next free one: its default, 9090, is often Prometheus's.
host=${viz_addr%:*}
probe=$host # where the page is asked; an empty or wildcard host listens on loopback too
case "$probe" in "" | 0.0.0.0 | "[::]") probe=127.0.0.1 ;; esac
port=$(free_port "$probe" "${viz_addr##*:}")
admin=$(free_port 127.0.0.1 $((port + 1)))
# viz reads the database URL from the environment: on its command line, ps would show a
# password in it.
export IREPORTS_VIZ_DB=$DATABASE_URL
# A port found free may be taken before viz binds it (by another program's listener, or as
# the local port of any outgoing connection: these ports are in the ephemeral range). If viz
# exits and one of its ports is now in use, that race was lost: the next free ports are
# tried, a few times; any other exit is an error.
for attempt in 1 2 3 4 5; do
  say ""
  say "== $bindir/viz --listen $host:$port --admin 127.0.0.1:$admin   (the database: \$DATABASE_URL)"
  spawn "$bindir/viz" --listen "$host:$port" --admin "127.0.0.1:$admin"
  viz_pid=$!
  # The URL is printed once the page answers (its /healthz reaches the database).
  tries=0
  until answers "$probe" "$port" /healthz 2>/dev/null; do
    if ! kill -0 "$viz_pid" 2>/dev/null; then
      rc=0
      waitfor "$viz_pid" || rc=$?
      forget "$viz_pid"
      viz_pid=
      break
    fi
    tries=$((tries + 1))
    [ "$tries" != 50 ] || say "== waiting for viz to answer http://$probe:$port/healthz (it answers once the database does)"
    sleep 0.2
  done
  [ -z "$viz_pid" ] || break
  if [ "$attempt" = 5 ] || { [ "$(free_port "$probe" "$port")" = "$port" ] && [ "$(free_port 127.0.0.1 "$admin")" = "$admin" ]; }; then
    say "== viz exited with status $rc before it answered"
    exit 1
  fi
  say "== viz exited with status $rc: its port $port or $admin was taken meanwhile; trying the next free ones"
  port=$(free_port "$probe" $((admin + 1)))
  admin=$(free_port 127.0.0.1 $((port + 1)))
done
if [ -n "$started_pg" ]; then
  stops="viz and the demo's PostgreSQL"
else
  stops="viz; PostgreSQL keeps running"
fi
say "The viz page: http://$probe:$port/   (metrics: http://127.0.0.1:$admin/metrics; Ctrl-C stops $stops)"
rc=0
waitfor "$viz_pid" || rc=$?
forget "$viz_pid"
say "== viz exited with status $rc"
exit "$rc"
