package jobs

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// DefaultEnvPrefix is the prefix of the environment variables that env() may read without
// the operator naming them: a coordinator's operator puts what jobs may see under it
// (IREPORTS_JOB_DATABASE_URL) and keeps everything else, its own credentials included, out
// of reach.
const DefaultEnvPrefix = "IREPORTS_JOB_"

// EnvPolicy says which environment variables env() may read. A job file comes from whoever
// holds the cluster token, and env() is evaluated on the coordinator, so by default a job
// reads only what the operator allowed. The zero value allows nothing.
type EnvPolicy struct {
	Allow    []string                    // exact names the operator allowed (--job-env)
	Prefix   string                      // every name with this prefix is allowed; DefaultEnvPrefix = "IREPORTS_JOB_"
	AllowAll bool                        // coordinator run: the user's own environment
	Lookup   func(string) (string, bool) // nil = os.LookupEnv (tests inject)
}

// allows reports whether env() may read name.
func (p EnvPolicy) allows(name string) bool {
	return p.AllowAll || (p.Prefix != "" && strings.HasPrefix(name, p.Prefix)) || slices.Contains(p.Allow, name)
}

func (p EnvPolicy) lookup(name string) (string, bool) {
	if p.Lookup != nil {
		return p.Lookup(name)
	}
	return os.LookupEnv(name)
}

// ParseOptions tune ParseWith and ParseFileWith. Their zero value lets env() read nothing;
// Parse and ParseFile use ParseOptions{Env: EnvPolicy{Prefix: DefaultEnvPrefix}}.
type ParseOptions struct {
	// Env says which variables env() may read.
	Env EnvPolicy
}

// defaultParseOptions is what Parse and ParseFile use: env() reads only DefaultEnvPrefix
// variables.
func defaultParseOptions() ParseOptions {
	return ParseOptions{Env: EnvPolicy{Prefix: DefaultEnvPrefix}}
}

// envReads records what env() returned during one parse, so that the values can be kept out
// of every message. Expressions are evaluated by one goroutine, but a mutex costs nothing
// here and keeps the recorder safe whatever HCL does.
type envReads struct {
	mu   sync.Mutex        // guards vals
	vals map[string]string // variable name → value, non-empty values only
}

func (r *envReads) add(name, value string) {
	if value == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.vals == nil {
		r.vals = map[string]string{}
	}
	r.vals[name] = value
}

func (r *envReads) snapshot() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.vals) == 0 {
		return nil
	}
	m := make(map[string]string, len(r.vals))
	for k, v := range r.vals {
		m[k] = v
	}
	return m
}

// envFunction is env(NAME) or env(NAME, DEFAULT) under policy p, recording what it reads in
// rec. A variable the policy does not allow is an error even when it is unset, and the error
// never holds its value: a job file must not be able to probe the coordinator's environment.
// An unset allowed variable without a default is an error, not "": a job silently writing to
// the wrong database is worse than one that does not start. A default is not recorded: it is
// written in the job file for all to see.
func envFunction(p EnvPolicy, rec *envReads) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable the coordinator's operator allowed.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, fmt.Errorf("env takes a name and at most one default")
			}
			name := args[0].AsString()
			if !p.allows(name) {
				how := fmt.Sprintf("the coordinator's operator can allow it with --job-env %s", truncateForMessage(name))
				if p.Prefix != "" {
					how += fmt.Sprintf("; names starting with %s are always allowed", p.Prefix)
				}
				return cty.NilVal, fmt.Errorf("environment variable %s is not allowed for jobs (%s)", truncateForMessage(name), how)
			}
			if v, ok := p.lookup(name); ok {
				rec.add(name, v)
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			where := "the coordinator's environment: env() reads the coordinator's, not that of whoever submits the job"
			if p.AllowAll {
				where = "this process's environment"
			}
			return cty.NilVal, fmt.Errorf("environment variable %s is not set in %s (give env(%q, DEFAULT) for a default)",
				truncateForMessage(name), where, truncateForMessage(name))
		},
	})
}

// evalContext is the context every expression of a job file is evaluated in. There are no
// variables; env() lets a job file take secrets (a database URL) from the environment
// instead of holding them, within what policy allows.
func evalContext(p EnvPolicy, rec *envReads) *hcl.EvalContext {
	return &hcl.EvalContext{Functions: map[string]function.Function{"env": envFunction(p, rec)}}
}

// redactor replaces each value with ${env:NAME}, longest value first, so that a value that
// contains another is replaced whole. strings.Replacer tries its pairs in order at each
// position and never rescans what it wrote.
func redactor(vals map[string]string) *strings.Replacer {
	type pair struct{ name, val string }
	var ps []pair
	for n, v := range vals {
		if v != "" {
			ps = append(ps, pair{n, v})
		}
	}
	if len(ps) == 0 {
		return nil
	}
	slices.SortFunc(ps, func(a, b pair) int {
		return cmp.Or(cmp.Compare(len(b.val), len(a.val)), cmp.Compare(a.name, b.name))
	})
	args := make([]string, 0, 2*len(ps))
	for _, p := range ps {
		args = append(args, p.val, "${env:"+p.name+"}")
	}
	return strings.NewReplacer(args...)
}

// Redact returns msg with every value the job file read through env() replaced by
// ${env:NAME}. Use it on anything about the job that leaves the process: errors, log
// lines, the status page, results and the job history.
func (s *Spec) Redact(msg string) string {
	if s == nil {
		return msg
	}
	if r := redactor(s.EnvValues); r != nil {
		return r.Replace(msg)
	}
	return msg
}

// RedactError returns err with its message redacted (Redact); errors.Is and errors.As still
// see err and everything it wraps. A caller that unwraps the error and prints an inner one
// must redact that too.
func (s *Spec) RedactError(err error) error {
	if err == nil || s == nil || len(s.EnvValues) == 0 {
		return err
	}
	msg := err.Error()
	if red := s.Redact(msg); red != msg {
		return &redactedError{err: err, msg: red}
	}
	return err
}

// redactedError is an error whose message had env() values taken out.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactDiags takes env() values out of diagnostics' messages and drops what a diagnostic
// printer could show values from (the expression and its evaluation context). It returns
// diags, changed in place.
func redactDiags(diags hcl.Diagnostics, vals map[string]string) hcl.Diagnostics {
	r := redactor(vals)
	for _, d := range diags {
		d.Expression, d.EvalContext = nil, nil
		if r != nil {
			d.Summary, d.Detail = r.Replace(d.Summary), r.Replace(d.Detail)
		}
	}
	return diags
}

// shippedEnvValues is the part of EnvValues that a Spec's JSON carries: the values that the
// rest of the JSON holds anyway (a path or an endpoint built from a variable), so that a
// worker can redact its own messages. Values used only where the spec never leaves the
// coordinator (output.postgres, a source's app_token) stay behind, as those fields do.
func shippedEnvValues(vals map[string]string, rest []byte) map[string]string {
	var out map[string]string
	for n, v := range vals {
		q, err := json.Marshal(v)
		if err != nil || len(q) < 2 || !strings.Contains(string(rest), string(q[1:len(q)-1])) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[n] = v
	}
	return out
}
