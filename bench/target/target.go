// Package target is wssbench's built-in echo server: wss:// or ws://, it echoes
// text and binary frames (fragments as they come), answers pings, completes the
// close handshake, and bounds frame size and idle time.
package target

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// Config describes an echo server.
type Config struct {
	// Listen is the address to listen on, such as 127.0.0.1:8443 (port 0 picks one).
	Listen string
	// TLS terminates TLS when set (wss://); nil serves plain ws://.
	TLS *tls.Config
	// MaxFrameBytes bounds an incoming frame (default 1 MiB); larger frames close the connection with 1009.
	MaxFrameBytes int64
	// IdleTimeout closes a connection that sends nothing for this long (default 2 minutes).
	IdleTimeout time.Duration
	// HandshakeTimeout bounds TLS and upgrade (default 10 s).
	HandshakeTimeout time.Duration
	// EchoDelay is a fault-injection knob: the server waits this long before
	// echoing each frame, as a slower server would (0: echo at once).
	EchoDelay time.Duration
}

// Server is a running echo server.
type Server struct {
	cfg  Config
	ln   net.Listener
	mu   sync.Mutex
	live map[net.Conn]struct{}
	down bool
	wg   sync.WaitGroup
}

// Listen opens the listening socket; call Serve to accept.
func Listen(cfg Config) (*Server, error) {
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = 1 << 20
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	return &Server{cfg: cfg, ln: ln, live: make(map[net.Conn]struct{})}, nil
}

// Addr returns the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL returns the ws:// or wss:// URL clients use.
func (s *Server) URL() string {
	scheme := "ws"
	if s.cfg.TLS != nil {
		scheme = "wss"
	}
	return scheme + "://" + s.ln.Addr().String() + "/"
}

// Serve accepts connections until ctx ends, then closes every connection with
// a close frame (1001 going away) and returns once all are gone.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, s.shutdown)
	defer stop()
	var err error
	for {
		var c net.Conn
		c, err = s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			break
		}
		if !s.track(c) {
			c.Close()
			break
		}
		s.wg.Add(1)
		go s.handle(c)
	}
	s.shutdown()
	s.wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return false
	}
	s.live[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.live, c)
	s.mu.Unlock()
}

// shutdown stops accepting and wakes every connection so it closes itself.
func (s *Server) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return
	}
	s.down = true
	s.ln.Close()
	now := time.Now()
	for c := range s.live {
		// The handler sees s.down after the wake-up; an error means it is gone.
		_ = c.SetReadDeadline(now)
	}
}

func (s *Server) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

func (s *Server) handle(raw net.Conn) {
	defer s.wg.Done()
	defer s.untrack(raw)
	var nc net.Conn = raw
	if err := raw.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout)); err != nil {
		raw.Close()
		return
	}
	if s.cfg.TLS != nil {
		tc := tls.Server(raw, s.cfg.TLS)
		if err := tc.Handshake(); err != nil {
			raw.Close()
			return
		}
		nc = tc
	}
	u := ws.Upgrader{Protocol: func([]byte) bool { return true }}
	if _, err := u.Upgrade(nc); err != nil {
		nc.Close()
		return
	}
	c := wsconn.New(nc, wsconn.Options{MaxFrameBytes: s.cfg.MaxFrameBytes})
	s.echo(c)
}

// echo runs the echo loop until the peer closes, errs, idles out or the server
// shuts down.
func (s *Server) echo(c *wsconn.Conn) {
	nc := c.NetConn()
	for {
		if err := nc.SetDeadline(time.Now().Add(s.cfg.IdleTimeout)); err != nil {
			nc.Close()
			return
		}
		h, p, err := c.ReadFrame()
		var ce *wsconn.CloseError
		switch {
		case err == nil:
		case errors.As(err, &ce):
			nc.Close()
			return
		case errors.Is(err, wsconn.ErrFrameTooLarge):
			c.Close(ws.StatusMessageTooBig, time.Second)
			return
		case errors.Is(err, wsconn.ErrProtocol):
			c.Close(ws.StatusProtocolError, time.Second)
			return
		default:
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				code := ws.StatusGoingAway
				if !s.isDown() {
					code = ws.StatusPolicyViolation // idle too long
				}
				c.Close(code, time.Second)
				return
			}
			nc.Close()
			return
		}
		if s.cfg.EchoDelay > 0 {
			time.Sleep(s.cfg.EchoDelay)
		}
		if err := c.WriteFrame(h.OpCode, h.Fin, p); err != nil {
			nc.Close()
			return
		}
	}
}
