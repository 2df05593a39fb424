//go:build !linux

package builtin

import (
	"context"
	"errors"
	"net"
)

// evLoop is the Linux event loop; elsewhere there is none, and connections
// are relayed by goroutines.
type evLoop struct{}

func startEvLoops(*Server, int) ([]*evLoop, error) {
	return nil, errors.New("the event-loop relay needs Linux (epoll)")
}

func (*evLoop) shutdown() {}

func (s *Server) evHandle(_ context.Context, raw net.Conn) { s.builtinDrop(raw) }
