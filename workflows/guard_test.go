package workflows

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/challenges"
)

func TestGuardBatch(t *testing.T) {
	cands := []agents.Candidate{
		{Source: "model"},     // 0: on a par
		{Source: "model"},     // 1: far below
		{Source: "model"},     // 2: far below
		{Source: "optimizer"}, // 3
		{Source: "optimizer"}, // 4
		{Source: "fallback"},  // 5: far below
	}
	ei := []float64{0.8, 0.1, 0.05, 1.0, 0.9, 0.01}
	for _, tc := range []struct {
		picks  []int
		reason bool
		want   []int
		swaps  int
	}{
		{[]int{0, 3}, false, []int{0, 3}, 0},             // on a par and the optimiser's own: kept
		{[]int{1, 2}, false, []int{3, 4}, 2},             // below par, no reason: the optimiser's best two instead
		{[]int{1, 2}, true, []int{1, 3}, 1},              // a reason keeps one below-par pick, not two
		{[]int{0, 1, 2, 5}, false, []int{0, 3, 4, 5}, 2}, // no optimiser candidate left for the last: it stays
	} {
		got, swaps := guardBatch(cands, ei, 1.0, tc.picks, tc.reason)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) || len(swaps) != tc.swaps {
			t.Errorf("picks %v (reason %v): batch %v with %d swaps, want %v with %d", tc.picks, tc.reason, got, len(swaps), tc.want, tc.swaps)
		}
	}
	// Before the surrogate can judge (EI +Inf), nothing is replaced.
	inf := []float64{math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)}
	if got, swaps := guardBatch(cands, inf, math.Inf(1), []int{1, 2}, false); fmt.Sprint(got) != "[1 2]" || len(swaps) != 0 {
		t.Errorf("unjudged picks: %v, %v", got, swaps)
	}
}

// The Appraise activity scores the optimiser's own choice highest and a
// point next to the worst measurement low, on a real challenge.
func TestAppraiseActivity(t *testing.T) {
	f := newFixture(t, scriptedTeam())
	c, err := f.acts.Catalog.Get("crossed-barrel-toughness")
	if err != nil {
		t.Fatal(err)
	}
	var exps []Experiment
	for i, p := range c.Pool().Points[:12] {
		exps = append(exps, Experiment{Result: agents.Result{Point: p, Values: c.Pool().Values[i]}})
	}
	worst := 0
	for i := range exps {
		if exps[i].Values[0] < exps[worst].Values[0] {
			worst = i
		}
	}
	// The pool point nearest the worst one, not yet measured.
	var near challenges.Point
	bestD := math.Inf(1)
	for _, p := range c.Pool().Points[12:] {
		var d float64
		for j := range p {
			d += math.Abs(c.SearchPoint(p)[j] - c.SearchPoint(exps[worst].Point)[j])
		}
		if d < bestD {
			near, bestD = p, d
		}
	}
	sugg, err := f.acts.Suggest(context.Background(), SuggestInput{Challenge: c.ID, Experiments: exps, K: 1, Acquisition: "ei", Start: "medoids", StartSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := f.acts.Appraise(context.Background(), AppraiseInput{Challenge: c.ID, Experiments: exps, Points: []challenges.Point{sugg[0].Point, near}})
	if err != nil {
		t.Fatal(err)
	}
	if !(ap.EI[0] > 0 && math.Abs(ap.EI[0]-ap.BestEI) < 1e-9*(1+ap.BestEI) && ap.EI[1] < ap.EI[0] && ap.Range > 0) {
		t.Errorf("appraisal %+v: want the optimiser's pick at the best EI and the point by the worst below it", ap)
	}
	if _, err := f.acts.Appraise(context.Background(), AppraiseInput{Challenge: c.ID, Experiments: exps, Points: []challenges.Point{{1, 2, 3}}}); err == nil {
		t.Error("appraised a point outside the design space")
	}
}
