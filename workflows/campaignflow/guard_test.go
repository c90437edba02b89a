package campaignflow

import (
	"fmt"
	"math"
	"testing"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/workflows/campaign"
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

// A stop vote needs the optimiser's agreement once the guard watches: a
// stale campaign past half its budget does not converge while the best
// expected improvement is still above 1 % of the range.
func TestConvergenceNeedsTheOptimiser(t *testing.T) {
	cw := &campaignRun{in: campaign.CampaignInput{Budget: challenges.Budget{Experiments: 10}}, st: &campaign.CampaignState{Stale: 3, Experiments: make([]campaign.Experiment, 6)}}
	if !cw.convergenceVote() {
		t.Fatal("unwatched: a stale campaign past half its budget should converge, as before")
	}
	cw.st.Watch = true
	for low, want := range []bool{false, false, true} {
		cw.st.LowEI = low
		if got := cw.convergenceVote(); got != want {
			t.Errorf("%d low-EI iterations: converged %v, want %v", low, got, want)
		}
	}
}
