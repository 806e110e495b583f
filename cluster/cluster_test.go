package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)) }

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func start(t *testing.T, name string, k []byte, seeds ...string) *Membership {
	t.Helper()
	m, err := Join(Config{Name: name, Bind: "127.0.0.1:0", Key: k, Fast: true, Logger: quiet(),
		Meta: Meta{Role: RoleWorker, API: "127.0.0.1:1", Slots: 2}}, seeds)
	if err != nil {
		t.Fatalf("join %s: %v", name, err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return m
}

// next returns the next event of kind, skipping others, or fails after a deadline.
func next(t *testing.T, m *Membership, kind EventKind, name string) Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e := <-m.Events():
			if e.Kind == kind && e.Member.Name == name {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event for %s", kind, name)
		}
	}
}

func TestJoinMetaAndLeave(t *testing.T) {
	a := start(t, "a", key(1))
	b := start(t, "b", key(1), a.Addr())
	e := next(t, a, EventJoin, "b")
	if e.Member.Meta.Role != RoleWorker || e.Member.Meta.Slots != 2 {
		t.Errorf("meta = %+v", e.Member.Meta)
	}
	if n := len(a.Members()); n != 2 {
		t.Errorf("a sees %d members, want 2", n)
	}
	b.Shutdown()
	next(t, a, EventLeave, "b")
	if err := b.Shutdown(); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// TestWrongKeyCannotJoin: a node whose gossip key differs from the cluster's (or that has
// none, or joins an unencrypted cluster with one) is not admitted, and both ends say why:
// the joiner's error is ErrKeyMismatch, and the member it tried logs a "gossip key
// mismatch?" error with the stranger's address.
func TestWrongKeyCannotJoin(t *testing.T) {
	var seedLog syncBuffer
	a, err := Join(Config{Name: "a", Bind: "127.0.0.1:0", Key: key(1), Fast: true,
		Logger: slog.New(slog.NewTextHandler(&seedLog, nil))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown() })
	plain, err := Join(Config{Name: "plain-seed", Bind: "127.0.0.1:0", Insecure: true, Fast: true, Logger: quiet()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Shutdown() })
	for _, tc := range []struct {
		name string
		key  []byte
		seed *Membership
	}{
		{"another key", key(2), a},
		{"no key into an encrypted cluster", nil, a},
		{"a key into an unencrypted cluster", key(2), plain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Join(Config{Name: "intruder", Bind: "127.0.0.1:0", Key: tc.key, Insecure: tc.key == nil, Fast: true, Logger: quiet()},
				[]string{tc.seed.Addr()})
			if !errors.Is(err, ErrKeyMismatch) {
				t.Fatalf("join: %v, want ErrKeyMismatch", err)
			}
			if !strings.Contains(err.Error(), "gossip key mismatch") || strings.Contains(err.Error(), "\n") {
				t.Errorf("join error %q: want one line that says gossip key mismatch", err)
			}
			if n := len(tc.seed.Members()); n != 1 {
				t.Errorf("the seed sees %d members, want 1", n)
			}
		})
	}
	if log := seedLog.String(); !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "gossip key mismatch?") {
		t.Errorf("the seed's log does not report the mismatch as an error:\n%s", log)
	}
	// A seed that is not there is not a key mismatch.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	if _, err := Join(Config{Name: "lonely", Bind: "127.0.0.1:0", Key: key(1), Fast: true, Logger: quiet()}, []string{gone}); err == nil || errors.Is(err, ErrKeyMismatch) {
		t.Errorf("join of a closed port: %v, want an error that is not ErrKeyMismatch", err)
	}
}

// syncBuffer is a bytes.Buffer that memberlist's goroutines and the test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestKeyRequired(t *testing.T) {
	if _, err := Join(Config{Bind: "127.0.0.1:0"}, nil); !errors.Is(err, ErrNoKey) {
		t.Fatalf("err = %v, want ErrNoKey", err)
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	raw := key(7)
	for _, tc := range []struct {
		name    string
		content []byte
		bad     bool
	}{
		{name: "raw", content: raw},
		{name: "hex", content: []byte("0707070707070707070707070707070707070707070707070707070707070707\n")},
		{name: "base64", content: []byte("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n")},
		{name: "short", content: []byte("abc"), bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			os.WriteFile(p, tc.content, 0o600)
			k, err := LoadKey(p)
			if tc.bad {
				if !errors.Is(err, ErrBadKey) {
					t.Fatalf("err = %v, want ErrBadKey", err)
				}
				return
			}
			if err != nil || !bytes.Equal(k, raw) {
				t.Fatalf("LoadKey = %x, %v", k, err)
			}
		})
	}
}

// TestDefaultNamesAreDistinct starts two unnamed members on one machine — on free ports,
// and on one port of two loopback addresses, as a coordinator and a worker sharing a host
// do — and checks that each sees the other: a shared default name would make memberlist
// refuse the second as a conflicting address.
func TestDefaultNamesAreDistinct(t *testing.T) {
	ln, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	port := ln.LocalAddr().(*net.UDPAddr).Port
	ln.Close()
	for _, tc := range []struct{ name, a, b string }{
		{"free ports", "127.0.0.1:0", "127.0.0.1:0"},
		{"one port, two addresses", fmt.Sprintf("127.0.0.2:%d", port), fmt.Sprintf("127.0.0.3:%d", port)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			join := func(bind string, seeds ...string) *Membership {
				m, err := Join(Config{Bind: bind, Key: key(1), Fast: true, Logger: quiet(), Meta: Meta{Role: RoleWorker}}, seeds)
				if err != nil {
					t.Fatalf("join on %s: %v", bind, err)
				}
				t.Cleanup(func() { m.Shutdown() })
				return m
			}
			a := join(tc.a)
			b := join(tc.b, a.Addr())
			if a.Name() == b.Name() {
				t.Fatalf("both members are named %q", a.Name())
			}
			next(t, a, EventJoin, b.Name())
		})
	}
}
