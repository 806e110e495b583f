#!/usr/bin/env bash
# pg-local.sh start|stop|status|url|destroy — a throwaway local PostgreSQL for `make demo` and
# manual runs, for when DATABASE_URL is unset.
#
#   start    initialize (first time) and start the server on a free 127.0.0.1 port; print its
#            URL on stdout (progress goes to stderr):  export DATABASE_URL=$(scripts/pg-local.sh start)
#   stop     stop it (fast shutdown); the data stays for the next start
#   status   exit 0 when it is running
#   url      print the URL of the running server
#   destroy  stop it and delete its data
#
# State lives under $PG_LOCAL_DIR, default <repo>/.cache/pg (git-ignored): data/, postgres.log,
# port. Messages go to stderr and never stop the script when stderr is gone (a `| tee` that
# Ctrl-C killed): `stop` must still stop the server then. The server trusts
# every connection from 127.0.0.1 and listens nowhere else. initdb refuses to run as root, so
# as root the cluster is owned by, and runs as, the `postgres` user (apt-get install postgresql
# creates it). Binaries: $PG_BIN, else the newest /usr/lib/postgresql/*/bin, else PATH.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
state=${PG_LOCAL_DIR:-$repo/.cache/pg}
data=$state/data
log=$state/postgres.log
db=ireports

say() { echo "pg-local: $*" >&2 2>/dev/null || true; }
die() { say "$*"; exit 1; }

find_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5n | tail -1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  if command -v initdb >/dev/null; then dirname "$(command -v initdb)"; return; fi
  die "PostgreSQL not found (no initdb in \$PG_BIN, /usr/lib/postgresql/*/bin or PATH); apt-get install postgresql"
}
bin=$(find_bin)

# as_pg runs a command as the cluster's owner: the postgres user under root, else ourselves.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port() { cat "$state/port" 2>/dev/null || true; }
url() { echo "postgres://postgres@127.0.0.1:$(port)/$db?sslmode=disable"; }
running() { [ -f "$data/PG_VERSION" ] && as_pg "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1; }

# free_port prints a port on 127.0.0.1 nobody listens on: the last one used if still free
# (unless its start just failed: $1), else one below the kernel's ephemeral range (the
# ports of outgoing connections, which no connect test sees but which a bind fails on).
free_port() {
  local p last hi
  last=$(port)
  [ "$last" = "${1:-}" ] && last=""
  hi=$(( $(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768) - 1 ))
  [ "$hi" -gt 20100 ] || hi=60999
  for p in $last $(shuf -i "20000-$hi" -n 20); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port found"
}

init() {
  mkdir -p "$state"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root and there is no postgres user to own the cluster"
    runuser -u postgres -- test -x "$state" ||
      die "user postgres cannot reach $state (a parent directory is private); run as another user, or set DATABASE_URL"
  fi
  say "initializing a cluster in $data"
  rm -rf "$data"
  mkdir -m 700 "$data"
  touch "$log"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$data" "$log"; fi
  as_pg "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C --no-instructions >>"$log" 2>&1 ||
    die "initdb failed; see $log"
}

# throwaway are the server settings for data that can be rebuilt from the lake at any time:
#   - wal_level=minimal (needs max_wal_senders=0): a COPY into a table truncated earlier in
#     the same transaction — what a first publish, or one that replaces most of a table,
#     does — writes no WAL for the table and its indexes; the files are synced at commit.
#     About a quarter of the server's CPU in a publish (README, "PostgreSQL").
#   - fsync=off, full_page_writes=off, synchronous_commit=off: an OS crash may corrupt the
#     cluster; `destroy` and a `coordinator publish` rebuild it.
#   - max_wal_size=2GB: no checkpoint in the middle of a publish.
#   - wal_skip_threshold=0: at that commit every such file is synced, which fsync=off makes
#     free, where files under 2 MB (the default) were written to the WAL whole: the commit of
#     `make demo`'s publish took 20-30 ms, now ~11.
# A server that keeps anything else needs none of these.
throwaway="-c wal_level=minimal -c max_wal_senders=0 -c wal_skip_threshold=0 -c fsync=off -c full_page_writes=off \
-c synchronous_commit=off -c max_wal_size=2GB -c shared_buffers=256MB -c maintenance_work_mem=256MB"

start() {
  if running; then url; return; fi
  [ -f "$data/PG_VERSION" ] || init
  local p="" tries
  for tries in 1 2 3; do
    p=$(free_port "$p") # a port whose start failed is not tried again
    echo "$p" >"$state/port"
    say "starting PostgreSQL on 127.0.0.1:$p (log $log)"
    if as_pg "$bin/pg_ctl" start -w -t 60 -D "$data" -l "$log" \
        -o "-p $p -c listen_addresses=127.0.0.1 -c unix_socket_directories='' $throwaway" >/dev/null; then
      break
    fi
    [ "$tries" = 3 ] && die "could not start; see $log"
  done
  if [ -z "$("$bin/psql" -h 127.0.0.1 -p "$p" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
    "$bin/createdb" -h 127.0.0.1 -p "$p" -U postgres "$db"
  fi
  url
}

# stop returns once the postmaster has exited: pg_ctl stop -w returns when postmaster.pid is
# gone, a moment before the process itself, and callers (make demo, its test) promise that
# nothing is left running when they return.
stop() {
  if running; then
    local pid
    pid=$(head -1 "$data/postmaster.pid" 2>/dev/null || true)
    say "stopping PostgreSQL on 127.0.0.1:$(port)"
    as_pg "$bin/pg_ctl" stop -w -t 60 -m fast -D "$data" >/dev/null
    if [ -n "$pid" ]; then
      local i
      for i in $(seq 600); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
      die "PostgreSQL (pid $pid) did not exit within 60 s of its shutdown"
    fi
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running ;;
  url) running || die "not running; run: $0 start"; url ;;
  destroy) stop; rm -rf "$state" ;;
  *) echo "usage: $0 start|stop|status|url|destroy" >&2; exit 2 ;;
esac
