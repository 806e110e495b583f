#!/usr/bin/env bash
# release.sh ARCH... — the release tarballs terraform deploys (`make release` runs this after
# embedding plotly.js into the viz package). For each ARCH (amd64, arm64):
#
#   $DIST/ireports-$VERSION-linux-$ARCH.tar.gz
#     ireports-$VERSION-linux-$ARCH/
#       bin/coordinator bin/worker bin/viz   static (CGO_ENABLED=0), -trimpath, version stamped
#       README.md LICENSE normalize.job
#       docs/performance.md                  the README's links point at it
#       schemas/*.hcl                        the built-in city schemas (also in the binaries)
#
# and $DIST/SHA256SUMS over the tarballs built. The boot scripts in terraform/templates unpack
# it with `tar -xzf … -C /opt/ireports --strip-components=1`, so the daemons are
# /opt/ireports/bin/*. The tarballs are reproducible: the same commit gives the same bytes
# (sorted names, no owners, file times from the commit, gzip without a time stamp).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${VERSION:?VERSION must be set (make release sets it from git describe)}"
DIST=${DIST:-dist}
GO=${GO:-go}
[ $# -gt 0 ] || set -- amd64 arm64

say() { echo "release: $*" >&2; }

if [ ! -s viz/plotly/plotly.min.js ]; then
  say "viz/plotly/plotly.min.js is missing: run make release (it embeds plotly.js from npm)"
  exit 1
fi
case "$VERSION" in
  *-dirty) say "warning: the tree has uncommitted changes; the version says so: $VERSION" ;;
esac

mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# The files' times in the tarball: the commit's, so that a rebuild gives the same bytes.
mtime=$(git log -1 --format=%ct 2>/dev/null || echo 0)
ldflags="-s -w -X github.com/ireports/ireports/internal/version.stamped=$VERSION"

tarballs=()
for arch in "$@"; do
  case "$arch" in
    amd64 | arm64) ;;
    *) say "unsupported architecture $arch (want amd64 or arm64)"; exit 2 ;;
  esac
  name="ireports-$VERSION-linux-$arch"
  root="$stage/$name"
  mkdir -p "$root/bin" "$root/schemas" "$root/docs"
  say "building $name"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build -trimpath -ldflags "$ldflags" -o "$root/bin/" ./cmd/coordinator ./cmd/worker ./cmd/viz
  cp README.md LICENSE normalize.job "$root/"
  cp jobs/schemas/*.hcl "$root/schemas/"
  cp docs/performance.md "$root/docs/"
  chmod 0755 "$root" "$root/bin" "$root/schemas" "$root/docs" "$root"/bin/*
  chmod 0644 "$root"/README.md "$root"/LICENSE "$root"/normalize.job "$root"/schemas/* "$root"/docs/*
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" -C "$stage" -cf - "$name" |
    gzip -9 -n >"$DIST/$name.tar.gz"
  tarballs+=("$name.tar.gz")
done

(cd "$DIST" && sha256sum "${tarballs[@]}" >SHA256SUMS)
for t in "${tarballs[@]}"; do
  say "$DIST/$t ($(du -h "$DIST/$t" | cut -f1))"
done
say "$DIST/SHA256SUMS"
