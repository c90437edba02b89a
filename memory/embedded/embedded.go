// Package embedded is the default memory.Store: in-process, persisted as an
// append-only log of JSON lines under the data directory. Every write is one
// line, fsynced; on open the log is replayed and a torn last line (a crash
// mid-write) is dropped, so a kill never corrupts what was committed before.
// Search is exact — the same results as scoring every record — but fast: an
// int8 copy of the vectors is pre-scanned (an AVX2 kernel on amd64, split
// across the CPUs, a quarter of the memory traffic of float32), and only the
// records its error bound cannot rule out are re-scored exactly (see
// slab.search): about 1 ms at 100k records of dimension 384.
package embedded

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/genesis-sci/genesis/memory"
)

// Store is the embedded store.
type Store struct {
	mu sync.RWMutex
	f  *os.File
	*slab
	// embedder is set for read-only stores (f == nil).
	embedder string
}

var _ memory.Store = (*Store)(nil)

// logEntry is one line of the log. A batch is one line ("puts"/"dels"),
// so a crash mid-write either keeps the whole batch or drops it with the
// torn line: a batch is never half applied.
type logEntry struct {
	Op      string           `json:"op"` // hdr, puts, dels (put and del in older logs)
	Record  *memory.Record   `json:"r,omitempty"`
	Records []*memory.Record `json:"rs,omitempty"`
	ID      string           `json:"id,omitempty"`
	IDs     []string         `json:"ids,omitempty"`
	Dim     int              `json:"dim,omitempty"`
	Embed   string           `json:"embedder,omitempty"`
}

// Open opens (or creates) the store at dir for vectors of dimension dim made
// by the named embedder. A store made by a different embedder is refused.
func Open(dir string, dim int, embedder string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "memory.log")
	if dim < 1 {
		return nil, fmt.Errorf("memory: dimension %d must be ≥ 1", dim)
	}
	s := &Store{slab: newSlab(dim)}
	hdrDim, hdrEmb, good, err := s.replay(path)
	if err != nil {
		return nil, err
	}
	if hdrDim != 0 && (hdrDim != dim || hdrEmb != embedder) {
		return nil, fmt.Errorf("memory store %s was built with embedder %s (%d dimensions), not %s (%d): use the same embedder, or move the store away to start a new one", dir, hdrEmb, hdrDim, embedder, dim)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	// Drop a torn tail left by a crash mid-write.
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(good, 0); err != nil {
		f.Close()
		return nil, err
	}
	s.f = f
	if hdrDim == 0 {
		if err := s.append(logEntry{Op: "hdr", Dim: dim, Embed: embedder}); err != nil {
			f.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Store) replay(path string) (dim int, emb string, good int64, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, "", 0, nil
	}
	if err != nil {
		return 0, "", 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var off int64
	for sc.Scan() {
		line := sc.Bytes()
		next := off + int64(len(line)) + 1
		if next > int64(len(b)) { // last line without newline: torn
			break
		}
		var e logEntry
		if json.Unmarshal(line, &e) != nil {
			break
		}
		switch e.Op {
		case "hdr":
			dim, emb = e.Dim, e.Embed
		case "put":
			if e.Record != nil && len(e.Record.Vector) == s.dim {
				s.putRecord(e.Record)
			}
		case "puts":
			for _, r := range e.Records {
				if r != nil && len(r.Vector) == s.dim {
					s.putRecord(r)
				}
			}
		case "del":
			s.del(e.ID)
		case "dels":
			for _, id := range e.IDs {
				s.del(id)
			}
		}
		off = next
	}
	return dim, emb, off, nil
}

func (s *Store) append(entries ...logEntry) error {
	if s.f == nil {
		return errors.New("memory: this store was opened read-only")
	}
	var buf bytes.Buffer
	for _, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		return err
	}
	return s.f.Sync()
}

// putRecord stores r in memory with its vector normalised.
func (s *Store) putRecord(r *memory.Record) {
	v := append([]float32(nil), r.Vector...)
	memory.Normalize(v)
	s.put(r, v)
}

// Upsert implements memory.Store. Every record is validated first; a batch
// with any invalid record writes nothing.
func (s *Store) Upsert(_ context.Context, recs []memory.Record) error {
	prepared, err := memory.Prepare(recs, s.dim)
	if err != nil {
		return err
	}
	batch := make([]*memory.Record, len(prepared))
	for i := range prepared {
		batch[i] = &prepared[i]
	}
	if len(batch) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.append(logEntry{Op: "puts", Records: batch}); err != nil {
		return err
	}
	for _, r := range batch {
		s.putRecord(r)
	}
	return nil
}

// Search implements memory.Store: cosine similarity, best first, ties by
// ID, exact (see slab.search).
func (s *Store) Search(_ context.Context, vec []float32, f memory.Filter, k int) ([]memory.Hit, error) {
	if len(vec) != s.dim {
		return nil, fmt.Errorf("memory: query vector has %d dimensions, the store holds %d", len(vec), s.dim)
	}
	q := append([]float32(nil), vec...)
	memory.Normalize(q)
	s.mu.RLock()
	defer s.mu.RUnlock()
	hits, _ := s.search(q, f, k)
	return hits, nil
}

// Delete implements memory.Store.
func (s *Store) Delete(_ context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.append(logEntry{Op: "dels", IDs: ids}); err != nil {
		return err
	}
	for _, id := range ids {
		s.del(id)
	}
	return nil
}

// Count implements memory.Store.
func (s *Store) Count(_ context.Context, f memory.Filter) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, r := range s.recs {
		if f.Match(r) {
			n++
		}
	}
	return n, nil
}

// Dim is the store's vector dimension.
func (s *Store) Dim() int { return s.dim }

// Close implements memory.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}

// Inspect reads a store's header: the vector dimension and the embedder
// that built it (0 and "" for an empty or missing store).
func Inspect(dir string) (dim int, embedder string, err error) {
	f, err := os.Open(filepath.Join(dir, "memory.log"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	if sc.Scan() {
		var e logEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Op == "hdr" {
			return e.Dim, e.Embed, nil
		}
	}
	return 0, "", sc.Err()
}

// OpenReadOnly loads a store for reading only (another process may be
// writing it): it never modifies the log, and writes are refused.
func OpenReadOnly(dir string) (*Store, error) {
	dim, emb, err := Inspect(dir)
	if err != nil {
		return nil, err
	}
	if dim == 0 {
		return nil, fmt.Errorf("no memory store in %s", dir)
	}
	s := &Store{slab: newSlab(dim), embedder: emb}
	if _, _, _, err := s.replay(filepath.Join(dir, "memory.log")); err != nil {
		return nil, err
	}
	return s, nil
}

// Embedder names the embedder that built the store (read-only stores).
func (s *Store) Embedder() string { return s.embedder }

// Records returns a snapshot of every record (without vectors).
func (s *Store) Records() []memory.Record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]memory.Record, len(s.recs))
	for i, r := range s.recs {
		out[i] = *r
	}
	return out
}
