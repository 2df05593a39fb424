//go:build !unix

package listener

import (
	"errors"
	"syscall"
)

func reusePort(_, _ string, _ syscall.RawConn) error {
	return errors.New("SO_REUSEPORT needs a Unix system")
}
