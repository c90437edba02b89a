package embedded

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/memory"
)

// opener is the test binary run as a second process: it opens the store
// in dir and prints "open" or "refused: <error>"; once open it waits for a
// line on stdin, then upserts n records one by one (IDs prefix-i),
// printing "ack i" after each write returns, and closes the store.
func opener(dir, prefix string, n int) {
	s, err := Open(dir, 8, "lock")
	if err != nil {
		fmt.Printf("refused: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(0)
	}
	fmt.Println("open")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	rng := rand.New(rand.NewPCG(3, uint64(len(prefix))))
	for i := range n {
		r := memory.Record{ID: fmt.Sprintf("%s-%d", prefix, i), Text: "two writers", Kind: memory.KindObservation, Vector: randomVec(rng, 8)}
		if err := s.Upsert(context.Background(), []memory.Record{r}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Printf("ack %d\n", i)
	}
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	os.Exit(0)
}

// child is a running opener process.
type child struct {
	prefix string
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	first  string // "open" or "refused: …"
}

func startOpener(t *testing.T, dir, prefix string, n int) *child {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), "GENESIS_MEMORY_OPENER="+dir, "GENESIS_MEMORY_OPENER_PREFIX="+prefix, fmt.Sprintf("GENESIS_MEMORY_OPENER_N=%d", n))
	cmd.Stderr = os.Stderr
	c := &child{prefix: prefix, cmd: cmd}
	if c.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.out = bufio.NewScanner(out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return c
}

// opened reads the child's first line: whether it got the store.
func (c *child) opened(t *testing.T) bool {
	t.Helper()
	if !c.out.Scan() {
		t.Fatalf("the second process said nothing: %v", c.out.Err())
	}
	c.first = c.out.Text()
	return c.first == "open"
}

// finish lets an opened child write and returns how many writes it had
// acknowledged when it exited.
func (c *child) finish(t *testing.T) (acks int) {
	t.Helper()
	if _, err := io.WriteString(c.in, "go\n"); err != nil {
		t.Fatal(err)
	}
	for c.out.Scan() {
		if strings.HasPrefix(c.out.Text(), "ack ") {
			acks++
		}
	}
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("writer process: %v", err)
	}
	return acks
}

// wantInUse checks a refusal is the clear one: in use, by whom, and what to
// do instead.
func wantInUse(t *testing.T, msg string, pid int) {
	t.Helper()
	for _, want := range []string{"in use", fmt.Sprintf("process %d", pid), "one worker per GENESIS_HOME", "Qdrant", "GENESIS_QDRANT_URL", "memory queue"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal should say %q: %s", want, msg)
		}
	}
}

// A second process opening a store this one holds is refused, naming
// this process; once it is closed the second process gets it. A second
// Open in this process is refused too.
func TestSecondProcessRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 8, "lock")
	if err != nil {
		t.Fatal(err)
	}
	c := startOpener(t, dir, "second", 0)
	if c.opened(t) {
		t.Fatal("a second process opened a store this one holds")
	}
	wantInUse(t, c.first, os.Getpid())
	_, err = Open(dir, 8, "lock")
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "this process") {
		t.Errorf("a second Open in one process: want ErrInUse naming this process, got %v", err)
	}
	if ro, err := OpenReadOnly(dir); err != nil || ro == nil {
		t.Errorf("reading while another holds the store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c = startOpener(t, dir, "after", 3)
	if !c.opened(t) {
		t.Fatalf("once the first closed, the second process should open the store: %s", c.first)
	}
	if n := c.finish(t); n != 3 {
		t.Errorf("%d writes acknowledged, want 3", n)
	}
}

// Two processes start together on one store, new or existing, and each
// tries to write 300 records: one gets the store and all 300 are kept; the
// other is refused and writes nothing. Before the lock, on a new store one
// failed at open (the other's open removed its half-made log: "rename
// memory.log.tmp: no such file or directory"); on an existing one both
// opened and overwrote each other's log lines.
func TestTwoWriterProcesses(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprintf("existing=%v", existing), func(t *testing.T) {
			dir := t.TempDir()
			if existing {
				s, err := Open(dir, 8, "lock")
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
			}
			twoWriters(t, dir)
		})
	}
}

func twoWriters(t *testing.T, dir string) {
	const n = 300
	a, b := startOpener(t, dir, "a", n), startOpener(t, dir, "b", n)
	children := []*child{a, b}
	var open []*child
	for _, c := range children {
		if c.opened(t) {
			open = append(open, c)
		}
	}
	acked := map[string]int{}
	for _, c := range children {
		if c.first == "open" {
			acked[c.prefix] = c.finish(t)
			continue
		}
		other := a
		if c == a {
			other = b
		}
		wantInUse(t, c.first, other.cmd.Process.Pid)
	}
	s, err := Open(dir, 8, "lock")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kept, total := 0, 0
	for prefix, k := range acked {
		total += k
		for i := range k {
			if _, ok := s.index[fmt.Sprintf("%s-%d", prefix, i)]; ok {
				kept++
			}
		}
	}
	t.Logf("two writer processes: %d opened, %d refused; %d of %d acknowledged records kept, %d in the store", len(open), len(children)-len(open), kept, total, len(s.recs))
	if len(open) != 1 {
		t.Errorf("%d processes opened the store at once, want 1", len(open))
	}
	if kept != total || total != n*len(open) || len(s.recs) != total {
		t.Errorf("kept %d of %d acknowledged records (%d in the store), want all %d", kept, total, len(s.recs), n*len(open))
	}
}

// A log whose tail cannot be read — a foreign line, a damaged one, a torn
// last write — keeps every acknowledged batch before it, and the tail is
// moved, byte for byte, to a quarantine file with a warning, never cut
// off unseen. A log that is not ours from its first line goes the same way.
func TestBadTailQuarantined(t *testing.T) {
	var logged bytes.Buffer
	defer func(l *slog.Logger) { slog.SetDefault(l) }(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))

	dir := t.TempDir()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(8, 8))
	s, err := Open(dir, 8, "test")
	if err != nil {
		t.Fatal(err)
	}
	for b := range 5 {
		batch := make([]memory.Record, 10)
		for i := range batch {
			batch[i] = memory.Record{ID: fmt.Sprintf("%d-%d", b, i), Text: "acknowledged", Kind: memory.KindResult, Vector: randomVec(rng, 8)}
		}
		if err := s.Upsert(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	logPath := filepath.Join(dir, logName)
	good, _ := os.ReadFile(logPath)
	tail := `{"op":"truncate-everything"}` + "\n" + `not json at all` + "\n" +
		`{"op":"puts","rs":[{"id":"late","text":"after the bad line","kind":"result","vector":[1,0,0,0,0,0,0,0]}]}` + "\n" + `{"op":"puts","rs":[{"id":"torn`
	if err := os.WriteFile(logPath, append(append([]byte(nil), good...), tail...), 0o644); err != nil {
		t.Fatal(err)
	}

	s, err = Open(dir, 8, "test")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.recs); n != 50 {
		t.Errorf("%d records after reopening, want the 50 acknowledged", n)
	}
	q, err := Quarantined(dir)
	if err != nil || len(q) != 1 {
		t.Fatalf("quarantine files %v (%v), want one", q, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, q[0])); string(b) != tail {
		t.Errorf("quarantined %q, want the tail %q", b, tail)
	}
	if b, _ := os.ReadFile(logPath); !bytes.Equal(b, good) {
		t.Errorf("the log is %d bytes, want the %d readable ones", len(b), len(good))
	}
	if msg := logged.String(); !strings.Contains(msg, "WARN") || !strings.Contains(msg, q[0]) || !strings.Contains(msg, "acknowledged batches may be among them") {
		t.Errorf("want a warning naming the quarantine file, got %q", msg)
	}
	if err := s.Upsert(ctx, []memory.Record{{ID: "new", Text: "after reopening", Kind: memory.KindResult, Vector: randomVec(rng, 8)}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir, 8, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.index["new"]; !ok || len(s.recs) != 51 {
		t.Errorf("%d records after a write and a reopen, want 51", len(s.recs))
	}
	if q2, _ := Quarantined(dir); len(q2) != 1 {
		t.Errorf("a clean reopen quarantined again: %v", q2)
	}
	// A log that is not a store's log from its first line.
	s.wmu.Lock()
	if err := s.compact(); err != nil {
		t.Fatal(err)
	}
	s.wmu.Unlock()
	s.Close()
	if err := os.WriteFile(logPath, []byte("some other program's file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, 8, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.recs) != 51 {
		t.Errorf("%d records from the snapshot, want 51", len(s.recs))
	}
	if q3, _ := Quarantined(dir); len(q3) != 2 {
		t.Errorf("a foreign log was not quarantined: %v", q3)
	}
}
