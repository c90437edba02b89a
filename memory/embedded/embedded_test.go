package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/memory"
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
