package workflows

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/memory"
)

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
func (a *Activities) RecallFamily(ctx context.Context, in FamilyRecallInput) (FamilyRecall, error) {
	var out FamilyRecall
	c, err := a.challenge(in.Challenge)
	if err != nil {
		return out, err
	}
	if a.Memory == nil || a.Embedder == nil {
		return out, nil
	}
	type found struct {
		memory.Record
		point  challenges.Point
		values []float64
	}
	var all []found
	for _, sib := range a.Catalog.Siblings(c) {
		f := memory.Filter{Kind: memory.KindResult, Challenge: sib.ID, Scope: in.MemoryScope}
		n, err := a.Memory.Count(ctx, f)
		if err != nil {
			return out, fmt.Errorf("counting %s's results in memory: %w", sib.ID, err)
		}
		if n == 0 {
			continue
		}
		hits, err := a.recall(ctx, "lab result on "+sib.ID, f, n)
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

// Transfer is a campaign's provenance for what it took from its family:
// how many sibling measurements, from which challenges, and the memory
// records they came from.
type Transfer struct {
	Family  string         `json:"family"`
	From    map[string]int `json:"from,omitempty"`
	Points  int            `json:"points"`
	Skipped int            `json:"skipped,omitempty"`
	Records []string       `json:"records,omitempty"`
}

// recallFamily gives a campaign in a family its siblings' measurements, once,
// when it starts (not after continuing as new: they are in its state).
func (cw *campaign) recallFamily() error {
	if cw.info.Family == "" || cw.in.NoTransfer || cw.st.Transfer != nil {
		return nil
	}
	if workflow.GetVersion(cw.ctx, "family-transfer", workflow.DefaultVersion, 1) != 1 {
		return nil
	}
	var a *Activities
	actx := workflow.WithActivityOptions(cw.ctx, workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 5}})
	var rec FamilyRecall
	if err := workflow.ExecuteActivity(actx, a.RecallFamily, FamilyRecallInput{Challenge: cw.info.ID, MemoryScope: cw.in.MemoryScope}).Get(cw.ctx, &rec); err != nil {
		// Transfer is a head start, not a requirement: say so and go on
		// cold.
		cw.event("campaign", "no transfer", "reading the siblings' results failed: "+shorten(err.Error(), 160))
		cw.st.Transfer = &Transfer{Family: cw.info.Family}
		return nil
	}
	t := &Transfer{Family: cw.info.Family, From: map[string]int{}, Points: len(rec.Points), Skipped: rec.Skipped}
	for _, p := range rec.Points {
		t.From[p.Challenge]++
		t.Records = append(t.Records, p.Record)
	}
	cw.st.Transfer, cw.st.Related = t, rec.Points
	if len(rec.Points) == 0 {
		cw.event("campaign", "no transfer", fmt.Sprintf("family %s: memory holds no results of %s yet", cw.info.Family, strings.Join(cw.info.Siblings, ", ")))
		return nil
	}
	var from []string
	for _, sib := range cw.info.Siblings {
		if n := t.From[sib]; n > 0 {
			from = append(from, fmt.Sprintf("%s (%d)", sib, n))
		}
	}
	detail := fmt.Sprintf("family %s: the optimiser starts from %d measurements of %s", cw.info.Family, len(rec.Points), strings.Join(from, ", "))
	if rec.Skipped > 0 {
		detail += fmt.Sprintf("; %d did not fit this challenge's space", rec.Skipped)
	}
	cw.event("campaign", "transfer", detail)
	return nil
}
