package hpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Local runs jobs as subprocesses of this process, at most Slots at a time.
// Each job gets a directory under Root named after the job; a job whose
// directory already holds an exit record is not run again, so a submit
// retried after a worker restart finds the finished job.
type Local struct {
	Root  string
	Slots int

	mu   sync.Mutex
	jobs map[string]*localJob // by ID (= name)
	sem  chan struct{}
}

type localJob struct {
	Job
	cancel context.CancelFunc
	done   chan struct{}
}

var _ Executor = (*Local)(nil)

// NewLocal returns a local executor.
func NewLocal(root string, slots int) (*Local, error) {
	if slots < 1 {
		slots = 1
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("local executor: %w", err)
	}
	return &Local{Root: root, Slots: slots, jobs: map[string]*localJob{}, sem: make(chan struct{}, slots)}, nil
}

var safeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

const exitFile = ".exit"

// Submit implements Executor.
func (l *Local) Submit(ctx context.Context, spec JobSpec) (Job, error) {
	if spec.Name == "" || len(spec.Command) == 0 {
		return Job{}, errors.New("local executor: a job needs a name and a command")
	}
	id := safeName.ReplaceAllString(spec.Name, "_")
	l.mu.Lock()
	defer l.mu.Unlock()
	if j, ok := l.jobs[id]; ok {
		return j.Job, nil
	}
	dir := filepath.Join(l.Root, id)
	if rec, err := os.ReadFile(filepath.Join(dir, exitFile)); err == nil {
		j := parseExit(id, spec.Name, dir, rec)
		l.jobs[id] = &localJob{Job: j, done: closed()}
		return j, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Job{}, err
	}
	for name, data := range spec.Files {
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), data, 0o644); err != nil {
			return Job{}, err
		}
	}
	jctx, cancel := context.WithCancel(context.Background())
	j := &localJob{Job: Job{ID: id, Name: spec.Name, State: Pending, Dir: dir}, cancel: cancel, done: make(chan struct{})}
	l.jobs[id] = j
	go l.run(jctx, j, spec)
	return j.Job, nil
}

func closed() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func parseExit(id, name, dir string, rec []byte) Job {
	f := strings.Fields(string(rec))
	j := Job{ID: id, Name: name, Dir: dir, State: Lost, Reason: "unreadable exit record"}
	if len(f) >= 2 {
		j.State = f[0]
		j.ExitCode, _ = strconv.Atoi(f[1])
		j.Reason = strings.Join(f[2:], " ")
	}
	return j
}

func (l *Local) run(ctx context.Context, j *localJob, spec JobSpec) {
	defer close(j.done)
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		l.finish(j, Cancelled, -1, "cancelled while pending")
		return
	}
	defer func() { <-l.sem }()
	l.set(j, Running)
	runCtx := ctx
	if spec.TimeLimit > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, spec.TimeLimit)
		defer cancel()
	}
	cmd := exec.CommandContext(runCtx, spec.Command[0], spec.Command[1:]...)
	cmd.Dir = j.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	_ = os.WriteFile(filepath.Join(j.Dir, "stdout"), stdout.Bytes(), 0o644)
	_ = os.WriteFile(filepath.Join(j.Dir, "stderr"), stderr.Bytes(), 0o644)
	switch {
	case ctx.Err() != nil:
		l.finish(j, Cancelled, -1, "cancelled")
	case runCtx.Err() == context.DeadlineExceeded:
		l.finish(j, Timeout, -1, fmt.Sprintf("exceeded time limit %s", spec.TimeLimit))
	case err != nil:
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		l.finish(j, Failed, code, strings.TrimSpace(lastLine(stderr.String())))
	default:
		l.finish(j, Completed, 0, "")
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func (l *Local) set(j *localJob, state string) {
	l.mu.Lock()
	j.State = state
	l.mu.Unlock()
}

func (l *Local) finish(j *localJob, state string, code int, reason string) {
	l.mu.Lock()
	j.State, j.ExitCode, j.Reason = state, code, reason
	l.mu.Unlock()
	rec := fmt.Sprintf("%s %d %s\n", state, code, reason)
	tmp := filepath.Join(j.Dir, exitFile+".tmp")
	if os.WriteFile(tmp, []byte(rec), 0o644) == nil {
		_ = os.Rename(tmp, filepath.Join(j.Dir, exitFile))
	}
}

// Status implements Executor.
func (l *Local) Status(_ context.Context, id string) (Job, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	j, ok := l.jobs[id]
	if !ok {
		dir := filepath.Join(l.Root, id)
		if rec, err := os.ReadFile(filepath.Join(dir, exitFile)); err == nil {
			return parseExit(id, id, dir, rec), nil
		}
		if _, err := os.Stat(dir); err == nil {
			// Submitted by an earlier process that died before the job finished.
			return Job{ID: id, Name: id, Dir: dir, State: Lost, Reason: "the process running the job ended"}, nil
		}
		return Job{}, fmt.Errorf("%w %q", ErrUnknownJob, id)
	}
	return j.Job, nil
}

// Cancel implements Executor.
func (l *Local) Cancel(_ context.Context, id string) error {
	l.mu.Lock()
	j, ok := l.jobs[id]
	l.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownJob, id)
	}
	if j.cancel != nil {
		j.cancel()
	}
	<-j.done
	return nil
}

// ReadFile implements Executor.
func (l *Local) ReadFile(_ context.Context, id, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(l.Root, safeName.ReplaceAllString(id, "_"), filepath.Base(name)))
}

// Forget drops a lost job's directory so that it can be submitted again.
func (l *Local) Forget(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.jobs, id)
	return os.RemoveAll(filepath.Join(l.Root, id))
}
