package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/shuffle"
)

// hangingFetcher is a peer that accepted the connection and then stopped (SIGSTOP): its
// Fetch waits until the context ends. entered says a fetch is waiting.
type hangingFetcher struct{ entered chan struct{} }

func (h hangingFetcher) Fetch(ctx context.Context, loc shuffle.Location, reducer int) (io.ReadCloser, shuffle.Segment, error) {
	h.entered <- struct{}{}
	<-ctx.Done()
	return nil, shuffle.Segment{}, ctx.Err()
}

// fetchWaits reads ireports_shuffle_fetch_waits_total.
func fetchWaits(t *testing.T) float64 {
	t.Helper()
	mfs, err := obs.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "ireports_shuffle_fetch_waits_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// A fetch from a stopped peer used to wait for the connection's read deadline (30 s in
// production); once the coordinator declares the peer dead, the fetch fails at once as a
// lost map output, and so does every later fetch from it until it comes back. Meanwhile the
// wait is counted.
func TestFetchGuardGivesUpOnLostPeer(t *testing.T) {
	h := hangingFetcher{entered: make(chan struct{}, 1)}
	g := newFetchGuard(h, time.Millisecond, slog.New(slog.DiscardHandler))
	loc := shuffle.Location{Worker: "10.0.0.9:7070", Job: "j", Map: 3}
	before := fetchWaits(t)
	done := make(chan error, 1)
	go func() {
		_, _, err := g.Fetch(context.Background(), loc, 0)
		done <- err
	}()
	<-h.entered
	for deadline := time.Now().Add(10 * time.Second); fetchWaits(t) == before; {
		if time.Now().After(deadline) {
			t.Fatal("a fetch that received nothing was never counted as waiting")
		}
		time.Sleep(time.Millisecond) // waiting for the condition, not for time
	}
	g.PeersLost([]string{"10.0.0.8:7070"}) // another peer: the fetch waits on
	select {
	case err := <-done:
		t.Fatalf("fetch ended when another peer was lost: %v", err)
	default:
	}
	g.PeersLost([]string{loc.Worker})
	err := <-done
	if !errors.Is(err, shuffle.ErrFetch) || !strings.Contains(err.Error(), "declared the worker dead") {
		t.Fatalf("err = %v, want ErrFetch naming the dead peer", err)
	}
	if _, _, err := g.Fetch(context.Background(), loc, 1); !errors.Is(err, shuffle.ErrFetch) {
		t.Fatalf("fetch from a lost peer: %v, want ErrFetch at once", err)
	}
	// The peer came back: the coordinator no longer lists it, and fetches reach it again.
	g.PeersLost(nil)
	go func() {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-h.entered; cancel() }()
		_, _, err := g.Fetch(ctx, loc, 1)
		done <- err
	}()
	if err := <-done; !errors.Is(err, context.Canceled) || errors.Is(err, shuffle.ErrFetch) {
		t.Fatalf("fetch after the peer came back: %v, want it to reach the peer (and be cancelled there)", err)
	}
}
