package activities

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/memory"
)

// Memory is the activity set that needs the team's memory (a store and
// its embedder): findings written, and a family's measurements read. Other
// sets write through it too (results, agents' outputs). Without a store or
// an embedder memory is off: writes do nothing and reads find nothing.
type Memory struct {
	cat   *challenges.Catalog
	store memory.Store
	emb   memory.Embedder
}

// NewMemory returns the set; a nil store or embedder turns memory off.
func NewMemory(cat *challenges.Catalog, store memory.Store, emb memory.Embedder) *Memory {
	return &Memory{cat: cat, store: store, emb: emb}
}

// Register registers the set's activities under their names.
func (s *Memory) Register(r worker.ActivityRegistry) {
	register(r, RememberName, s.Remember)
	register(r, RecallFamilyName, s.RecallFamily)
}

// Enabled reports whether the worker has a memory.
func (s *Memory) Enabled() bool { return s != nil && s.store != nil && s.emb != nil }

// Recall finds the k records nearest to q that pass f.
func (s *Memory) Recall(ctx context.Context, q string, f memory.Filter, k int) ([]memory.Hit, error) {
	if !s.Enabled() {
		return nil, nil
	}
	vecs, err := s.emb.Embed(ctx, []string{q})
	if err != nil {
		return nil, err
	}
	return s.store.Search(ctx, vecs[0], f, k)
}

// Put embeds and stores records, stamped now.
func (s *Memory) Put(ctx context.Context, recs []memory.Record) error {
	if !s.Enabled() {
		return nil
	}
	texts := make([]string, len(recs))
	for i, r := range recs {
		texts[i] = r.Text
	}
	vecs, err := s.emb.Embed(ctx, texts)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for i := range recs {
		recs[i].Vector = vecs[i]
		recs[i].Created = now
	}
	return s.store.Upsert(ctx, recs)
}

// RememberInput writes findings to memory.
type RememberInput struct {
	Campaign  string   `json:"campaign"`
	Challenge string   `json:"challenge"`
	Agent     string   `json:"agent"`
	Iteration int      `json:"iteration"`
	Texts     []string `json:"texts"`
	// MemoryScope is the campaign's (see CampaignInput.MemoryScope).
	MemoryScope string `json:"memory_scope,omitempty"`
}

// Remember stores findings in the shared memory.
func (s *Memory) Remember(ctx context.Context, in RememberInput) error {
	if !s.Enabled() {
		return nil
	}
	recs := make([]memory.Record, len(in.Texts))
	for i, t := range in.Texts {
		recs[i] = memory.Record{ID: fmt.Sprintf("%s/it%d/%s/%d", in.Campaign, in.Iteration, in.Agent, i), Text: t, Kind: memory.KindFinding,
			Campaign: in.Campaign, Challenge: in.Challenge, Agent: in.Agent, Scope: in.MemoryScope}
	}
	return s.Put(ctx, recs)
}

// RelatedPoint is a sibling's measurement, translated into this
// challenge's design space: the point, the values of this challenge's
// objectives, and where it came from.
type RelatedPoint struct {
	Challenge string           `json:"challenge"`
	Record    string           `json:"record"`
	Point     challenges.Point `json:"point"`
	Values    []float64        `json:"values"`
}

// FamilyRecallInput asks memory for what a challenge's siblings measured.
type FamilyRecallInput struct {
	Challenge string `json:"challenge"`
	// MemoryScope limits the recall to one scope (an eval's family
	// sequence); empty recalls from the shared memory.
	MemoryScope string `json:"memory_scope,omitempty"`
}

// FamilyRecall is what the siblings measured, usable here.
type FamilyRecall struct {
	Points []RelatedPoint `json:"points,omitempty"`
	// Skipped counts sibling measurements that do not fit this challenge
	// (outside its bounds, another option, a missing objective).
	Skipped int `json:"skipped,omitempty"`
}

// maxRelated caps the sibling measurements a campaign carries: they travel
// in its state, and a couple of hundred points pin down a sibling's
// response as well as a thousand.
const maxRelated = 200

// RecallFamily reads from memory the lab results of a challenge's siblings
// (records of kind result with a measurement) and translates each into
// this challenge's design space by parameter and objective name. A
// measurement that does not fit is skipped and counted. The newest come
// first when there are more than maxRelated; the result is sorted by
// record ID, so it does not depend on the store's order.
func (s *Memory) RecallFamily(ctx context.Context, in FamilyRecallInput) (FamilyRecall, error) {
	var out FamilyRecall
	c, err := lookup(s.cat, in.Challenge)
	if err != nil {
		return out, err
	}
	if !s.Enabled() {
		return out, nil
	}
	type found struct {
		memory.Record
		point  challenges.Point
		values []float64
	}
	var all []found
	for _, sib := range s.cat.Siblings(c) {
		f := memory.Filter{Kind: memory.KindResult, Challenge: sib.ID, Scope: in.MemoryScope}
		n, err := s.store.Count(ctx, f)
		if err != nil {
			return out, fmt.Errorf("counting %s's results in memory: %w", sib.ID, err)
		}
		if n == 0 {
			continue
		}
		hits, err := s.Recall(ctx, "lab result on "+sib.ID, f, n)
		if err != nil {
			return out, fmt.Errorf("reading %s's results from memory: %w", sib.ID, err)
		}
		for _, h := range hits {
			m := h.Measurement
			if m == nil {
				out.Skipped++
				continue
			}
			p, err := c.Translate(m.Point)
			if err != nil {
				out.Skipped++
				continue
			}
			vals := make([]float64, len(c.Objectives))
			ok := true
			for k, o := range c.Objectives {
				v, has := m.Values[o.Name]
				vals[k], ok = v, ok && has
			}
			if !ok {
				out.Skipped++
				continue
			}
			all = append(all, found{h.Record, p, vals})
		}
	}
	if len(all) > maxRelated {
		sort.SliceStable(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
		all = all[:maxRelated]
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	for _, f := range all {
		out.Points = append(out.Points, RelatedPoint{Challenge: f.Challenge, Record: f.ID, Point: f.point, Values: f.values})
	}
	return out, nil
}
