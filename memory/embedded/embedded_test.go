package embedded

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/memory/memtest"
)

func TestStoreRoundTripAndRecovery(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	emb := memory.Hashing{}
	s, err := Open(dir, emb.Dim(), emb.Name())
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"thick walls absorb more energy", "twisted thin columns buckle early", "the printer jammed"}
	vecs, _ := emb.Embed(ctx, texts)
	var recs []memory.Record
	for i, tx := range texts {
		recs = append(recs, memory.Record{ID: fmt.Sprint(i), Text: tx, Vector: vecs[i], Kind: memory.KindFinding, Campaign: "c1"})
	}
	recs[2].Kind = memory.KindObservation
	if err := s.Upsert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	q, _ := emb.Embed(ctx, []string{"which walls absorb energy"})
	hits, err := s.Search(ctx, q[0], memory.Filter{Kind: memory.KindFinding}, 1)
	if err != nil || len(hits) != 1 || hits[0].ID != "0" {
		t.Fatalf("hits %+v, %v", hits, err)
	}
	if err := s.Delete(ctx, []string{"1"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// A crash mid-write leaves a torn line: it is dropped, the rest survives.
	f, _ := os.OpenFile(filepath.Join(dir, "memory.log"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"op":"put","r":{"id":"torn","te`)
	f.Close()
	s, err = Open(dir, emb.Dim(), emb.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, _ := s.Count(ctx, memory.Filter{}); n != 2 {
		t.Errorf("count after reopen %d, want 2", n)
	}
	if err := s.Upsert(ctx, []memory.Record{{ID: "3", Text: "x", Vector: vecs[0], Kind: memory.KindResult}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count(ctx, memory.Filter{Campaign: "c1"}); n != 2 {
		t.Errorf("filtered count %d, want 2", n)
	}
}

func TestRefusesOtherEmbedder(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 256, "hashing")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(dir, 384, "ollama:all-minilm")
	if err == nil || !strings.Contains(err.Error(), "same embedder") {
		t.Fatalf("want a refusal naming the embedder, got %v", err)
	}
}

// Bad records are refused with the reason, and a batch with one bad record
// writes nothing.
func TestValidationAndAtomicBatches(t *testing.T) {
	s, err := Open(t.TempDir(), 4, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	good := memory.Record{ID: "g", Text: "ok", Kind: memory.KindFinding, Vector: []float32{1, 0, 0, 0}}
	cases := []struct {
		r    memory.Record
		want string
	}{
		{memory.Record{ID: "a", Text: "  ", Kind: memory.KindFinding, Vector: []float32{1, 0, 0, 0}}, "empty text"},
		{memory.Record{ID: "b", Text: "x", Kind: "gossip", Vector: []float32{1, 0, 0, 0}}, `kind "gossip"`},
		{memory.Record{ID: "c", Text: "x", Kind: memory.KindFinding, Vector: []float32{1, 0}}, "2-dimensional vector, the store holds 4"},
		{memory.Record{ID: "d", Text: strings.Repeat("x", memory.MaxTextBytes+1), Kind: memory.KindFinding, Vector: []float32{1, 0, 0, 0}}, "summarise it first"},
		{memory.Record{Text: "x", Kind: memory.KindFinding, Vector: []float32{1, 0, 0, 0}}, "needs an ID"},
	}
	for _, c := range cases {
		err := s.Upsert(ctx, []memory.Record{good, c.r})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("record %q: %v, want %q", c.r.ID, err, c.want)
		}
	}
	if n, _ := s.Count(ctx, memory.Filter{}); n != 0 {
		t.Errorf("%d records stored from refused batches, want 0", n)
	}
	if _, err := s.Search(ctx, []float32{1, 0}, memory.Filter{}, 1); err == nil {
		t.Error("a query of the wrong dimension was accepted")
	}
}

// Search is exact: it returns the same top k as a brute-force cosine scan,
// honours filters, and survives deletes (slots move).
func TestSearchMatchesBruteForce(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 16, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	var recs []memory.Record
	for i := range 3000 {
		recs = append(recs, memory.Record{ID: fmt.Sprintf("r%d", i), Text: "t", Kind: memory.Kinds[i%len(memory.Kinds)], Challenge: fmt.Sprint(i % 3), Vector: randomVec(rng, 16)})
	}
	if err := s.Upsert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var del []string
	for i := 0; i < 3000; i += 7 {
		del = append(del, fmt.Sprintf("r%d", i))
	}
	if err := s.Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	deleted := map[string]bool{}
	for _, id := range del {
		deleted[id] = true
	}
	check := func(s *Store) {
		for trial := range 20 {
			q := randomVec(rng, 16)
			f := memory.Filter{}
			if trial%2 == 1 {
				f = memory.Filter{Kind: memory.KindFinding, Challenge: "1"}
			}
			hits, err := s.Search(ctx, q, f, 10)
			if err != nil {
				t.Fatal(err)
			}
			all := memtest.Ranked(q, recs, func(r *memory.Record) bool { return !deleted[r.ID] && f.Match(r) })
			for i, h := range hits {
				if h.ID != all[i].ID || math.Abs(float64(h.Score-all[i].Score)) > 1e-4 {
					t.Fatalf("trial %d hit %d: %s %.5f, brute force %s %.5f", trial, i, h.ID, h.Score, all[i].ID, all[i].Score)
				}
			}
		}
	}
	check(s)
	s.Close()
	// The same after a restart (replayed log), and read-only.
	s, err = Open(dir, 16, "test")
	if err != nil {
		t.Fatal(err)
	}
	check(s)
	s.Close()
	ro, err := OpenReadOnly(dir)
	if err != nil || ro.Embedder() != "test" {
		t.Fatalf("read-only: %v", err)
	}
	check(ro)
	if err := ro.Upsert(ctx, recs[:1]); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("read-only store accepted a write: %v", err)
	}
}
