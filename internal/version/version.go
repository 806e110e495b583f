// Package version says which build of ireports is running and which wire protocol it
// speaks.
//
// The version is stamped at link time by the Makefile from `git describe --tags --always
// --dirty`:
//
//	go build -ldflags "-X github.com/ireports/ireports/internal/version.stamped=v1.2.0-3-gabc1234"
//
// A binary built without the stamp (plain `go build`, `go install`) falls back to the VCS
// information the go command records (vcs.revision, vcs.modified), and to "devel" where
// there is none (go test, go run outside a checkout).
//
// Protocol, not the version, decides whether two processes can work together: the
// coordinator refuses a worker that advertises another protocol, because task assignments,
// results and map output segments would be misread, not merely look different. Bump it with
// any incompatible change to the task messages (package task), the node metadata (package
// cluster) or the shuffle's segment format and fetch protocol (package shuffle).
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Protocol is the version of the coordinator–worker wire protocol: the task messages, the
// gossip metadata and the shuffle. Processes of different protocols never work together.
const Protocol = 1

// stamped is set by the linker (-X); empty in an unstamped build.
var stamped string

// Version is this build's version: the stamped `git describe`, else the VCS revision the
// go command recorded (12 digits, "-dirty" when the tree was modified), else "devel".
func Version() string {
	if stamped != "" {
		return stamped
	}
	return fallback()
}

// fallback reads the build info once; it does not change while the process runs.
var fallback = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return fromBuildInfo(bi)
})

// fromBuildInfo derives a version from the settings the go command records in a binary
// built inside a git checkout.
func fromBuildInfo(bi *debug.BuildInfo) string {
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v // go install module@version
		}
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// String is the line --version prints: the program, its version, the protocol, and the Go
// toolchain and platform it was built for.
func String(program string) string {
	return fmt.Sprintf("%s %s (protocol %d, %s, %s/%s)", program, Version(), Protocol, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
