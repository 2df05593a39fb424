// Package evloop is wssbench's event loop: an edge-triggered epoll set per
// loop, a timer heap woken by a timerfd with nanosecond timeouts, and a
// non-blocking socket that crypto/tls can run over. The driver's steady and
// hold phases and the built-in proxy's relay run on it, so one loop goroutine
// per core holds thousands of connections with no goroutine, timer or read
// buffer of their own.
//
// A loop goroutine parks in Go's netpoller on its epoll descriptor, so the
// runtime wakes it once per batch of events (or when its timerfd fires), and
// a garbage collection never waits for a loop asleep in a system call. Its
// own epoll_wait, reads and writes are raw system calls on non-blocking
// sockets.
//
// Readiness is edge-triggered and kept in per-socket flags: set by an event,
// cleared by EAGAIN or by a short read or write, so a socket that was
// drained needs no read that returns EAGAIN. Writes never fail with EAGAIN:
// what the kernel does not take is kept and sent on EPOLLOUT, because
// crypto/tls makes every write error permanent. Reads return ErrWouldBlock,
// a temporary net.Error that crypto/tls tolerates (the bytes of a record read
// so far stay in its input buffer).
package evloop
