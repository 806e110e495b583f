package coordinatorcli

import (
	"errors"
	"flag"
	"fmt"
)

// The command line's exit codes: 0 success (and -h, --version), 1 a failure, 2 a usage
// error — an unknown command or flag, a bad flag value, a missing or extra argument —
// which Main reports before anything runs; ExitUnpublished (3) a lake committed without
// its summaries.
const (
	ExitFailure = 1
	ExitUsage   = 2
)

// errUsage marks a command-line mistake: Main exits ExitUsage on it.
var errUsage = errors.New("usage error")

// usageError reports a mistake in the arguments (not in the flags, which the flag package
// reports): it prints the command's usage and returns an error that Main prints and
// exits ExitUsage on.
func usageError(fs *flag.FlagSet, format string, args ...any) error {
	fs.Usage()
	return argError(fmt.Sprintf(format, args...))
}

// argError is a usage error with its message alone.
type argError string

func (e argError) Error() string        { return string(e) }
func (e argError) Is(target error) bool { return target == errUsage }

// asUsage marks err as a usage error (Main exits ExitUsage), keeping its message and chain.
func asUsage(err error) error { return usageWrap{err} }

type usageWrap struct{ err error }

func (e usageWrap) Error() string        { return e.err.Error() }
func (e usageWrap) Unwrap() error        { return e.err }
func (e usageWrap) Is(target error) bool { return target == errUsage }

// parseError classifies an error of fs.Parse: -h is not an error (exit 0); anything else
// the flag package has already printed, with the usage, and is a usage error.
func parseError(err error) error {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return fmt.Errorf("%w: %w", errUsage, errReported)
}

// setUsage gives fs a usage message: the synopsis, a description, then the flags.
func setUsage(fs *flag.FlagSet, synopsis string, about ...string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: coordinator %s\n", synopsis)
		for _, line := range about {
			fmt.Fprintln(w, line)
		}
		if hasFlags(fs) {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}
