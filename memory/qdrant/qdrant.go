// Package qdrant is the memory.Store on a Qdrant server, through the
// official Go client (github.com/qdrant/go-client) over gRPC. The
// collection is created on demand with the embedder's vector size and
// cosine distance, with keyword payload indexes on the filter fields;
// upserts go in batches, and transient errors (unavailable, deadline,
// resource exhausted) are retried with backoff.
//
// Record IDs are free-form strings; Qdrant wants unsigned integers or
// UUIDs, so each record's point ID is a UUID derived from its ID (SHA-1,
// version 5 layout) and the original ID travels in the payload.
package qdrant

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/genesis-sci/genesis/memory"
)

// Config says where the collection lives.
type Config struct {
	// URL is the server's gRPC address, e.g. "http://127.0.0.1:6334"
	// (https:// for TLS). Port 6334 is Qdrant's gRPC port.
	URL    string
	APIKey string
	// Collection defaults to "genesis-memory-<embedder>".
	Collection string
	// Dim and Embedder describe the vectors; a collection with another
	// vector size is refused.
	Dim      int
	Embedder string
	// BatchSize bounds points per upsert request (default 256).
	BatchSize int
}

// Store is a memory.Store on Qdrant.
type Store struct {
	c     *qc.Client
	coll  string
	dim   int
	batch int
}

var _ memory.Store = (*Store)(nil)

// payload keys with keyword indexes (the filter fields).
var indexed = []string{"kind", "campaign", "challenge", "agent", "scope"}

// Open connects and makes sure the collection exists with the right
// vector size.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Dim < 1 {
		return nil, fmt.Errorf("qdrant memory: dimension %d must be ≥ 1", cfg.Dim)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("qdrant memory: URL %q must look like http://HOST:6334", cfg.URL)
	}
	port := 6334
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("qdrant memory: bad port in %q", cfg.URL)
		}
	}
	c, err := qc.NewClient(&qc.Config{Host: u.Hostname(), Port: port, APIKey: cfg.APIKey, UseTLS: u.Scheme == "https", SkipCompatibilityCheck: true, PoolSize: 1})
	if err != nil {
		return nil, fmt.Errorf("qdrant memory: %w", err)
	}
	s := &Store{c: c, coll: cfg.Collection, dim: cfg.Dim, batch: cfg.BatchSize}
	if s.coll == "" {
		s.coll = "genesis-memory-" + strings.NewReplacer(":", "-", "/", "-").Replace(cfg.Embedder)
	}
	if s.batch <= 0 {
		s.batch = 256
	}
	if err := s.ensure(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) ensure(ctx context.Context) error {
	var exists bool
	err := retry(ctx, func() (err error) { exists, err = s.c.CollectionExists(ctx, s.coll); return err })
	if err != nil {
		return fmt.Errorf("qdrant memory: checking collection %s: %w", s.coll, err)
	}
	if exists {
		var info *qc.CollectionInfo
		if err := retry(ctx, func() (err error) { info, err = s.c.GetCollectionInfo(ctx, s.coll); return err }); err != nil {
			return fmt.Errorf("qdrant memory: collection %s: %w", s.coll, err)
		}
		if size := info.GetConfig().GetParams().GetVectorsConfig().GetParams().GetSize(); size != uint64(s.dim) {
			return fmt.Errorf("qdrant memory: collection %s holds %d-dimensional vectors, the embedder makes %d: use the same embedder, or another collection", s.coll, size, s.dim)
		}
		// A collection made before a filter field existed (scope) gets
		// its index now; its old points simply lack the field.
		var missing []string
		for _, f := range indexed {
			if _, ok := info.GetPayloadSchema()[f]; !ok {
				missing = append(missing, f)
			}
		}
		return s.index(ctx, missing)
	}
	err = retry(ctx, func() error {
		return s.c.CreateCollection(ctx, &qc.CreateCollection{CollectionName: s.coll,
			VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: uint64(s.dim), Distance: qc.Distance_Cosine})})
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("qdrant memory: creating collection %s: %w", s.coll, err)
	}
	return s.index(ctx, indexed)
}

// index creates keyword payload indexes on the fields.
func (s *Store) index(ctx context.Context, fields []string) error {
	for _, f := range fields {
		ft := qc.FieldType_FieldTypeKeyword
		err := retry(ctx, func() error {
			_, err := s.c.CreateFieldIndex(ctx, &qc.CreateFieldIndexCollection{CollectionName: s.coll, FieldName: f, FieldType: &ft, Wait: ptr(true)})
			return err
		})
		if err != nil {
			return fmt.Errorf("qdrant memory: payload index %s on collection %s: %w", f, s.coll, err)
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// PointID is the UUID a record ID maps to.
func PointID(id string) string {
	h := sha1.Sum([]byte("genesis-memory:" + id))
	h[6] = h[6]&0x0f | 0x50 // version 5
	h[8] = h[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Upsert implements memory.Store: every record is validated before any is
// sent; batches are upserted in order and waited for.
func (s *Store) Upsert(ctx context.Context, recs []memory.Record) error {
	prepared, err := memory.Prepare(recs, s.dim)
	if err != nil {
		return err
	}
	points := make([]*qc.PointStruct, len(prepared))
	for i, r := range prepared {
		payload := map[string]any{
			"id": r.ID, "text": r.Text, "kind": r.Kind, "campaign": r.Campaign, "challenge": r.Challenge, "agent": r.Agent,
			"scope": r.Scope, "source": r.Source, "created": r.Created.Format(time.RFC3339Nano)}
		if r.Measurement != nil {
			// JSON text: a payload value cannot hold the point's mixed types
			// portably, and nothing filters on it.
			b, err := json.Marshal(r.Measurement)
			if err != nil {
				return fmt.Errorf("qdrant memory: record %s: %w", r.ID, err)
			}
			payload["measurement"] = string(b)
		}
		points[i] = &qc.PointStruct{Id: qc.NewID(PointID(r.ID)), Vectors: qc.NewVectors(r.Vector...), Payload: qc.NewValueMap(payload)}
	}
	for start := 0; start < len(points); start += s.batch {
		batch := points[start:min(len(points), start+s.batch)]
		err := retry(ctx, func() error {
			_, err := s.c.Upsert(ctx, &qc.UpsertPoints{CollectionName: s.coll, Points: batch, Wait: ptr(true)})
			return err
		})
		if err != nil {
			return fmt.Errorf("qdrant memory: upserting %d records: %w", len(batch), err)
		}
	}
	return nil
}

func filter(f memory.Filter) *qc.Filter {
	var must []*qc.Condition
	for k, v := range map[string]string{"kind": f.Kind, "campaign": f.Campaign, "challenge": f.Challenge, "agent": f.Agent, "scope": f.Scope} {
		if v != "" {
			must = append(must, qc.NewMatchKeyword(k, v))
		}
	}
	if len(must) == 0 {
		return nil
	}
	return &qc.Filter{Must: must}
}

// Search implements memory.Store.
func (s *Store) Search(ctx context.Context, vec []float32, f memory.Filter, k int) ([]memory.Hit, error) {
	if len(vec) != s.dim {
		return nil, fmt.Errorf("memory: query vector has %d dimensions, the store holds %d", len(vec), s.dim)
	}
	if k <= 0 {
		k = 10
	}
	var pts []*qc.ScoredPoint
	err := retry(ctx, func() (err error) {
		pts, err = s.c.Query(ctx, &qc.QueryPoints{CollectionName: s.coll, Query: qc.NewQuery(vec...), Filter: filter(f),
			Limit: ptr(uint64(k)), WithPayload: qc.NewWithPayload(true)})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("qdrant memory: search: %w", err)
	}
	hits := make([]memory.Hit, 0, len(pts))
	for _, p := range pts {
		hits = append(hits, memory.Hit{Record: record(p.GetPayload()), Score: p.GetScore()})
	}
	return hits, nil
}

func record(pl map[string]*qc.Value) memory.Record {
	str := func(k string) string { return pl[k].GetStringValue() }
	r := memory.Record{ID: str("id"), Text: str("text"), Kind: str("kind"), Campaign: str("campaign"), Challenge: str("challenge"),
		Agent: str("agent"), Scope: str("scope"), Source: str("source")}
	r.Created, _ = time.Parse(time.RFC3339Nano, str("created"))
	if m := str("measurement"); m != "" {
		var ms memory.Measurement
		if json.Unmarshal([]byte(m), &ms) == nil {
			r.Measurement = &ms
		}
	}
	return r
}

// Delete implements memory.Store.
func (s *Store) Delete(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	pids := make([]*qc.PointId, len(ids))
	for i, id := range ids {
		pids[i] = qc.NewID(PointID(id))
	}
	return retry(ctx, func() error {
		_, err := s.c.Delete(ctx, &qc.DeletePoints{CollectionName: s.coll, Points: qc.NewPointsSelector(pids...), Wait: ptr(true)})
		return err
	})
}

// Count implements memory.Store.
func (s *Store) Count(ctx context.Context, f memory.Filter) (int, error) {
	var n uint64
	err := retry(ctx, func() (err error) {
		n, err = s.c.Count(ctx, &qc.CountPoints{CollectionName: s.coll, Filter: filter(f), Exact: ptr(true)})
		return err
	})
	return int(n), err
}

// Close implements memory.Store.
func (s *Store) Close() error { return s.c.Close() }

// retry runs op up to 4 times while it fails with a transient gRPC status.
func retry(ctx context.Context, op func() error) error {
	delay := 100 * time.Millisecond
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if err = op(); err == nil || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(delay):
		}
		delay *= 3
	}
	return err
}

func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}
