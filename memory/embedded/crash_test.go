package embedded

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/memory"
)

// The test binary doubles as a writer process that a test kills with -9.
// It writes batches of 50 records, deletes one record of the previous
// batch now and then, and compacts every few batches; after each write
// returns it prints "put B" or "del B", so the test knows what was
// acknowledged.
func TestMain(m *testing.M) {
	if dir := os.Getenv("GENESIS_MEMORY_WRITER"); dir != "" {
		from, _ := strconv.Atoi(os.Getenv("GENESIS_MEMORY_WRITER_FROM"))
		writer(dir, from)
	}
	if dir := os.Getenv("GENESIS_MEMORY_OPENER"); dir != "" {
		n, _ := strconv.Atoi(os.Getenv("GENESIS_MEMORY_OPENER_N"))
		opener(dir, os.Getenv("GENESIS_MEMORY_OPENER_PREFIX"), n)
	}
	os.Exit(m.Run())
}

// writer numbers its batches from from.
func writer(dir string, from int) {
	fail := func(code int, err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(code)
	}
	s, err := Open(dir, 32, "crash")
	if err != nil {
		fail(2, err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, uint64(from)))
	for b := from; ; b++ {
		batch := make([]memory.Record, 50)
		for i := range batch {
			batch[i] = memory.Record{ID: fmt.Sprintf("b%d-%d", b, i), Text: "crash test record", Kind: memory.KindObservation, Vector: randomVec(rng, 32)}
		}
		if err := s.Upsert(ctx, batch); err != nil {
			fail(3, err)
		}
		fmt.Printf("put %d\n", b)
		if b%7 == 3 {
			if err := s.Delete(ctx, []string{fmt.Sprintf("b%d-0", b-1)}); err != nil {
				fail(3, err)
			}
			fmt.Printf("del %d\n", b-1)
		}
		if b%3 == 0 {
			s.wmu.Lock()
			err := s.compact()
			s.wmu.Unlock()
			if err != nil {
				fail(4, err)
			}
		}
	}
}

// kill -9 a process in the middle of writing and compacting, many times:
// the store always reopens, holds only whole batches, has every batch the
// writer acknowledged, and takes new writes.
func TestKillMidWrite(t *testing.T) {
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	puts, dels := map[int]bool{}, map[int]bool{}
	for round := range 12 {
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), "GENESIS_MEMORY_WRITER="+dir, fmt.Sprintf("GENESIS_MEMORY_WRITER_FROM=%d", round*1_000_000))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acks := make(chan []string)
		first := make(chan struct{}) // the child acknowledged its first write
		go func() {
			var lines []string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if len(lines) == 0 {
					close(first)
				}
				lines = append(lines, sc.Text())
			}
			if len(lines) == 0 {
				close(first)
			}
			acks <- lines
		}()
		// Kill at a different moment of the writing each round, counted
		// from the first acknowledged write (not from the start, which a
		// loaded machine can delay past any fixed wait).
		select {
		case <-first:
		case <-time.After(time.Minute):
			t.Fatalf("round %d: the writer acknowledged nothing in a minute", round)
		}
		time.Sleep(time.Duration(20+37*round) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for _, l := range <-acks {
			var b int
			if _, err := fmt.Sscanf(l, "put %d", &b); err == nil {
				puts[b] = true
			} else if _, err := fmt.Sscanf(l, "del %d", &b); err == nil {
				dels[b] = true
			}
		}
		_ = cmd.Wait()

		s, err := Open(dir, 32, "crash")
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		counts := map[int]int{}
		for _, r := range s.recs {
			var b, i int
			fmt.Sscanf(r.ID, "b%d-%d", &b, &i)
			counts[b]++
		}
		for b, n := range counts {
			if n != 50 && n != 49 { // a whole batch, or a whole batch minus the one deleted record
				t.Errorf("round %d: batch %d has %d records: half a batch survived", round, b, n)
			}
		}
		for b := range puts {
			if n := counts[b]; n == 0 || dels[b] && n != 49 {
				t.Errorf("round %d: acknowledged batch %d has %d records (deleted one: %v)", round, b, n, dels[b])
			}
		}
		if len(puts) == 0 {
			t.Fatalf("round %d: nothing was written before the kill", round)
		}
		if err := s.Upsert(context.Background(), []memory.Record{{ID: fmt.Sprintf("after-%d", round), Text: "x", Kind: memory.KindChat, Vector: randomVec(rand.New(rand.NewPCG(1, 1)), 32)}}); err != nil {
			t.Fatalf("round %d: write after reopen: %v", round, err)
		}
		if err := s.Delete(context.Background(), []string{fmt.Sprintf("after-%d", round)}); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	t.Logf("%d batches acknowledged; files: %s", len(puts), strings.Join(names, " "))
	if _, err := os.Stat(filepath.Join(dir, snapName)); err != nil {
		t.Errorf("no snapshot was ever written: %v", err)
	}
}
