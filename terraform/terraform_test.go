package terraform_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ireports/ireports/internal/cli/coordinatorcli"
	"github.com/ireports/ireports/internal/cli/workercli"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/viz"
)

// pendingFlags are flags the boot scripts pass that the binaries do not define yet:
// --allow-path (coordinator serve, worker) and --job-env (coordinator serve) come with the
// job-file hardening of the coordinator. The check strips them only while the binary lacks
// them, and fails once one is defined, so that this list is emptied when the flag lands.
var pendingFlags = []string{}

// requiredVars gives the variables without a default a value, as terraform.tfvars would.
var requiredVars = map[string]cty.Value{
	"release_s3_uri":    cty.StringVal("s3://city-artifacts/ireports/v0.1.0/ireports-linux-amd64.tar.gz"),
	"viz_allowed_cidrs": cty.ListVal([]cty.Value{cty.StringVal("198.51.100.0/24")}),
}

// attrValues stands in for the templatefile() arguments that only exist after apply
// (resource attributes, locals computed from them). Arguments that are plain variables or
// constants are evaluated from the .tf files instead, with the variables' defaults.
var attrValues = map[string]cty.Value{
	"coordinator_ip":               cty.StringVal("10.40.0.10"),
	"pyroscope_url":                cty.StringVal("http://10.40.0.42:4040"),
	"pyroscope_port":               cty.NumberIntVal(4040),
	"gossip_key_parameter":         cty.StringVal("/ireports/gossip-key"),
	"api_token_parameter":          cty.StringVal("/ireports/api-token"),
	"db_master_password_parameter": cty.StringVal("/ireports/db-password"),
	"db_viz_password_parameter":    cty.StringVal("/ireports/db-viz-password"),
	"db_writer_password_parameter": cty.StringVal("/ireports/db-writer-password"),
	"raw_url":                      cty.StringVal("s3://ireports-raw-123456789012-us-east-1"),
	"lake_url":                     cty.StringVal("s3://ireports-lake-123456789012-us-east-1"),
	"state_url":                    cty.StringVal("s3://ireports-state-123456789012-us-east-1/journals"),
	"db_host":                      cty.StringVal("ireports-2024.abcdefghijkl.us-east-1.rds.amazonaws.com"),
	"db_port":                      cty.NumberIntVal(5432),
}

// userDataLimit is EC2's limit on user data before base64 encoding.
const userDataLimit = 16 << 10

// module is the parsed configuration in this directory.
type module struct {
	files     map[string][]byte // .tf source by file name
	bodies    map[string]*hclsyntax.Body
	variables map[string]*hclsyntax.Block
	locals    map[string]*hclsyntax.Attribute
	resources map[string]*hclsyntax.Block // by "type.name"
	data      map[string]*hclsyntax.Block // by "type.name"
	modules   map[string]*hclsyntax.Block
	outputs   map[string]*hclsyntax.Block
	// used records "var.X" and "local.X" as checkBody meets references to them.
	used map[string]bool
}

func loadModule(t *testing.T) *module {
	t.Helper()
	names, err := filepath.Glob("*.tf")
	if err != nil || len(names) == 0 {
		t.Fatalf("no .tf files in %s (err %v)", mustGetwd(t), err)
	}
	m := &module{
		files:     map[string][]byte{},
		bodies:    map[string]*hclsyntax.Body{},
		variables: map[string]*hclsyntax.Block{},
		locals:    map[string]*hclsyntax.Attribute{},
		resources: map[string]*hclsyntax.Block{},
		data:      map[string]*hclsyntax.Block{},
		modules:   map[string]*hclsyntax.Block{},
		outputs:   map[string]*hclsyntax.Block{},
		used:      map[string]bool{},
	}
	p := hclparse.NewParser()
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := p.ParseHCL(src, name)
		if diags.HasErrors() {
			t.Fatalf("%s does not parse: %s", name, diags.Error())
		}
		m.files[name] = src
		body := f.Body.(*hclsyntax.Body)
		m.bodies[name] = body
		for _, b := range body.Blocks {
			dup := func(kind, key string, seen bool) {
				if seen {
					t.Errorf("%s: %s %s declared twice", b.DefRange(), kind, key)
				}
			}
			switch b.Type {
			case "variable":
				_, seen := m.variables[b.Labels[0]]
				dup("variable", b.Labels[0], seen)
				m.variables[b.Labels[0]] = b
			case "locals":
				for name, a := range b.Body.Attributes {
					_, seen := m.locals[name]
					dup("local", name, seen)
					m.locals[name] = a
				}
			case "resource":
				key := b.Labels[0] + "." + b.Labels[1]
				_, seen := m.resources[key]
				dup("resource", key, seen)
				m.resources[key] = b
			case "data":
				key := b.Labels[0] + "." + b.Labels[1]
				_, seen := m.data[key]
				dup("data", key, seen)
				m.data[key] = b
			case "module":
				m.modules[b.Labels[0]] = b
			case "output":
				_, seen := m.outputs[b.Labels[0]]
				dup("output", b.Labels[0], seen)
				m.outputs[b.Labels[0]] = b
			}
		}
	}
	return m
}

func mustGetwd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

func TestFilesParseAndAreFormatted(t *testing.T) {
	names, _ := filepath.Glob("*.tf")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, diags := hclparse.NewParser().ParseHCL(src, name); diags.HasErrors() {
				t.Fatalf("parse: %s", diags.Error())
			}
			// hclwrite.Format is the core of terraform fmt; TestTerraformFmt runs the real
			// thing where terraform is installed.
			if got := hclwrite.Format(src); !bytes.Equal(got, src) {
				t.Errorf("%s is not formatted: run terraform fmt", name)
			}
		})
	}
}

func TestTerraformFmt(t *testing.T) {
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not installed; TestFilesParseAndAreFormatted checks the format with hclwrite")
	}
	cmd := exec.Command(bin, "fmt", "-check", "-recursive", "-diff", ".")
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("terraform fmt -check -recursive: %v\n%s", err, out)
	}
}

// refScope is what a reference may name at some point of the configuration besides the
// module's declarations.
type refScope struct {
	each, count bool            // inside a block with for_each / count
	iterators   map[string]bool // dynamic-block iterators in scope
	onlyVar     string          // inside variable X: validation may name var.X only
}

func TestReferencesResolve(t *testing.T) {
	m := loadModule(t)
	for _, name := range sortedKeys(m.bodies) {
		t.Run(name, func(t *testing.T) {
			for _, b := range m.bodies[name].Blocks {
				sc := refScope{iterators: map[string]bool{}}
				if b.Type == "variable" {
					sc.onlyVar = b.Labels[0]
				}
				_, sc.each = b.Body.Attributes["for_each"]
				_, sc.count = b.Body.Attributes["count"]
				if b.Type == "terraform" {
					continue // constants only; its backend block may not reference anything
				}
				body := b.Body
				if b.Type == "variable" {
					// type is a type expression, not references.
					body = &hclsyntax.Body{Attributes: hclsyntax.Attributes{}, Blocks: b.Body.Blocks}
					for k, a := range b.Body.Attributes {
						if k != "type" {
							body.Attributes[k] = a
						}
					}
				}
				for _, p := range m.checkBody(body, sc) {
					t.Error(p)
				}
			}
		})
	}
	// An unused variable is a knob that does nothing; an unused local is dead code.
	for _, name := range sortedKeys(m.variables) {
		if !m.used["var."+name] {
			t.Errorf("%s: variable %s is never used", m.variables[name].DefRange(), name)
		}
	}
	for _, name := range sortedKeys(m.locals) {
		if !m.used["local."+name] {
			t.Errorf("%s: local.%s is never used", m.locals[name].SrcRange, name)
		}
	}
}

func (m *module) checkBody(body *hclsyntax.Body, sc refScope) []string {
	var problems []string
	for _, name := range sortedKeys(body.Attributes) {
		for _, tr := range body.Attributes[name].Expr.Variables() {
			if p := m.checkTraversal(tr, sc); p != "" {
				problems = append(problems, fmt.Sprintf("%s: %s", tr.SourceRange(), p))
			}
		}
	}
	for _, b := range body.Blocks {
		inner := sc
		switch b.Type {
		case "lifecycle":
			// ignore_changes lists attribute names, not references; its pre- and
			// postconditions hold references like any other block.
			for _, c := range b.Body.Blocks {
				problems = append(problems, m.checkBody(c.Body, inner)...)
			}
			continue
		case "dynamic":
			it := b.Labels[0]
			if a, ok := b.Body.Attributes["iterator"]; ok {
				it = hcl.ExprAsKeyword(a.Expr)
			}
			inner.iterators = map[string]bool{it: true}
			for k := range sc.iterators {
				inner.iterators[k] = true
			}
			// for_each is evaluated outside the iterator's scope; iterator names it.
			outer := hclsyntax.Attributes{}
			for k, a := range b.Body.Attributes {
				if k != "iterator" {
					outer[k] = a
				}
			}
			problems = append(problems, m.checkBody(&hclsyntax.Body{Attributes: outer}, sc)...)
			for _, c := range b.Body.Blocks {
				problems = append(problems, m.checkBody(c.Body, inner)...)
			}
			continue
		}
		problems = append(problems, m.checkBody(b.Body, inner)...)
	}
	return problems
}

// checkTraversal returns what is wrong with one reference, or "".
func (m *module) checkTraversal(tr hcl.Traversal, sc refScope) string {
	attr := func(i int) string {
		if i < len(tr) {
			if a, ok := tr[i].(hcl.TraverseAttr); ok {
				return a.Name
			}
		}
		return ""
	}
	root := tr.RootName()
	switch root {
	case "var":
		name := attr(1)
		if sc.onlyVar == "" {
			m.used["var."+name] = true
		}
		if _, ok := m.variables[name]; !ok {
			return fmt.Sprintf("var.%s is not declared", name)
		}
		if sc.onlyVar != "" && name != sc.onlyVar {
			return fmt.Sprintf("variable %s refers to var.%s (validation may refer to its own variable only before terraform 1.9)", sc.onlyVar, name)
		}
	case "local":
		m.used["local."+attr(1)] = true
		if _, ok := m.locals[attr(1)]; !ok {
			return fmt.Sprintf("local.%s is not declared", attr(1))
		}
	case "module":
		if _, ok := m.modules[attr(1)]; !ok {
			return fmt.Sprintf("module.%s is not declared", attr(1))
		}
	case "data":
		if _, ok := m.data[attr(1)+"."+attr(2)]; !ok {
			return fmt.Sprintf("data.%s.%s is not declared", attr(1), attr(2))
		}
	case "each":
		if !sc.each {
			return "each used outside a block with for_each"
		}
	case "count":
		if !sc.count {
			return "count used outside a block with count"
		}
	case "path", "terraform", "self":
	default:
		if sc.iterators[root] {
			return ""
		}
		if _, ok := m.resources[root+"."+attr(1)]; !ok {
			return fmt.Sprintf("%s.%s is not a declared resource", root, attr(1))
		}
	}
	return ""
}

func TestVariablesDocumented(t *testing.T) {
	m := loadModule(t)
	for _, name := range sortedKeys(m.variables) {
		t.Run(name, func(t *testing.T) {
			b := m.variables[name]
			if d := stringAttr(b.Body, "description"); strings.TrimSpace(d) == "" {
				t.Errorf("%s: variable %s has no description", b.DefRange(), name)
			}
			ta, ok := b.Body.Attributes["type"]
			if !ok {
				t.Fatalf("%s: variable %s has no type", b.DefRange(), name)
			}
			ty, diags := typeexpr.TypeConstraint(ta.Expr)
			if diags.HasErrors() {
				t.Fatalf("%s: type: %s", b.DefRange(), diags.Error())
			}
			if da, ok := b.Body.Attributes["default"]; ok {
				v, diags := da.Expr.Value(nil)
				if diags.HasErrors() {
					t.Fatalf("%s: default: %s", da.SrcRange, diags.Error())
				}
				if _, err := convert.Convert(v, ty); err != nil {
					t.Errorf("%s: default does not fit type %s: %v", da.SrcRange, ty.FriendlyName(), err)
				}
			}
			// A bool cannot be out of range; everything else says what it accepts.
			if ty != cty.Bool && !slices.ContainsFunc(b.Body.Blocks, func(c *hclsyntax.Block) bool { return c.Type == "validation" }) {
				t.Errorf("%s: variable %s (%s) has no validation block", b.DefRange(), name, ty.FriendlyName())
			}
		})
	}
}

func TestOutputsDocumentedAndNotSecret(t *testing.T) {
	m := loadModule(t)
	for _, name := range sortedKeys(m.outputs) {
		t.Run(name, func(t *testing.T) {
			b := m.outputs[name]
			if d := stringAttr(b.Body, "description"); strings.TrimSpace(d) == "" {
				t.Errorf("%s: output %s has no description", b.DefRange(), name)
			}
			va, ok := b.Body.Attributes["value"]
			if !ok {
				t.Fatalf("%s: output %s has no value", b.DefRange(), name)
			}
			for _, tr := range va.Expr.Variables() {
				if why := secretRef(tr); why != "" {
					t.Errorf("%s: output %s carries %s", tr.SourceRange(), name, why)
				}
			}
		})
	}
}

// secretRef says which secret a reference reads, or "".
func secretRef(tr hcl.Traversal) string {
	s := traversalString(tr)
	switch {
	case strings.HasPrefix(s, "random_password.") || strings.HasPrefix(s, "random_bytes."):
		return "a generated secret (" + s + ")"
	case strings.HasPrefix(s, "aws_ssm_parameter.") && (strings.HasSuffix(s, ".value") || strings.HasSuffix(s, ".insecure_value")):
		return "a parameter's value (" + s + ")"
	case strings.HasPrefix(s, "aws_db_instance.") && strings.HasSuffix(s, ".password"):
		return "the database password (" + s + ")"
	}
	return ""
}

// TestSecretsOnlyInSSMAndRDS follows every generated secret: it may be the value of a
// SecureString parameter or the RDS master password, and nothing else — so not user-data, a
// tag or an output.
func TestSecretsOnlyInSSMAndRDS(t *testing.T) {
	m := loadModule(t)
	allowed := map[string]bool{"aws_ssm_parameter.value": true, "aws_db_instance.password": true}
	for _, key := range sortedKeys(m.resources) {
		b := m.resources[key]
		if b.Labels[0] == "aws_ssm_parameter" {
			if ty := stringAttr(b.Body, "type"); ty != "SecureString" {
				t.Errorf("%s: parameter %s is %q, want SecureString", b.DefRange(), key, ty)
			}
			if _, ok := b.Body.Attributes["key_id"]; !ok {
				t.Errorf("%s: parameter %s has no key_id: use the secrets key, which scopes decryption per role", b.DefRange(), key)
			}
		}
		hclsyntax.VisitAll(b.Body, func(n hclsyntax.Node) hcl.Diagnostics {
			a, ok := n.(*hclsyntax.Attribute)
			if !ok {
				return nil
			}
			for _, tr := range a.Expr.Variables() {
				if why := secretRef(tr); why != "" && !(allowed[b.Labels[0]+"."+a.Name] && b.Body.Attributes[a.Name] == a) {
					t.Errorf("%s: %s.%s carries %s", tr.SourceRange(), key, a.Name, why)
				}
			}
			return nil
		})
	}
	for _, name := range sortedKeys(m.locals) {
		for _, tr := range m.locals[name].Expr.Variables() {
			if why := secretRef(tr); why != "" {
				t.Errorf("%s: local.%s carries %s", tr.SourceRange(), name, why)
			}
		}
	}
}

// templateCall is one templatefile() call of the configuration.
type templateCall struct {
	at    hcl.Range
	file  string                    // relative to this directory
	args  map[string]cty.Value      // evaluated, or stood in by attrValues
	exprs map[string]hcl.Expression // as written
	keys  []string
}

func (m *module) templateCalls(t *testing.T) map[string]*templateCall {
	t.Helper()
	ctx := m.evalContext(t)
	calls := map[string]*templateCall{}
	for _, name := range sortedKeys(m.bodies) {
		hclsyntax.VisitAll(m.bodies[name], func(n hclsyntax.Node) hcl.Diagnostics {
			fc, ok := n.(*hclsyntax.FunctionCallExpr)
			if !ok || fc.Name != "templatefile" {
				return nil
			}
			if len(fc.Args) != 2 {
				t.Errorf("%s: templatefile wants 2 arguments, has %d", fc.Range(), len(fc.Args))
				return nil
			}
			pv, diags := fc.Args[0].Value(ctx)
			if diags.HasErrors() || pv.Type() != cty.String {
				t.Errorf("%s: templatefile path is not a constant under path.module: %s", fc.Range(), diags.Error())
				return nil
			}
			obj, ok := fc.Args[1].(*hclsyntax.ObjectConsExpr)
			if !ok {
				t.Errorf("%s: templatefile variables must be an object literal, so that they can be checked", fc.Range())
				return nil
			}
			c := &templateCall{at: fc.Range(), file: filepath.Clean(pv.AsString()), args: map[string]cty.Value{}, exprs: map[string]hcl.Expression{}}
			for _, item := range obj.Items {
				key := hcl.ExprAsKeyword(item.KeyExpr)
				if key == "" {
					t.Errorf("%s: templatefile variable names must be bare words", item.KeyExpr.Range())
					continue
				}
				c.keys = append(c.keys, key)
				c.exprs[key] = item.ValueExpr
				v, diags := item.ValueExpr.Value(ctx)
				if !diags.HasErrors() && v.IsWhollyKnown() && !v.IsNull() {
					c.args[key] = v
					continue
				}
				stand, ok := attrValues[key]
				if !ok {
					t.Errorf("%s: templatefile variable %s is only known after apply: give it a value in attrValues", item.ValueExpr.Range(), key)
					continue
				}
				c.args[key] = stand
			}
			if prev, dup := calls[c.file]; dup {
				t.Errorf("%s: %s is also rendered at %s; the checks assume one call per template", fc.Range(), c.file, prev.at)
			}
			calls[c.file] = c
			return nil
		})
	}
	return calls
}

// evalContext evaluates expressions as terraform would before any resource exists: the
// variables at their defaults (requiredVars for those without one), path.module and the
// locals computed from them alone.
func (m *module) evalContext(t *testing.T) *hcl.EvalContext {
	t.Helper()
	vars := map[string]cty.Value{}
	for name, b := range m.variables {
		if v, ok := requiredVars[name]; ok {
			vars[name] = v
			continue
		}
		da, ok := b.Body.Attributes["default"]
		if !ok {
			vars[name] = cty.DynamicVal // unknown: expressions using it fall back to attrValues
			continue
		}
		v, diags := da.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", da.SrcRange, diags.Error())
		}
		vars[name] = v
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var":  cty.ObjectVal(vars),
		"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(".")}),
	}}
	// The locals that need nothing but variables, constants and other such locals (no
	// function, resource or data source), found by evaluating until nothing more resolves.
	locals := map[string]cty.Value{}
	for progress := true; progress; {
		progress = false
		ctx.Variables["local"] = cty.ObjectVal(locals)
		for name, a := range m.locals {
			if _, done := locals[name]; done {
				continue
			}
			if v, diags := a.Expr.Value(ctx); !diags.HasErrors() && v.IsWhollyKnown() {
				locals[name] = v
				progress = true
			}
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return ctx
}

// render renders one template with its call's arguments, checking that the two agree.
func render(t *testing.T, c *templateCall) string {
	t.Helper()
	src, err := os.ReadFile(c.file)
	if err != nil {
		t.Fatalf("%s: templatefile: %v", c.at, err)
	}
	tmpl, diags := hclsyntax.ParseTemplate(src, c.file, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", c.file, diags.Error())
	}
	used := map[string]bool{}
	for _, tr := range tmpl.Variables() {
		name := tr.RootName()
		used[name] = true
		if !slices.Contains(c.keys, name) {
			t.Errorf("%s: ${%s} is not passed by the templatefile() call at %s", tr.SourceRange(), name, c.at)
		}
	}
	for _, k := range c.keys {
		if !used[k] {
			t.Errorf("%s: templatefile passes %s, which %s never uses", c.at, k, c.file)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	v, diags := tmpl.Value(&hcl.EvalContext{Variables: c.args})
	if diags.HasErrors() {
		t.Fatalf("%s: render: %s", c.file, diags.Error())
	}
	if v.Type() != cty.String {
		t.Fatalf("%s renders to %s, want a string", c.file, v.Type().FriendlyName())
	}
	return v.AsString()
}

func TestTemplatesRender(t *testing.T) {
	m := loadModule(t)
	calls := m.templateCalls(t)
	files, _ := filepath.Glob("templates/*.tftpl")
	for _, f := range files {
		if _, ok := calls[filepath.Clean(f)]; !ok {
			t.Errorf("%s is not rendered by any templatefile() call", f)
		}
	}
	for _, file := range sortedKeys(calls) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			out := render(t, calls[file])
			if len(out) > userDataLimit {
				t.Errorf("%s renders to %d bytes, over EC2's user-data limit of %d", file, len(out), userDataLimit)
			}
			if !strings.HasPrefix(out, "#!/bin/bash\n") {
				t.Errorf("%s does not start with #!/bin/bash", file)
			}
			if !strings.Contains(out, "set -euo pipefail") {
				t.Errorf("%s does not stop on the first failure (set -euo pipefail)", file)
			}
			if bash, err := exec.LookPath("bash"); err == nil {
				cmd := exec.Command(bash, "-n")
				cmd.Stdin = strings.NewReader(out)
				if msg, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%s renders to a script bash cannot parse: %v\n%s", file, err, msg)
				}
			}
		})
	}
}

// daemon is one binary that a boot script starts, and the real flag set that must accept
// its command line.
type daemon struct {
	name       string
	template   string
	binary     string
	subcommand string
	// flags registers the binary's flags; nil when its package exports no flag set yet
	// (viz: then only the required flags' presence is checked).
	flags    func(*flag.FlagSet)
	required []string
}

var daemons = []daemon{
	{
		name:       "coordinator serve",
		template:   "templates/coordinator.sh.tftpl",
		binary:     "/opt/ireports/bin/coordinator",
		subcommand: "serve",
		flags:      func(fs *flag.FlagSet) { coordinatorcli.ServeFlags(fs) },
		required:   []string{"bind", "api", "data-dir", "gossip-key-file", "token-file", "allow-path", "job-env", "pyroscope-url"},
	},
	{
		name:     "worker",
		template: "templates/worker.sh.tftpl",
		binary:   "/opt/ireports/bin/worker",
		flags:    func(fs *flag.FlagSet) { workercli.Flags(fs) },
		required: []string{"join", "bind", "listen", "slots", "data-dir", "gossip-key-file", "token-file", "allow-path", "pyroscope-url"},
	},
	{
		name:     "viz",
		template: "templates/viz.sh.tftpl",
		binary:   "/opt/ireports/bin/viz",
		flags:    func(fs *flag.FlagSet) { viz.CommandFlags(fs) },
		required: []string{"db-file", "listen", "pyroscope-url"},
	},
}

// commandLine is a daemon's rendered ExecStart, split.
type commandLine struct {
	args   []string            // after the binary (and subcommand)
	values map[string]string   // flag name -> value, as written (the last, if repeated)
	all    map[string][]string // flag name -> every value, for repeatable flags
	script string              // the whole rendered boot script
}

func TestCommandLinesParseWithRealFlags(t *testing.T) {
	m := loadModule(t)
	calls := m.templateCalls(t)
	lines := map[string]commandLine{}
	for _, d := range daemons {
		t.Run(d.name, func(t *testing.T) {
			c, ok := calls[filepath.Clean(d.template)]
			if !ok {
				t.Fatalf("%s is not rendered by any templatefile() call", d.template)
			}
			script := render(t, c)
			cl := parseExecStart(t, script, d)
			cl.script = script
			lines[d.name] = cl

			for _, r := range d.required {
				if _, ok := cl.values[r]; !ok {
					t.Errorf("%s: ExecStart lacks --%s", d.template, r)
				}
			}
			if _, ok := cl.values["insecure"]; ok {
				t.Errorf("%s: ExecStart passes --insecure: gossip must be encrypted", d.template)
			}
			for _, f := range []string{"gossip-key-file", "token-file"} {
				if p, ok := cl.values[f]; ok && !regexp.MustCompile(`(?m)^fetch_secret "[^"]+" `+regexp.QuoteMeta(p)+`$`).MatchString(script) {
					t.Errorf("%s: --%s %s is not written by fetch_secret from SSM", d.template, f, p)
				}
			}
			if dir, ok := cl.values["data-dir"]; ok && !regexp.MustCompile(`(?m)^ReadWritePaths=.*\s?`+regexp.QuoteMeta(dir)+`(\s|$)`).MatchString(script) {
				t.Errorf("%s: --data-dir %s is not in ReadWritePaths= (ProtectSystem=strict would make it read-only)", d.template, dir)
			}
			if d.flags == nil {
				return
			}
			fs := flag.NewFlagSet(d.name, flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			d.flags(fs)
			args := stripPending(t, fs, cl.args)
			if err := fs.Parse(args); err != nil {
				t.Fatalf("%s: %s rejects its command line %q: %v", d.template, d.name, args, err)
			}
			if fs.NArg() != 0 {
				t.Errorf("%s: %s leaves arguments unparsed: %q", d.template, d.name, fs.Args())
			}
		})
	}
	if t.Failed() {
		return
	}
	t.Run("workers join the coordinator", func(t *testing.T) {
		join, bind := lines["worker"].values["join"], lines["coordinator serve"].values["bind"]
		if join != bind {
			t.Errorf("worker --join %s, but the coordinator gossips on --bind %s", join, bind)
		}
		api := lines["coordinator serve"].values["api"]
		if host, _, _ := net.SplitHostPort(api); net.ParseIP(host) == nil || net.ParseIP(host).IsUnspecified() {
			t.Errorf("coordinator --api %s: the API advertises this address to workers, so it must be the instance's own", api)
		}
	})
	t.Run("ports are open inside the cluster", func(t *testing.T) {
		tcp, udp := m.clusterPorts(t)
		check := func(d, f string, needUDP bool) {
			addr := lines[d].values[f]
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Errorf("%s --%s %q: %v", d, f, addr, err)
				return
			}
			if !tcp[port] {
				t.Errorf("%s --%s %s: TCP port %s is not open in the cluster security group", d, f, addr, port)
			}
			if needUDP && !udp[port] {
				t.Errorf("%s --%s %s: UDP port %s (gossip) is not open in the cluster security group", d, f, addr, port)
			}
		}
		check("coordinator serve", "bind", true)
		check("coordinator serve", "api", false)
		check("worker", "join", true)
		check("worker", "bind", true)
		check("worker", "listen", false)
	})
}

// parseExecStart finds d's ExecStart= line in a rendered boot script (systemd joins lines
// ending in a backslash) and splits it.
func parseExecStart(t *testing.T, script string, d daemon) commandLine {
	t.Helper()
	var found []string
	lines := strings.Split(script, "\n")
	for i := 0; i < len(lines); i++ {
		line, ok := strings.CutPrefix(lines[i], "ExecStart=")
		if !ok {
			continue
		}
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + lines[i]
		}
		found = append(found, line)
	}
	if len(found) != 1 {
		t.Fatalf("%s: want one ExecStart= line, found %d", d.template, len(found))
	}
	if strings.ContainsAny(found[0], `%"'$`) {
		t.Errorf("%s: ExecStart has %%, quotes or $, which systemd would expand: %s", d.template, found[0])
	}
	words := strings.Fields(found[0])
	if len(words) == 0 || words[0] != d.binary {
		t.Fatalf("%s: ExecStart runs %q, want %s", d.template, words, d.binary)
	}
	words = words[1:]
	if d.subcommand != "" {
		if len(words) == 0 || words[0] != d.subcommand {
			t.Fatalf("%s: ExecStart lacks the %s subcommand: %q", d.template, d.subcommand, words)
		}
		words = words[1:]
	}
	cl := commandLine{args: words, values: map[string]string{}, all: map[string][]string{}}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "-") {
			t.Errorf("%s: positional argument %q in ExecStart", d.template, w)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(w, "-"), "=")
		if !hasVal && i+1 < len(words) && !strings.HasPrefix(words[i+1], "-") {
			i++
			val = words[i]
		}
		cl.values[name] = val
		cl.all[name] = append(cl.all[name], val)
	}
	return cl
}

// stripPending removes the pendingFlags the flag set does not define yet, with their values,
// and fails on every other flag it does not define, naming them all at once.
func stripPending(t *testing.T, fs *flag.FlagSet, args []string) []string {
	t.Helper()
	var out, unknown []string
	for i := 0; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "-") {
			out = append(out, args[i]) // a value; fs.Parse judges it
			continue
		}
		name, _, hasVal := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		defined := fs.Lookup(name) != nil
		pending := slices.Contains(pendingFlags, name)
		switch {
		case pending && defined:
			t.Errorf("--%s is defined now: remove it from pendingFlags", name)
		case pending:
			if !hasVal && i+1 < len(args) {
				i++
			}
			continue
		case !defined:
			unknown = append(unknown, "--"+name)
		}
		out = append(out, args[i])
	}
	if len(unknown) > 0 {
		t.Fatalf("the boot script passes flags that %s does not define: %s", fs.Name(), strings.Join(unknown, ", "))
	}
	return out
}

// clusterPorts evaluates local.cluster_ports, the ports the cluster security group opens
// between its members, at the variables' defaults.
func (m *module) clusterPorts(t *testing.T) (tcp, udp map[string]bool) {
	t.Helper()
	a, ok := m.locals["cluster_ports"]
	if !ok {
		t.Fatal("local.cluster_ports is not declared")
	}
	v, diags := a.Expr.Value(m.evalContext(t))
	if diags.HasErrors() {
		t.Fatalf("%s: %s", a.SrcRange, diags.Error())
	}
	tcp, udp = map[string]bool{}, map[string]bool{}
	for it := v.ElementIterator(); it.Next(); {
		_, rule := it.Element()
		port := rule.GetAttr("port").AsBigFloat().String()
		switch rule.GetAttr("protocol").AsString() {
		case "tcp":
			tcp[port] = true
		case "udp":
			udp[port] = true
		}
	}
	return tcp, udp
}

// TestClusterJob checks cluster.job, the job file the README submits: it parses, reads the
// raw bucket, writes the lake under prefixes whose _temporary/ the lifecycle rules expire and
// publishes to Postgres; every variable it reads with env() is one the coordinator's unit
// sets and lets jobs read (the IREPORTS_JOB_ prefix or --job-env); and, with the values the
// unit gives those variables, its paths lie under the roots that the coordinator and the
// workers allow (--allow-path), which are the two buckets.
func TestClusterJob(t *testing.T) {
	m := loadModule(t)
	calls := m.templateCalls(t)
	script := render(t, calls["templates/coordinator.sh.tftpl"])
	coord := parseExecStart(t, script, daemons[0])
	worker := parseExecStart(t, render(t, calls["templates/worker.sh.tftpl"]), daemons[1])
	files := envFiles(t, script)

	// The unit's environment, as the daemon sees it; DATABASE_URL stood in for (its
	// password is generated at boot).
	unitEnv := map[string]string{}
	for _, f := range files {
		for k, v := range f.vars {
			unitEnv[k] = v
		}
	}
	var jobEnv []string
	for _, v := range coord.all["job-env"] {
		jobEnv = append(jobEnv, strings.Split(v, ",")...)
	}
	for _, name := range envNames(t, "cluster.job") {
		if !strings.HasPrefix(name, jobEnvPrefix) && !slices.Contains(jobEnv, name) {
			t.Errorf("cluster.job reads env(%q), which is neither %s* nor in the coordinator's --job-env %q", name, jobEnvPrefix, jobEnv)
		}
		v, ok := unitEnv[name]
		if !ok {
			t.Errorf("cluster.job reads env(%q), which the coordinator's unit does not set", name)
			continue
		}
		if v == "" {
			v = "postgres://stand-in@db.internal:5432/ireports?sslmode=require"
		}
		t.Setenv(name, v)
	}
	if t.Failed() {
		t.FailNow()
	}
	spec, err := jobs.ParseFileWith("cluster.job", jobs.ParseOptions{Env: jobs.EnvPolicy{Allow: jobEnv, Prefix: jobs.DefaultEnvPrefix}})
	if err != nil {
		t.Fatal(err)
	}
	if spec.Output.Postgres == "" {
		t.Errorf("cluster.job publishes no summaries (output.postgres): viz would have no charts")
	}

	raw, lake := attrValues["raw_url"].AsString(), attrValues["lake_url"].AsString()
	for _, cl := range []struct {
		name string
		cl   commandLine
	}{{"coordinator serve", coord}, {"worker", worker}} {
		got := slices.Sorted(slices.Values(cl.cl.all["allow-path"]))
		if want := slices.Sorted(slices.Values([]string{raw, lake})); !slices.Equal(got, want) {
			t.Errorf("%s --allow-path %q, want the raw and lake buckets %q", cl.name, got, want)
		}
	}
	under := func(p, root string) bool { return strings.HasPrefix(p, root+"/") }
	for _, in := range spec.Inputs {
		if !under(in.Path, raw) {
			t.Errorf("input %s reads %s, not the raw bucket %s", in.Name, in.Path, raw)
		}
	}
	pa := m.variables["lake_output_prefixes"].Body.Attributes["default"]
	pv, diags := pa.Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var prefixes []string
	for it := pv.ElementIterator(); it.Next(); {
		_, p := it.Element()
		prefixes = append(prefixes, p.AsString())
	}
	for _, out := range []string{spec.Output.Parquet, spec.Output.Summaries, spec.Output.Rejects} {
		rel, ok := strings.CutPrefix(out, lake+"/")
		if !ok {
			t.Errorf("output %s is not in the lake bucket %s", out, lake)
			continue
		}
		if !slices.Contains(prefixes, rel) {
			t.Errorf("output prefix %s is not in lake_output_prefixes %q: its _temporary/ would never expire", rel, prefixes)
		}
	}
}

func stringAttr(body *hclsyntax.Body, name string) string {
	a, ok := body.Attributes[name]
	if !ok {
		return ""
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

func traversalString(tr hcl.Traversal) string {
	parts := []string{tr.RootName()}
	for _, s := range tr[1:] {
		if a, ok := s.(hcl.TraverseAttr); ok {
			parts = append(parts, a.Name)
		}
	}
	return strings.Join(parts, ".")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
