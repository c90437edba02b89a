// Package memory is the agents' shared vector memory: records of what was
// observed, hypothesised, measured and concluded, retrieved by meaning.
// Store is the small contract every backend meets (memory/embedded is the
// in-process default); Embedder turns text into vectors.
package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Record kinds.
const (
	KindObservation = "observation"
	KindHypothesis  = "hypothesis"
	KindResult      = "result"
	KindFinding     = "finding"
	KindChat        = "chat"
)

// Record is one memory.
type Record struct {
	ID        string    `json:"id"`
	Text      string    `json:"text"`
	Vector    []float32 `json:"vector,omitempty"`
	Kind      string    `json:"kind"`
	Campaign  string    `json:"campaign,omitempty"`
	Challenge string    `json:"challenge,omitempty"`
	Agent     string    `json:"agent,omitempty"`
	// Scope isolates a group of campaigns' memories (an eval run, a
	// family of campaigns run in sequence): a campaign with a memory scope
	// writes its records with it and recalls only records of that scope,
	// so what it reads cannot come from outside (another seed of an eval).
	// Records without one (ordinary campaigns, and every record written
	// before scopes existed) never reach a scoped recall; an unscoped one
	// sees every record, as before scopes existed.
	Scope string `json:"scope,omitempty"`
	// Source points at what produced the record: a lab run ID, a job ID, a model call transcript.
	Source  string    `json:"source,omitempty"`
	Created time.Time `json:"created"`
	// Measurement is a lab result's numbers (kind result), so that a later
	// campaign can use what was measured, not only read about it: a sibling
	// in the same family starts its surrogate from them.
	Measurement *Measurement `json:"measurement,omitempty"`
}

// Measurement is the point a lab run measured and what it measured there.
type Measurement struct {
	// Point maps parameter names to values (categorical options by name).
	Point map[string]any `json:"point"`
	// Values maps objective names to the measured values.
	Values map[string]float64 `json:"values"`
}

// validate checks a measurement's values are finite and it is small.
func (m *Measurement) validate() error {
	if len(m.Point) == 0 || len(m.Values) == 0 {
		return errors.New("a measurement needs a point and values")
	}
	for k, v := range m.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("measurement value %s is %v, want a finite number", k, v)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("measurement: %w", err)
	}
	if len(b) > MaxTextBytes {
		return fmt.Errorf("measurement is %d bytes, at most %d", len(b), MaxTextBytes)
	}
	return nil
}

// Filter restricts a search; empty fields match anything. A non-empty
// Scope matches only records of exactly that scope, so records written
// without one never reach a scoped recall.
type Filter struct {
	Kind      string
	Campaign  string
	Challenge string
	Agent     string
	Scope     string
}

// Match reports whether r passes the filter.
func (f Filter) Match(r *Record) bool {
	return (f.Kind == "" || f.Kind == r.Kind) &&
		(f.Campaign == "" || f.Campaign == r.Campaign) &&
		(f.Challenge == "" || f.Challenge == r.Challenge) &&
		(f.Agent == "" || f.Agent == r.Agent) &&
		(f.Scope == "" || f.Scope == r.Scope)
}

// Hit is a search result.
type Hit struct {
	Record
	Score float32 `json:"score"`
}

// Store is a vector store. Implementations are safe for concurrent use.
type Store interface {
	Upsert(ctx context.Context, recs []Record) error
	Search(ctx context.Context, vec []float32, f Filter, k int) ([]Hit, error)
	Delete(ctx context.Context, ids []string) error
	Count(ctx context.Context, f Filter) (int, error)
	Close() error
}

// Embedder turns texts into vectors of a fixed dimension.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Dim() int
	Name() string
}

// Hashing is an embedder that needs no model: signed feature hashing of
// word unigrams and bigrams, L2-normalised. It captures shared vocabulary,
// not meaning, and is for tests and model-less operation.
type Hashing struct{ D int }

// Name implements Embedder.
func (h Hashing) Name() string { return "hashing" }

// Dim implements Embedder.
func (h Hashing) Dim() int {
	if h.D <= 0 {
		return 256
	}
	return h.D
}

// Embed implements Embedder.
func (h Hashing) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = h.one(t)
	}
	return out, nil
}

func (h Hashing) one(text string) []float32 {
	d := h.Dim()
	v := make([]float32, d)
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '.' })
	add := func(tok string, w float32) {
		f := fnv.New64a()
		_, _ = f.Write([]byte(tok))
		x := f.Sum64()
		sign := float32(1)
		if x>>63 == 1 {
			sign = -1
		}
		v[x%uint64(d)] += sign * w
	}
	for i, w := range words {
		add(w, 1)
		if i > 0 {
			add(words[i-1]+" "+w, 0.5)
		}
	}
	Normalize(v)
	return v
}

// Normalize scales v to unit length in place (zero vectors stay zero).
func Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	n := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= n
	}
}

// Cosine is the cosine similarity of a and b.
func Cosine(a, b []float32) float32 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return float32(dot / math.Sqrt(na*nb))
}

// Kinds lists the record kinds.
var Kinds = []string{KindObservation, KindHypothesis, KindResult, KindFinding, KindChat}

// Size limits of a record.
const (
	MaxTextBytes = 16 << 10
	MaxIDBytes   = 512
)

// Validate checks a record for a store of vectors of dimension dim.
func (r *Record) Validate(dim int) error {
	switch {
	case r.ID == "":
		return errors.New("memory: a record needs an ID")
	case len(r.ID) > MaxIDBytes:
		return fmt.Errorf("memory: record ID is %d bytes, at most %d", len(r.ID), MaxIDBytes)
	case len(r.Scope) > MaxIDBytes:
		return fmt.Errorf("memory: record %s has a scope of %d bytes, at most %d", r.ID, len(r.Scope), MaxIDBytes)
	case strings.TrimSpace(r.Text) == "":
		return fmt.Errorf("memory: record %s has empty text; store something to recall", r.ID)
	case len(r.Text) > MaxTextBytes:
		return fmt.Errorf("memory: record %s has %d bytes of text, at most %d; summarise it first", r.ID, len(r.Text), MaxTextBytes)
	case !slices.Contains(Kinds, r.Kind):
		return fmt.Errorf("memory: record %s has kind %q; want one of %s", r.ID, r.Kind, strings.Join(Kinds, ", "))
	case len(r.Vector) != dim:
		return fmt.Errorf("memory: record %s has a %d-dimensional vector, the store holds %d", r.ID, len(r.Vector), dim)
	}
	if r.Measurement != nil {
		if err := r.Measurement.validate(); err != nil {
			return fmt.Errorf("memory: record %s: %w", r.ID, err)
		}
	}
	for _, x := range r.Vector {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("memory: record %s has a non-finite vector component", r.ID)
		}
	}
	return nil
}

// Prepare validates a batch for a store of dimension dim and returns
// copies with Created set where it was zero. Any invalid record fails the
// whole batch, so a store writes all of it or nothing.
func Prepare(recs []Record, dim int) ([]Record, error) {
	out := make([]Record, len(recs))
	now := time.Now().UTC()
	for i, r := range recs {
		if err := r.Validate(dim); err != nil {
			return nil, err
		}
		if r.Created.IsZero() {
			r.Created = now
		}
		out[i] = r
	}
	return out, nil
}
