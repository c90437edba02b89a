// Package hpc runs simulation jobs on a workload manager. Executor is the one
// interface every backend implements; Local (this package) runs jobs as
// subprocesses with a concurrency limit, the default on one machine.
//
// Submission is idempotent by job name: a retried submit with the same name
// finds the job it already submitted instead of starting a second one.
package hpc

import (
	"context"
	"errors"
	"time"
)

// Job states.
const (
	Pending   = "PENDING"
	Running   = "RUNNING"
	Completed = "COMPLETED"
	Failed    = "FAILED"
	Timeout   = "TIMEOUT"
	Cancelled = "CANCELLED"
	NodeFail  = "NODE_FAIL"
	Lost      = "LOST"
)

// Terminal reports whether a state is final.
func Terminal(state string) bool {
	switch state {
	case Completed, Failed, Timeout, Cancelled, NodeFail, Lost:
		return true
	}
	return false
}

// JobSpec describes one job.
type JobSpec struct {
	// Name identifies the job; submitting the same name again returns the same job.
	Name string
	// Command is the program and its arguments, run in the job's directory.
	Command []string
	// Files are written into the job directory before the job starts.
	Files     map[string][]byte
	CPUs      int
	MemoryMB  int
	TimeLimit time.Duration
}

// Job is a job's current state.
type Job struct {
	ID       string
	Name     string
	State    string
	ExitCode int
	Reason   string
	Dir      string
}

// Executor runs jobs. Implementations are safe for concurrent use.
type Executor interface {
	Submit(ctx context.Context, spec JobSpec) (Job, error)
	Status(ctx context.Context, id string) (Job, error)
	Cancel(ctx context.Context, id string) error
	// ReadFile returns a file from the job's directory (for example its result).
	ReadFile(ctx context.Context, id, name string) ([]byte, error)
}

// ErrUnknownJob is returned for a job the executor has no record of.
var ErrUnknownJob = errors.New("unknown job")

// Wait polls until the job is terminal, calling tick on every poll (for
// heartbeats). It returns the final state, or the last one seen and
// ctx.Err() when ctx ends first; it never cancels the job (the caller
// decides: a stopped campaign cancels, a stopping worker does not).
func Wait(ctx context.Context, ex Executor, id string, poll time.Duration, tick func(Job)) (Job, error) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		j, err := ex.Status(ctx, id)
		if err != nil {
			return j, err
		}
		if tick != nil {
			tick(j)
		}
		if Terminal(j.State) {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-t.C:
		}
	}
}
