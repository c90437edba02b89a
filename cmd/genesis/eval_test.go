package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/evals"
	"github.com/genesis-sci/genesis/evals/metrics"
)

// lockedBuffer is a bytes.Buffer safe to read while a command writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// An eval that stopped before anything finished writes no report and
// still says how to resume; one that stopped after some runs writes the
// report of those, marked incomplete, and prints the resume command.
func TestFinishEvalAfterAnInterrupt(t *testing.T) {
	cat, err := (&globals{}).catalog()
	if err != nil {
		t.Fatal(err)
	}
	spec := evals.Spec{Challenges: []string{"crossed-barrel-toughness"}, Strategies: []string{"random"}, Seeds: 2, Budget: 4}
	dir := t.TempDir()
	const resume = "genesis eval --seeds 2 --out somewhere"
	var out bytes.Buffer
	err = finishEval(&out, cat, spec, dir, nil, 0, 2, time.Second, &evals.Interrupted{Total: 2}, resume)
	if err == nil || !strings.Contains(err.Error(), "nothing finished") || !strings.Contains(err.Error(), resume) {
		t.Errorf("nothing finished: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err == nil {
		t.Error("a report of no runs was written")
	}
	one := evals.Run{ID: "r1", Challenge: spec.Challenges[0], Strategy: "random", Seed: 1, Budget: 4, ScoredOn: evals.ScoredOnTruth,
		Trace: []metrics.Point{{N: 1, Value: 30, Values: []float64{30}, Score: 30, TrueValue: 29, TrueValues: []float64{29}, TrueScore: 29,
			BestTrue: 29, BestTrueScore: 29, BestMeasured: 30, BestMeasuredScore: 30}}}
	out.Reset()
	err = finishEval(&out, cat, spec, dir, []evals.Run{one}, 0, 2, time.Second, &evals.Interrupted{Finished: 1, Total: 2}, resume)
	if err == nil || !strings.Contains(err.Error(), resume) {
		t.Errorf("error %v does not say how to resume", err)
	}
	if !strings.Contains(out.String(), "Resume with:\n  "+resume) || !strings.Contains(out.String(), "best 29.0000 (measured 30.0000)") {
		t.Errorf("stdout:\n%s", out.String())
	}
	rep, err := evals.LoadReport(filepath.Join(dir, "report.json"))
	if err != nil || rep.Incomplete == nil || rep.Incomplete.Finished != 1 || rep.Incomplete.Planned != 2 || rep.Incomplete.Resume != resume {
		t.Errorf("report.json: %v %+v", err, rep)
	}
}

// genesis eval interrupted by Ctrl-C, as a user does it: the first SIGINT
// starts no more runs and lets the running one finish; the reports cover
// what finished and the command printed resumes the rest.
func TestEvalCommandInterruptAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Temporal dev server")
	}
	home := filepath.Join(t.TempDir(), "home")
	out := filepath.Join(t.TempDir(), "eval")
	port := freePort(t)
	args := []string{"eval", "--challenges", "crossed-barrel-toughness", "--strategies", "random,bo", "--seeds", "15", "--budget", "20",
		"--home", home, "--temporal-port", strconv.Itoa(port), "--ui-port", "0", "--parallel", "1", "--out", out}
	var stdout, stderr lockedBuffer
	code := make(chan int, 1)
	go func() { code <- execute(args, &stdout, &stderr) }()
	// The handler is installed before the stack starts, so once a run
	// file exists a SIGINT reaches it rather than killing the test.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		files, _ := filepath.Glob(filepath.Join(out, "runs", "*.json"))
		if len(files) >= 2 {
			break
		}
		select {
		case c := <-code:
			t.Fatalf("eval ended (exit %d) before it could be interrupted\nstdout %s\nstderr %s", c, stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no run finished in 3 minutes\nstderr %s", stderr.String())
		}
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var c int
	select {
	case c = <-code:
	case <-time.After(2 * time.Minute):
		t.Fatal("the eval did not stop within 2 minutes of Ctrl-C")
	}
	if c == 0 || !strings.Contains(stderr.String(), "starting no more runs") {
		t.Fatalf("exit %d after Ctrl-C\nstderr %s", c, stderr.String())
	}
	files, _ := filepath.Glob(filepath.Join(out, "runs", "*.json"))
	rep, err := evals.LoadReport(filepath.Join(out, "report.json"))
	if err != nil || rep.Incomplete == nil || rep.Incomplete.Finished != len(files) || len(rep.Runs) != len(files) || len(files) >= 30 {
		t.Fatalf("report after Ctrl-C: %v, %+v; %d run files", err, rep.Incomplete, len(files))
	}
	t.Logf("%d of 30 runs finished before Ctrl-C took effect", len(files))
	i := strings.Index(stdout.String(), "Resume with:\n  ")
	if i < 0 {
		t.Fatalf("no resume command in\n%s", stdout.String())
	}
	line := strings.SplitN(stdout.String()[i+len("Resume with:\n  "):], "\n", 2)[0]
	if line != rep.Incomplete.Resume || strings.ContainsAny(line, `'"`) {
		t.Fatalf("resume command %q (report: %q)", line, rep.Incomplete.Resume)
	}
	resumeArgs := strings.Fields(line)
	if resumeArgs[0] != "genesis" {
		t.Fatalf("resume command %q", line)
	}
	var out2, err2 bytes.Buffer
	if c := execute(resumeArgs[1:], &out2, &err2); c != 0 {
		t.Fatalf("resume: exit %d\nstdout %s\nstderr %s", c, out2.String(), err2.String())
	}
	if want := fmt.Sprintf("eval: 30 runs (%d resumed", len(files)); !strings.Contains(out2.String(), want) {
		t.Errorf("resume stdout %q does not say %q", out2.String(), want)
	}
	var full struct {
		Incomplete *evals.Incomplete `json:"incomplete"`
		Runs       []json.RawMessage `json:"runs"`
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err == nil {
		err = json.Unmarshal(b, &full)
	}
	if err != nil || full.Incomplete != nil || len(full.Runs) != 30 {
		t.Errorf("report after resuming: %v, incomplete %+v, %d runs", err, full.Incomplete, len(full.Runs))
	}
}

// genesis eval --sequence runs a family in order: for each seed the
// second member starts from the first's measurements (through the shared
// memory, on the real dev server), each member also runs cold, and the
// report compares the two.
func TestEvalSequence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Temporal dev server")
	}
	home := filepath.Join(t.TempDir(), "home")
	out := filepath.Join(t.TempDir(), "eval")
	port := freePort(t)
	args := []string{"eval", "--sequence", "reizman-suzuki", "--strategies", "bo", "--seeds", "2", "--budget", "6", "--embedder", "hashing",
		"--home", home, "--temporal-port", strconv.Itoa(port), "--ui-port", "0", "--out", out}
	var stdout, stderr bytes.Buffer
	if c := execute(args, &stdout, &stderr); c != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", c, stdout.String(), stderr.String())
	}
	rep, err := evals.LoadReport(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 8 { // 2 members × (cold + transfer) × 2 seeds
		t.Fatalf("%d runs, want 8", len(rep.Runs))
	}
	for _, r := range rep.Runs {
		want := 0
		if r.Transfer && r.Challenge == "suzuki-ligand-screen-2" {
			want = 6 // the first member's six measurements of the same seed
		}
		if r.TransferPoints != want {
			t.Errorf("%s (transfer %v): started from %d sibling points, want %d", r.ID, r.Transfer, r.TransferPoints, want)
		}
	}
	if len(rep.Transfer) != 2 || rep.Transfer[1].Challenge != "suzuki-ligand-screen-2" || float64(rep.Transfer[1].Points) != 6 || len(rep.Transfer[1].At) == 0 {
		t.Errorf("transfer table %+v", rep.Transfer)
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	if !strings.Contains(string(md), "## Transfer along family reizman-suzuki") || !strings.Contains(string(md), "bo+transfer") {
		t.Errorf("report.md lacks the transfer table or the bo+transfer rows")
	}
	// --sequence with --challenges, or an unknown family: refused.
	for _, bad := range [][]string{{"--sequence", "nope"}, {"--sequence", "reizman-suzuki", "--challenges", "hoip-band-gap"}} {
		var o, e bytes.Buffer
		if c := execute(append([]string{"eval", "--home", home}, bad...), &o, &e); c == 0 || !strings.Contains(e.String(), "--sequence") {
			t.Errorf("%v: exit %d, stderr %q", bad, c, e.String())
		}
	}
}
