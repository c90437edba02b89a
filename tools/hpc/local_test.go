package hpc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func wait(t *testing.T, ex Executor, id string) Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j, err := Wait(ctx, ex, id, 10*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestLocalOutcomes(t *testing.T) {
	l, err := NewLocal(t.TempDir(), 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		name, script string
		limit        time.Duration
		state        string
		code         int
	}{
		{"ok", `cat in.txt > result.txt`, 0, Completed, 0},
		{"fail", `echo broken >&2; exit 3`, 0, Failed, 3},
		{"slow", `sleep 5`, 50 * time.Millisecond, Timeout, -1},
	}
	for _, c := range cases {
		j, err := l.Submit(ctx, JobSpec{Name: c.name, Command: []string{"sh", "-c", c.script}, Files: map[string][]byte{"in.txt": []byte("42")}, TimeLimit: c.limit})
		if err != nil {
			t.Fatal(err)
		}
		got := wait(t, l, j.ID)
		if got.State != c.state || got.ExitCode != c.code {
			t.Errorf("%s: got %s/%d (%s), want %s/%d", c.name, got.State, got.ExitCode, got.Reason, c.state, c.code)
		}
	}
	if b, err := l.ReadFile(ctx, "ok", "result.txt"); err != nil || string(b) != "42" {
		t.Errorf("result: %q, %v", b, err)
	}
	if j, _ := l.Status(ctx, "fail"); j.Reason != "broken" {
		t.Errorf("reason %q, want the job's last stderr line", j.Reason)
	}
}

func TestLocalCancel(t *testing.T) {
	l, _ := NewLocal(t.TempDir(), 1)
	ctx := context.Background()
	j, _ := l.Submit(ctx, JobSpec{Name: "long", Command: []string{"sleep", "30"}})
	if err := l.Cancel(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if got := wait(t, l, j.ID); got.State != Cancelled {
		t.Errorf("state %s, want CANCELLED", got.State)
	}
}

// A submit retried by a new process (a restarted worker) finds the finished
// job in its directory and does not run it again.
func TestLocalIdempotentAcrossRestart(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	spec := JobSpec{Name: "wf-1/act-7", Command: []string{"sh", "-c", "echo x >> runs.txt"}}
	l1, _ := NewLocal(root, 1)
	j1, _ := l1.Submit(ctx, spec)
	wait(t, l1, j1.ID)
	again, _ := l1.Submit(ctx, spec)
	l2, _ := NewLocal(root, 1)
	j2, _ := l2.Submit(ctx, spec)
	if j2.ID != j1.ID || again.ID != j1.ID || j2.State != Completed {
		t.Fatalf("resubmit gave %+v, want the completed job %s", j2, j1.ID)
	}
	b, _ := os.ReadFile(filepath.Join(root, j1.ID, "runs.txt"))
	if string(b) != "x\n" {
		t.Errorf("job ran %q, want exactly once", b)
	}
}

func TestLocalManyJobs(t *testing.T) {
	l, _ := NewLocal(t.TempDir(), 2)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := l.Submit(ctx, JobSpec{Name: fmt.Sprintf("j%d", i), Command: []string{"true"}})
			if err != nil {
				t.Error(err)
				return
			}
			if got := wait(t, l, j.ID); got.State != Completed {
				t.Errorf("job %d: %s", i, got.State)
			}
		}()
	}
	wg.Wait()
}
