package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ScrapeTimeout bounds reading a scrape's request and writing its answer: a
// scraper that hangs is cut off, and the run never waits for one.
const ScrapeTimeout = 5 * time.Second

// ListenError is an address Serve could not listen on (unparsable, in use,
// not this machine's): bad input, found before any load.
type ListenError struct {
	Addr string
	Err  error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("--metrics-listen %s: %v (give a free HOST:PORT such as 127.0.0.1:9464)", e.Addr, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

// Server serves /metrics until its context ends or Close.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// Serve listens on addr at once, then serves the collectors (and the Go
// runtime's and the process's own metrics) on /metrics in the background,
// in the text, OpenMetrics or protobuf format the scraper asks for
// (protobuf carries native histograms). It stops when ctx ends. An address
// it cannot listen on is a *ListenError.
func Serve(ctx context.Context, addr string, cs ...prometheus.Collector) (*Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ListenError{Addr: addr, Err: err}
	}
	mux := http.NewServeMux()
	// Registry: promhttp counts the scrapes it could not answer in
	// promhttp_metric_handler_errors_total; InstrumentMetricHandler counts
	// every scrape by status code.
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true, Timeout: ScrapeTimeout, ErrorHandling: promhttp.ContinueOnError})
	mux.Handle("/metrics", promhttp.InstrumentMetricHandler(reg, h))
	s := &Server{ln: ln, done: make(chan struct{}),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: ScrapeTimeout, ReadTimeout: ScrapeTimeout, WriteTimeout: ScrapeTimeout, IdleTimeout: time.Minute}}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			// The listener failed under it: nothing more to serve.
			return
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// Addr is the address the server listens on (a port 0 resolved).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops serving, giving a scrape in progress a moment to finish.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	<-s.done
	return err
}

// Serve serves e; see the package's Serve.
func (e *Exporter) Serve(ctx context.Context, addr string) (*Server, error) {
	return Serve(ctx, addr, e)
}
