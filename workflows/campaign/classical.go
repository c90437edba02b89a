package campaign

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/tools/optimizer"
	"github.com/genesis-sci/genesis/workflows/activities"
)

// ClassicalRounds is how many sequential bo rounds one local activity runs.
const ClassicalRounds = 25

// ClassicalPlan is the next iteration of a classical strategy after done
// experiments: k points per round, chosen by acq ("random", "ei" or "ucb"),
// in rounds rounds inside one local activity, at most most points in all
// (0: rounds × k); start and startSize are the optimiser's start design. in
// carries the campaign's defaults; nParams is the challenge's number of
// parameters; related says the campaign starts from its family's
// measurements, so it skips the start design. ver reports whether a change (a workflow.GetVersion change
// ID) applies: ClassicalPlan asks "random-rounds" only when random could
// batch its rounds and "search-v2" for bo; callers outside a workflow
// answer true.
//
// Since search-v2, bo starts with the campaign's start design (Init: by
// default k-medoids, optimizer.StartSizeFor points, in one round), then
// chooses Batch points per round (default 1) by Acquisition (default EI,
// q-EI for batches). Before it, bo ran InitialRandom random points, then
// UCB one point at a time, as Liang et al.'s GP-LCB2.
func ClassicalPlan(in CampaignInput, done, nParams int, related bool, ver func(change string) bool) (k int, acq string, rounds, most int, start string, startSize int) {
	left := in.Budget - done
	k, acq, rounds = min(left, in.MaxBatch), "random", 1
	switch {
	case in.Strategy == StrategyBO && ver("search-v2"):
		start, startSize = in.StartDesign(nParams)
		if related {
			startSize = 0
		}
		if done < startSize {
			// The whole start design in one round.
			return min(startSize-done, left), cmp.Or(in.Acquisition, optimizer.AcqEI), 1, 0, start, startSize
		}
		k, acq = min(max(in.Batch, 1), left), cmp.Or(in.Acquisition, optimizer.AcqEI)
		if in.Portfolio == "" {
			rounds = min((left+k-1)/k, ClassicalRounds)
			most = left
		}
	case in.Strategy == StrategyBO:
		k, acq = 1, "ucb"
		initial := cmp.Or(in.InitialRandom, 2)
		start, startSize = optimizer.StartRandom, initial
		if n := initial - done; n > 0 {
			k, acq = min(n, left), "random"
		} else if in.Portfolio == "" {
			// Sequential bo runs several rounds (suggest one, measure it)
			// inside one local activity; the workflow records them together.
			rounds = min(left, ClassicalRounds)
		}
	case in.Strategy == StrategyRandom && in.Patience < 0 && in.Portfolio == "" && ver("random-rounds"):
		// Random draws do not depend on results. With patience off and no
		// portfolio, nothing between two batches could change the course,
		// so one local activity draws and runs the batches left (fewer
		// markers, less orchestration per experiment, as in an eval).
		rounds, most = min((left+k-1)/k, ClassicalRounds), left
	}
	return k, acq, rounds, most, start, startSize
}

// iterateClassical is one iteration of a strategy without agents: "bo"
// suggests one point at a time with the Gaussian-process optimiser (UCB,
// κ = 2, after InitialRandom random points, as in Liang et al.'s
// GP-LCB2); "random" draws a batch uniformly. Lab runs are local
// activities: nothing here waits on a model, so the orchestration cost
// per experiment stays small next to the optimiser's own.
func (cw *campaign) iterateClassical() error {
	left := cw.in.Budget - len(cw.st.Experiments)
	k, acq, rounds, most, start, startSize := ClassicalPlan(cw.in, len(cw.st.Experiments), len(cw.info.Parameters), len(cw.st.Related) > 0, func(change string) bool {
		return workflow.GetVersion(cw.ctx, change, workflow.DefaultVersion, 1) == 1
	})
	if cw.m.replan != "" {
		k, acq, cw.m.replan = min(left, cw.in.MaxBatch), "random", ""
	}
	cw.phase = "lab"
	var step activities.ClassicalStepResult
	lctx := workflow.WithLocalActivityOptions(cw.ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumInterval: 5 * time.Second, MaximumAttempts: 10}})
	in := activities.ClassicalStepInput{Suggest: activities.SuggestInput{Challenge: cw.info.ID, Experiments: cw.st.Experiments, K: k, Acquisition: acq,
		Start: start, StartSize: startSize, Warm: cw.st.Hyper, Related: cw.st.Related, Seed: cw.in.Seed*7919 + cw.st.Iteration},
		KeyPrefix: fmt.Sprintf("%s/it%d", cw.id, cw.st.Iteration), Rounds: rounds, Most: most, Requester: cw.id,
		Remember: cw.info.Family != "", MemoryScope: cw.in.MemoryScope}
	var seq int
	if cw.in.Portfolio != "" {
		// In a portfolio the points are chosen first, so the approval
		// policy sees them, and run only as far as the grant goes.
		if err := workflow.ExecuteLocalActivity(lctx, activities.SuggestName, in.Suggest).Get(cw.ctx, &in.Chosen); err != nil {
			return fmt.Errorf("%s step: %w", cw.in.Strategy, err)
		}
		if len(in.Chosen) == 0 {
			cw.stop = "no untested candidate left"
			return nil
		}
		var n int
		seq, n = cw.acquire(portfolio.Lab, len(in.Chosen), cw.labPoints(in.Chosen))
		if n == 0 {
			return nil
		}
		in.Chosen = in.Chosen[:n]
	}
	err := workflow.ExecuteLocalActivity(lctx, activities.ClassicalStepName, in).Get(cw.ctx, &step)
	if err != nil {
		// What ran is unknown: charge the whole grant.
		cw.release(seq, portfolio.Amount{LabRuns: len(in.Chosen)})
	} else {
		cw.release(seq, labSpend(step.Results))
	}
	if err != nil {
		return fmt.Errorf("%s step: %w", cw.in.Strategy, err)
	}
	if len(step.Chosen) == 0 {
		cw.stop = "no untested candidate left"
		return nil
	}
	cw.recordKeys(step.Chosen, step.Results, step.Keys)
	if step.Hyper != nil {
		cw.st.Hyper = step.Hyper
	}
	for _, c := range step.Chosen {
		// A surrogate fit that fell back to its priors is reported, not
		// hidden: the campaign counts it and says so.
		if strings.Contains(c.Note, activities.DegenerateNote) {
			cw.fallback("optimizer", "the surrogate's fit was degenerate; it used its priors' modes")
			break
		}
	}
	cw.updateBest()
	return nil
}
