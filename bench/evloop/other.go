//go:build !linux

package evloop

import (
	"errors"
	"net"
	"time"
)

// Supported reports whether event loops run on this platform (Linux only).
const Supported = false

var errUnsupported = errors.New("evloop: event loops need Linux")

// Handler gets the events of its sockets (Linux only).
type Handler interface{ Ready(s *Socket) }

// Loop is an event loop (Linux only).
type Loop struct{}

// Socket is a socket on a loop (Linux only).
type Socket struct{}

// New fails: event loops need Linux.
func New() (*Loop, error) { return nil, errUnsupported }

func (l *Loop) Run()                                                 {}
func (l *Loop) Now() int64                                           { return 0 }
func (l *Loop) Clock(t time.Time) int64                              { return 0 }
func (l *Loop) Time(ns int64) time.Time                              { return time.Time{} }
func (l *Loop) Buffer() []byte                                       { return nil }
func (l *Loop) Live() int                                            { return 0 }
func (l *Loop) Post(f func()) bool                                   { return false }
func (l *Loop) Shutdown()                                            {}
func (l *Loop) Done() <-chan struct{}                                { c := make(chan struct{}); close(c); return c }
func (l *Loop) Schedule(t *Timer, at int64)                          {}
func (l *Loop) Cancel(t *Timer)                                      {}
func (l *Loop) Add(fd int, h Handler) (*Socket, error)               { return nil, errUnsupported }
func (l *Loop) Attach(c *Conn, h Handler, done func(*Socket, error)) {}
func (s *Socket) Loop() *Loop                                        { return nil }
func (s *Socket) Readable() bool                                     { return false }
func (s *Socket) HungUp() bool                                       { return false }
func (s *Socket) Pending() int                                       { return 0 }
func (s *Socket) Read(p []byte) (int, error)                         { return 0, errUnsupported }
func (s *Socket) Write(p []byte) (int, error)                        { return 0, errUnsupported }
func (s *Socket) Flush() error                                       { return errUnsupported }
func (s *Socket) CloseWrite() error                                  { return errUnsupported }
func (s *Socket) Close()                                             {}
func (s *Socket) Abort()                                             {}

// Detach fails: event loops need Linux.
func Detach(c net.Conn) (int, error) { c.Close(); return -1, errUnsupported }

// Options tune a loop.
type Options struct{ Slack time.Duration }

// NewWith fails: event loops need Linux.
func NewWith(o Options) (*Loop, error) { return nil, errUnsupported }
