package campaignflow

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/internal/clip"
	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/workflows/activities"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

func (cw *campaignRun) runSims(cands []agents.Candidate, picks []int) []agents.Result {
	cw.phase = "simulating"
	// The heartbeat timeout also bounds how soon a stop reaches a job: the
	// cancellation arrives with the answer to a heartbeat, which the SDK
	// sends at most every 80 % of it.
	ctx := workflow.WithActivityOptions(cw.ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}, WaitForCancellation: true})
	// A stop while simulations run cancels them, and the cancellation
	// reaches the jobs (scancel on Slurm).
	ctx, cancel := workflow.WithCancel(ctx)
	done := false
	workflow.Go(cw.ctx, func(g workflow.Context) {
		if err := workflow.Await(g, func() bool { return done || cw.stop != "" }); err == nil && !done {
			cancel()
		}
	})
	defer func() { done = true }()
	seq, n := cw.acquire(portfolio.HPC, len(picks), nil)
	picks = picks[:n]
	spent := portfolio.Amount{Simulations: n}
	defer func() { cw.release(seq, spent) }()
	futs := make([]workflow.Future, len(picks))
	for i, k := range picks {
		key := fmt.Sprintf("%s/it%d/sim%d", cw.id, cw.st.Iteration, i)
		futs[i] = workflow.ExecuteActivity(ctx, activities.SimulateName, activities.SimInput{Challenge: cw.info.ID, Point: cands[k].Point, Key: key, Executor: cw.in.HPC})
	}
	var out []agents.Result
	for _, f := range futs {
		var r agents.Result
		if err := f.Get(cw.ctx, &r); err != nil {
			// How long it ran is unknown: charge its time limit.
			spent.NodeHours += portfolio.SimJobLimit.Hours()
			cw.event(agents.SimOperator, "simulation failed", clip.Clip(err.Error(), 120))
			continue
		}
		spent.NodeHours += r.Seconds / 3600
		r.Iteration = cw.st.Iteration
		if len(r.Values) == 0 {
			cw.event(agents.SimOperator, "simulation failed", r.Note)
			continue
		}
		out = append(out, r)
		cw.st.Sims = append(cw.st.Sims, r)
	}
	cw.event(agents.SimOperator, "simulated", fmt.Sprintf("%d of %d jobs completed", len(out), len(picks)))
	return out
}

func (cw *campaignRun) runLabs(cands []agents.Candidate, picks []int) []agents.Result {
	cw.phase = "lab"
	ctx := workflow.WithActivityOptions(cw.ctx, workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Hour, HeartbeatTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10}})
	chosen := make([]agents.Candidate, len(picks))
	for i, k := range picks {
		chosen[i] = cands[k]
	}
	seq, n := cw.acquire(portfolio.Lab, len(chosen), cw.labPoints(chosen))
	if n == 0 {
		return nil
	}
	chosen = chosen[:n]
	futs := make([]workflow.Future, len(chosen))
	for i, c := range chosen {
		futs[i] = workflow.ExecuteActivity(ctx, activities.LabRunName, activities.LabRunInput{Challenge: cw.info.ID, Point: c.Point, Key: cw.labKey(i), Requester: cw.id, MemoryScope: cw.in.MemoryScope})
	}
	out := make([]agents.Result, len(futs))
	for i, f := range futs {
		if err := f.Get(cw.ctx, &out[i]); err != nil {
			out[i] = agents.Result{Source: "lab", Point: chosen[i].Point, Note: "lab error: " + clip.Clip(err.Error(), 160)}
		}
	}
	cw.release(seq, labSpend(out))
	cw.record(chosen, out)
	return out
}

// labKey is the idempotency key of the iteration's i-th lab run.
func (cw *campaignRun) labKey(i int) string {
	return fmt.Sprintf("%s/it%d/lab%d", cw.id, cw.st.Iteration, i)
}

// record adds the iteration's lab results to the campaign: measured ones
// as experiments, refused or failed ones as counted failures.
func (cw *campaignRun) record(chosen []agents.Candidate, results []agents.Result) {
	keys := make([]string, len(results))
	for i := range keys {
		keys[i] = cw.labKey(i)
	}
	cw.recordKeys(chosen, results, keys)
}

func (cw *campaignRun) recordKeys(chosen []agents.Candidate, results []agents.Result, keys []string) {
	for i, r := range results {
		r.Iteration = cw.st.Iteration
		results[i] = r
		if len(r.Values) == 0 {
			cw.st.Refused++
			cw.event(agents.LabOperator, "run refused or failed", clip.Clip(r.Note, 160))
			continue
		}
		cw.st.Experiments = append(cw.st.Experiments, campaign.Experiment{Result: r, Key: keys[i], Origin: chosen[i].Source, Hypothesis: chosen[i].Hypothesis})
		cw.event(agents.LabOperator, "measured", fmt.Sprintf("%s = %.4g (run %s)", cw.info.Objective, r.Values[0], r.Ref))
	}
}

// labSpend charges the lab runs of a batch: every one but those the lab
// refused. A run whose activity failed may have run (the lab may have
// accepted it before the failure), so it is charged: the ledger may
// over-count, never under-count.
func labSpend(results []agents.Result) portfolio.Amount {
	var a portfolio.Amount
	for _, r := range results {
		if r.Ref != "" || !strings.HasPrefix(r.Note, activities.RefusedNote) {
			a.LabRuns++
		}
	}
	return a
}
