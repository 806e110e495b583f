package jobs

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/ireports/ireports/objstore"
)

// SourceSpec is a `source "NAME" { kind = "socrata" … }` block: a dataset the job pulls
// incrementally before it runs. Its pulled pages are stored under Raw as batch-*.json
// objects, which the inputs that name the source read as SODA JSON.
type SourceSpec struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`     // "socrata"
	Endpoint string `json:"endpoint"` // the dataset's SODA resource URL
	// AppToken is sent as X-App-Token. Like the database URL it stays on the coordinator.
	AppToken string        `json:"-"`
	Schema   string        `json:"schema"`    // the city schema that normalizes the records
	PageSize int           `json:"page_size"` // 0: the source's default
	Start    string        `json:"start"`     // first pull: records updated at or after it
	Raw      string        `json:"raw"`       // where pulled batches are stored
	RetryFor time.Duration `json:"retry_for"` // 0: the source's default
}

// BatchPattern is the glob of the batches a source has stored and no run has consumed yet. It
// fails, wrapping objstore.ErrUnsafePath, when Raw is a name that joining would rewrite (see
// objstore.Join); Parse has refused such a Raw already.
func (s *SourceSpec) BatchPattern() (string, error) { return joinPath(s.Raw, "batch-*.json") }

// ConsumedDir is where a run moves the batches it committed. It fails as BatchPattern does.
func (s *SourceSpec) ConsumedDir() (string, error) { return joinPath(s.Raw, "consumed") }

// joinPath is objstore.Join for one element: "/"-separated for s3:// names and, on the
// platforms this runs on, for local paths too. It refuses what Join refuses.
func joinPath(base, name string) (string, error) { return objstore.Join(base, name) }

var sourceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "kind", Required: true},
		{Name: "endpoint", Required: true},
		{Name: "app_token"},
		{Name: "schema", Required: true},
		{Name: "page_size"},
		{Name: "start", Required: true},
		{Name: "raw", Required: true},
		{Name: "retry_for"},
	},
}

func decodeSource(b *hcl.Block, dir string, ctx *hcl.EvalContext) (*SourceSpec, hcl.Diagnostics) {
	s := &SourceSpec{Name: b.Labels[0]}
	content, diags := b.Body.Content(sourceSchema)
	str := func(name string, out *string, check func(string) string) {
		a := content.Attributes[name]
		if a == nil {
			return
		}
		v, d := evalString(a, ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			return
		}
		if check != nil {
			if msg := check(v); msg != "" {
				diags = append(diags, diagAt(a.Expr.Range(), "Bad "+name, msg))
			}
		}
		*out = v
	}
	str("kind", &s.Kind, func(v string) string {
		if v != "socrata" {
			return fmt.Sprintf("kind must be \"socrata\" (the only source kind), not %q.", v)
		}
		return ""
	})
	str("endpoint", &s.Endpoint, func(v string) string {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Sprintf("endpoint must be the dataset's http(s) URL, such as https://data.cityofnewyork.us/resource/erm2-nwe9.json, not %q.", v)
		}
		return ""
	})
	str("app_token", &s.AppToken, nil)
	str("schema", &s.Schema, func(v string) string {
		if err := CheckName("schema", v); err != nil {
			return err.Error() + "."
		}
		return ""
	})
	str("start", &s.Start, func(v string) string {
		for _, l := range []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
			if _, err := time.Parse(l, v); err == nil {
				return ""
			}
		}
		return fmt.Sprintf("start must be a timestamp such as \"2024-01-01T00:00:00\", not %q.", v)
	})
	str("raw", &s.Raw, func(v string) string {
		if strings.TrimSpace(v) == "" {
			return "raw must name where pulled batches are stored (a directory or s3://bucket/prefix)."
		}
		if _, err := joinPath(resolvePath(dir, v), "consumed"); err != nil {
			return "raw cannot hold batches: " + err.Error() + "."
		}
		return ""
	})
	s.Raw = resolvePath(dir, s.Raw)
	if a := content.Attributes["page_size"]; a != nil {
		n, d := evalIntIn(a, ctx, 1, MaxPageSize)
		diags = append(diags, d...)
		s.PageSize = int(n)
	}
	if a := content.Attributes["retry_for"]; a != nil {
		v, d := evalString(a, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			dur, err := time.ParseDuration(v)
			if err != nil || dur <= 0 || dur > MaxRetryFor {
				diags = append(diags, diagAt(a.Expr.Range(), "Bad retry_for",
					fmt.Sprintf("retry_for must be a duration such as \"15m\", more than 0 and at most %v, not %q.", MaxRetryFor, truncateForMessage(v))))
			}
			s.RetryFor = dur
		}
	}
	return s, diags
}

// Schedule says when `coordinator serve` runs a job on its own: every day at a local time,
// or at a fixed interval.
type Schedule struct {
	Text string `json:"text"` // as written: "daily 02:00 America/New_York", "every 6h"
	// Daily runs: the time of day in Zone.
	Hour, Minute int
	Zone         string `json:"zone,omitempty"`
	// Interval runs: the period, from the Unix epoch.
	Every time.Duration `json:"every,omitempty"`
}

// ParseSchedule reads "daily HH:MM [ZONE]" (ZONE an IANA name, default UTC) or
// "every DURATION" (between MinScheduleInterval and MaxScheduleInterval).
func ParseSchedule(s string) (*Schedule, error) {
	f := strings.Fields(s)
	sc := &Schedule{Text: s}
	s = truncateForMessage(s) // for messages

	switch {
	case len(f) >= 2 && len(f) <= 3 && f[0] == "daily":
		t, err := time.Parse("15:04", f[1])
		if err != nil {
			return nil, fmt.Errorf("schedule %q: the time of day must be HH:MM", s)
		}
		sc.Hour, sc.Minute, sc.Zone = t.Hour(), t.Minute(), "UTC"
		if len(f) == 3 {
			sc.Zone = f[2]
		}
		if _, err := time.LoadLocation(sc.Zone); err != nil {
			return nil, fmt.Errorf("schedule %q: unknown time zone %q", s, sc.Zone)
		}
	case len(f) == 2 && f[0] == "every":
		d, err := time.ParseDuration(f[1])
		if err != nil || d < MinScheduleInterval || d > MaxScheduleInterval {
			return nil, fmt.Errorf("schedule %q: the interval must be a duration of at least %v and at most %v", s, MinScheduleInterval, MaxScheduleInterval)
		}
		sc.Every = d
	default:
		return nil, fmt.Errorf("schedule %q: want \"daily HH:MM [ZONE]\" or \"every DURATION\"", s)
	}
	return sc, nil
}

// Next is the first scheduled time strictly after t.
func (sc *Schedule) Next(t time.Time) time.Time {
	if sc.Every > 0 {
		return t.Truncate(sc.Every).Add(sc.Every)
	}
	loc, err := time.LoadLocation(sc.Zone)
	if err != nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	next := time.Date(lt.Year(), lt.Month(), lt.Day(), sc.Hour, sc.Minute, 0, 0, loc)
	for !next.After(t) {
		lt = lt.AddDate(0, 0, 1)
		next = time.Date(lt.Year(), lt.Month(), lt.Day(), sc.Hour, sc.Minute, 0, 0, loc)
	}
	return next
}

// Prev is the last scheduled time at or before t.
func (sc *Schedule) Prev(t time.Time) time.Time {
	if sc.Every > 0 {
		return t.Truncate(sc.Every)
	}
	loc, err := time.LoadLocation(sc.Zone)
	if err != nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	prev := time.Date(lt.Year(), lt.Month(), lt.Day(), sc.Hour, sc.Minute, 0, 0, loc)
	for prev.After(t) {
		lt = lt.AddDate(0, 0, -1)
		prev = time.Date(lt.Year(), lt.Month(), lt.Day(), sc.Hour, sc.Minute, 0, 0, loc)
	}
	return prev
}
