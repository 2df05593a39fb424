package live

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/wssbench/wssbench/bench"
)

// client is one /events stream: the events waiting for it, at most
// Config.Buffer of them.
type client struct {
	ch chan []byte
}

// Serve listens on addr (host:port; port 0 picks a free one) and serves the
// page there until ctx is done or Close is called. It returns once it
// listens: an address that cannot be listened on is an input error, before
// any load is sent.
func (p *Page) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return &bench.InputError{Err: fmt.Errorf("--ui %s: %w (give a free host:port such as 127.0.0.1:8089)", addr, err)}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.servePage)
	mux.HandleFunc("GET /events", p.serveEvents)
	p.ln = ln
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		// Serve returns ErrServerClosed on Close; any other error ends the page only.
		_ = p.srv.Serve(ln)
	}()
	go func() {
		defer p.wg.Done()
		p.renderLoop()
	}()
	go func() {
		select {
		case <-ctx.Done():
			p.Close()
		case <-p.stop:
		}
	}()
	return nil
}

// Addr is the address the page listens on (after Serve).
func (p *Page) Addr() net.Addr { return p.ln.Addr() }

// URL is the page's address as a link.
func (p *Page) URL() string { return "http://" + p.ln.Addr().String() + "/" }

// Loopback says whether the page is reachable from this machine only.
func (p *Page) Loopback() bool {
	a, ok := p.ln.Addr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// Close stops serving and ends every stream.
func (p *Page) Close() error {
	var err error
	p.once.Do(func() {
		close(p.stop)
		if p.srv != nil {
			err = p.srv.Close()
			p.wg.Wait()
		}
	})
	return err
}

// renderLoop renders an event when the state changed and someone follows
// the page, and hands it to every client without waiting: a client whose
// buffer is full loses the event (counted).
func (p *Page) renderLoop() {
	for {
		select {
		case <-p.stop:
			return
		case <-p.kick:
		}
		p.mu.Lock()
		n := len(p.clients)
		p.mu.Unlock()
		if n == 0 {
			continue
		}
		ev, err := p.fragment()
		if err != nil {
			continue // drawn again on the next change; the page keeps its last section
		}
		b, err := sseEvent("progress", ev)
		if err != nil {
			continue
		}
		p.mu.Lock()
		for c := range p.clients {
			select {
			case c.ch <- b:
				p.sent.Add(1)
			default:
				p.dropped.Add(1)
			}
		}
		p.mu.Unlock()
	}
}

func (p *Page) servePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(p.cfg.WriteTimeout)) // not every writer has deadlines
	if err := p.writePage(w); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// serveEvents streams progress events, then the final one, which ends the stream.
func (p *Page) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	c := &client{ch: make(chan []byte, p.cfg.Buffer)}
	p.mu.Lock()
	p.clients[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.clients, c)
		p.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	write := func(b []byte) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(p.cfg.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// A comment opens the stream at once; the current state follows.
	if !write([]byte(": wssbench live\nretry: 2000\n\n")) {
		return
	}
	p.wake()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case b := <-c.ch:
			if !write(b) {
				return
			}
		case <-p.finished:
			write(p.final)
			return
		case <-keepalive.C:
			if !write([]byte(": keepalive\n\n")) {
				return
			}
		case <-r.Context().Done():
			return
		case <-p.stop:
			return
		}
	}
}
