package jobs

import (
	"fmt"
	"regexp"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// A job file is untrusted input: anyone holding the cluster token can submit one to a
// long-running coordinator. These limits are checked before the HCL parser sees the text,
// because the parser recurses once per nesting level and a deep enough nest is a fatal Go
// stack overflow, which no recover catches and which takes every running job down with the
// daemon.
const (
	// MaxJobFileSize is the largest job file Parse accepts, in bytes. Real job files are a
	// few KiB; a schema block of a drifting export a few more.
	MaxJobFileSize = 1 << 20
	// MaxNesting is the deepest nest of brackets Parse accepts: ( [ { (blocks included),
	// string and heredoc templates, and their ${ and %{ sequences each open one level. A
	// job file needs about 6.
	MaxNesting = 64
	// MaxSpecJSONSize is the largest JSON Spec that Spec.UnmarshalJSON accepts, in bytes:
	// a job file's worth of settings and schemas, plus the job file's text itself
	// (base64, 4/3 of MaxJobFileSize), with room to spare.
	MaxSpecJSONSize = 4 << 20
	// MaxNameLen is the longest job, input, source or schema name, in bytes.
	MaxNameLen = 64
)

// namePattern is what a job, input, source or schema name may be: such names become path
// segments (the rejects folder, job run IDs and the history file are named after the job),
// object keys and database keys, so they are plain words: letters, digits, '_', '-' and '.',
// not starting with '.', so that no name is "." or "..", hidden, or holds a separator.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$`)

// CheckName reports whether name may name a job, input, source or schema (kind says which,
// for the message). Parse applies it to every such name with the position of the name; it is
// exported for callers that name things after a job by other routes.
func CheckName(kind, name string) error {
	if namePattern.MatchString(name) {
		return nil
	}
	return fmt.Errorf("%s name %q must be 1 to %d letters, digits, '_', '-' or '.' (not first): it names files and keys",
		kind, truncateForMessage(name), MaxNameLen)
}

// checkNameAt is CheckName as a diagnostic at rng.
func checkNameAt(kind, name string, rng hcl.Range) hcl.Diagnostics {
	if err := CheckName(kind, name); err != nil {
		return hcl.Diagnostics{diagAt(rng, "Bad "+kind+" name", err.Error()+".")}
	}
	return nil
}

// truncateForMessage keeps a hostile value from making a message as large as itself.
func truncateForMessage(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// checkLimits refuses a job file larger than MaxJobFileSize or nested deeper than
// MaxNesting, without recursion. It walks the lexer's tokens (the lexer is a state machine
// with explicit stacks: it does not recurse), so brackets inside strings, heredocs and
// comments are not counted and template sequences are. It measures what makes the parser
// and the evaluator recurse:
//
//   - each open ( [ { , string, heredoc, ${ and %{ is one level;
//   - each open %{ if } and %{ for } directive is one level until its %{ endif } or %{ endfor };
//   - each operator (+ - * / % == != < <= > >= && || ! ?) is one level until the expression
//     it is part of ends (a comma, a closing bracket, or a newline where newlines end
//     expressions): HCL builds "1+1+1" as nested operations and "!!!x" as nested negations,
//     and evaluates them recursively, so a long chain overflows the stack as a deep nest of
//     parentheses does.
func checkLimits(src []byte, filename string) hcl.Diagnostics {
	start := hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
	if len(src) > MaxJobFileSize {
		return hcl.Diagnostics{diagAt(start, "Job file too large",
			fmt.Sprintf("The file has %d bytes; a job file may have at most %d (1 MiB).", len(src), MaxJobFileSize))}
	}
	// Lexing errors (an unterminated string, a stray byte) are left to the parser, which
	// reports them with more context; only the nesting is judged here.
	tokens, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	type level struct {
		ops      int  // operators of the expression being read at this level
		newlines bool // newlines end expressions here: a block body or an object
	}
	stack := []level{{newlines: true}} // the file's body
	ops := 0                           // operators pending, at all levels
	directives := 0                    // %{ if } and %{ for } open
	depth := func() int { return len(stack) - 1 + ops + directives }
	endExpr := func() {
		ops -= stack[len(stack)-1].ops
		stack[len(stack)-1].ops = 0
	}
	tooDeep := func(t hclsyntax.Token) hcl.Diagnostics {
		return hcl.Diagnostics{diagAt(t.Range, "Nesting too deep",
			fmt.Sprintf("Brackets, strings, ${ } and %%{ } sequences and chained operators are nested more than %d deep here; a job file needs far fewer.", MaxNesting))}
	}
	for i, t := range tokens {
		switch t.Type {
		case hclsyntax.TokenOParen, hclsyntax.TokenOBrack, hclsyntax.TokenOBrace,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			stack = append(stack, level{newlines: t.Type == hclsyntax.TokenOBrace})
			if t.Type == hclsyntax.TokenTemplateControl {
				switch directive(tokens[i+1:]) {
				case "if", "for":
					directives++
				case "endif", "endfor":
					directives = max(directives-1, 0)
				}
			}
			if depth() > MaxNesting {
				return tooDeep(t)
			}
		case hclsyntax.TokenCParen, hclsyntax.TokenCBrack, hclsyntax.TokenCBrace,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			// Unbalanced closers are the parser's to report; never let them buy depth.
			if len(stack) > 1 {
				endExpr()
				stack = stack[:len(stack)-1]
			}
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
			hclsyntax.TokenPercent, hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual,
			hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan,
			hclsyntax.TokenGreaterThanEq, hclsyntax.TokenAnd, hclsyntax.TokenOr,
			hclsyntax.TokenBang, hclsyntax.TokenQuestion:
			stack[len(stack)-1].ops++
			ops++
			if depth() > MaxNesting {
				return tooDeep(t)
			}
		case hclsyntax.TokenComma:
			endExpr()
		case hclsyntax.TokenNewline:
			if stack[len(stack)-1].newlines {
				endExpr()
			}
		}
	}
	return nil
}

// directive is the keyword of the template directive whose tokens follow a %{.
func directive(tokens []hclsyntax.Token) string {
	for _, t := range tokens {
		switch t.Type {
		case hclsyntax.TokenBitwiseNot: // the ~ strip marker
			continue
		case hclsyntax.TokenIdent:
			return string(t.Bytes)
		}
		return ""
	}
	return ""
}
