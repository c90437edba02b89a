package qdrant

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/memory/memtest"
)

var collSeq atomic.Int64

// The contract suite through the real Go client over gRPC, against the
// in-test Qdrant server.
func TestContractAgainstTestServer(t *testing.T) {
	_, url := startFake(t)
	memtest.Run(t, func(t *testing.T, dim int) memory.Store {
		s, err := Open(context.Background(), Config{URL: url, Collection: fmt.Sprintf("c%d", collSeq.Add(1)), Dim: dim, Embedder: "test", BatchSize: 64})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// The same suite against a real Qdrant, whenever QDRANT_URL (its gRPC
// address, e.g. http://127.0.0.1:6334) is set.
func TestContractAgainstRealQdrant(t *testing.T) {
	url := os.Getenv("QDRANT_URL")
	if url == "" {
		t.Skip("set QDRANT_URL (e.g. http://127.0.0.1:6334) to run the contract against a real Qdrant")
	}
	memtest.Run(t, func(t *testing.T, dim int) memory.Store {
		coll := fmt.Sprintf("genesis-contract-%d-%d", os.Getpid(), collSeq.Add(1))
		s, err := Open(context.Background(), Config{URL: url, APIKey: os.Getenv("QDRANT_API_KEY"), Collection: coll, Dim: dim, Embedder: "test"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.c.DeleteCollection(context.Background(), coll) })
		return s
	})
}

func TestCollectionSetupAndRetries(t *testing.T) {
	f, url := startFake(t)
	ctx := context.Background()
	s, err := Open(ctx, Config{URL: url, Dim: 4, Embedder: "ollama:all-minilm"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := f.colls["genesis-memory-ollama-all-minilm"]
	if c == nil || c.size != 4 {
		t.Fatalf("collection not created with the embedder's size: %v", f.colls)
	}
	for _, field := range []string{"kind", "campaign", "challenge", "agent", "scope"} {
		if !c.indexes[field] {
			t.Errorf("no payload index on %s", field)
		}
	}
	// A collection made before the scope field existed gets its index on
	// open, and keeps its points.
	f.mu.Lock()
	f.colls["old"] = &fakeColl{size: 4, points: map[string]*fakePoint{}, indexes: map[string]bool{"kind": true, "campaign": true, "challenge": true, "agent": true}}
	f.mu.Unlock()
	old, err := Open(ctx, Config{URL: url, Collection: "old", Dim: 4})
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	if !f.colls["old"].indexes["scope"] {
		t.Error("no scope index added to a collection made before scopes")
	}
	// Transient failures are retried.
	f.mu.Lock()
	f.failNext = 2
	f.mu.Unlock()
	if err := s.Upsert(ctx, []memory.Record{{ID: "x", Text: "t", Kind: memory.KindFinding, Vector: []float32{1, 2, 3, 4}}}); err != nil {
		t.Fatalf("upsert through 2 transient failures: %v", err)
	}
	// Reopening with another embedder's dimension is refused.
	if _, err := Open(ctx, Config{URL: url, Dim: 8, Embedder: "ollama:all-minilm"}); err == nil || !strings.Contains(err.Error(), "holds 4-dimensional vectors") {
		t.Errorf("dimension clash: %v", err)
	}
	if _, err := Open(ctx, Config{URL: "not a url", Dim: 4}); err == nil {
		t.Error("a bad URL was accepted")
	}
	if a1, a2 := PointID("a"), PointID("a"); a1 == PointID("b") || a1 != a2 || len(a1) != 36 {
		t.Errorf("point IDs: %s %s", PointID("a"), PointID("b"))
	}
}
