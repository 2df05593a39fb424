package env

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// abortWait bounds how long RestartTarget waits for a target process's
// counts after AbortSignal (it cuts its connections and waits for their
// work to end: milliseconds, or the target's shutdown bound at worst).
const abortWait = 15 * time.Second

// RestartTarget makes the built-in target crash and come back, for
// reconnect storms: every target process it started is cut off as a crash
// would be (no close frames reach the clients) and killed by its PID with
// SIGKILL, then started again with the same arguments on the same port; it
// returns once they are ready. What the old processes counted adds into
// StopAndCount's counts: each is asked for them just before the kill
// (AbortSignal: it cuts its connections itself, then reports exact counts);
// one that gives none within abortWait is killed anyway, and the counts are
// then incomplete (StopAndCount's bool is false). An in-process target is
// aborted (target.Server.Abort) and a new one serves on the same address.
// Behind a proxy the target restarts the same way, and the proxy's
// connections to it are cut with it. The target PIDs change. After Stop, or
// a Failure, it is an error; a target that cannot start again is a Failure.
func (e *Env) RestartTarget(ctx context.Context) error {
	e.restartMu.Lock()
	defer e.restartMu.Unlock()
	select {
	case <-e.stopping:
		return errors.New("restart the built-in target: the environment is stopped")
	default:
	}
	if err := e.Failure(); err != nil {
		return fmt.Errorf("restart the built-in target: the environment has failed already: %w", err)
	}
	var err error
	if e.inProc {
		err = e.restartInProcess(ctx)
	} else {
		err = e.restartProcesses(ctx)
	}
	if err != nil {
		err = fmt.Errorf("restart the built-in target: %w", err)
		e.fail(err)
	}
	return err
}

// restartProcesses aborts and kills every target process, then starts them
// again on the same port.
func (e *Env) restartProcesses(ctx context.Context) error {
	if len(e.targets) == 0 {
		return errors.New("this environment started no target process")
	}
	for _, t := range e.targets {
		// Its exit from now on is no failure.
		t.ExpectExit()
		if err := t.Signal(AbortSignal); err != nil {
			return fmt.Errorf("signal %s (pid %d): %w", t.Name, t.PID(), err)
		}
	}
	deadline := time.NewTimer(abortWait)
	defer deadline.Stop()
	for i, t := range e.targets {
		select {
		case c := <-e.abortCounts[i]:
			e.earlier.add(c)
		case <-t.Done():
			e.lost = true
		case <-deadline.C:
			e.lost = true
		}
	}
	var errs []error
	for _, t := range e.targets {
		if err := t.StopWith(syscall.SIGKILL, stopGrace); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return e.startTargetProcesses(ctx, e.targetAddr)
}

// restartInProcess aborts the in-process target and serves a new one on its
// address.
func (e *Env) restartInProcess(ctx context.Context) error {
	old := e.inProcSrv
	e.restarting.Store(true)
	old.Abort()
	err := <-e.served[e.inProcServed]
	e.restarting.Store(false)
	e.earlier.add(TargetCounts(old.Counts()))
	if err != nil {
		// Connections outlived the shutdown bound: the counts may be short.
		e.lost = true
	}
	return e.startInProcessTarget(ctx, e.targetAddr)
}
