package hpc

import (
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
	"time"
)

// Local runs jobs as subprocesses of this process, at most Slots at a time.
// Each job gets a directory under Root named after the job, with the
// command's stdout and stderr, its process ID once started (.pid), its exit
// code written by a small shell wrapper (.rc) and the outcome (.exit).
//
// Submission is idempotent by name, across processes too: a job whose
// directory holds an outcome is not run again; a job started by an earlier
// worker that is still running is adopted (watched until it ends, its time
// limit still enforced); one that ended unobserved is judged by its exit
// code, or reported LOST when it was killed. Only a job that never started
// is started again.
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

// Files in a local job's directory.
const (
	exitFile = ".exit" // "STATE CODE reason", the outcome
	pidFile  = ".pid"  // "PID START-UNIX LIMIT-SECONDS", once started
	rcFile   = ".rc"   // the command's exit code, written by the wrapper
)

// wrapper runs the command and records its exit code, so that a worker
// that adopts the job after a crash learns how it ended.
const wrapper = `"$@"; rc=$?; echo $rc > .rc.tmp && mv .rc.tmp .rc; exit $rc`

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
	if b, err := os.ReadFile(filepath.Join(dir, pidFile)); err == nil {
		// Started by an earlier worker: adopt it.
		jctx, cancel := context.WithCancel(context.Background())
		j := &localJob{Job: Job{ID: id, Name: spec.Name, State: Running, Dir: dir}, cancel: cancel, done: make(chan struct{})}
		l.jobs[id] = j
		go l.adopt(jctx, j, string(b))
		return j.Job, nil
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
	runCtx := ctx
	if spec.TimeLimit > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, spec.TimeLimit)
		defer cancel()
	}
	stdout, err1 := os.Create(filepath.Join(j.Dir, "stdout"))
	stderr, err2 := os.Create(filepath.Join(j.Dir, "stderr"))
	if err := errors.Join(err1, err2); err != nil {
		l.finish(j, Failed, -1, "cannot create output files: "+err.Error())
		return
	}
	defer stdout.Close()
	defer stderr.Close()
	cmd := exec.CommandContext(runCtx, "/bin/sh", append([]string{"-c", wrapper, "genesis-job"}, spec.Command...)...)
	cmd.Dir = j.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		if ctx.Err() != nil {
			l.finish(j, Cancelled, -1, "cancelled before it started")
		} else {
			l.finish(j, Failed, -1, "cannot start: "+err.Error())
		}
		return
	}
	_ = writeAtomic(filepath.Join(j.Dir, pidFile), fmt.Sprintf("%d %d %d\n", cmd.Process.Pid, time.Now().Unix(), int(spec.TimeLimit.Seconds()+0.999)))
	l.set(j, Running)
	err := cmd.Wait()
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
		l.finish(j, Failed, code, stderrLine(j.Dir))
	default:
		l.finish(j, Completed, 0, "")
	}
}

// adopt watches a job an earlier worker started: until its process group
// is gone, enforcing its time limit and honouring Cancel; then the exit
// code it recorded decides the outcome.
func (l *Local) adopt(ctx context.Context, j *localJob, rec string) {
	defer close(j.done)
	var pid int
	var start, limit int64
	if n, _ := fmt.Sscan(rec, &pid, &start, &limit); n < 1 || pid <= 0 {
		l.finish(j, Lost, -1, "unreadable process record")
		return
	}
	alive := func() bool { return syscall.Kill(pid, 0) == nil }
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for alive() {
		if limit > 0 && time.Since(time.Unix(start, 0)) > time.Duration(limit)*time.Second {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			l.finish(j, Timeout, -1, fmt.Sprintf("exceeded time limit %ds", limit))
			return
		}
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			l.finish(j, Cancelled, -1, "cancelled")
			return
		case <-tick.C:
		}
	}
	b, err := os.ReadFile(filepath.Join(j.Dir, rcFile))
	if err != nil {
		l.finish(j, Lost, -1, "the job ended while no worker watched it and left no exit code (killed?)")
		return
	}
	code, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if code != 0 {
		l.finish(j, Failed, code, stderrLine(j.Dir))
		return
	}
	l.finish(j, Completed, 0, "")
}

// stderrLine is the last line the job wrote to stderr.
func stderrLine(dir string) string { return lastLine(readTail(filepath.Join(dir, "stderr"))) }

func writeAtomic(path, s string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
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

// finish records the outcome on disk first, so that anyone who sees it
// in memory can also find it in the job directory.
func (l *Local) finish(j *localJob, state string, code int, reason string) {
	_ = writeAtomic(filepath.Join(j.Dir, exitFile), fmt.Sprintf("%s %d %s\n", state, code, reason))
	l.mu.Lock()
	j.State, j.ExitCode, j.Reason = state, code, reason
	l.mu.Unlock()
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
			// Submitted by an earlier worker and not adopted yet: Submit
			// the same spec again to adopt it.
			return Job{ID: id, Name: id, Dir: dir, State: Lost, Reason: "started by an earlier worker; submit it again to adopt it"}, nil
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
