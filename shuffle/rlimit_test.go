//go:build unix

package shuffle

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ireports/ireports/record"
)

// A reducer over many more map outputs than the process may open files for: OpenInput
// spills, so it needs a handful of descriptors however many map tasks the job has — both
// when the outputs are local and when they come over loopback HTTP from this process.
func TestOpenInputManyMapOutputsFewFiles(t *testing.T) {
	const maps, R = 300, 2
	root := t.TempDir()
	var all []record.Request
	var local, remote []Location
	srv := httptest.NewServer(must(NewHandler(root, testToken)))
	defer srv.Close()
	for m := range maps {
		rs := randRequests(uint64(1000+m), 20)
		for i := range rs {
			rs[i].Ord = uint64(m)<<32 | uint64(i)
		}
		all = append(all, rs...)
		path, err := MapOutputPath(root, "many", m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		writeMapOutput(t, filepath.Dir(path), filepath.Base(path), R, rs)
		local = append(local, Location{Job: "many", Map: m, Path: path})
		remote = append(remote, Location{Worker: srv.URL, Job: "many", Map: m})
	}
	want := make([][]record.Request, R)
	for _, r := range sortedWire(t, all) {
		p := Partition(r.Key(), R)
		want[p] = append(want[p], r)
	}

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	lim := old
	lim.Cur = 128
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)

	// A fresh client: its idle connections are the only ones it keeps.
	fetch := &HTTPFetcher{Token: testToken, Client: srv.Client()}
	for _, tc := range []struct {
		name string
		locs []Location
	}{{"local", local}, {"http", remote}} {
		for p := range R {
			t.Run(fmt.Sprintf("%s/reducer=%d", tc.name, p), func(t *testing.T) {
				got := readInput(t, fetch, tc.locs, p, InputConfig{SpillDir: t.TempDir()})
				if d := diffRecords(got, want[p]); d != "" {
					t.Error(d)
				}
			})
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
