package hpc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// backend is one executor under the contract tests.
type backend struct {
	name string
	// open returns an executor with job directories under root; a second
	// call with the same root is a restarted worker.
	open func(t *testing.T, root string) Executor
	// limit is the shortest time limit the backend enforces promptly.
	limit time.Duration
	poll  time.Duration
}

func localBackend() backend {
	return backend{name: "local", limit: 50 * time.Millisecond, poll: 10 * time.Millisecond,
		open: func(t *testing.T, root string) Executor {
			l, err := NewLocal(root, 2)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}}
}

// slurmBackend is the real Slurm cluster deploy/slurm/install.sh starts.
// Without one the tests skip, unless GENESIS_SLURM_TEST=1 (make test) says
// a cluster must be there.
func slurmBackend(t *testing.T) backend {
	t.Helper()
	if _, err := exec.LookPath("sbatch"); err != nil {
		if os.Getenv("GENESIS_SLURM_TEST") == "1" {
			t.Fatal("GENESIS_SLURM_TEST=1 but there is no sbatch; run deploy/slurm/install.sh")
		}
		t.Skip("no Slurm here (deploy/slurm/install.sh starts one; make test does)")
	}
	return backend{name: "slurm", limit: time.Second, poll: 100 * time.Millisecond,
		open: func(t *testing.T, root string) Executor {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := NewSlurm(ctx, root)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}}
}

func sbatchPresent() bool { _, err := exec.LookPath("sbatch"); return err == nil }

func waitJob(t *testing.T, b backend, ex Executor, id string, timeout time.Duration) Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	j, err := Wait(ctx, ex, id, b.poll, nil)
	if err != nil {
		t.Fatalf("waiting for job %s: %v (last state %s)", id, err, j.State)
	}
	return j
}

func TestLocalContract(t *testing.T) { contract(t, localBackend()) }

func TestSlurmContract(t *testing.T) { contract(t, slurmBackend(t)) }

func contract(t *testing.T, b backend) {
	ctx := context.Background()
	sh := func(script string) []string { return []string{"sh", "-c", script} }

	t.Run("completes and its result is read", func(t *testing.T) {
		t.Parallel()
		ex := b.open(t, t.TempDir())
		j, err := ex.Submit(ctx, JobSpec{Name: "ok", Command: sh(`read x < in.txt; echo "{\"y\": $((x*2))}" > result.json; echo done`),
			Files: map[string][]byte{"in.txt": []byte("21\n")}, CPUs: 1, MemoryMB: 64, TimeLimit: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		got := waitJob(t, b, ex, j.ID, time.Minute)
		if got.State != Completed || got.ExitCode != 0 {
			t.Fatalf("state %s/%d (%s), want COMPLETED/0", got.State, got.ExitCode, got.Reason)
		}
		if res, err := ex.ReadFile(ctx, j.ID, "result.json"); err != nil || strings.TrimSpace(string(res)) != `{"y": 42}` {
			t.Errorf("result %q %v", res, err)
		}
		if out, _ := ex.ReadFile(ctx, j.ID, "stdout"); strings.TrimSpace(string(out)) != "done" {
			t.Errorf("stdout %q", out)
		}
	})

	t.Run("a failing job is FAILED with its exit code and last stderr line", func(t *testing.T) {
		t.Parallel()
		ex := b.open(t, t.TempDir())
		j, err := ex.Submit(ctx, JobSpec{Name: "fail", Command: sh(`echo working; echo "simulation diverged" >&2; exit 3`)})
		if err != nil {
			t.Fatal(err)
		}
		got := waitJob(t, b, ex, j.ID, time.Minute)
		if got.State != Failed || got.ExitCode != 3 || got.Reason != "simulation diverged" {
			t.Errorf("got %s/%d %q, want FAILED/3 \"simulation diverged\"", got.State, got.ExitCode, got.Reason)
		}
	})

	t.Run("a job over its time limit is TIMEOUT", func(t *testing.T) {
		t.Parallel()
		ex := b.open(t, t.TempDir())
		j, err := ex.Submit(ctx, JobSpec{Name: "slow", Command: sh(`sleep 600`), TimeLimit: b.limit})
		if err != nil {
			t.Fatal(err)
		}
		// Slurm enforces limits in whole minutes, checked every 30 s.
		got := waitJob(t, b, ex, j.ID, 3*time.Minute)
		if got.State != Timeout {
			t.Errorf("got %s (%s), want TIMEOUT", got.State, got.Reason)
		}
	})

	t.Run("cancel reaches the job", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		ex := b.open(t, root)
		j, err := ex.Submit(ctx, JobSpec{Name: "long", Command: sh(`touch started; sleep 600`)})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			if _, err := ex.ReadFile(ctx, j.ID, "started"); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the job never started")
			}
			time.Sleep(b.poll)
		}
		if err := ex.Cancel(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		if got := waitJob(t, b, ex, j.ID, time.Minute); got.State != Cancelled {
			t.Errorf("got %s, want CANCELLED", got.State)
		}
	})

	t.Run("a submit retried after a worker crash does not create a second job", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		spec := JobSpec{Name: "campaign-1/it3/sim0", Command: sh(`echo x >> runs.txt; sleep 1`)}
		ex1 := b.open(t, root)
		j1, err := ex1.Submit(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		// The worker dies once the job runs; a new one retries the submit
		// while the job runs, and again after it finished.
		deadline := time.Now().Add(time.Minute)
		for {
			if _, err := ex1.ReadFile(ctx, j1.ID, "runs.txt"); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the job never started")
			}
			time.Sleep(b.poll)
		}
		ex2 := b.open(t, root)
		j2, err := ex2.Submit(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		got := waitJob(t, b, ex2, j2.ID, time.Minute)
		j3, err := b.open(t, root).Submit(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		if j2.ID != j1.ID || j3.ID != j1.ID || got.State != Completed || j3.State != Completed {
			t.Fatalf("resubmits gave %s and %s (%s), want job %s completed", j2.ID, j3.ID, j3.State, j1.ID)
		}
		waitJob(t, b, ex1, j1.ID, time.Minute)
		b2, _ := os.ReadFile(filepath.Join(j1.Dir, "runs.txt"))
		if string(b2) != "x\n" {
			t.Errorf("the job ran %q, want exactly once", b2)
		}
	})

	t.Run("20 jobs submitted at once all complete", func(t *testing.T) {
		t.Parallel()
		ex := b.open(t, t.TempDir())
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j, err := ex.Submit(ctx, JobSpec{Name: fmt.Sprintf("many-%d", i), Command: sh(fmt.Sprintf("echo %d > out.txt", i)), CPUs: 1, MemoryMB: 32})
				if err != nil {
					t.Error(err)
					return
				}
				if got := waitJob(t, b, ex, j.ID, 2*time.Minute); got.State != Completed {
					t.Errorf("job %d: %s (%s)", i, got.State, got.Reason)
					return
				}
				if out, _ := ex.ReadFile(ctx, j.ID, "out.txt"); strings.TrimSpace(string(out)) != fmt.Sprint(i) {
					t.Errorf("job %d wrote %q", i, out)
				}
			}()
		}
		wg.Wait()
	})
}

// Slurm only: a worker that crashed between sbatch and recording the job
// ID still finds the job by name, and a job Slurm has forgotten is judged
// by its exit record.
func TestSlurmCrashBeforeRecord(t *testing.T) {
	b := slurmBackend(t)
	ctx := context.Background()
	root := t.TempDir()
	ex := b.open(t, root).(*Slurm)
	spec := JobSpec{Name: "crash-window", Command: []string{"sh", "-c", "echo x >> runs.txt"}}
	j, err := ex.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(j.Dir, slurmIDFile))
	os.Remove(filepath.Join(root, ".ids", j.ID))
	again, err := b.open(t, root).Submit(ctx, spec)
	if err != nil || again.ID != j.ID {
		t.Fatalf("resubmit after losing the record: %+v %v, want job %s", again, err, j.ID)
	}
	got := waitJob(t, b, ex, j.ID, time.Minute)
	if got.State != Completed {
		t.Fatalf("state %s", got.State)
	}
	if runs, _ := os.ReadFile(filepath.Join(j.Dir, "runs.txt")); string(runs) != "x\n" {
		t.Errorf("ran %q", runs)
	}
	// Slurm forgets finished jobs after MinJobAge; the exit record then decides.
	kv := parseKV("JobId=12 JobName=x JobState=COMPLETED Reason=None Dependency=(null) ExitCode=0:0 Command=/a b/c.sh WorkDir=/tmp")
	if kv["JobState"] != "COMPLETED" || kv["Command"] != "/a b/c.sh" || kv["ExitCode"] != "0:0" {
		t.Errorf("parseKV: %v", kv)
	}
}

// A job Slurm does not know and that left no exit record is LOST; one that
// left an exit record is judged by it.
func TestSlurmForgottenJobs(t *testing.T) {
	b := slurmBackend(t)
	root := t.TempDir()
	ex := b.open(t, root).(*Slurm)
	ctx := context.Background()
	for _, c := range []struct {
		id, rc, state string
		code          int
	}{{"99999901", "", Lost, 0}, {"99999902", "0\n", Completed, 0}, {"99999903", "4\n", Failed, 4}} {
		dir := filepath.Join(root, "forgotten-"+c.id)
		if err := ex.record(c.id, dir); err != nil {
			t.Fatal(err)
		}
		if c.rc != "" {
			os.WriteFile(filepath.Join(dir, slurmRCFile), []byte(c.rc), 0o644)
		}
		j, err := ex.Status(ctx, c.id)
		if err != nil || j.State != c.state || j.ExitCode != c.code {
			t.Errorf("job %s (rc %q): %+v %v, want %s/%d", c.id, c.rc, j, err, c.state, c.code)
		}
	}
	if _, err := ex.Status(ctx, "12345678"); err == nil {
		t.Error("a job this executor never submitted has a status")
	}
}

func TestSlurmStateMapping(t *testing.T) {
	for in, want := range map[string]string{"PENDING": Pending, "CONFIGURING": Pending, "RUNNING": Running, "COMPLETING": Running,
		"COMPLETED": Completed, "FAILED": Failed, "OUT_OF_MEMORY": Failed, "TIMEOUT": Timeout, "DEADLINE": Timeout,
		"CANCELLED": Cancelled, "PREEMPTED": Cancelled, "NODE_FAIL": NodeFail, "BOOT_FAIL": NodeFail, "SOMETHING_NEW": Lost} {
		if got := mapSlurmState(in); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
	if slurmTime(90*time.Second) != "1:30" || slurmTime(1500*time.Millisecond) != "0:02" {
		t.Errorf("slurmTime: %s %s", slurmTime(90*time.Second), slurmTime(1500*time.Millisecond))
	}
	if q := shellQuote("it's"); q != `'it'\''s'` {
		t.Errorf("shellQuote: %s", q)
	}
}
