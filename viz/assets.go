package viz

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// The page's own files are compiled into the binary, and so is plotly.js (plotly.go).
var (
	//go:embed static
	staticFS embed.FS
	//go:embed templates/*.html
	templateFS embed.FS
)

// asset is one file held in memory with its validators; gz is its gzipped form, when that
// is worth sending.
type asset struct {
	body, gz []byte
	etag     string
	ctype    string
}

func newAsset(name string, body []byte) asset {
	sum := sha256.Sum256(body)
	a := asset{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: mime.TypeByExtension(path.Ext(name))}
	if a.ctype == "" {
		a.ctype = "application/octet-stream"
	}
	if len(body) >= gzipMin {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		zw.Write(body)
		zw.Close()
		a.gz = buf.Bytes()
	}
	return a
}

// assets are the static files, by name, and plotly.js.
type assets struct {
	static  map[string]asset
	plotly  asset
	version string // a hash of every asset: the ?v= of their URLs, so a new build busts caches
}

// loadAssets reads the static files and takes plotly.js (the embedded copy, or the file
// --plotly names).
func loadAssets(plotly []byte) (*assets, error) {
	a := &assets{static: map[string]asset{}, plotly: newAsset("plotly.min.js", plotly)}
	h := sha256.New()
	h.Write([]byte(a.plotly.etag))
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		body, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, err
		}
		a.static[e.Name()] = newAsset(e.Name(), body)
		h.Write([]byte(a.static[e.Name()].etag))
	}
	a.version = hex.EncodeToString(h.Sum(nil)[:6])
	return a, nil
}

func (a *assets) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := a.static[r.PathValue("name")]
	if !ok {
		writeError(w, http.StatusNotFound, "no such file")
		return
	}
	a.serve(w, r, f)
}

func (a *assets) servePlotly(w http.ResponseWriter, r *http.Request) { a.serve(w, r, a.plotly) }

// serve writes an asset. URLs the pages build carry ?v=version, so a response to one with
// the current version can be cached for good; any other revalidates.
func (a *assets) serve(w http.ResponseWriter, r *http.Request, f asset) {
	cc := "no-cache"
	if r.URL.Query().Get("v") == a.version {
		cc = "public, max-age=31536000, immutable"
	}
	h := w.Header()
	h.Set("Cache-Control", cc)
	h.Set("Vary", "Accept-Encoding")
	body, etag := f.body, f.etag
	gz := f.gz != nil && acceptsGzip(r)
	if gz {
		body, etag = f.gz, strings.TrimSuffix(etag, `"`)+`-gz"`
	}
	h.Set("ETag", etag)
	if matchesETag(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", f.ctype)
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// pages are the HTML pages, rendered once: they hold no data (the charts fetch theirs).
type pages struct{ byName map[string]asset }

// pageData is what the templates see.
type pageData struct {
	Page, Title string
	Version     string
}

var pageTitles = map[string]string{
	"overview": "Service requests",
	"review":   "Agency daily review",
}

func loadPages(a *assets) (*pages, error) {
	base, err := template.ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]asset{}}
	for name, title := range pageTitles {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, "layout", pageData{Page: name, Title: title, Version: a.version}); err != nil {
			return nil, fmt.Errorf("page %s: %w", name, err)
		}
		p.byName[name] = newAsset(name+".html", buf.Bytes())
	}
	return p, nil
}

func (s *Server) page(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := s.pages.byName[name]
		// Pages always revalidate, so a new build's page (and its new asset versions) is
		// picked up at once; the ETag makes that a 304.
		s.assets.serveNoCache(w, r, f)
	})
}

func (a *assets) serveNoCache(w http.ResponseWriter, r *http.Request, f asset) {
	u := *r.URL
	u.RawQuery = "" // never the immutable branch of serve
	r2 := *r
	r2.URL = &u
	a.serve(w, &r2, f)
}
