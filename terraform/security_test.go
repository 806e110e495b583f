package terraform_test

// Checks of what the deployment exposes: who may open viz, which database role each process
// connects as, and that no password is on a command line or in the coordinator's
// environment, where a job could read it.

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// jobEnvPrefix is the prefix of the variables every job may read with env(); others must
// be named by the coordinator's --job-env.
const jobEnvPrefix = "IREPORTS_JOB_"

// TestVizNotWorldOpen: viz_allowed_cidrs has no default, and the configuration refuses a
// world-open list unless viz_public says so. Every validation of the variable and every
// precondition that reads it is evaluated for each case.
func TestVizNotWorldOpen(t *testing.T) {
	m := loadModule(t)
	v, ok := m.variables["viz_allowed_cidrs"]
	if !ok {
		t.Fatal("variable viz_allowed_cidrs is not declared")
	}
	if a, ok := v.Body.Attributes["default"]; ok {
		t.Errorf("%s: viz_allowed_cidrs has a default: an operator must choose who may open viz", a.SrcRange)
	}
	type condition struct {
		at   hcl.Range
		expr hcl.Expression
	}
	var conds []condition
	reads := func(e hcl.Expression) bool {
		return slices.ContainsFunc(e.Variables(), func(tr hcl.Traversal) bool {
			return traversalString(tr) == "var.viz_allowed_cidrs"
		})
	}
	for _, name := range sortedKeys(m.bodies) {
		hclsyntax.VisitAll(m.bodies[name], func(n hclsyntax.Node) hcl.Diagnostics {
			b, ok := n.(*hclsyntax.Block)
			if !ok || (b.Type != "validation" && b.Type != "precondition") {
				return nil
			}
			if a, ok := b.Body.Attributes["condition"]; ok && reads(a.Expr) {
				conds = append(conds, condition{a.SrcRange, a.Expr})
			}
			return nil
		})
	}
	if len(conds) == 0 {
		t.Fatal("no validation or precondition reads viz_allowed_cidrs")
	}
	list := func(cidrs ...string) cty.Value {
		if len(cidrs) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		vs := make([]cty.Value, len(cidrs))
		for i, c := range cidrs {
			vs[i] = cty.StringVal(c)
		}
		return cty.ListVal(vs)
	}
	for _, tc := range []struct {
		name   string
		cidrs  cty.Value
		public bool
		accept bool
	}{
		{"the world", list("0.0.0.0/0"), false, false},
		{"the world in two halves", list("0.0.0.0/1", "128.0.0.0/1"), false, false},
		{"a /7", list("203.0.113.0/24", "10.0.0.0/7"), false, false},
		{"not a CIDR block", list("city hall"), false, false},
		{"IPv6", list("2001:db8::/32"), false, false},
		{"the world, public", list("0.0.0.0/0"), true, true},
		{"the city's network", list("203.0.113.0/24", "198.51.100.0/22"), false, true},
		{"a /8", list("10.0.0.0/8"), false, true},
		{"no one: SSM port forwarding", list(), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := m.evalContext(t)
			vars := ctx.Variables["var"].AsValueMap()
			vars["viz_allowed_cidrs"] = tc.cidrs
			vars["viz_public"] = cty.BoolVal(tc.public)
			ctx.Variables["var"] = cty.ObjectVal(vars)
			ctx.Functions = terraformFunctions()
			// A condition that fails to evaluate stops terraform too: a refusal.
			accepted, why := true, []string{}
			for _, c := range conds {
				v, diags := c.expr.Value(ctx)
				switch {
				case diags.HasErrors():
					accepted = false
					why = append(why, diags.Error())
				case v.IsNull() || !v.IsKnown() || v.Type() != cty.Bool:
					t.Fatalf("%s: condition is %#v, want a known bool", c.at, v)
				case v.False():
					accepted = false
					why = append(why, fmt.Sprintf("%s is false", c.at))
				}
			}
			if accepted != tc.accept {
				t.Errorf("viz_allowed_cidrs = %#v, viz_public = %v: accepted %v, want %v %q", tc.cidrs, tc.public, accepted, tc.accept, why)
			}
		})
	}
}

// terraformFunctions are the functions the conditions of TestVizNotWorldOpen may call:
// those terraform takes from go-cty and hcl, and stand-ins for three of its own. A condition
// calling another fails the test with "call to unknown function": add it here.
func terraformFunctions() map[string]function.Function {
	return map[string]function.Function{
		"can":      tryfunc.CanFunc,
		"length":   stdlib.LengthFunc,
		"split":    stdlib.SplitFunc,
		"tonumber": stdlib.MakeToFunc(cty.Number),
		"alltrue": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
			Type:   function.StaticReturnType(cty.Bool),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				for it := args[0].ElementIterator(); it.Next(); {
					if _, v := it.Element(); v.IsNull() || v.False() {
						return cty.False, nil
					}
				}
				return cty.True, nil
			},
		}),
		"strcontains": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "substr", Type: cty.String}},
			Type:   function.StaticReturnType(cty.Bool),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				return cty.BoolVal(strings.Contains(args[0].AsString(), args[1].AsString())), nil
			},
		}),
		// Only as far as the conditions use it: an error unless prefix is a CIDR block.
		"cidrhost": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "prefix", Type: cty.String}, {Name: "hostnum", Type: cty.Number}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				_, n, err := net.ParseCIDR(args[0].AsString())
				if err != nil {
					return cty.NilVal, err
				}
				return cty.StringVal(n.IP.String()), nil
			},
		}),
	}
}

// secretVarRE matches the expansion of a shell variable whose name says it holds a password.
var secretVarRE = regexp.MustCompile(`(?i)\$\{?\w*(password|passwd)\w*`)

// passwordURLRE matches a URL with a password in it (user:password@).
var passwordURLRE = regexp.MustCompile(`://[^\s/@:'"]+:[^\s@'"]+@`)

// dbFlagRE matches a --db flag (not --db-file).
var dbFlagRE = regexp.MustCompile(`(^|\s)--?db(=|\s|$)`)

// shellBuiltins are the commands of the boot scripts that bash runs itself: their arguments
// are on no process's command line.
var shellBuiltins = map[string]bool{
	"export": true, "printf": true, "echo": true, "local": true, "unset": true, "set": true,
	"umask": true, "cd": true, "exec": true, "return": true, "for": true, "do": true,
	"done": true, "if": true, "then": true, "fi": true, "(": true, ")": true, "}": true,
}

// TestNoSecretOnCommandLines: every local user can read every process's command line (ps,
// /proc/PID/cmdline), so no boot script passes a password, a URL with one, or --db to a
// program, and no daemon's ExecStart holds one.
func TestNoSecretOnCommandLines(t *testing.T) {
	m := loadModule(t)
	calls := m.templateCalls(t)
	for _, file := range sortedKeys(calls) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			script := render(t, calls[file])
			var cmds []string
			for _, sl := range shellLines(script) {
				if words := commandWords(sl.text); len(words) > 0 && !shellBuiltins[words[0]] {
					cmds = append(cmds, strings.Join(words, " "))
				}
				// Command substitutions run programs too, also in assignments.
				for _, sub := range regexp.MustCompile(`\$\(([^)]*)\)`).FindAllStringSubmatch(sl.text, -1) {
					cmds = append(cmds, sub[1])
				}
			}
			for _, cmd := range cmds {
				for _, bad := range []struct {
					re  *regexp.Regexp
					why string
				}{
					{dbFlagRE, "--db (a database URL)"},
					{passwordURLRE, "a URL with a password"},
					{secretVarRE, "a password variable"},
					{regexp.MustCompile(`(?i)password=`), "password="},
				} {
					if bad.re.MatchString(cmd) {
						t.Errorf("%s: the command line %q holds %s", file, cmd, bad.why)
					}
				}
			}
			for _, d := range daemons {
				if filepath.Clean(d.template) != file {
					continue
				}
				cl := parseExecStart(t, script, d)
				line := strings.Join(cl.args, " ")
				if _, ok := cl.values["db"]; ok || passwordURLRE.MatchString(line) || strings.Contains(strings.ToLower(line), "password") {
					t.Errorf("%s: %s's ExecStart holds a database URL or password: %s", file, d.name, line)
				}
			}
		})
	}
}

// commandWords returns the words of a shell line that become a program's command line:
// comments, function definitions and leading VAR=value assignments (which go to the
// environment) dropped. A line of assignments only yields nothing.
func commandWords(line string) []string {
	s := strings.TrimSpace(line)
	if s == "" || strings.HasPrefix(s, "#") || regexp.MustCompile(`^\w+\(\)`).MatchString(s) {
		return nil
	}
	assign := regexp.MustCompile(`^\w+=("[^"]*"|'[^']*'|\$\([^)]*\)|\S+)\s*`)
	for {
		loc := assign.FindStringIndex(s)
		if loc == nil {
			break
		}
		s = s[loc[1]:]
	}
	return strings.Fields(s)
}

// shellLine is one logical line of a boot script (continuation lines joined) with the body of
// the here-document it opens, if any.
type shellLine struct {
	text string
	body []string
}

var heredocRE = regexp.MustCompile(`<<-?\s*['"]?(\w+)['"]?`)

func shellLines(script string) []shellLine {
	lines := strings.Split(script, "\n")
	var out []shellLine
	for i := 0; i < len(lines); i++ {
		text := lines[i]
		for strings.HasSuffix(text, `\`) && i+1 < len(lines) {
			i++
			text = strings.TrimSuffix(text, `\`) + " " + strings.TrimSpace(lines[i])
		}
		sl := shellLine{text: text}
		if m := heredocRE.FindStringSubmatch(text); m != nil && !strings.HasPrefix(strings.TrimSpace(text), "#") {
			for i++; i < len(lines) && lines[i] != m[1]; i++ {
				sl.body = append(sl.body, lines[i])
			}
		}
		out = append(out, sl)
	}
	return out
}

// envFile is where a systemd unit of a boot script takes environment variables from: an
// EnvironmentFile= (path) or its Environment= lines (path "Environment=").
type envFile struct {
	path string
	// vars are the variables it defines, with their values as written ("" when the script
	// computes them at boot).
	vars map[string]string
	// writers are the script's lines that write the file, here-document bodies included.
	writers []string
}

var (
	unitRE     = regexp.MustCompile(`>\s*/etc/systemd/system/\S+\.service`)
	assignRE   = regexp.MustCompile(`^(\w+)=(.*)$`)
	printfRE   = regexp.MustCompile(`^\s*printf\s+'(\w+)=`)
	fetchEnvRE = regexp.MustCompile(`^\s*fetch_env\s+"[^"]*"\s+(\w+)\s`)
)

// envFiles returns the environment of the one systemd unit that script writes.
func envFiles(t *testing.T, script string) []envFile {
	t.Helper()
	sls := shellLines(script)
	var unit []string
	for _, sl := range sls {
		if unitRE.MatchString(sl.text) {
			if unit != nil {
				t.Fatal("the boot script writes two systemd units")
			}
			unit = sl.body
		}
	}
	if unit == nil {
		t.Fatal("the boot script writes no systemd unit")
	}
	var files []envFile
	for _, u := range unit {
		if v, ok := strings.CutPrefix(u, "Environment="); ok {
			f := envFile{path: "Environment=", vars: map[string]string{}, writers: []string{u}}
			for _, kv := range strings.Fields(v) {
				k, val, _ := strings.Cut(strings.Trim(kv, `"`), "=")
				f.vars[k] = val
			}
			files = append(files, f)
		}
		p, ok := strings.CutPrefix(u, "EnvironmentFile=")
		if !ok {
			continue
		}
		p = strings.TrimPrefix(p, "-")
		f := envFile{path: p, vars: map[string]string{}}
		for _, sl := range sls {
			if !strings.Contains(sl.text, p) {
				continue
			}
			f.writers = append(f.writers, sl.text)
			if regexp.MustCompile(`>\s*"?` + regexp.QuoteMeta(p) + `(\.tmp)?"?(\s|$)`).MatchString(sl.text) {
				f.writers = append(f.writers, sl.body...)
				for _, b := range sl.body {
					if m := assignRE.FindStringSubmatch(b); m != nil {
						f.vars[m[1]] = m[2]
					}
				}
			}
			if m := printfRE.FindStringSubmatch(sl.text); m != nil {
				f.vars[m[1]] = ""
			}
			if m := fetchEnvRE.FindStringSubmatch(sl.text); m != nil {
				f.vars[m[1]] = ""
			}
		}
		if len(f.writers) == 0 {
			t.Errorf("EnvironmentFile=%s is never written by the boot script", p)
		}
		files = append(files, f)
	}
	return files
}

// envNames returns the names a job file reads with env("NAME"), in order of appearance.
func envNames(t *testing.T, file string) []string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, file, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var names []string
	hclsyntax.VisitAll(f.Body.(*hclsyntax.Body), func(n hclsyntax.Node) hcl.Diagnostics {
		fc, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok || fc.Name != "env" || len(fc.Args) == 0 {
			return nil
		}
		v, diags := fc.Args[0].Value(nil)
		if diags.HasErrors() || v.Type() != cty.String {
			t.Errorf("%s: env() of a name that is not a constant string", fc.Range())
			return nil
		}
		if !slices.Contains(names, v.AsString()) {
			names = append(names, v.AsString())
		}
		return nil
	})
	return names
}

// parameterOf returns the SSM parameter resource (type.name) whose name arg, an argument of
// a templatefile() call, is; "" when it is none.
func parameterOf(arg hcl.Expression) string {
	for _, tr := range arg.Variables() {
		if s := traversalString(tr); strings.HasPrefix(s, "aws_ssm_parameter.") && strings.HasSuffix(s, ".name") {
			return strings.TrimSuffix(s, ".name")
		}
	}
	return ""
}

// masterParameter returns the SSM parameter resource (type.name) holding the RDS master
// user's password: the one whose value is the random_password that aws_db_instance.main
// takes as its password.
func (m *module) masterParameter(t *testing.T) string {
	t.Helper()
	db, ok := m.resources["aws_db_instance.main"]
	if !ok {
		t.Fatal("aws_db_instance.main is not declared")
	}
	pw := m.randomOf(db, "password")
	if pw == "" {
		t.Fatal("aws_db_instance.main's password is not a random_password")
	}
	for _, key := range sortedKeys(m.resources) {
		if strings.HasPrefix(key, "aws_ssm_parameter.") && m.randomOf(m.resources[key], "value") == pw {
			return key
		}
	}
	t.Fatalf("no SSM parameter holds the master password %s", pw)
	return ""
}

// randomOf returns the random_password (type.name) that attribute attr of b is, or "".
func (m *module) randomOf(b *hclsyntax.Block, attr string) string {
	a, ok := b.Body.Attributes[attr]
	if !ok {
		return ""
	}
	for _, tr := range a.Expr.Variables() {
		if s := traversalString(tr); strings.HasPrefix(s, "random_password.") {
			return strings.TrimSuffix(s, ".result")
		}
	}
	return ""
}

// renderedParameter returns the value with which call renders the name of SSM parameter
// resource param (type.name), or "" when the call does not pass it.
func renderedParameter(call *templateCall, param string) string {
	for _, k := range call.keys {
		if parameterOf(call.exprs[k]) == param {
			return call.args[k].AsString()
		}
	}
	return ""
}

// TestCoordinatorEnvironmentHoldsNoMasterPassword: jobs read the coordinator daemon's
// environment with env(), and lib/pq sends $PGPASSWORD to whatever host a job's postgres URL
// names, so nothing the unit puts in the daemon's environment may come from the master
// password: neither its parameter, nor a shell variable read from it, nor PGPASSWORD.
func TestCoordinatorEnvironmentHoldsNoMasterPassword(t *testing.T) {
	m := loadModule(t)
	calls := m.templateCalls(t)
	call := calls["templates/coordinator.sh.tftpl"]
	script := render(t, call)
	master := renderedParameter(call, m.masterParameter(t))
	if master == "" {
		t.Fatal("the coordinator's boot script does not get the master password's parameter: who migrates the database?")
	}
	// Shell variables that hold the master password, directly or through another.
	tainted := []string{}
	for changed := true; changed; {
		changed = false
		for _, sl := range shellLines(script) {
			m := regexp.MustCompile(`^\s*(\w+)=(.*)$`).FindStringSubmatch(sl.text)
			if m == nil || slices.Contains(tainted, m[1]) {
				continue
			}
			if strings.Contains(m[2], master) || slices.ContainsFunc(tainted, func(v string) bool { return mentionsVar(m[2], v) }) {
				tainted = append(tainted, m[1])
				changed = true
			}
		}
	}
	files := envFiles(t, script)
	for _, f := range files {
		for _, w := range f.writers {
			switch {
			case strings.Contains(w, master):
				t.Errorf("%s, the daemon's environment, is written from the master password's parameter %s: %s", f.path, master, w)
			case strings.Contains(w, "PGPASSWORD"):
				t.Errorf("%s, the daemon's environment, sets PGPASSWORD: %s", f.path, w)
			}
			for _, v := range tainted {
				if mentionsVar(w, v) {
					t.Errorf("%s, the daemon's environment, is written from $%s, the master password: %s", f.path, v, w)
				}
			}
		}
		for k := range f.vars {
			if strings.HasPrefix(k, "PG") {
				t.Errorf("%s sets %s: lib/pq would apply it to any database a job names", f.path, k)
			}
		}
	}
}

// mentionsVar reports whether shell text expands variable v.
func mentionsVar(text, v string) bool {
	return regexp.MustCompile(`\$\{?` + v + `\b`).MatchString(text)
}

// TestVizConnectsAsReadOnlyRole: viz reads its database URL from --db-file, a file its boot
// script writes from an SSM SecureString of its own, not the master user's password; viz's
// role may not read the master password's parameter at all.
func TestVizConnectsAsReadOnlyRole(t *testing.T) {
	m := loadModule(t)
	calls := m.templateCalls(t)
	call := calls["templates/viz.sh.tftpl"]
	script := render(t, call)
	cl := parseExecStart(t, script, daemons[2])
	master := m.masterParameter(t)

	var params []string
	for _, k := range call.keys {
		if p := parameterOf(call.exprs[k]); p != "" {
			params = append(params, p)
		}
	}
	if len(params) != 1 {
		t.Fatalf("viz's boot script gets SSM parameters %q, want one: its role's password", params)
	}
	param := params[0]
	if param == master {
		t.Fatalf("viz connects with the master password (%s): give it the read-only role of coordinator migrate --readonly-role", param)
	}
	b := m.resources[param]
	if ty := stringAttr(b.Body, "type"); ty != "SecureString" {
		t.Errorf("%s: %s is %q, want SecureString", b.DefRange(), param, ty)
	}
	if m.randomOf(b, "value") == "" {
		t.Errorf("%s: %s's value is not a random_password", b.DefRange(), param)
	}
	if _, ok := b.Body.Attributes["key_id"]; !ok {
		t.Errorf("%s: %s has no key_id", b.DefRange(), param)
	}

	file, ok := cl.values["db-file"]
	if !ok || file == "" {
		t.Fatalf("viz's ExecStart has no --db-file: %q", cl.args)
	}
	name := renderedParameter(call, param)
	var writer string
	for _, sl := range shellLines(script) {
		if strings.Contains(sl.text, name) && strings.HasSuffix(strings.TrimSpace(sl.text), " "+file) {
			writer = sl.text
		}
	}
	if writer == "" {
		t.Fatalf("no line of viz's boot script writes --db-file %s from %s", file, name)
	}
	// The function that writes it keeps the file to the service user from its creation on.
	fn := strings.Fields(writer)[0]
	body := functionBody(script, fn)
	for _, want := range []string{"umask 077", "chown ireports:ireports"} {
		if !strings.Contains(body, want) {
			t.Errorf("%s, which writes --db-file %s, lacks %q:\n%s", fn, file, want, body)
		}
	}
	for _, f := range envFiles(t, script) {
		for k := range f.vars {
			if strings.HasPrefix(k, "PG") || strings.Contains(k, "PASSWORD") || k == "DATABASE_URL" {
				t.Errorf("viz's unit sets %s in its environment (%s): the URL belongs in --db-file", k, f.path)
			}
		}
	}

	// IAM: viz may read its own parameter and not the master password's.
	rp, ok := m.locals["role_parameters"]
	if !ok {
		t.Fatal("local.role_parameters is not declared")
	}
	obj, ok := rp.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatalf("%s: local.role_parameters is not an object literal", rp.SrcRange)
	}
	found := false
	for _, item := range obj.Items {
		if hcl.ExprAsKeyword(item.KeyExpr) != "viz" {
			continue
		}
		found = true
		var got []string
		for _, tr := range item.ValueExpr.Variables() {
			got = append(got, strings.TrimSuffix(traversalString(tr), ".arn"))
		}
		if !slices.Equal(got, []string{param}) {
			t.Errorf("%s: viz may read the parameters %q, want only %s", item.ValueExpr.Range(), got, param)
		}
	}
	if !found {
		t.Errorf("%s: local.role_parameters has no viz entry", rp.SrcRange)
	}
}

// functionBody returns the lines of shell function fn in script, from its "fn() (" or
// "fn() {" line to its closing line.
func functionBody(script, fn string) string {
	lines := strings.Split(script, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, fn+"() ") {
			continue
		}
		end := map[string]string{"(": ")", "{": "}"}[strings.TrimSpace(strings.TrimPrefix(l, fn+"()"))]
		for j := i + 1; j < len(lines); j++ {
			if lines[j] == end {
				return strings.Join(lines[i:j+1], "\n")
			}
		}
	}
	return ""
}

// TestWriterRoleSQL runs the SQL with which the coordinator's boot script creates the writer
// role, through psql as the boot script does, on a real PostgreSQL set up like RDS (a master
// user with CREATEROLE owning the database, not a superuser), after the migrations and the
// read-only role. Then, as the writer, the coordinator's own work succeeds (the migration
// check each run starts with, a publish) and the rest is refused: recording a migration,
// changing the schema, managing roles. Run twice, as on a second boot.
func TestWriterRoleSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL; skipped under -short")
	}
	m := loadModule(t)
	script := render(t, m.templateCalls(t)["templates/coordinator.sh.tftpl"])
	var psqlLine shellLine
	for _, sl := range shellLines(script) {
		if w := commandWords(sl.text); len(w) > 0 && w[0] == "psql" {
			psqlLine = sl
		}
	}
	if psqlLine.body == nil {
		t.Fatal("the coordinator's boot script runs no psql with a here-document")
	}
	psqlVars := map[string]string{}
	for _, mv := range regexp.MustCompile(`-v (\w+)=(\S+)`).FindAllStringSubmatch(psqlLine.text, -1) {
		psqlVars[mv[1]] = mv[2]
	}
	role := psqlVars["role"]
	if role == "" {
		t.Fatalf("psql gets no -v role=: %s", psqlLine.text)
	}
	psql := findPsql(t)

	pg := testenv.Postgres(t)
	ctx := context.Background()
	super, err := sql.Open("postgres", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close()
	const master, dbName = "rdsmaster", "citydb"
	for _, q := range []string{
		"CREATE ROLE " + master + " LOGIN CREATEROLE CREATEDB",
		"CREATE DATABASE " + dbName + " OWNER " + master,
	} {
		if _, err := super.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	psqlVars["dbname"] = dbName // the rendered script names the deployment's database
	connect := func(user string) *sql.DB {
		u, _ := url.Parse(pg.DatabaseURL(dbName))
		u.User = url.User(user)
		db, err := sql.Open("postgres", u.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	asMaster := connect(master)
	if err := pgsink.Migrate(ctx, asMaster); err != nil {
		t.Fatal(err)
	}
	if err := pgsink.EnsureReadOnlyRole(ctx, asMaster, "ireports_viz", "viz-password"); err != nil {
		t.Fatal(err)
	}
	for boot := 1; boot <= 2; boot++ {
		args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"}
		for k, v := range psqlVars {
			args = append(args, "-v", k+"="+v)
		}
		args = append(args, fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s user=%s sslmode=disable", pg.Port, dbName, master))
		cmd := exec.Command(psql, args...)
		cmd.Env = append(os.Environ(), "WRITER_PASSWORD=writer-password-"+strconv.Itoa(boot))
		cmd.Stdin = strings.NewReader(strings.Join(psqlLine.body, "\n") + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("boot %d: psql: %v\n%s", boot, err, out)
		}
	}
	var login, superuser, replication, createrole, createdb, hasPassword bool
	err = super.QueryRowContext(ctx, `SELECT rolcanlogin, rolsuper, rolreplication, rolcreaterole, rolcreatedb, rolpassword IS NOT NULL
		FROM pg_authid WHERE rolname = $1`, role).Scan(&login, &superuser, &replication, &createrole, &createdb, &hasPassword)
	if err != nil {
		t.Fatalf("role %s: %v", role, err)
	}
	if !login || superuser || replication || createrole || createdb || !hasPassword {
		t.Errorf("role %s: login %v, superuser %v, replication %v, createrole %v, createdb %v, password %v; want a login with a password and no other power",
			role, login, superuser, replication, createrole, createdb, hasPassword)
	}

	asWriter := connect(role)
	if err := pgsink.Migrate(ctx, asWriter); err != nil {
		t.Errorf("as %s, the migration check a run starts with: %v", role, err)
	}
	cfg := pgsink.DefaultConfig()
	cfg.RetryDeadline = 0 // one attempt: a refusal is not worth retrying
	sink, err := pgsink.New(asWriter, cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := record.Key{City: "springfield", Year: 2024, Month: 3}
	run := pgsink.JobRun{ID: "job-1", Name: "normalize", Status: "succeeded", Started: time.Now(), Finished: time.Now()}
	load := func(record.Key) (summary.Tables, error) {
		return summary.Tables{Monthly: []summary.Monthly{{City: k.City, Year: int32(k.Year), Month: int32(k.Month), RequestType: "Pothole", Requests: 3, Closed: 2, Open: 1}}}, nil
	}
	for i := range 2 { // the second replaces the first's rows
		if err := sink.Publish(ctx, run, []record.Key{k}, load); err != nil {
			t.Fatalf("as %s, publish %d: %v", role, i+1, err)
		}
	}
	var n int
	if err := asWriter.QueryRowContext(ctx, "SELECT count(*) FROM request_monthly").Scan(&n); err != nil || n != 1 {
		t.Errorf("after two publishes of one row: %d rows, %v", n, err)
	}
	for _, q := range []string{
		"INSERT INTO schema_migrations (version, name, sha256) VALUES (999, 'x', 'x')",
		"DELETE FROM schema_migrations",
		"ALTER TABLE job_runs ADD COLUMN x int",
		"DROP TABLE request_monthly",
		"CREATE ROLE intruder LOGIN",
		"ALTER ROLE " + role + " CREATEROLE",
		"CREATE SCHEMA intruder",
	} {
		if _, err := asWriter.ExecContext(ctx, q); err == nil {
			t.Errorf("as %s, %q succeeded", role, q)
		}
	}
}

// findPsql returns a psql of PostgreSQL 15 or later (the boot script uses \getenv), as
// testenv finds the server: $PG_BIN, /usr/lib/postgresql/*/bin, PATH.
func findPsql(t *testing.T) string {
	t.Helper()
	var candidates []string
	if dir := os.Getenv("PG_BIN"); dir != "" {
		candidates = append(candidates, filepath.Join(dir, "psql"))
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql")
	candidates = append(candidates, dirs...)
	if p, err := exec.LookPath("psql"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		out, err := exec.Command(p, "--version").Output()
		if err != nil {
			continue
		}
		// "psql (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)"
		f := strings.Fields(string(out))
		if len(f) >= 3 {
			if major, err := strconv.Atoi(strings.SplitN(f[2], ".", 2)[0]); err == nil && major >= 15 {
				return p
			}
		}
	}
	t.Skip("no psql 15 or later: apt-get install postgresql-client, or set PG_BIN")
	return ""
}
