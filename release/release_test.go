package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	_ "github.com/lib/pq"

	"github.com/ireports/ireports/internal/testenv"
)

// TestReleaseTarball is the release as terraform deploys it, on one machine: `make release`
// builds the linux/amd64 tarball; it is unpacked into an empty directory (no node_modules
// anywhere above it) by the tar command of terraform's boot scripts; the coordinator,
// worker and viz units those scripts write are started with exactly their command lines
// and environment (template variables given loopback values, the scripts' paths moved
// under the directory, Postgres speaking TLS as RDS does); a small job is submitted with
// the unpacked coordinator; and the viz page, loaded in headless Chromium, draws its charts
// with the plotly.js built into the viz binary.
func TestReleaseTarball(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release and runs it end to end: skipped under -short")
	}
	need := func(what, path string) {
		if _, err := exec.LookPath(path); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("release test: %s (%s) is required in CI: %v", what, path, err)
			}
			t.Skipf("release test: %s not found (%s): %v", what, path, err)
		}
	}
	need("make", "make")
	need("tar", "tar")
	need("Chromium", chromiumPath)
	pgBin := findPsql(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	pg := testenv.Postgres(t)
	enableSSL(t, pg)

	tarball, ver := buildRelease(t, root)
	t.Logf("release %s: %s", ver, filepath.Base(tarball))
	checkTarball(t, root, tarball, ver)

	work, err := os.MkdirTemp("", "ireports-release-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	noNodeModulesAbove(t, work)
	noNodeModulesAbove(t, "/") // the daemons' working directory, as under systemd

	// The template variables, as terraform passes them, with loopback stand-ins.
	pyroscope := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer pyroscope.Close()
	coordIP, workerIP := "127.0.0.2", "127.0.0.3"
	gossipPort := freePort(t, coordIP, workerIP)
	vars := map[string]string{
		"region":                       "us-east-1",
		"release_s3_uri":               "s3://city-artifacts/ireports/" + filepath.Base(tarball),
		"gossip_key_parameter":         "/ireports/gossip-key",
		"api_token_parameter":          "/ireports/api-token",
		"db_master_password_parameter": "/ireports/db-master-password",
		"db_viz_password_parameter":    "/ireports/db-viz-password",
		"db_writer_password_parameter": "/ireports/db-writer-password",
		"db_viz_role":                  "ireports_viz",
		"db_writer_role":               "ireports_writer",
		"coordinator_ip":               coordIP,
		"gossip_port":                  strconv.Itoa(gossipPort),
		"api_port":                     strconv.Itoa(freePort(t, coordIP)),
		"shuffle_port":                 strconv.Itoa(freePort(t, workerIP)),
		"viz_port":                     strconv.Itoa(freePort(t, "127.0.0.1")),
		"worker_slots":                 "2",
		"pyroscope_url":                pyroscope.URL,
		"raw_url":                      filepath.Join(work, "raw"),
		"lake_url":                     filepath.Join(work, "lake"),
		"state_url":                    filepath.Join(work, "state"),
		"db_host":                      "127.0.0.1",
		"db_port":                      strconv.Itoa(pg.Port),
		"db_name":                      "ireports_test",
		"db_username":                  "postgres",
	}
	key := make([]byte, 32)
	rand.Read(key)
	token := "release-test-token-" + hex.EncodeToString(key[:6])
	secrets := map[string]string{
		vars["gossip_key_parameter"]: base64.StdEncoding.EncodeToString(key),
		vars["api_token_parameter"]:  token,
		// The test's PostgreSQL trusts every local connection: the passwords travel as on
		// AWS but are not checked.
		vars["db_master_password_parameter"]: "master-password",
		vars["db_viz_password_parameter"]:    "viz-password",
		vars["db_writer_password_parameter"]: "writer-password",
	}

	instances := map[string]*instance{}
	for _, name := range []string{"coordinator", "worker", "viz"} {
		in := &instance{name: name, root: filepath.Join(work, name)}
		if name == "worker" {
			in.addr = workerIP
		}
		in.script = renderTemplate(t, filepath.Join(root, "terraform", "templates", name+".sh.tftpl"), vars)
		in.boot(t, tarball, pgBin, secrets)
		instances[name] = in
	}
	bin := instances["coordinator"].path("/opt/ireports/bin")
	for _, b := range []string{"coordinator", "worker", "viz"} {
		out, err := exec.Command(filepath.Join(bin, b), "--version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), b+" "+ver+" (protocol ") {
			t.Errorf("unpacked %s --version: %q, %v; want %s %s (protocol …)", b, out, err, b, ver)
		}
	}

	// The coordinator, then a worker that joins it, then viz: each as its unit says.
	co := startUnit(t, work, instances["coordinator"])
	api := "http://" + flagValue(co.unit.argv, "api")
	// The boot script's subshells created the writer role, and the daemon's environment
	// connects as it, never as the master user.
	writerURL := "postgres://" + vars["db_writer_role"] + ":" + secrets[vars["db_writer_password_parameter"]] + "@"
	if u := envValue(co.unit.env, "DATABASE_URL"); !strings.HasPrefix(u, writerURL) {
		t.Errorf("the coordinator's DATABASE_URL is %q, want the writer role's (%s…)", u, writerURL)
	}
	if db, err := sql.Open("postgres", pg.URL); err != nil {
		t.Fatal(err)
	} else {
		var login bool
		err := db.QueryRow("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", vars["db_writer_role"]).Scan(&login)
		db.Close()
		if err != nil || !login {
			t.Errorf("writer role %s: login %v, %v; want a role that logs in", vars["db_writer_role"], login, err)
		}
	}
	waitHTTP(t, co, api+"/healthz", "", http.StatusOK)
	wk := startUnit(t, work, instances["worker"])
	waitFor(t, []*process{co, wk}, "the coordinator lists the worker, of its version and protocol", func() bool {
		var ws []struct {
			Name, Version, Refused string
			Protocol               int
		}
		return getJSON(api+"/api/v1/workers", token, &ws) == nil && len(ws) == 1 &&
			ws[0].Version == ver && ws[0].Refused == "" && ws[0].Protocol > 0
	})
	vz := startUnit(t, work, instances["viz"])
	vizURL := "http://127.0.0.1:" + vars["viz_port"]
	waitHTTP(t, vz, vizURL+"/healthz", "", http.StatusOK) // 200: the database answers, over TLS

	// A small job, submitted with the unpacked coordinator: a generated corpus of every city
	// in the raw "bucket", read and written through env() like terraform/cluster.job.
	gen := exec.Command(filepath.Join(bin, "coordinator"), "gen", "--out", filepath.Join(vars["raw_url"], "corpus"), "--size", "3MiB", "--seed", "7")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("coordinator gen: %v\n%s", err, out)
	}
	jobFile := filepath.Join(work, "release.job")
	writeFile(t, jobFile, releaseJob, 0o644)
	tokenFile := instances["coordinator"].path("/etc/ireports/token")
	submit := exec.Command(filepath.Join(bin, "coordinator"), "submit", jobFile, "--coordinator", api, "--token-file", tokenFile, "--json")
	var stdout, stderr bytes.Buffer
	submit.Stdout, submit.Stderr = &stdout, &stderr
	if err := submit.Run(); err != nil {
		t.Fatalf("coordinator submit: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	var res struct {
		Status, Version, Published string
		RecordsOut                 int64 `json:"records_out"`
		Groups                     int
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("submit --json: %v\n%s", err, stdout.String())
	}
	if res.Status != "succeeded" || res.Version != ver || res.Published != "published" || res.RecordsOut == 0 || res.Groups == 0 {
		t.Fatalf("job result %+v: want succeeded, version %s, summaries published, rows in groups\n%s", res, ver, stdout.String())
	}
	if code, page := get(api+"/", token); code != 200 || !strings.Contains(page, ver) || !strings.Contains(page, "(protocol ") {
		t.Errorf("status page: %d, want version %s and the protocol shown", code, ver)
	}

	// plotly.js comes from the viz binary: the bytes make release embedded.
	want, err := os.ReadFile(filepath.Join(root, "viz", "plotly", "plotly.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(vizURL+"/assets/plotly.min.js", ""); code != 200 || sha256.Sum256([]byte(body)) != sha256.Sum256(want) {
		t.Errorf("GET /assets/plotly.min.js: %d, %d bytes, want the %d bytes of the npm package", code, len(body), len(want))
	}
	checkPageInChromium(t, root, vizURL)
}

// releaseJob is terraform/cluster.job's shape — inputs under $IREPORTS_JOB_RAW, outputs
// under $IREPORTS_JOB_LAKE, both set by the coordinator's unit and inside its --allow-path
// roots — over a generated corpus, and publishing to the unit's $DATABASE_URL (the writer
// role the boot script creates; --job-env DATABASE_URL).
const releaseJob = `job "release" {
  split_size       = "256KiB"
  reducers         = 2
  max_reject_ratio = 0.05

  input "nyc_portal" {
    path   = "${env("IREPORTS_JOB_RAW")}/corpus/nyc/portal-*.csv"
    schema = "nyc"
  }
  input "nyc_soda_json" {
    path   = "${env("IREPORTS_JOB_RAW")}/corpus/nyc/soda-*.json"
    schema = "nyc"
    format = "soda-json"
  }
  input "la" {
    path   = "${env("IREPORTS_JOB_RAW")}/corpus/la"
    schema = "la"
  }
  input "sf" {
    path   = "${env("IREPORTS_JOB_RAW")}/corpus/sf"
    schema = "sf"
  }
  input "boston" {
    path   = "${env("IREPORTS_JOB_RAW")}/corpus/boston"
    schema = "boston"
  }
  input "baltimore" {
    path   = "${env("IREPORTS_JOB_RAW")}/corpus/baltimore"
    schema = "baltimore"
  }

  output {
    parquet  = "${env("IREPORTS_JOB_LAKE")}/requests"
    rejects  = "${env("IREPORTS_JOB_LAKE")}/rejects"
    postgres = env("DATABASE_URL")
  }
}
`

// buildRelease runs `make release` for linux/amd64 into a temporary directory and returns
// the tarball and its version, after checking SHA256SUMS.
func buildRelease(t *testing.T, root string) (tarball, ver string) {
	t.Helper()
	dist := t.TempDir()
	cmd := exec.Command("make", "-C", root, "release", "RELEASE_ARCHES=amd64", "DIST="+dist)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	matches, _ := filepath.Glob(filepath.Join(dist, "ireports-*-linux-amd64.tar.gz"))
	if len(matches) != 1 {
		t.Fatalf("make release wrote %v, want one ireports-VERSION-linux-amd64.tar.gz\n%s", matches, out)
	}
	tarball = matches[0]
	ver = strings.TrimSuffix(strings.TrimPrefix(filepath.Base(tarball), "ireports-"), "-linux-amd64.tar.gz")
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if want := hex.EncodeToString(sum[:]) + "  " + filepath.Base(tarball) + "\n"; string(sums) != want {
		t.Errorf("SHA256SUMS is %q, want %q", sums, want)
	}
	return tarball, ver
}

// checkTarball checks what the tarball holds: one top directory with the three binaries,
// the README and the performance record it links to, LICENSE, normalize.job and the built-in
// schemas, nothing else.
func checkTarball(t *testing.T, root, tarball, ver string) {
	t.Helper()
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	top := "ireports-" + ver + "-linux-amd64/"
	want := map[string]int64{ // name → mode
		top: 0o755, top + "bin/": 0o755, top + "schemas/": 0o755, top + "docs/": 0o755,
		top + "bin/coordinator": 0o755, top + "bin/worker": 0o755, top + "bin/viz": 0o755,
		top + "README.md": 0o644, top + "LICENSE": 0o644, top + "normalize.job": 0o644,
		top + "docs/performance.md": 0o644,
	}
	schemas, _ := filepath.Glob(filepath.Join(root, "jobs", "schemas", "*.hcl"))
	for _, s := range schemas {
		want[top+"schemas/"+filepath.Base(s)] = 0o644
	}
	tr := tar.NewReader(zr)
	got := map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h.Mode & 0o777
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s is owned by %d:%d, want 0:0", h.Name, h.Uid, h.Gid)
		}
	}
	for _, name := range sortedKeys(want) {
		if mode, ok := got[name]; !ok {
			t.Errorf("the tarball lacks %s", name)
		} else if mode != want[name] {
			t.Errorf("%s has mode %o, want %o", name, mode, want[name])
		}
	}
	for _, name := range sortedKeys(got) {
		if _, ok := want[name]; !ok {
			t.Errorf("the tarball holds %s, which the release does not list", name)
		}
	}
}

// enableSSL turns on TLS in the test's PostgreSQL with a self-signed certificate, as RDS
// has it: the boot scripts connect with sslmode=require.
func enableSSL(t *testing.T, pg *testenv.PostgresServer) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(pg.Dir, "data")
	crt, keyFile := filepath.Join(data, "server.crt"), filepath.Join(data, "server.key")
	writeFile(t, crt, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), 0o644)
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})), 0o600)
	// The server (the postgres user when the tests run as root) must own its key.
	if fi, err := os.Stat(data); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			for _, f := range []string{crt, keyFile} {
				if err := os.Chown(f, int(st.Uid), int(st.Gid)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	db, err := sql.Open("postgres", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"ALTER SYSTEM SET ssl_cert_file = '" + crt + "'",
		"ALTER SYSTEM SET ssl_key_file = '" + keyFile + "'",
		"ALTER SYSTEM SET ssl = on",
		"SELECT pg_reload_conf()",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The reload is asynchronous: new connections get TLS once the postmaster has read it.
	tls := strings.Replace(pg.URL, "sslmode=disable", "sslmode=require", 1)
	deadline := time.Now().Add(time.Minute)
	for {
		db, err := sql.Open("postgres", tls)
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL never accepted TLS: %v (log in %s)", err, filepath.Join(pg.Dir, "postgres.log"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePort returns a TCP and UDP port free on each of addrs.
func freePort(t *testing.T, addrs ...string) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", net.JoinHostPort(addrs[0], "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		ok := true
		for _, a := range addrs {
			hp := net.JoinHostPort(a, strconv.Itoa(port))
			l, err1 := net.Listen("tcp", hp)
			u, err2 := net.ListenPacket("udp", hp)
			if l != nil {
				l.Close()
			}
			if u != nil {
				u.Close()
			}
			ok = ok && err1 == nil && err2 == nil
		}
		if ok {
			return port
		}
	}
	t.Fatalf("no port free on %v", addrs)
	return 0
}

// process is a daemon started from the unpacked release, owned by the test: stopped with
// SIGTERM (as systemd stops it) when the test ends, and expected to exit 0.
type process struct {
	name string
	unit unit
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when cmd has exited; err holds Wait's result
	err  error
}

func startUnit(t *testing.T, work string, in *instance) *process {
	t.Helper()
	p := &process{name: in.name, unit: in.unit(t), log: filepath.Join(work, in.name+".log"), done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(p.unit.argv[0], p.unit.argv[1:]...)
	p.cmd.Env, p.cmd.Dir = p.unit.env, "/" // systemd's defaults: no WorkingDirectory=, only the unit's environment
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", in.name, err)
	}
	logf.Close()
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Logf("started %s: %s", in.name, strings.Join(p.unit.argv, " "))
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			if p.err != nil {
				t.Errorf("%s exited with %v after SIGTERM, want 0", p.name, p.err)
			}
		case <-time.After(40 * time.Second): // the units' TimeoutStopSec
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("%s did not stop within 40 s of SIGTERM", p.name)
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("%s log (last 6 KiB):\n%s", p.name, b[max(0, len(b)-6<<10):])
		}
	})
	return p
}

// waitFor polls cond until it holds; it fails the test when one of procs exits first or
// after two minutes.
func waitFor(t *testing.T, procs []*process, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		for _, p := range procs {
			select {
			case <-p.done:
				b, _ := os.ReadFile(p.log)
				t.Fatalf("%s exited (%v) while waiting until %s:\n%s", p.name, p.err, what, b)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitHTTP(t *testing.T, p *process, url, token string, code int) {
	t.Helper()
	waitFor(t, []*process{p}, fmt.Sprintf("%s answers %d", url, code), func() bool {
		c, _ := get(url, token)
		return c == code
	})
}

// get fetches url with the cluster token (when not empty) and returns the status and body.
func get(url, token string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func getJSON(url, token string, v any) error {
	code, body := get(url, token)
	if code != http.StatusOK {
		return fmt.Errorf("%s: %d %s", url, code, body)
	}
	return json.Unmarshal([]byte(body), v)
}

// chromiumPath is Debian's Chromium (apt-get install chromium), as in viz's browser tests.
const chromiumPath = "/usr/bin/chromium"

// checkPageInChromium loads the viz page and checks that plotly.js ran and the charts drew:
// every chart is drawn or says why it is empty, and the map and the top request types
// have data.
func checkPageInChromium(t *testing.T, root, url string) {
	t.Helper()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // as root in CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
		chromedp.WSURLReadTimeout(90*time.Second), // a loaded machine starts Chromium slowly
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil { // starts the browser, unbounded
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelNav := context.WithTimeout(bctx, 2*time.Minute)
	defer cancelNav()
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/")); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	const settled = `document.body.dataset.busy === '0' && [...document.querySelectorAll('.chart')].every((d) => d.dataset.state)`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](settled, chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		t.Fatalf("the charts were not all drawn: %v", err)
	}
	plotly, err := chromedp.Run(ctx, chromedp.Evaluate[string](`typeof Plotly === 'object' ? Plotly.version : ''`))
	if err != nil || plotly == "" {
		t.Fatalf("plotly.js did not load in the page: %q, %v", plotly, err)
	}
	type chart struct {
		ID, State, Text string
		Traces          int
	}
	charts, err := chromedp.Run(ctx, chromedp.Evaluate[[]chart](`[...document.querySelectorAll('.chart')].map((d) => ({
		id: d.id, state: d.dataset.state || '', text: d.dataset.state === 'ready' ? '' : d.textContent,
		traces: (d.data || []).filter((t) => [t.x, t.y, t.z, t.lat, t.lon].some((a) => Array.isArray(a) && a.flat(2).length > 0)).length }))`))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]chart{}
	for _, c := range charts {
		byID[c.ID] = c
		if !(c.State == "ready" && c.Traces > 0) && !(c.State == "empty" && c.Text != "") {
			t.Errorf("chart %s is %q with %d traces with data: %q", c.ID, c.State, c.Traces, c.Text)
		}
	}
	for _, id := range []string{"chart-map", "chart-top"} {
		if c := byID[id]; c.State != "ready" || c.Traces == 0 {
			t.Errorf("%s not drawn with data: %+v (all: %+v)", id, c, charts)
		}
	}
	t.Logf("plotly.js %s drew %d charts", plotly, len(charts))
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		dir := os.Getenv("IREPORTS_ARTIFACTS")
		if dir == "" {
			dir = filepath.Join(root, "artifacts")
		}
		dir = filepath.Join(dir, "release")
		if os.MkdirAll(dir, 0o755) == nil && os.WriteFile(filepath.Join(dir, "viz-from-release.png"), png, 0o644) == nil {
			t.Logf("screenshot %s", filepath.Join(dir, "viz-from-release.png"))
		}
	}
}
