#!/usr/bin/env bash
# deps.sh [postgres] [minio] [chromium] [npm] — install what the tests and the demo need on a
# fresh Debian machine, skipping whatever is already there. No argument: all of them.
#
#   postgres  Debian's postgresql package (the tests start throwaway servers as the postgres user)
#   minio     the MinIO server, built with `go install` into .cache/tools (about 3 minutes, once)
#   chromium  Debian's chromium package, for the viz browser tests
#   npm       the viz page's front-end packages (plotly.js-dist-min) into node_modules
set -euo pipefail
cd "$(dirname "$0")/.."

# MINIO_VERSION pins the server the end-to-end S3 tests run against.
MINIO_VERSION=${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}

say() { echo "deps: $*" >&2; }

apt_install() {
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      say "cannot install $* without root (no sudo); install it yourself"; return 1
    fi
  fi
  say "apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null ||
    { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
}

postgres() {
  if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then return; fi
  apt_install postgresql
  # The package starts a system cluster on port 5432; the tests and the demo use their own.
  if command -v pg_ctlcluster >/dev/null; then
    for c in $(pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}'); do pg_ctlcluster ${c%/*} ${c#*/} stop 2>/dev/null || true; done
  fi
}

minio() {
  if [ -x .cache/tools/minio ] || [ -n "${MINIO_BIN:-}" ]; then return; fi
  say "building MinIO $MINIO_VERSION into .cache/tools (about 3 minutes, once)"
  mkdir -p .cache/tools
  GOBIN=$PWD/.cache/tools GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_VERSION"
}

chromium() {
  # type -P, not command -v: this function is itself called chromium.
  if type -P chromium >/dev/null || [ -x /usr/bin/chromium ]; then return; fi
  apt_install chromium
}

npm_packages() {
  if [ -f node_modules/plotly.js-dist-min/plotly.min.js ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then return; fi
  command -v npm >/dev/null || apt_install npm
  say "npm ci (plotly.js-dist-min)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
}

[ $# -gt 0 ] || set -- postgres minio chromium npm
for d in "$@"; do
  case "$d" in
    postgres) postgres ;;
    minio) minio ;;
    chromium) chromium ;;
    npm) npm_packages ;;
    *) say "unknown dependency $d"; exit 2 ;;
  esac
done
