package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/genesis-sci/genesis/memory"
)

// sameState fails unless a and b hold the same records, in the same
// slots, with bit-identical vectors.
func sameState(t *testing.T, a, b *Store) {
	t.Helper()
	ja, _ := json.Marshal(a.Records())
	jb, _ := json.Marshal(b.Records())
	if string(ja) != string(jb) {
		t.Fatalf("records differ:\n%s\n%s", ja, jb)
	}
	if !slices.Equal(a.vecs, b.vecs) || !slices.Equal(a.codes, b.codes) {
		t.Fatal("vectors differ")
	}
}

// Writes compact once the log outgrows half the snapshot, Close compacts
// what is left, and a reopened store is the same store: same records,
// slots, vectors, search results.
func TestCompaction(t *testing.T) {
	defer setCompaction(0, 0)()
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(dir, 16, "test")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for b := range 40 {
		var batch []memory.Record
		for i := range 25 {
			id := fmt.Sprintf("r%d", rng.IntN(600)) // overwrites as well as new records
			batch = append(batch, memory.Record{ID: id, Text: fmt.Sprintf("text %d/%d", b, i), Kind: memory.Kinds[i%len(memory.Kinds)], Agent: "a", Source: "run", Vector: randomVec(rng, 16)})
		}
		if err := s.Upsert(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, []string{fmt.Sprintf("r%d", rng.IntN(600))}); err != nil {
			t.Fatal(err)
		}
	}
	if s.seq < 2 {
		t.Errorf("writes compacted %d times, want several", s.seq)
	}
	if entries := s.logSize - s.hdrSize; entries >= s.snapSize/2 {
		t.Errorf("log entries %d bytes, snapshot %d: writes did not compact", entries, s.snapSize)
	}
	q := randomVec(rng, 16)
	before, _ := s.Search(ctx, q, memory.Filter{}, 20)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, logName)); err != nil {
		t.Fatal(err)
	} else if fi.Size() != s.hdrSize {
		t.Errorf("Close left a log of %d bytes, want just the %d-byte header", fi.Size(), s.hdrSize)
	}

	r, err := Open(dir, 16, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sameState(t, s, r)
	after, _ := r.Search(ctx, q, memory.Filter{}, 20)
	if !slices.EqualFunc(before, after, func(a, b memory.Hit) bool { return a.ID == b.ID && a.Score == b.Score }) {
		t.Errorf("search before and after reopening differ:\n%v\n%v", before, after)
	}
	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, s, ro)
}

// A store written before snapshots — a log alone, in the older one-record
// entry forms too, with a torn tail — opens, and converts on compaction.
func TestOpensLogOnlyStore(t *testing.T) {
	dir := t.TempDir()
	log := strings.Join([]string{
		`{"op":"hdr","dim":4,"embedder":"legacy"}`,
		`{"op":"put","r":{"id":"a","text":"alpha","vector":[1,0,0,0],"kind":"finding","created":"2025-01-02T03:04:05Z"}}`,
		`{"op":"puts","rs":[{"id":"b","text":"beta","vector":[0,2,0,0],"kind":"result","campaign":"c","created":"2025-01-02T03:04:05Z"},{"id":"c","text":"gamma","vector":[0,0,3,0],"kind":"chat","created":"2025-01-02T03:04:05Z"},{"id":"d","text":"delta","vector":[0,0,0,4],"kind":"chat","created":"2025-01-02T03:04:05Z"}]}`,
		`{"op":"del","id":"c"}`,
		`{"op":"dels","ids":["d","never"]}`,
		`{"op":"puts","rs":[{"id":"torn"`,
	}, "\n")
	if err := os.WriteFile(filepath.Join(dir, logName), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	if dim, emb, err := Inspect(dir); dim != 4 || emb != "legacy" || err != nil {
		t.Fatalf("Inspect: %d %q %v", dim, emb, err)
	}
	check := func(s *Store) {
		t.Helper()
		var ids []string
		for _, r := range s.Records() {
			ids = append(ids, r.ID)
		}
		if strings.Join(ids, " ") != "a b" {
			t.Fatalf("records %v, want a b", ids)
		}
		hits, _ := s.Search(context.Background(), []float32{0, 1, 0, 0}, memory.Filter{}, 1)
		if len(hits) != 1 || hits[0].ID != "b" || hits[0].Campaign != "c" || hits[0].Score < 0.999 {
			t.Fatalf("search: %+v", hits)
		}
		// Records from before memory scopes have none: a scoped recall
		// never sees them.
		if hits, _ := s.Search(context.Background(), []float32{0, 1, 0, 0}, memory.Filter{Scope: "b"}, 2); len(hits) != 0 {
			t.Fatalf("a scoped search found unscoped legacy records: %+v", hits)
		}
	}
	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	check(ro)
	s, err := Open(dir, 4, "legacy")
	if err != nil {
		t.Fatal(err)
	}
	check(s)
	defer setCompaction(1<<62, 0)()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, snapName)); err != nil {
		t.Fatalf("Close did not compact: %v", err)
	}
	s, err = Open(dir, 4, "legacy")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s)
}

// Every state a compaction can be cut short in opens whole: files left
// aside are ignored, a log the new snapshot already holds is skipped (and
// replaced before anything is appended), and what cannot be repaired —
// a log continuing a snapshot that is gone, a damaged snapshot — is
// refused with the reason.
func TestCompactionCutShort(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(4, 4))
	write := func(s *Store, from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := s.Upsert(ctx, []memory.Record{{ID: fmt.Sprint(i), Text: "x", Kind: memory.KindResult, Vector: randomVec(rng, 8)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func(dir string) int {
		t.Helper()
		s, err := Open(dir, 8, "test")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return len(s.recs)
	}
	defer setCompaction(1<<62, 1<<62)()
	dir := t.TempDir()
	s, err := Open(dir, 8, "test")
	if err != nil {
		t.Fatal(err)
	}
	write(s, 0, 10)
	s.Close()
	oldLog, _ := os.ReadFile(filepath.Join(dir, logName))
	s, _ = Open(dir, 8, "test")
	s.wmu.Lock()
	if err := s.compact(); err != nil {
		t.Fatal(err)
	}
	s.wmu.Unlock()
	s.Close()

	t.Run("files left aside", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, snapName+".tmp"), []byte("GMEMSNP1 half"), 0o644)
		os.WriteFile(filepath.Join(dir, logName+".tmp"), []byte(`{"op":"hdr","di`), 0o644)
		if n := count(dir); n != 10 {
			t.Errorf("%d records, want 10", n)
		}
		for _, name := range []string{snapName + ".tmp", logName + ".tmp"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				t.Errorf("%s left behind", name)
			}
		}
	})
	t.Run("new snapshot, old log", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, logName), oldLog, 0o644)
		ro, err := OpenReadOnly(dir)
		if err != nil || len(ro.recs) != 10 {
			t.Fatalf("read-only: %v", err)
		}
		s, err := Open(dir, 8, "test")
		if err != nil {
			t.Fatal(err)
		}
		if len(s.recs) != 10 {
			t.Errorf("%d records, want 10", len(s.recs))
		}
		write(s, 10, 15)
		s.Close()
		if n := count(dir); n != 15 {
			t.Errorf("%d records after writing to the replaced log, want 15", n)
		}
	})
	t.Run("snapshot missing", func(t *testing.T) {
		d := t.TempDir()
		s, _ := Open(d, 8, "test")
		write(s, 0, 3)
		s.wmu.Lock()
		s.compact()
		s.wmu.Unlock()
		s.Close()
		os.Remove(filepath.Join(d, snapName))
		if _, err := Open(d, 8, "test"); err == nil || !strings.Contains(err.Error(), "continues snapshot 1") {
			t.Errorf("want a refusal naming the missing snapshot, got %v", err)
		}
	})
	t.Run("snapshot damaged", func(t *testing.T) {
		b, _ := os.ReadFile(filepath.Join(dir, snapName))
		b[len(b)/2] ^= 1
		os.WriteFile(filepath.Join(dir, snapName), b, 0o644)
		if _, err := Open(dir, 8, "test"); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("want a refusal of the damaged snapshot, got %v", err)
		}
		if _, err := OpenReadOnly(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("read-only: want a refusal of the damaged snapshot, got %v", err)
		}
	})
}

// A reader (another process, say the CLI) opening the store while the
// writer compacts always sees a whole store.
func TestReadOnlyWhileCompacting(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 8, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for b := range 150 {
			batch := make([]memory.Record, 10)
			for i := range batch {
				batch[i] = memory.Record{ID: fmt.Sprintf("%d-%d", b, i), Text: "x", Kind: memory.KindResult, Vector: randomVec(rng, 8)}
			}
			if err := s.Upsert(context.Background(), batch); err != nil {
				t.Error(err)
				return
			}
			if b%2 == 0 {
				s.wmu.Lock()
				err := s.compact()
				s.wmu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	reads := 0
	for {
		select {
		case <-done:
			wg.Wait()
			t.Logf("%d read-only opens during %d compactions", reads, s.seq)
			return
		default:
		}
		ro, err := OpenReadOnly(dir)
		if err != nil {
			t.Fatalf("read-only open while compacting: %v", err)
		}
		if n := len(ro.recs); n%10 != 0 {
			t.Fatalf("read-only open saw %d records: half a batch", n)
		}
		reads++
	}
}
