package hpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Slurm runs jobs on a Slurm cluster through its command-line tools
// (sbatch, squeue, scontrol, scancel), as a workflow worker on a login node
// would. The CLI was chosen over slurmrestd because every Slurm site has
// it, it needs no JWT set-up or extra daemon, and its interface has been
// stable across Slurm versions, while slurmrestd's API version changes
// with every release and many centres do not run it.
//
// Each job gets a directory Root/<name> (Root must be on a file system the
// compute nodes share); the job script runs the command there, captures
// stdout and stderr, and writes the exit code to a file, so an outcome
// survives Slurm forgetting the job (MinJobAge). Submission is idempotent
// by job name: before submitting, Submit looks for a job of that name in
// the job directory's record and in Slurm itself, so a submit retried
// after a worker crash — even one between sbatch and writing the record —
// finds the job instead of starting a second one.
type Slurm struct {
	// Root is the shared directory holding one directory per job.
	Root string
	// Partition and Account are passed to sbatch when set.
	Partition, Account string
	// ExtraArgs are further sbatch arguments (e.g. "--qos=debug").
	ExtraArgs []string
	// Bin is the directory of the Slurm commands ("" means PATH).
	Bin string

	mu    sync.Mutex
	byID  map[string]string // Slurm job ID → job directory
	names sync.Map          // job name → *sync.Mutex, one submit per name at a time
}

var _ Executor = (*Slurm)(nil)

// Files in a Slurm job's directory.
const (
	slurmIDFile = ".slurm_job_id" // the Slurm job ID, written after sbatch
	slurmRCFile = ".rc"           // the command's exit code, written by the job script
	slurmScript = "job.sh"
)

// NewSlurm returns a Slurm executor with job directories under root. It
// checks that the Slurm commands are there and the controller answers.
func NewSlurm(ctx context.Context, root string) (*Slurm, error) {
	s := &Slurm{Root: root, byID: map[string]string{}}
	if err := os.MkdirAll(filepath.Join(root, ".ids"), 0o755); err != nil {
		return nil, fmt.Errorf("slurm executor: %w", err)
	}
	if _, err := s.run(ctx, "sinfo", "-h", "-o", "%P"); err != nil {
		return nil, fmt.Errorf("slurm executor: the cluster does not answer (%w); start one with deploy/slurm/install.sh or point PATH at your site's Slurm", err)
	}
	return s, nil
}

func (s *Slurm) cmd(name string) string {
	if s.Bin != "" {
		return filepath.Join(s.Bin, name)
	}
	return name
}

// run runs a Slurm command and returns its stdout; a failure carries stderr.
func (s *Slurm) run(ctx context.Context, name string, args ...string) (string, error) {
	c := exec.CommandContext(ctx, s.cmd(name), args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return out.String(), &slurmError{cmd: name, msg: msg}
	}
	return out.String(), nil
}

type slurmError struct{ cmd, msg string }

func (e *slurmError) Error() string { return e.cmd + ": " + e.msg }

func (s *Slurm) lockName(name string) func() {
	m, _ := s.names.LoadOrStore(name, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// Submit implements Executor.
func (s *Slurm) Submit(ctx context.Context, spec JobSpec) (Job, error) {
	if spec.Name == "" || len(spec.Command) == 0 {
		return Job{}, errors.New("slurm executor: a job needs a name and a command")
	}
	name := safeName.ReplaceAllString(spec.Name, "_")
	defer s.lockName(name)()
	dir := filepath.Join(s.Root, name)

	// Already submitted? First our own record, then Slurm (a crash may have
	// come between sbatch and writing the record).
	if b, err := os.ReadFile(filepath.Join(dir, slurmIDFile)); err == nil {
		id := strings.TrimSpace(string(b))
		s.remember(id, dir)
		return s.Status(ctx, id)
	}
	if id, err := s.find(ctx, name, dir); err != nil {
		return Job{}, err
	} else if id != "" {
		if err := s.record(id, dir); err != nil {
			return Job{}, err
		}
		return s.Status(ctx, id)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Job{}, fmt.Errorf("slurm executor: %w", err)
	}
	for fname, data := range spec.Files {
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(fname)), data, 0o644); err != nil {
			return Job{}, fmt.Errorf("slurm executor: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, slurmScript), []byte(jobScript(spec.Command)), 0o755); err != nil {
		return Job{}, fmt.Errorf("slurm executor: %w", err)
	}
	args := []string{"--parsable", "--job-name=" + name, "--comment=" + slurmComment(dir), "--chdir=" + dir,
		"--output=" + filepath.Join(dir, "stdout"), "--error=" + filepath.Join(dir, "stderr"), "--export=ALL"}
	if spec.CPUs > 0 {
		args = append(args, fmt.Sprintf("--cpus-per-task=%d", spec.CPUs))
	}
	if spec.MemoryMB > 0 {
		args = append(args, fmt.Sprintf("--mem=%d", spec.MemoryMB))
	}
	if spec.TimeLimit > 0 {
		args = append(args, "--time="+slurmTime(spec.TimeLimit))
	}
	if s.Partition != "" {
		args = append(args, "--partition="+s.Partition)
	}
	if s.Account != "" {
		args = append(args, "--account="+s.Account)
	}
	args = append(args, s.ExtraArgs...)
	args = append(args, filepath.Join(dir, slurmScript))
	out, err := s.run(ctx, "sbatch", args...)
	if err != nil {
		return Job{}, fmt.Errorf("slurm executor: submitting %s: %w", name, err)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";") // "ID" or "ID;cluster"
	if _, err := strconv.Atoi(id); err != nil {
		return Job{}, fmt.Errorf("slurm executor: sbatch answered %q, not a job ID", out)
	}
	if err := s.record(id, dir); err != nil {
		return Job{}, err
	}
	return Job{ID: id, Name: spec.Name, State: Pending, Dir: dir}, nil
}

// jobScript runs the command in the job directory and records its exit code.
func jobScript(command []string) string {
	q := make([]string, len(command))
	for i, a := range command {
		q[i] = shellQuote(a)
	}
	return "#!/bin/sh\n# Written by genesis: runs one simulation job and records its exit code.\n" +
		strings.Join(q, " ") + "\nrc=$?\necho $rc > " + slurmRCFile + ".tmp && mv " + slurmRCFile + ".tmp " + slurmRCFile + "\nexit $rc\n"
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// slurmTime formats a duration for --time (minutes:seconds, rounded up to
// whole seconds).
func slurmTime(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	return fmt.Sprintf("%d:%02d", secs/60, secs%60)
}

// record remembers a job's ID in its directory and in an index by ID.
func (s *Slurm) record(id, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, slurmIDFile), []byte(id+"\n")); err != nil {
		return fmt.Errorf("slurm executor: recording job %s: %w", id, err)
	}
	if err := writeFileAtomic(filepath.Join(s.Root, ".ids", id), []byte(dir+"\n")); err != nil {
		return fmt.Errorf("slurm executor: recording job %s: %w", id, err)
	}
	s.remember(id, dir)
	return nil
}

func (s *Slurm) remember(id, dir string) {
	s.mu.Lock()
	s.byID[id] = dir
	s.mu.Unlock()
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// dir returns the job directory of a Slurm job ID.
func (s *Slurm) dir(id string) (string, error) {
	s.mu.Lock()
	d, ok := s.byID[id]
	s.mu.Unlock()
	if ok {
		return d, nil
	}
	b, err := os.ReadFile(filepath.Join(s.Root, ".ids", filepath.Base(id)))
	if err != nil {
		return "", fmt.Errorf("%w %q", ErrUnknownJob, id)
	}
	d = strings.TrimSpace(string(b))
	s.remember(id, d)
	return d, nil
}

// slurmComment marks a job with its directory, which is unique to this
// executor's Root and the job's name: another deployment (or an earlier
// test run) using the same job name on the same cluster is not mistaken
// for this job.
func slurmComment(dir string) string { return "genesis:" + dir }

// find returns the ID of the newest job with this name and directory that
// Slurm still knows, or "".
func (s *Slurm) find(ctx context.Context, name, dir string) (string, error) {
	out, err := s.run(ctx, "squeue", "-h", "--states=all", "--name="+name, "-o", "%i|%k")
	if err != nil {
		return "", fmt.Errorf("slurm executor: looking for job %s: %w", name, err)
	}
	best := ""
	for _, line := range strings.Split(out, "\n") {
		id, comment, ok := strings.Cut(strings.TrimSpace(line), "|")
		if ok && comment == slurmComment(dir) && (best == "" || atoi(id) > atoi(best)) {
			best = id
		}
	}
	return best, nil
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// Status implements Executor.
func (s *Slurm) Status(ctx context.Context, id string) (Job, error) {
	dir, err := s.dir(id)
	if err != nil {
		return Job{}, err
	}
	j := Job{ID: id, Name: filepath.Base(dir), Dir: dir}
	out, err := s.run(ctx, "scontrol", "show", "job", id, "-o")
	var se *slurmError
	switch {
	case err == nil:
		kv := parseKV(out)
		state, _, _ := strings.Cut(kv["JobState"], " ")
		j.State, j.Reason = mapSlurmState(state), kv["Reason"]
		if j.Reason == "None" {
			j.Reason = ""
		}
		code, sig, _ := strings.Cut(kv["ExitCode"], ":")
		j.ExitCode = atoi(code)
		if sig != "" && sig != "0" {
			j.Reason = strings.TrimSpace(j.Reason + " signal " + sig)
		}
		if j.State == Failed && j.Reason == "NonZeroExitCode" {
			j.Reason = lastLine(readTail(filepath.Join(dir, "stderr")))
		}
		if j.State == Timeout {
			j.Reason = "exceeded its time limit of " + kv["TimeLimit"]
		}
		return j, nil
	case errors.As(err, &se) && strings.Contains(se.msg, "Invalid job id"):
		// Slurm has forgotten the job (MinJobAge): the job script's exit
		// record is the outcome; without one the job is lost.
		if b, err := os.ReadFile(filepath.Join(dir, slurmRCFile)); err == nil {
			j.ExitCode = atoi(strings.TrimSpace(string(b)))
			j.State = Completed
			if j.ExitCode != 0 {
				j.State, j.Reason = Failed, lastLine(readTail(filepath.Join(dir, "stderr")))
			}
			return j, nil
		}
		j.State, j.Reason = Lost, "Slurm no longer knows the job and it left no exit record"
		return j, nil
	default:
		return Job{}, fmt.Errorf("slurm executor: status of job %s: %w", id, err)
	}
}

// mapSlurmState maps Slurm job states onto the executor's.
func mapSlurmState(st string) string {
	switch st {
	case "PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED", "STOPPED", "SIGNALING", "SPECIAL_EXIT", "RESIZING":
		return Pending
	case "RUNNING", "COMPLETING", "STAGE_OUT":
		return Running
	case "COMPLETED":
		return Completed
	case "TIMEOUT", "DEADLINE":
		return Timeout
	case "CANCELLED", "PREEMPTED", "REVOKED":
		return Cancelled
	case "NODE_FAIL", "BOOT_FAIL":
		return NodeFail
	case "FAILED", "OUT_OF_MEMORY":
		return Failed
	}
	return Lost
}

// parseKV parses `scontrol show job -o` output (Key=Value pairs separated
// by spaces; values that contain spaces run until the next Key=).
func parseKV(out string) map[string]string {
	kv := map[string]string{}
	fields := strings.Fields(strings.TrimSpace(out))
	last := ""
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if ok && k != "" && !strings.ContainsAny(k, "/:,") {
			kv[k], last = v, k
		} else if last != "" {
			kv[last] += " " + f
		}
	}
	return kv
}

func readTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// Cancel implements Executor.
func (s *Slurm) Cancel(ctx context.Context, id string) error {
	if _, err := s.dir(id); err != nil {
		return err
	}
	if _, err := s.run(ctx, "scancel", id); err != nil {
		return fmt.Errorf("slurm executor: cancelling job %s: %w", id, err)
	}
	return nil
}

// ReadFile implements Executor.
func (s *Slurm) ReadFile(_ context.Context, id, name string) ([]byte, error) {
	dir, err := s.dir(id)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(dir, filepath.Base(name)))
}
