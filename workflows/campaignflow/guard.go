package campaignflow

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/internal/clip"
	"github.com/genesis-sci/genesis/workflows/activities"
)

// The team may propose anything, but the lab batch it runs is held to the
// optimiser it holds: the surrogate scores every candidate by its expected
// improvement (EI), and a pick of the team's
//
//   - on a par with the optimiser (EI at least guardRatio of the best EI
//     the optimiser found among all candidates) runs;
//   - below par runs only with a stated reason (the lab-operator's
//     rationale, prose about this campaign), at most guardLowCap per batch;
//   - otherwise gives its slot to the optimiser's best candidate not yet
//     in the batch.
//
// So each batch gives up at most (1 − guardRatio) of the optimiser's best
// EI per pick on a par, and at most guardLowCap picks whose reason a person
// can read in the events. The numbers are the workflow's, never the model's.
const (
	guardRatio  = 0.5
	guardLowCap = 1
)

// Stopping early needs evidence the workflow computes: the optimiser's best
// expected improvement below stopEIFrac of the range of scores measured,
// for stopEIIters iterations in a row (campaign.CampaignState.LowEI). A stop vote
// without it is overruled (convergenceVote).
const (
	stopEIFrac  = 0.01
	stopEIIters = 2
)

// guard holds the team's lab batch to the optimiser before it runs: every
// candidate, and the optimiser's suggestions not among them, is appraised
// by the surrogate; picks below par give their slot to the best spare
// suggestion (guardBatch), each swap an event a person can read. The
// appraisal's best EI is also the stopping evidence. An appraisal that
// fails leaves the batch as the team chose it, with an event.
func (cw *campaignRun) guard(cands, sugg []agents.Candidate, picks []int, reason bool) ([]agents.Candidate, []int) {
	pool := slices.Clone(cands)
	seen := map[string]bool{}
	for _, c := range cands {
		seen[cw.info.Key(c.Point)] = true
	}
	for _, s := range sugg {
		if !seen[cw.info.Key(s.Point)] {
			seen[cw.info.Key(s.Point)] = true
			pool = append(pool, s)
		}
	}
	pts := make([]challenges.Point, len(pool))
	for i, c := range pool {
		pts[i] = c.Point
	}
	lctx := workflow.WithLocalActivityOptions(cw.ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
	var ap activities.Appraisal
	t0 := workflow.Now(cw.ctx)
	err := workflow.ExecuteLocalActivity(lctx, activities.AppraiseName, activities.AppraiseInput{Challenge: cw.info.ID, Experiments: cw.st.Experiments, Related: cw.st.Related, Points: pts}).Get(cw.ctx, &ap)
	cw.st.Time.Tools += cw.since(t0)
	if err != nil || len(ap.EI) != len(pool) {
		if err == nil {
			err = fmt.Errorf("%d scores for %d points", len(ap.EI), len(pool))
		}
		cw.event("guard", "not applied", clip.Clip(err.Error(), 160))
		return cands, picks
	}
	if !ap.Judged {
		return cands, picks
	}
	cw.st.Watch = true
	if ap.Range > 0 && ap.BestEI < stopEIFrac*ap.Range {
		cw.st.LowEI++
	} else {
		cw.st.LowEI = 0
	}
	out, swaps := guardBatch(pool, ap.EI, ap.BestEI, picks, reason)
	n := len(cands)
	for _, sw := range swaps {
		cw.event("guard", "replaced", fmt.Sprintf("%s (expected improvement %.3g) by the optimiser's %s (%.3g): below half of the best %.3g",
			agents.PointJSON(cw.info.Challenge(), pool[sw.Team].Point), sw.TeamEI, agents.PointJSON(cw.info.Challenge(), pool[sw.Optimizer].Point), sw.OptEI, ap.BestEI))
	}
	// Suggestions the guard brought in join the candidates.
	for i, p := range out {
		if p >= n {
			cands = append(cands, pool[p])
			out[i] = len(cands) - 1
		}
	}
	return cands, out
}

// swap is a team pick the guard replaced, for the campaign's events.
type swap struct {
	Team, Optimizer int // candidate indices
	TeamEI, OptEI   float64
}

// guardBatch applies the guard to the lab-operator's picks (indices into
// cands, whose EI are ei): team picks on a par stay, up to guardLowCap
// below par stay when reason is set, and the others give their slot to the
// best-scoring optimizer candidate not already picked. It returns the
// batch and what it swapped.
func guardBatch(cands []agents.Candidate, ei []float64, bestEI float64, picks []int, reason bool) ([]int, []swap) {
	inBatch := map[int]bool{}
	for _, p := range picks {
		inBatch[p] = true
	}
	// The optimiser's candidates not picked, best first.
	var spare []int
	for i, c := range cands {
		if c.Source == "optimizer" && !inBatch[i] {
			spare = append(spare, i)
		}
	}
	sort.SliceStable(spare, func(a, b int) bool { return ei[spare[a]] > ei[spare[b]] })
	out := make([]int, 0, len(picks))
	var swaps []swap
	low := 0
	for _, p := range picks {
		par := cands[p].Source == "optimizer" || ei[p] >= guardRatio*bestEI || math.IsInf(ei[p], 1)
		if !par && reason && low < guardLowCap {
			low++
			par = true
		}
		if par || len(spare) == 0 || ei[spare[0]] <= ei[p] {
			out = append(out, p)
			continue
		}
		swaps = append(swaps, swap{Team: p, Optimizer: spare[0], TeamEI: ei[p], OptEI: ei[spare[0]]})
		out = append(out, spare[0])
		spare = spare[1:]
	}
	return out, swaps
}
