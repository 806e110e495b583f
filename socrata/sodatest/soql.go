package sodatest

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// query is a parsed SoQL request.
type query struct {
	sel    selection
	where  func(*row) bool // nil: every row
	order  []orderKey
	limit  int
	offset int
}

type selection struct {
	sys  bool     // :* — the system fields
	user bool     // * — the dataset's fields
	cols []string // columns named one by one
}

type orderKey struct {
	col  string
	desc bool
}

// defaultLimit is SODA 2.1's $limit when none is given.
const defaultLimit = 1000

// parseQuery reads the SoQL parameters of a request.
func parseQuery(q url.Values) (query, error) {
	out := query{sel: selection{user: true}, limit: defaultLimit, order: []orderKey{{col: ":id"}}}
	for k, vs := range q {
		if len(vs) != 1 {
			return out, fmt.Errorf("parameter %s given %d times", k, len(vs))
		}
		v := vs[0]
		var err error
		switch k {
		case "$select":
			out.sel, err = parseSelect(v)
		case "$where":
			out.where, err = parseWhere(v)
		case "$order":
			out.order, err = parseOrder(v)
		case "$limit":
			out.limit, err = parseCount(k, v)
		case "$offset":
			out.offset, err = parseCount(k, v)
		case "$$app_token":
		default:
			err = fmt.Errorf("parameter %s is not supported (sodatest serves $select, $where, $order, $limit, $offset)", k)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func parseCount(k, v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a non-negative integer, not %q", k, v)
	}
	return n, nil
}

func parseSelect(v string) (selection, error) {
	var s selection
	for item := range strings.SplitSeq(v, ",") {
		switch item = strings.TrimSpace(item); {
		case item == "*":
			s.user = true
		case item == ":*":
			s.sys = true
		case isIdent(item):
			s.cols = append(s.cols, item)
		default:
			return s, fmt.Errorf("$select: cannot select %q", item)
		}
	}
	return s, nil
}

func parseOrder(v string) ([]orderKey, error) {
	var keys []orderKey
	for item := range strings.SplitSeq(v, ",") {
		f := strings.Fields(item)
		if len(f) == 0 || len(f) > 2 || !isIdent(f[0]) {
			return nil, fmt.Errorf("$order: cannot order by %q", strings.TrimSpace(item))
		}
		k := orderKey{col: f[0]}
		if len(f) == 2 {
			switch strings.ToUpper(f[1]) {
			case "ASC":
			case "DESC":
				k.desc = true
			default:
				return nil, fmt.Errorf("$order: %q is neither ASC nor DESC", f[1])
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// sortRows sorts stably by the keys, then by :id, so every order is total.
func sortRows(rows []*row, keys []orderKey) {
	keys = append(slices.Clip(keys), orderKey{col: ":id"})
	slices.SortStableFunc(rows, func(a, b *row) int {
		for _, k := range keys {
			c := compareCol(a, b, k.col)
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
}

// compareCol orders two rows by one column: instants for the timestamps, text otherwise,
// missing values first (SoQL sorts nulls first ascending).
func compareCol(a, b *row, col string) int {
	switch col {
	case ":created_at":
		return a.createdAt.Compare(b.createdAt)
	case ":updated_at":
		return a.updatedAt.Compare(b.updatedAt)
	case ":id":
		return strings.Compare(a.id, b.id)
	}
	_, okA := a.get(col)
	_, okB := b.get(col)
	if okA != okB {
		if !okA {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.text(col), b.text(col))
}

// parseWhere compiles a $where expression of the subset: comparisons of a column with a
// string literal, AND, OR, NOT, parentheses.
func parseWhere(v string) (func(*row) bool, error) {
	toks, err := lex(v)
	if err != nil {
		return nil, fmt.Errorf("$where: %w", err)
	}
	p := &parser{toks: toks}
	e, err := p.or()
	if err == nil && p.pos < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	if err != nil {
		return nil, fmt.Errorf("$where %q: %w", v, err)
	}
	return e, nil
}

type tokKind uint8

const (
	tIdent tokKind = iota
	tString
	tOp
	tLParen
	tRParen
)

type token struct {
	kind tokKind
	text string // identifier, unquoted string, or operator
}

func isIdentByte(c byte, first bool) bool {
	return c == '_' || c == ':' || c == '@' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "("})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")"})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, errors.New("unterminated string literal")
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{tString, b.String()})
			i = j + 1
		case strings.ContainsRune("<>=!", rune(c)):
			op := string(c)
			if i+1 < len(s) && (s[i+1] == '=' || c == '<' && s[i+1] == '>') {
				op = s[i : i+2]
			}
			if op == "!" {
				return nil, errors.New("'!' must be '!='")
			}
			toks = append(toks, token{tOp, op})
			i += len(op)
		case isIdentByte(c, true):
			j := i
			for j < len(s) && isIdentByte(s[j], false) {
				j++
			}
			toks = append(toks, token{tIdent, s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
	return toks, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) keyword(kw string) bool {
	if p.pos < len(p.toks) && p.toks[p.pos].kind == tIdent && strings.EqualFold(p.toks[p.pos].text, kw) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) or() (func(*row) bool, error) {
	l, err := p.and()
	for err == nil && p.keyword("OR") {
		var r func(*row) bool
		if r, err = p.and(); err == nil {
			a, b := l, r
			l = func(x *row) bool { return a(x) || b(x) }
		}
	}
	return l, err
}

func (p *parser) and() (func(*row) bool, error) {
	l, err := p.not()
	for err == nil && p.keyword("AND") {
		var r func(*row) bool
		if r, err = p.not(); err == nil {
			a, b := l, r
			l = func(x *row) bool { return a(x) && b(x) }
		}
	}
	return l, err
}

func (p *parser) not() (func(*row) bool, error) {
	if p.keyword("NOT") {
		e, err := p.not()
		if err != nil {
			return nil, err
		}
		return func(x *row) bool { return !e(x) }, nil
	}
	return p.primary()
}

func (p *parser) next() (token, bool) {
	if p.pos >= len(p.toks) {
		return token{}, false
	}
	p.pos++
	return p.toks[p.pos-1], true
}

func (p *parser) primary() (func(*row) bool, error) {
	t, ok := p.next()
	if !ok {
		return nil, errors.New("unexpected end of expression")
	}
	if t.kind == tLParen {
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if t, ok := p.next(); !ok || t.kind != tRParen {
			return nil, errors.New("missing ')'")
		}
		return e, nil
	}
	op, ok := p.next()
	if !ok || op.kind != tOp {
		return nil, fmt.Errorf("want a comparison after %q", t.text)
	}
	r, ok := p.next()
	if !ok {
		return nil, errors.New("unexpected end of expression")
	}
	col, lit := t, r
	if t.kind == tString && r.kind == tIdent {
		col, lit, op.text = r, t, flip(op.text)
	}
	if col.kind != tIdent || lit.kind != tString {
		return nil, fmt.Errorf("sodatest compares a column with a string literal, not %q %s %q", t.text, op.text, r.text)
	}
	test, err := opTest(op.text)
	if err != nil {
		return nil, err
	}
	return comparison(col.text, lit.text, test)
}

// flip mirrors an operator for 'literal op column'.
func flip(op string) string {
	switch op {
	case "<":
		return ">"
	case ">":
		return "<"
	case "<=":
		return ">="
	case ">=":
		return "<="
	}
	return op
}

func opTest(op string) (func(int) bool, error) {
	switch op {
	case "=":
		return func(c int) bool { return c == 0 }, nil
	case "!=", "<>":
		return func(c int) bool { return c != 0 }, nil
	case "<":
		return func(c int) bool { return c < 0 }, nil
	case "<=":
		return func(c int) bool { return c <= 0 }, nil
	case ">":
		return func(c int) bool { return c > 0 }, nil
	case ">=":
		return func(c int) bool { return c >= 0 }, nil
	}
	return nil, fmt.Errorf("unknown operator %q", op)
}

// literalLayouts are the timestamp literals SoQL accepts for a fixed timestamp.
var literalLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

func comparison(col, lit string, test func(int) bool) (func(*row) bool, error) {
	switch col {
	case ":created_at", ":updated_at":
		var t time.Time
		var err error
		for _, l := range literalLayouts {
			if t, err = time.ParseInLocation(l, lit, time.UTC); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%q is not a timestamp literal", lit)
		}
		if col == ":created_at" {
			return func(r *row) bool { return test(r.createdAt.Compare(t)) }, nil
		}
		return func(r *row) bool { return test(r.updatedAt.Compare(t)) }, nil
	case ":id":
		return func(r *row) bool { return test(strings.Compare(r.id, lit)) }, nil
	}
	if strings.HasPrefix(col, ":") && !strings.HasPrefix(col, ":@") {
		return nil, fmt.Errorf("unknown system field %s", col)
	}
	return func(r *row) bool {
		if _, ok := r.get(col); !ok {
			return false // null compares to nothing
		}
		return test(strings.Compare(r.text(col), lit))
	}, nil
}
