// Package memtest is the contract every memory.Store backend must meet:
// the embedded store, the Qdrant store against the in-test Qdrant server,
// and the Qdrant store against a real Qdrant when QDRANT_URL is set. It is
// test support, imported only by tests.
package memtest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/memory"
)

// Open returns a fresh, empty store for vectors of dimension dim.
type Open func(t *testing.T, dim int) memory.Store

// Run runs the contract suite.
func Run(t *testing.T, open Open) {
	s := &suite{open: open, rng: rand.New(rand.NewPCG(11, 12))}
	t.Run("upsert, search, filters, count", s.searchAndCount)
	t.Run("a scope isolates its records", s.scopes)
	t.Run("a lab result keeps its measurement", s.measurements)
	t.Run("upsert replaces, delete removes", s.replaceAndDelete)
	t.Run("bad input is refused and a bad batch writes nothing", s.badInput)
	t.Run("large batches", s.largeBatches)
}

// suite holds what the contract's steps share: the store's constructor
// and one random source, drawn from in the steps' order.
type suite struct {
	open Open
	rng  *rand.Rand
}

// holding opens a store of dimension dim holding recs; it closes when
// the step ends.
func (su *suite) holding(t *testing.T, dim int, recs []memory.Record) memory.Store {
	t.Helper()
	s := su.open(t, dim)
	t.Cleanup(func() { s.Close() })
	if err := s.Upsert(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return s
}

// vec is a random vector of dimension d.
func (su *suite) vec(d int) []float32 {
	v := make([]float32, d)
	for i := range v {
		v[i] = float32(su.rng.NormFloat64())
	}
	return v
}

// searchAndCount checks that a search ranks by cosine, best first, within
// a filter, and that a record keeps its payload.
func (su *suite) searchAndCount(t *testing.T) {
	ctx := context.Background()
	var recs []memory.Record
	for i := range 200 {
		recs = append(recs, memory.Record{ID: fmt.Sprintf("rec-%d", i), Text: fmt.Sprintf("text %d", i), Vector: su.vec(8),
			Kind: memory.Kinds[i%len(memory.Kinds)], Campaign: fmt.Sprintf("c%d", i%4), Challenge: fmt.Sprintf("ch%d", i%3), Agent: "analyst", Source: "run-1"})
	}
	s := su.holding(t, 8, recs)
	if n, err := s.Count(ctx, memory.Filter{}); err != nil || n != 200 {
		t.Fatalf("count %d %v, want 200", n, err)
	}
	f := memory.Filter{Kind: memory.KindFinding, Challenge: "ch1"}
	want := 0
	for _, r := range recs {
		if f.Match(&r) {
			want++
		}
	}
	if n, _ := s.Count(ctx, f); n != want {
		t.Errorf("filtered count %d, want %d", n, want)
	}
	for trial := range 10 {
		q := su.vec(8)
		flt := memory.Filter{}
		if trial%2 == 1 {
			flt = f
		}
		hits, err := s.Search(ctx, q, flt, 5)
		if err != nil {
			t.Fatal(err)
		}
		all := Ranked(q, recs, flt.Match)
		if len(hits) != min(5, len(all)) {
			t.Fatalf("%d hits, want %d", len(hits), min(5, len(all)))
		}
		for i, h := range hits {
			if h.ID != all[i].ID || math.Abs(float64(h.Score-all[i].Score)) > 1e-4 {
				t.Fatalf("hit %d: %s %.5f, want %s %.5f (cosine, best first)", i, h.ID, h.Score, all[i].ID, all[i].Score)
			}
			if !flt.Match(&h.Record) || h.Text == "" || h.Source != "run-1" || h.Created.IsZero() {
				t.Errorf("hit %+v: payload lost or filter ignored", h.Record)
			}
		}
	}
}

// scopes checks that a filter with a scope sees only its records.
func (su *suite) scopes(t *testing.T) {
	ctx := context.Background()
	// Three scopes (the last empty: an ordinary campaign, or a record
	// written before scopes existed) on two challenges.
	scopes := []string{"eval-a/run-1", "eval-a/run-2", ""}
	var recs []memory.Record
	for i := range 60 {
		recs = append(recs, memory.Record{ID: fmt.Sprintf("s-%d", i), Text: fmt.Sprintf("scoped %d", i), Vector: su.vec(8),
			Kind: memory.KindResult, Challenge: fmt.Sprintf("ch%d", i%2), Scope: scopes[i%3]})
	}
	s := su.holding(t, 8, recs)
	for _, f := range []memory.Filter{{Scope: scopes[0]}, {Scope: scopes[1], Challenge: "ch1"}, {Scope: "no-such-scope"}, {}, {Challenge: "ch0"}} {
		want := 0
		for _, r := range recs {
			if f.Match(&r) {
				want++
			}
		}
		if n, err := s.Count(ctx, f); err != nil || n != want {
			t.Errorf("count %+v: %d %v, want %d", f, n, err, want)
		}
		hits, err := s.Search(ctx, su.vec(8), f, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != want {
			t.Errorf("search %+v: %d hits, want %d", f, len(hits), want)
		}
		for _, h := range hits {
			if f.Scope != "" && h.Scope != f.Scope {
				t.Errorf("search %+v returned %s of scope %q", f, h.ID, h.Scope)
			}
			if want := scopes[atoi(t, strings.TrimPrefix(h.ID, "s-"))%3]; h.Scope != want {
				t.Errorf("%s came back with scope %q, stored with %q", h.ID, h.Scope, want)
			}
		}
	}
	// An unscoped filter still sees every record (today's behaviour).
	if n, _ := s.Count(ctx, memory.Filter{}); n != len(recs) {
		t.Errorf("unscoped count %d, want %d", n, len(recs))
	}
}

// measurements checks that a lab result's measurement comes back whole
// and that a non-finite one is refused.
func (su *suite) measurements(t *testing.T) {
	ctx := context.Background()
	m := &memory.Measurement{Point: map[string]any{"ligand": "P1-L3", "temperature": 92.5}, Values: map[string]float64{"yield": 41.2, "ton": 7.5}}
	recs := []memory.Record{
		{ID: "with", Text: "lab result", Kind: memory.KindResult, Vector: []float32{1, 0, 0, 0}, Measurement: m},
		{ID: "without", Text: "a finding", Kind: memory.KindFinding, Vector: []float32{0, 1, 0, 0}},
	}
	s := su.holding(t, 4, recs)
	hits, err := s.Search(ctx, []float32{1, 0, 0, 0}, memory.Filter{}, 2)
	if err != nil || len(hits) != 2 {
		t.Fatalf("search: %v, %d hits", err, len(hits))
	}
	for _, h := range hits {
		switch h.ID {
		case "with":
			if h.Measurement == nil || h.Measurement.Point["ligand"] != "P1-L3" || h.Measurement.Point["temperature"] != 92.5 ||
				h.Measurement.Values["yield"] != 41.2 || h.Measurement.Values["ton"] != 7.5 {
				t.Errorf("measurement came back as %+v, stored %+v", h.Measurement, m)
			}
		case "without":
			if h.Measurement != nil {
				t.Errorf("a record without a measurement came back with %+v", h.Measurement)
			}
		}
	}
	bad := memory.Record{ID: "nan", Text: "x", Kind: memory.KindResult, Vector: []float32{1, 0, 0, 0},
		Measurement: &memory.Measurement{Point: map[string]any{"x": 1.0}, Values: map[string]float64{"y": math.NaN()}}}
	if err := s.Upsert(ctx, []memory.Record{bad}); err == nil || !strings.Contains(err.Error(), "finite") {
		t.Errorf("a non-finite measurement: %v", err)
	}
}

// replaceAndDelete checks that an upsert replaces a record of the same ID
// and a delete removes it (an unknown ID is no error).
func (su *suite) replaceAndDelete(t *testing.T) {
	ctx := context.Background()
	s := su.open(t, 4)
	defer s.Close()
	a := memory.Record{ID: "a", Text: "first", Kind: memory.KindFinding, Vector: []float32{1, 0, 0, 0}}
	if err := s.Upsert(ctx, []memory.Record{a}); err != nil {
		t.Fatal(err)
	}
	a.Text = "second"
	a.Vector = []float32{0, 1, 0, 0}
	if err := s.Upsert(ctx, []memory.Record{a, {ID: "b", Text: "other", Kind: memory.KindResult, Vector: []float32{0, 0, 1, 0}}}); err != nil {
		t.Fatal(err)
	}
	hits, _ := s.Search(ctx, []float32{0, 1, 0, 0}, memory.Filter{}, 1)
	if len(hits) != 1 || hits[0].ID != "a" || hits[0].Text != "second" || hits[0].Score < 0.999 {
		t.Fatalf("after replace: %+v", hits)
	}
	if err := s.Delete(ctx, []string{"a", "never-existed"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count(ctx, memory.Filter{}); n != 1 {
		t.Errorf("count after delete %d, want 1", n)
	}
}

// badInput checks that a bad record is refused, with its batch.
func (su *suite) badInput(t *testing.T) {
	ctx := context.Background()
	s := su.open(t, 4)
	defer s.Close()
	good := memory.Record{ID: "g", Text: "ok", Kind: memory.KindFinding, Vector: []float32{1, 0, 0, 0}}
	for _, c := range []struct {
		r    memory.Record
		want string
	}{
		{memory.Record{ID: "e", Text: "", Kind: memory.KindFinding, Vector: []float32{1, 0, 0, 0}}, "empty text"},
		{memory.Record{ID: "k", Text: "x", Kind: "rumour", Vector: []float32{1, 0, 0, 0}}, "kind"},
		{memory.Record{ID: "d", Text: "x", Kind: memory.KindFinding, Vector: []float32{1, 0}}, "dimension"},
		{memory.Record{ID: "o", Text: strings.Repeat("y", memory.MaxTextBytes+1), Kind: memory.KindFinding, Vector: []float32{1, 0, 0, 0}}, "bytes of text"},
	} {
		if err := s.Upsert(ctx, []memory.Record{good, c.r}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("record %s: %v, want an error about %q", c.r.ID, err, c.want)
		}
	}
	if n, _ := s.Count(ctx, memory.Filter{}); n != 0 {
		t.Errorf("%d records written by refused batches", n)
	}
	long := memory.Record{ID: "l", Text: "x", Kind: memory.KindFinding, Vector: []float32{1, 0, 0, 0}, Scope: strings.Repeat("s", memory.MaxIDBytes+1)}
	if err := s.Upsert(ctx, []memory.Record{long}); err == nil || !strings.Contains(err.Error(), "scope") {
		t.Errorf("an over-long scope: %v", err)
	}
	if _, err := s.Search(ctx, []float32{1}, memory.Filter{}, 3); err == nil {
		t.Error("a query of the wrong dimension was accepted")
	}
}

// largeBatches checks a batch of a thousand records.
func (su *suite) largeBatches(t *testing.T) {
	ctx := context.Background()
	var recs []memory.Record
	for i := range 1000 {
		recs = append(recs, memory.Record{ID: fmt.Sprintf("big-%d", i), Text: "t", Kind: memory.KindObservation, Vector: su.vec(16)})
	}
	s := su.holding(t, 16, recs)
	if n, _ := s.Count(ctx, memory.Filter{Kind: memory.KindObservation}); n != 1000 {
		t.Errorf("count %d, want 1000", n)
	}
}

// Scored is a record's ID and its cosine similarity to a query.
type Scored struct {
	ID    string
	Score float32
}

// Ranked is what an exact search for q must find: the records keep
// accepts, by cosine similarity, best first.
func Ranked(q []float32, recs []memory.Record, keep func(*memory.Record) bool) []Scored {
	var all []Scored
	for i := range recs {
		if keep(&recs[i]) {
			all = append(all, Scored{recs[i].ID, memory.Cosine(q, recs[i].Vector)})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Score > all[j].Score })
	return all
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("record ID suffix %q: %v", s, err)
	}
	return n
}
