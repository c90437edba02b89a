// Package embedded is the default memory.Store: in-process, persisted as an
// append-only log of JSON lines under the data directory. Every write is one
// line, fsynced; on open the log is replayed and a torn last line (a crash
// mid-write) is dropped, so a kill never corrupts what was committed before.
// Search is an exact scan, which is fast enough for a single machine's memory.
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
	"sort"
	"sync"

	"github.com/genesis-sci/genesis/memory"
)

// Store is the embedded store.
type Store struct {
	mu   sync.RWMutex
	f    *os.File
	dim  int
	recs map[string]*memory.Record
}

var _ memory.Store = (*Store)(nil)

type logEntry struct {
	Op     string         `json:"op"` // put or del
	Record *memory.Record `json:"r,omitempty"`
	ID     string         `json:"id,omitempty"`
	Dim    int            `json:"dim,omitempty"`
	Embed  string         `json:"embedder,omitempty"`
}

// Open opens (or creates) the store at dir for vectors of dimension dim made
// by the named embedder. A store made by a different embedder is refused.
func Open(dir string, dim int, embedder string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "memory.log")
	s := &Store{dim: dim, recs: map[string]*memory.Record{}}
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
			if e.Record != nil {
				s.recs[e.Record.ID] = e.Record
			}
		case "del":
			delete(s.recs, e.ID)
		}
		off = next
	}
	return dim, emb, off, nil
}

func (s *Store) append(entries ...logEntry) error {
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

// Upsert implements memory.Store.
func (s *Store) Upsert(_ context.Context, recs []memory.Record) error {
	entries := make([]logEntry, len(recs))
	for i := range recs {
		r := recs[i]
		if r.ID == "" {
			return errors.New("memory: a record needs an ID")
		}
		if len(r.Vector) != s.dim {
			return fmt.Errorf("memory: record %s has a %d-dimensional vector, the store holds %d", r.ID, len(r.Vector), s.dim)
		}
		entries[i] = logEntry{Op: "put", Record: &r}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.append(entries...); err != nil {
		return err
	}
	for _, e := range entries {
		s.recs[e.Record.ID] = e.Record
	}
	return nil
}

// Search implements memory.Store.
func (s *Store) Search(_ context.Context, vec []float32, f memory.Filter, k int) ([]memory.Hit, error) {
	if len(vec) != s.dim {
		return nil, fmt.Errorf("memory: query vector has %d dimensions, the store holds %d", len(vec), s.dim)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var hits []memory.Hit
	for _, r := range s.recs {
		if !f.Match(r) {
			continue
		}
		hits = append(hits, memory.Hit{Record: *r, Score: memory.Cosine(vec, r.Vector)})
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].ID < hits[j].ID
	})
	if k > 0 && len(hits) > k {
		hits = hits[:k]
	}
	return hits, nil
}

// Delete implements memory.Store.
func (s *Store) Delete(_ context.Context, ids []string) error {
	entries := make([]logEntry, len(ids))
	for i, id := range ids {
		entries[i] = logEntry{Op: "del", ID: id}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.append(entries...); err != nil {
		return err
	}
	for _, id := range ids {
		delete(s.recs, id)
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

// Close implements memory.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
