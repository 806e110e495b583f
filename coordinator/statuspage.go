package coordinator

import (
	"cmp"
	"html/template"
	"net/http"
	"time"

	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/internal/units"
	"github.com/ireports/ireports/internal/version"
)

var statusTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"bytes": units.FormatBytes,
	"pct":   pct,
	"ago":   func(t time.Time) string { return time.Since(t).Truncate(time.Second).String() },
	"rate": func(p Progress) string {
		secs := time.Since(p.Started).Seconds()
		if p.Started.IsZero() || secs <= 0 {
			return "–"
		}
		return units.FormatBytes(int64(float64(p.BytesDone)/secs)) + "/s"
	},
	"recs": func(p Progress) string {
		secs := time.Since(p.Started).Seconds()
		if p.Started.IsZero() || secs <= 0 {
			return "–"
		}
		return units.FormatRate(float64(p.RecordsDone) / secs)
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>ireports coordinator</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 2em}th,td{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}
th{background:#f4f4f4}.succeeded{color:#1a7f37}.failed{color:#c62828}.cancelled{color:#777}.running{color:#1565c0}
.bar{background:#eee;width:10em;height:.8em;display:inline-block}.bar span{background:#1565c0;height:100%;display:block}
small{color:#666}
</style></head><body>
<h1>ireports coordinator <small>{{.Version}} (protocol {{.Protocol}}) · up {{ago .Started}} · {{.Queued}} attempts queued, {{.Running}} running</small></h1>
<h2>Workers ({{len .Workers}})</h2>
<table><tr><th>name</th><th>API</th><th>shuffle</th><th>slots</th><th>running</th><th>last seen</th><th>version</th></tr>
{{range .Workers}}<tr><td>{{.Name}}</td><td>{{.API}}</td><td>{{.Shuffle}}</td><td>{{.Slots}}</td><td>{{.Running}}</td><td>{{ago .LastSeen}} ago</td><td>{{.Version}}{{if .Refused}}<br><small class="failed">refused: {{.Refused}}</small>{{end}}</td></tr>
{{else}}<tr><td colspan="7">no workers have joined</td></tr>{{end}}</table>
<h2>Jobs</h2>
<table><tr><th>job</th><th>state</th><th>phase</th><th>map</th><th>reduce</th><th>input</th><th>throughput</th><th>records</th><th>result</th></tr>
{{range .Jobs}}<tr><td>{{.ID}}{{if .Resumed}}<br><small>resumed {{.Resumed}}×, {{.Lost}} lost</small>{{end}}{{with index $.Profiles .ID}}<br><small><a href="{{.}}">CPU profile</a></small>{{end}}</td><td class="{{.State.Status}}">{{.State.Status}}{{range .Excluded}}<br><small class="failed">worker {{.Worker}} excluded: {{.Reason}}</small>{{end}}</td><td>{{.Progress.Phase.PhaseName}}{{if eq .Progress.Phase.PhaseName "interrupted"}}<br><small>the coordinator is shutting down; a restart on the same state resumes the job</small>{{end}}{{with .Progress}}{{if .PublishGroupsTotal}}<br><span class="bar"><span style="width:{{pct .PublishGroups .PublishGroupsTotal}}%"></span></span> <small>{{.PublishGroups}}/{{.PublishGroupsTotal}} groups, {{.PublishRows}} rows into Postgres{{if .PublishFinishing}}; building indexes, committing{{end}}</small>{{end}}{{end}}</td>
<td><span class="bar"><span style="width:{{pct .Progress.MapsDone .Progress.MapsTotal}}%"></span></span> {{.Progress.MapsDone}}/{{.Progress.MapsTotal}}</td>
<td>{{.Progress.ReducesDone}}/{{.Progress.ReducesTotal}}</td>
<td>{{bytes .Progress.BytesDone}} of {{bytes .Progress.BytesTotal}}</td><td>{{rate .Progress}}</td><td>{{recs .Progress}}</td>
<td>{{with .Result}}{{.RecordsOut}} out, {{.Rejected}} rejected, {{.Groups}} groups{{if .Published}}, summaries {{.Published}}{{end}}{{range .Pulls}}<br><small>pull {{.Source}}: {{.Status}}, {{.Records}} records</small>{{end}}{{if .Error}}<br><small>{{.Error}}</small>{{end}}{{range .Warnings}}<br><small>{{.}}</small>{{end}}{{end}}</td></tr>
{{else}}<tr><td colspan="9">no jobs yet: coordinator submit FILE.job</td></tr>{{end}}</table>
</body></html>`))

func pct(a, b int) int {
	if b == 0 {
		return 0
	}
	return 100 * a / b
}

// statusData is what the status page shows.
type statusData struct {
	Version         string // this coordinator's (internal/version)
	Protocol        int
	Started         time.Time
	Queued, Running int
	Workers         []workerSlot
	Jobs            []JobStatus
	Profiles        map[string]string // job id → its workers' CPU profile in Pyroscope
}

func (s *Server) handleStatusPage(w http.ResponseWriter, r *http.Request) {
	q, run := s.sched.Counts()
	data := statusData{version.Version(), version.Protocol, s.started, q, run, s.sched.Workers(), s.Jobs(), map[string]string{}}
	if ui := cmp.Or(s.cfg.PyroscopeUI, s.cfg.Profiling.ServerURL); ui != "" {
		for _, j := range data.Jobs {
			var until time.Time // zero: now
			if j.Finished != nil {
				until = *j.Finished
			}
			data.Profiles[j.ID] = obs.ProfileURL(ui, obs.AppName("worker"), j.ID, j.Submitted, until)
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusTmpl.Execute(w, data); err != nil {
		s.log.Warn("status page", "err", err)
	}
}
