//go:build !linux

package lake

import "errors"

func exchange(a, b string) error { return errors.ErrUnsupported }
