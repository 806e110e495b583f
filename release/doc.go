// Package release holds no code: its tests check what ships — every command's command line
// (usage, exit codes, --version, log formats), and the release tarball of `make release`
// end to end: unpacked into an empty directory, started as terraform's systemd units would
// start it, running a job and serving a page whose charts draw in Chromium.
//
// The tarball is built by the Makefile (`make release RELEASE_ARCHES=amd64`), never by the
// test's own build commands, so what is tested is what `make release` uploads. That test
// is slow (a cross build, three daemons, a browser) and skipped under -short.
package release
