package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/memory"
)

// The test binary doubles as a writer process that a test kills with -9.
func TestMain(m *testing.M) {
	if dir := os.Getenv("GENESIS_MEMORY_WRITER"); dir != "" {
		s, err := Open(dir, 32, "crash")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		rng := rand.New(rand.NewPCG(7, 8))
		for b := 0; ; b++ {
			batch := make([]memory.Record, 50)
			for i := range batch {
				batch[i] = memory.Record{ID: fmt.Sprintf("b%d-%d", b, i), Text: "crash test record", Kind: memory.KindObservation, Vector: randomVec(rng, 32)}
			}
			if err := s.Upsert(context.Background(), batch); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			if b%7 == 3 {
				_ = s.Delete(context.Background(), []string{fmt.Sprintf("b%d-0", b-1)})
			}
		}
	}
	os.Exit(m.Run())
}

// kill -9 a process in the middle of writing, many times: the store always
// reopens, holds only whole batches, and takes new writes.
func TestKillMidWrite(t *testing.T) {
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), "GENESIS_MEMORY_WRITER="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+40*round) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		s, err := Open(dir, 32, "crash")
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		recs := map[string]int{}
		for _, r := range s.recs {
			var b, i int
			fmt.Sscanf(r.ID, "b%d-%d", &b, &i)
			recs[fmt.Sprint(b)]++
		}
		for b, n := range recs {
			if n != 50 && n != 49 { // a whole batch, or a whole batch minus the one deleted record
				t.Errorf("round %d: batch %s has %d records: half a batch survived", round, b, n)
			}
		}
		if len(s.recs) == 0 {
			t.Errorf("round %d: nothing was written before the kill", round)
		}
		s.Close()
	}
}
