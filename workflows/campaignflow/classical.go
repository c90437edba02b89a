package campaignflow

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/workflows/activities"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// iterateClassical is one iteration of a strategy without agents: "bo"
// suggests one point at a time with the Gaussian-process optimiser (UCB,
// κ = 2, after InitialRandom random points, as in Liang et al.'s
// GP-LCB2); "random" draws a batch uniformly. Lab runs are local
// activities: nothing here waits on a model, so the orchestration cost
// per experiment stays small next to the optimiser's own.
func (cw *campaignRun) iterateClassical() error {
	left := cw.in.Budget.Experiments - len(cw.st.Experiments)
	k, acq, rounds, most, start, startSize := campaign.ClassicalPlan(cw.in, len(cw.st.Experiments), len(cw.info.Parameters), len(cw.st.Related) > 0, func(change string) bool {
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
