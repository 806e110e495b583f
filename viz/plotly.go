package viz

import (
	"embed"
	"fmt"
	"os"
)

// plotlyDir holds plotly.min.js when `make build` copied it in from the npm package before
// compiling (see plotly/README.txt); the README keeps the pattern matching when it did not.
//
//go:embed plotly
var plotlyDir embed.FS

// embeddedPlotly is the plotly.js this binary carries, nil when it was built without it
// (a plain `go build`). A variable, so that tests can build a server without it.
var embeddedPlotly, _ = plotlyDir.ReadFile("plotly/plotly.min.js")

// PlotlyEmbedded reports whether this binary carries plotly.js, so that a server with an
// empty Config.PlotlyJS can start.
func PlotlyEmbedded() bool { return len(embeddedPlotly) > 0 }

// plotlySource returns the plotly.js to serve and where it came from: the file at path
// when one is given (--plotly), else the copy embedded at build time. Nothing else on disk
// is looked at: a deployed binary must not depend on what lies around it.
func plotlySource(path string) (body []byte, from string, err error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("%w: --plotly: %v; give the path of plotly.min.js (`npm ci` installs it at %s), or leave --plotly out to use the copy built into viz", ErrNoPlotly, err, PlotlyPackagePath)
		}
		return b, path, nil
	}
	if !PlotlyEmbedded() {
		return nil, "", fmt.Errorf("%w: this viz binary was built without plotly.js (a plain `go build`); build it with `make build`, which installs plotly.js with npm and embeds it, or pass --plotly PATH to a plotly.min.js (npm's %s)", ErrNoPlotly, PlotlyPackagePath)
	}
	return embeddedPlotly, "embedded", nil
}
