package obs

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// upload is one profile that a pyroscope client pushed to /ingest.
type upload struct {
	app     string            // the application name, before the tags
	tags    map[string]string // the tags of the name query parameter
	spy     string
	profile *profile.Profile
}

// ingestServer is a stand-in for the Pyroscope server's push endpoint: POST /ingest with
// the application and its tags in the name query parameter (app{k=v,…}) and a multipart
// form whose "profile" file is a gzipped pprof profile.
type ingestServer struct {
	*httptest.Server
	t *testing.T

	mu      sync.Mutex // guards uploads
	uploads []upload
}

func newIngestServer(t *testing.T) *ingestServer {
	s := &ingestServer{t: t}
	s.Server = httptest.NewServer(http.HandlerFunc(s.ingest))
	t.Cleanup(s.Close)
	return s
}

func (s *ingestServer) ingest(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/ingest" {
		http.Error(w, "want POST /ingest", http.StatusNotFound)
		return
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		s.t.Errorf("ingest: multipart form: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fh := r.MultipartForm.File["profile"]
	if len(fh) != 1 {
		s.t.Errorf("ingest: want one profile part, got %d", len(fh))
		http.Error(w, "no profile", http.StatusBadRequest)
		return
	}
	f, err := fh[0].Open()
	if err != nil {
		s.t.Errorf("ingest: %v", err)
		return
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		s.t.Errorf("ingest: the uploaded profile does not parse as pprof: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	app, tags := parseName(r.URL.Query().Get("name"))
	s.mu.Lock()
	s.uploads = append(s.uploads, upload{app: app, tags: tags, spy: r.URL.Query().Get("spyName"), profile: p})
	s.mu.Unlock()
}

func (s *ingestServer) received() []upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.uploads)
}

// parseName splits "app{k=v,k2=v2}".
func parseName(name string) (string, map[string]string) {
	app, rest, _ := strings.Cut(name, "{")
	tags := map[string]string{}
	for kv := range strings.SplitSeq(strings.TrimSuffix(rest, "}"), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			tags[k] = v
		}
	}
	return app, tags
}

func hasSampleType(p *profile.Profile, typ string) bool {
	return slices.ContainsFunc(p.SampleType, func(st *profile.ValueType) bool { return st.Type == typ })
}

// labelled counts the samples of p that carry every label of want.
func labelled(p *profile.Profile, want map[string]string) int {
	n := 0
	for _, s := range p.Sample {
		ok := true
		for k, v := range want {
			if !slices.Contains(s.Label[k], v) {
				ok = false
			}
		}
		if ok {
			n++
		}
	}
	return n
}

// burn keeps a CPU busy for about d of wall time.
func burn(d time.Duration) uint64 {
	x := uint64(1)
	for end := time.Now().Add(d); time.Now().Before(end); {
		for range 10000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

var sink uint64

func TestProfilesCarryTagsAndTaskLabels(t *testing.T) {
	srv := newIngestServer(t)
	prof, err := StartProfiling(ProfilingConfig{
		ServerURL: srv.URL, Role: "worker", Node: "ip-10-0-0-7:7947",
		UploadRate: time.Hour, // only the test's flushes push
		Log:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			prof.Stop(context.Background())
		}
	}()
	if _, err := StartProfiling(ProfilingConfig{ServerURL: srv.URL, Role: "worker"}); !errors.Is(err, ErrProfiling) {
		t.Errorf("second StartProfiling: err %v, want ErrProfiling", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	job := map[string]string{LabelJob: "normalize-20240105-abcd", LabelKind: KindMap}
	// CPU samples are taken at 100 Hz of CPU time, which a loaded machine hands out
	// unevenly: burn and push until a labelled sample arrives (usually the first round).
	found := false
	for round := 0; !found && ctx.Err() == nil; round++ {
		err := Do(ctx, job[LabelJob], job[LabelKind], func(ctx context.Context) error {
			var wg sync.WaitGroup
			var child uint64
			wg.Add(1)
			go func() { // a goroutine the task starts inherits its labels
				defer wg.Done()
				child = burn(150 * time.Millisecond)
			}()
			own := burn(150 * time.Millisecond)
			wg.Wait()
			sink += own + child
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := prof.Flush(ctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
		for _, u := range srv.received() {
			if hasSampleType(u.profile, "cpu") && labelled(u.profile, job) > 0 {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("no CPU profile with a sample labelled %v arrived in 20 s", job)
	}
	if err := prof.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	stopped = true

	ups := srv.received()
	var cpu, heap, goroutines int
	for _, u := range ups {
		if u.app != "ireports.worker" || u.tags[TagRole] != "worker" || u.tags[TagNode] != "ip-10-0-0-7:7947" {
			t.Errorf("upload named %s %v; want application ireports.worker tagged role=worker, node=ip-10-0-0-7:7947", u.app, u.tags)
		}
		switch {
		case hasSampleType(u.profile, "cpu"):
			cpu++
		case hasSampleType(u.profile, "alloc_objects") && hasSampleType(u.profile, "alloc_space"):
			heap++
		case hasSampleType(u.profile, "goroutine"):
			goroutines++
		}
	}
	if cpu == 0 || heap == 0 || goroutines == 0 {
		t.Errorf("%d uploads: %d CPU, %d allocation, %d goroutine profiles; want each kind", len(ups), cpu, heap, goroutines)
	}

	// The process can profile again once the profiler stopped.
	again, err := StartProfiling(ProfilingConfig{ServerURL: srv.URL, Role: "worker", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("StartProfiling after Stop: %v", err)
	}
	if err := again.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestProfilingDisabled(t *testing.T) {
	p, err := StartProfiling(ProfilingConfig{Role: "worker"})
	if p != nil || err != nil {
		t.Fatalf("StartProfiling without a URL = %v, %v; want nil, nil", p, err)
	}
	// A nil Profiler is valid.
	if err := p.Flush(context.Background()); err != nil {
		t.Error(err)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestFlags(t *testing.T) {
	t.Setenv(EnvServerAddress, "http://from-env:4040")
	t.Setenv(EnvBasicAuthUser, "")
	t.Setenv(EnvBasicAuthPassword, "")
	for _, tc := range []struct {
		name      string
		args      []string
		wantURL   string
		wantUser  string
		wantPass  string
		wantError string
	}{
		{name: "environment default", wantURL: "http://from-env:4040"},
		{name: "flag", args: []string{"--pyroscope-url", "http://10.40.0.42:4040"}, wantURL: "http://10.40.0.42:4040"},
		{name: "disabled", args: []string{"--pyroscope-url="}, wantURL: ""},
		{name: "credentials in the URL", args: []string{"--pyroscope-url", "https://123:s3cret@profiles.example.net"},
			wantURL: "https://profiles.example.net", wantUser: "123", wantPass: "s3cret"},
		{name: "not a URL", args: []string{"--pyroscope-url", "pyroscope:4040"}, wantError: "want http(s)://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			build := Flags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			c, err := build()
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("err %v, want one saying %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.ServerURL != tc.wantURL || c.BasicAuthUser != tc.wantUser || c.BasicAuthPassword != tc.wantPass {
				t.Errorf("got %q user %q password %q; want %q %q %q", c.ServerURL, c.BasicAuthUser, c.BasicAuthPassword, tc.wantURL, tc.wantUser, tc.wantPass)
			}
		})
	}
}

func TestProfileURL(t *testing.T) {
	from := time.Date(2024, 1, 5, 10, 0, 0, 0, time.UTC)
	got := ProfileURL("http://localhost:4040/", AppName("worker"), "normalize-1", from, from.Add(time.Hour))
	want := "http://localhost:4040/?from=1704448740&query=process_cpu%3Acpu%3Ananoseconds%3Acpu%3Ananoseconds%7Bservice_name%3D%22ireports.worker%22%2Cjob%3D%22normalize-1%22%7D&until=1704452460"
	if got != want {
		t.Errorf("ProfileURL\n got %s\nwant %s", got, want)
	}
	if ProfileURL("", "a", "j", from, from) != "" {
		t.Error("ProfileURL without a UI address is not empty")
	}
}
