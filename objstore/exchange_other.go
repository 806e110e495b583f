//go:build !linux

package objstore

import "errors"

func exchange(a, b string) error { return errors.ErrUnsupported }
