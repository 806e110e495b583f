package worker

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/ireports/ireports/cluster"
	"github.com/ireports/ireports/internal/version"
	"github.com/ireports/ireports/task"
)

// metaDelegate gives a bare memberlist node a coordinator's metadata.
type metaDelegate []byte

func (m metaDelegate) NodeMeta(int) []byte                  { return m }
func (metaDelegate) NotifyMsg([]byte)                       {}
func (metaDelegate) GetBroadcasts(int, int) [][]byte        { return nil }
func (metaDelegate) LocalState(bool) []byte                 { return nil }
func (metaDelegate) MergeRemoteState(buf []byte, join bool) {}

// TestRejoinRestartedCoordinator: a coordinator that dies and comes back on the same
// address faster than gossip declares it dead is, to its workers, the same live member; but
// the new process knows no worker. Before, it learnt of them only from memberlist's
// periodic push/pull (15 s apart in this configuration, 30 s on a LAN; a resumed job sat
// idle 65 s in clustertest); a worker whose calls failed now joins the coordinator's gossip
// address as soon as it answers again, which tells the new process of it at once.
//
// The old coordinator is a bare memberlist node, so that it can die without the leave
// message that cluster.Membership.Shutdown sends (a kill -9 sends none). The bound below is
// far above the join's cost and below the push/pull interval, though a push/pull that
// happened to fall in it would let the test pass without the rejoin.
func TestRejoinRestartedCoordinator(t *testing.T) {
	var down atomic.Bool
	var refused atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			// No answer at all, as from a dead process.
			refused.Add(1)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		if r.URL.Path == task.PathPoll {
			time.Sleep(50 * time.Millisecond) // a short long poll: no task
			w.Write([]byte("[]"))
			return
		}
		w.Write([]byte("{}"))
	}))
	defer api.Close()
	meta, err := json.Marshal(cluster.Meta{Role: cluster.RoleCoordinator, API: strings.TrimPrefix(api.URL, "http://"), Version: version.Version(), Protocol: version.Protocol})
	if err != nil {
		t.Fatal(err)
	}

	mc := memberlist.DefaultLocalConfig()
	mc.Name, mc.BindAddr, mc.BindPort = "coordinator", "127.0.0.1", 0
	mc.Delegate, mc.LogOutput = metaDelegate(meta), io.Discard
	old, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(old.LocalNode().Port)))

	cfg := LocalConfig()
	cfg.Join, cfg.Insecure, cfg.Token, cfg.DataDir, cfg.Slots = []string{addr}, true, "secret", t.TempDir(), 1
	cfg.Log = slog.New(slog.DiscardHandler)
	d, err := Start(cfg)
	if err != nil {
		old.Shutdown()
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	waitUntil(t, 30*time.Second, "the old coordinator to know the worker", func() bool { return old.NumMembers() == 2 })

	// The coordinator dies: its API stops answering, its gossip stops without a word.
	down.Store(true)
	waitUntil(t, 30*time.Second, "a call of the worker to fail", func() bool { return refused.Load() > 0 })
	if err := old.Shutdown(); err != nil {
		t.Fatal(err)
	}
	restarted, err := cluster.Join(cluster.Config{Name: "coordinator", Bind: addr, Insecure: true, Fast: true,
		Logger: slog.New(slog.DiscardHandler), Meta: cluster.Meta{Role: cluster.RoleCoordinator, API: strings.TrimPrefix(api.URL, "http://"),
			Version: version.Version(), Protocol: version.Protocol}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Shutdown()
	down.Store(false)
	back := time.Now()
	waitUntil(t, 10*time.Second, "the restarted coordinator to know the worker", func() bool {
		return slices.ContainsFunc(restarted.Members(), func(m cluster.Member) bool { return m.Name == d.Name() })
	})
	t.Logf("the restarted coordinator knew the worker %s after its API answered again", time.Since(back).Round(time.Millisecond))
}

// waitUntil polls cond every 10 ms until it holds, failing t after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up after %s", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
