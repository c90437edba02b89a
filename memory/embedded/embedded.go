// Package embedded is the default memory.Store: in-process, persisted under
// the data directory as a binary snapshot of the whole store (memory.snap)
// and an append-only log of JSON lines for the writes since (memory.log).
//
// One process writes a store: Open takes an exclusive flock on
// memory.lock, and a second writer is refused with the holder's PID (two
// writers destroy the store); readers need no lock (OpenReadOnly).
//
// Every write is one log line, fsynced; on open the snapshot is loaded and
// the log replayed on top. A torn last line (a crash mid-write) or an
// unreadable line ends the replay, and everything from it on is moved to
// a quarantine file (memory.log.quarantine-<time>) with a warning before
// the log is cut back, so a kill never corrupts what was committed before
// and nothing is dropped unseen. Once the log outgrows half the snapshot,
// and on Close, the store compacts: it writes a new snapshot aside and
// renames it into place, then starts a new log the same way; the log's
// header names the snapshot it continues, so a crash between the two steps
// is recognised and the old log (all of it in the new snapshot) skipped. A store of only a log (the format before snapshots)
// opens as one whose snapshot is empty.
//
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
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/genesis-sci/genesis/memory"
)

// The store's files in its directory; compaction writes each aside first,
// under the name with ".tmp" appended.
const (
	logName  = "memory.log"
	snapName = "memory.snap"
)

// Compaction thresholds on the bytes of log entries after the header.
// Writes compact once the entries reach half the snapshot's size and
// compactMinBytes, bounding both the replay after a crash and the cost of
// rewriting the snapshot per record written; Close compacts from
// closeMinBytes (about 250 records of dimension 384), so a store closed
// cleanly opens from its snapshot alone. Tests lower them.
var (
	compactMinBytes int64 = 16 << 20
	closeMinBytes   int64 = 1 << 20
)

// Store is the embedded store.
type Store struct {
	// wmu serialises writers (appends, compaction, Close). A writer takes
	// mu only to apply its change in memory, so searches wait for neither
	// an fsync nor a compaction, which only reads the slab.
	wmu sync.Mutex
	mu  sync.RWMutex // guards the slab
	*slab
	dir      string
	embedder string
	f        *os.File // the log; nil when read-only or closed
	lock     *os.File // holds the write lock (see lock); nil when read-only or closed
	seq      uint64   // the snapshot the log continues (0: none)
	snapSize int64    // its size in bytes
	logSize  int64    // the log's size: where the next entry goes
	hdrSize  int64    // the log header's size
	// stale is set while the log predates the snapshot (a compaction cut
	// short): its entries are all in the snapshot, and nothing may be
	// appended to it before a new log replaces it.
	stale bool
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
	Snap    uint64           `json:"snap,omitempty"` // hdr: the snapshot the log continues
}

// Open opens (or creates) the store at dir for vectors of dimension dim made
// by the named embedder, and holds its write lock until Close. A store made
// by a different embedder is refused, and so is one another Store holds,
// in this process or another (ErrInUse, naming the holder's PID).
func Open(dir string, dim int, embedder string) (_ *Store, err error) {
	if dim < 1 {
		return nil, fmt.Errorf("memory: dimension %d must be ≥ 1", dim)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lk, err := lock(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lk.Close()
		}
	}()
	s, tail, err := load(dir)
	if err != nil {
		return nil, err
	}
	s.lock = lk
	if s.slab == nil {
		s.slab, s.embedder = newSlab(dim), embedder
	} else if s.dim != dim || s.embedder != embedder {
		return nil, fmt.Errorf("memory store %s was built with embedder %s (%d dimensions), not %s (%d): use the same embedder, or move the store away to start a new one", dir, s.embedder, s.dim, embedder, dim)
	}
	// Files a compaction cut short left aside.
	for _, name := range []string{logName, snapName} {
		if err := os.Remove(filepath.Join(dir, name+".tmp")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if len(tail) > 0 {
		if err := s.quarantine(tail); err != nil {
			return nil, err
		}
	}
	if s.stale { // a new store, a log the snapshot holds, or one without a header
		if err := s.rotate(); err != nil {
			return nil, err
		}
		return s, nil
	}
	f, err := os.OpenFile(filepath.Join(dir, logName), os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(s.logSize); err != nil { // the tail is in quarantine
		f.Close()
		return nil, err
	}
	s.f = f
	return s, nil
}

// OpenReadOnly loads a store for reading only (another process may be
// writing it): it never modifies the files, and writes are refused.
func OpenReadOnly(dir string) (*Store, error) {
	s, _, err := load(dir)
	if err != nil {
		return nil, err
	}
	if s.slab == nil {
		return nil, fmt.Errorf("no memory store in %s", dir)
	}
	return s, nil
}

// load reads the store in dir: the log, then the snapshot, then the log's
// entries if it continues that snapshot. Reading the log first makes a
// compaction in another process harmless: the snapshot read after it is
// the one the log continues or a later one, which holds the whole log. The
// store's slab is nil if dir holds no store. tail is what replay could
// not read: a torn or unreadable line and everything after it, or a whole
// log without a header.
func load(dir string) (_ *Store, tail []byte, _ error) {
	s := &Store{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	var hdr logEntry
	if i := bytes.IndexByte(b, '\n'); i >= 0 && json.Unmarshal(b[:i], &hdr) == nil && hdr.Op == "hdr" && hdr.Dim > 0 {
		s.hdrSize = int64(i + 1)
	}
	sn, err := readSnapshot(filepath.Join(dir, snapName))
	if err != nil {
		return nil, nil, err
	}
	if sn != nil {
		s.slab, s.embedder, s.seq, s.snapSize = sn.slab, sn.embedder, sn.seq, sn.size
		if s.hdrSize > 0 && (hdr.Dim != s.dim || hdr.Embed != s.embedder) {
			return nil, nil, fmt.Errorf("memory store %s: the log (embedder %s, %d dimensions) does not belong to the snapshot (embedder %s, %d dimensions)", dir, hdr.Embed, hdr.Dim, s.embedder, s.dim)
		}
	} else if s.hdrSize > 0 {
		s.slab, s.embedder = newSlab(hdr.Dim), hdr.Embed
	}
	switch {
	case s.hdrSize == 0:
		s.stale, tail = true, b
	case hdr.Snap < s.seq:
		s.stale = true
	case hdr.Snap > s.seq:
		return nil, nil, fmt.Errorf("memory store %s: the log continues snapshot %d, but %s is snapshot %d (missing or replaced): restore it, or move the store away to start a new one", dir, hdr.Snap, snapName, s.seq)
	default:
		s.logSize = s.hdrSize + s.replay(b[s.hdrSize:])
		tail = b[s.logSize:]
	}
	return s, tail, nil
}

// replay applies the log entries in b and returns the length of the whole
// lines it applied: a torn, unreadable or unknown line ends the log.
func (s *Store) replay(b []byte) (good int64) {
	for {
		i := bytes.IndexByte(b[good:], '\n')
		if i < 0 {
			return good
		}
		var e logEntry
		if json.Unmarshal(b[good:good+int64(i)], &e) != nil {
			return good
		}
		switch e.Op {
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
		default: // not ours: what follows cannot be trusted to be either
			return good
		}
		good += int64(i) + 1
	}
}

// append writes e to the log as one line and fsyncs it. A failed write is
// cut off again, so no later entry follows a torn line.
func (s *Store) append(e logEntry) error {
	if s.f == nil {
		return errors.New("memory: the store is read-only or closed")
	}
	if s.stale {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err = s.f.WriteAt(b, s.logSize); err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		return errors.Join(err, s.f.Truncate(s.logSize))
	}
	s.logSize += int64(len(b))
	return nil
}

// rotate starts a new, empty log continuing snapshot s.seq: written aside,
// fsynced and renamed over the old one, so a crash leaves one or the other.
func (s *Store) rotate() (err error) {
	tmp := filepath.Join(s.dir, logName+".tmp")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	hdr, err := json.Marshal(logEntry{Op: "hdr", Dim: s.dim, Embed: s.embedder, Snap: s.seq})
	if err == nil {
		hdr = append(hdr, '\n')
		_, err = f.Write(hdr)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.dir, logName))
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if s.f != nil {
		s.f.Close()
	}
	s.f, s.stale = f, false
	s.hdrSize, s.logSize = int64(len(hdr)), int64(len(hdr))
	return nil
}

// compact writes a snapshot of the store and starts a new log continuing
// it. The caller holds wmu, so the slab cannot change meanwhile.
func (s *Store) compact() error {
	size, err := writeSnapshot(s.dir, s.seq+1, s.embedder, s.slab)
	if err == nil {
		// The new snapshot holds the whole log: nothing more may go to it.
		s.seq, s.snapSize, s.stale = s.seq+1, size, true
		err = syncDir(s.dir)
	}
	if err == nil {
		err = s.rotate()
	}
	if err != nil {
		return fmt.Errorf("memory: compacting the store (every acknowledged write is kept): %w", err)
	}
	return nil
}

// compactIfDue compacts when the log has outgrown its threshold (see
// compactMinBytes).
func (s *Store) compactIfDue(closing bool) error {
	entries := s.logSize - s.hdrSize
	if (closing && entries >= closeMinBytes) || entries >= max(compactMinBytes, s.snapSize/2) {
		return s.compact()
	}
	return nil
}

// putRecord stores r in memory with its vector normalised.
func (s *Store) putRecord(r *memory.Record) {
	v := append([]float32(nil), r.Vector...)
	memory.Normalize(v)
	s.put(r, v)
}

// Upsert implements memory.Store. Every record is validated first; a batch
// with any invalid record writes nothing. Once a batch is in the log it is
// stored, even if the compaction it may trigger fails (and is reported).
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
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.append(logEntry{Op: "puts", Records: batch}); err != nil {
		return err
	}
	s.mu.Lock()
	for _, r := range batch {
		s.putRecord(r)
	}
	s.mu.Unlock()
	return s.compactIfDue(false)
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
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.append(logEntry{Op: "dels", IDs: ids}); err != nil {
		return err
	}
	s.mu.Lock()
	for _, id := range ids {
		s.del(id)
	}
	s.mu.Unlock()
	return s.compactIfDue(false)
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

// Close implements memory.Store. It compacts the store first if the log
// holds more than a few hundred records (see closeMinBytes), which takes
// about a second at 100k records.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.compactIfDue(true)
	err = errors.Join(err, s.f.Close(), s.lock.Close())
	s.f, s.lock = nil, nil
	return err
}

// Inspect reads a store's header: the vector dimension and the embedder
// that built it (0 and "" for an empty or missing store).
func Inspect(dir string) (dim int, embedder string, err error) {
	f, err := os.Open(filepath.Join(dir, logName))
	if errors.Is(err, os.ErrNotExist) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadBytes('\n')
	if errors.Is(err, io.EOF) { // empty, or a header torn by a crash
		return 0, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	var e logEntry
	if json.Unmarshal(line, &e) != nil || e.Op != "hdr" {
		return 0, "", nil
	}
	return e.Dim, e.Embed, nil
}

// Embedder names the embedder that built the store.
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
