package campaignflow

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/internal/clip"
	"github.com/genesis-sci/genesis/workflows/activities"
)

// iterate is one iteration of the agent team, DESIGN.md's loop. The
// iteration's brief is the state as the iteration began, to which each
// role's output is added for the next: every role sees the same growing
// text, so each prompt extends the one before (agents/prompt.go).
func (cw *campaignRun) iterate() error {
	b := cw.brief()
	plan, stop := cw.plan(&b)
	if stop {
		return nil
	}
	cands, sugg, err := cw.propose(&b, plan)
	if err != nil {
		return err
	}
	b.SimResults = cw.simulate(b, plan, cands)
	cw.analyse(&b, cw.runBatch(b, plan, cands, sugg))
	cw.event("campaign", "iteration done", fmt.Sprintf("experiments %d/%d, best %s", len(cw.st.Experiments), cw.in.Budget.Experiments, cw.bestString()))
	return nil
}

// plan is step 1: the planner decides explore or exploit and how many
// simulations and lab runs, within the limits; stop is set when its stop
// vote is honoured.
func (cw *campaignRun) plan(b *agents.Brief) (plan agents.Plan, stop bool) {
	lim := cw.limits()
	fast := cw.fast()
	plan = agents.Plan{Decision: "explore", LabRuns: min(2, lim.MaxLabRuns), Simulations: min(2, max(lim.MaxSimulations, 0)), Rationale: "default plan"}
	if fast {
		plan.LabRuns = lim.MaxLabRuns
	}
	if len(cw.st.Experiments) > cw.in.Budget.Experiments/3 {
		plan.Decision = "exploit"
	}
	if res := cw.turn(agents.Planner, *b); res != nil && res.Plan != nil {
		plan = *res.Plan
		cw.event(agents.Planner, plan.Decision, fmt.Sprintf("%d lab runs, %d simulations: %s", plan.LabRuns, plan.Simulations, clip.Clip(plan.Rationale, 120)))
	} else {
		cw.fallback(agents.Planner, "using the default plan: "+plan.Decision)
	}
	if plan.Decision == "stop" {
		// A stop vote is honoured only with evidence of convergence.
		if cw.convergenceVote() {
			cw.stop = "planner judged the campaign converged: " + clip.Clip(plan.Rationale, 100)
			return plan, true
		}
		plan.Decision = "exploit"
	}
	if cw.m.replan != "" {
		// The portfolio found the campaign stalled: explore afresh.
		plan.Decision = "explore"
		cw.event(agents.Planner, "re-planned", "exploring: "+cw.m.replan)
		cw.m.replan = ""
	}
	if fast && plan.LabRuns == 0 {
		plan.LabRuns = lim.MaxLabRuns // the planner left the batch to the lab's capacity
	}
	plan.LabRuns = clamp(plan.LabRuns, 1, lim.MaxLabRuns)
	plan.Simulations = clamp(plan.Simulations, 0, max(lim.MaxSimulations, 0))
	b.Plan = &plan
	return plan, false
}

// propose is step 2: the optimiser's suggestions, then the hypothesis
// agent's candidates; unsafe ones are dropped, and the optimiser's
// suggestions top them up to what the plan needs.
func (cw *campaignRun) propose(b *agents.Brief, plan agents.Plan) (cands, sugg []agents.Candidate, err error) {
	want := plan.LabRuns + plan.Simulations
	if sugg, err = cw.suggest(plan, max(want, 4)); err != nil {
		return nil, nil, err
	}
	if !cw.noOpt() {
		b.Suggestions = sugg
	}
	res := cw.turn(agents.Hypothesis, *b)
	if res != nil {
		for _, p := range res.Proposed {
			cands = append(cands, agents.Candidate{Point: p.Point, Source: "model", Hypothesis: p.Hypothesis, Note: p.Note})
		}
		note := fmt.Sprintf("%d candidates", len(cands))
		if res.Problem != "" {
			note += "; dropped: " + clip.Clip(res.Problem, 100)
		}
		cw.event(agents.Hypothesis, "proposed", note)
	} else {
		cw.fallback(agents.Hypothesis, "using the optimiser's suggestions")
	}
	if len(cands) > 0 && workflow.GetVersion(cw.ctx, safeCandidatesChange, workflow.DefaultVersion, 1) == 1 {
		if cands, err = cw.dropUnsafe(agents.Hypothesis, cands); err != nil {
			return nil, nil, err
		}
	}
	if lim := cw.limits(); len(cands) > lim.Candidates {
		cands = cands[:lim.Candidates]
	}
	repeat := strings.Contains(cw.lastProblem, agents.AlreadyTaken) || (res != nil && strings.Contains(res.Problem, agents.AlreadyTaken))
	cw.repeated(cands, repeat)
	cands = fill(cw.info, cands, sugg, want)
	b.Candidates = cands
	return cands, sugg, nil
}

// suggest asks the optimiser for k candidates: by UCB when the plan
// explores, EI when it exploits, random draws for the team without it.
func (cw *campaignRun) suggest(plan agents.Plan, k int) ([]agents.Candidate, error) {
	lctx := workflow.WithLocalActivityOptions(cw.ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
	acq := map[bool]string{true: "ucb", false: "ei"}[plan.Decision == "explore"]
	if cw.noOpt() {
		acq = "random" // the team on its own: top-ups and fallbacks are random points
	}
	start, startSize := cw.in.StartDesign(len(cw.info.Parameters))
	t0 := workflow.Now(cw.ctx)
	var sugg []agents.Candidate
	if err := workflow.ExecuteLocalActivity(lctx, activities.SuggestName, activities.SuggestInput{Challenge: cw.info.ID, Experiments: cw.st.Experiments, K: k,
		Acquisition: acq, Start: start, StartSize: startSize, Related: cw.st.Related, Seed: cw.in.Seed*7919 + cw.st.Iteration}).Get(cw.ctx, &sugg); err != nil {
		return nil, fmt.Errorf("optimiser: %w", err)
	}
	cw.st.Time.Tools += cw.since(t0)
	return sugg, nil
}

// simulate is step 3: the simulation-operator chooses which candidates to
// simulate (only when there is a choice), and the jobs run.
func (cw *campaignRun) simulate(b agents.Brief, plan agents.Plan, cands []agents.Candidate) []agents.Result {
	fast := cw.fast()
	switch {
	case plan.Simulations > 0 && len(cands) > 0:
		picks := pickDefault(len(cands), plan.Simulations)
		if fast && plan.Simulations >= len(cands) {
			cw.skip(agents.SimOperator, fmt.Sprintf("all %d candidates are simulated", len(cands)))
		} else if res := cw.turn(agents.SimOperator, b); res != nil {
			if sel := res.Sims; sel != nil {
				// The planner decides how many, the operator which: its picks come first.
				picks = topUp(validPicks(sel.Simulate, len(cands), plan.Simulations), picks, plan.Simulations)
				cw.event(agents.SimOperator, "chose", fmt.Sprintf("simulate %v: %s", oneBased(picks), clip.Clip(sel.Rationale, 100)))
			}
		} else {
			cw.fallback(agents.SimOperator, "simulating the first candidates")
		}
		t0 := workflow.Now(cw.ctx)
		sims := cw.runSims(cands, picks)
		cw.st.Time.Sim += cw.since(t0)
		return sims
	case fast:
		cw.skip(agents.SimOperator, "no simulation this iteration")
	}
	return nil
}

// runBatch is step 4: the lab-operator picks the lab runs (ranked by
// simulation when it does not), the guard holds them to the optimiser
// (and may bring in its suggestions), a person approves them when the
// campaign asks for it, and they run.
func (cw *campaignRun) runBatch(b agents.Brief, plan agents.Plan, cands, sugg []agents.Candidate) []agents.Result {
	picks := rankBySim(cands, b.SimResults, cw.info.Merit, plan.LabRuns)
	why := "ranked by simulation"
	reason := false // the lab-operator stated why it chose its picks
	if cw.fast() && len(cands) <= plan.LabRuns {
		why = "every candidate runs"
		cw.skip(agents.LabOperator, fmt.Sprintf("all %d candidates run", len(cands)))
	} else if res := cw.turn(agents.LabOperator, b); res != nil {
		if sel := res.Lab; sel != nil {
			picks = topUp(validPicks(sel.Run, len(cands), plan.LabRuns), picks, plan.LabRuns)
			why = "lab-operator: " + clip.Clip(sel.Rationale, 200)
			reason = strings.TrimSpace(sel.Rationale) != ""
			cw.event(agents.LabOperator, "chose", fmt.Sprintf("run %v: %s", oneBased(picks), clip.Clip(sel.Rationale, 100)))
		}
	} else {
		cw.fallback(agents.LabOperator, "running the candidates ranked by simulation")
	}
	if !cw.noOpt() && workflow.GetVersion(cw.ctx, "guard", workflow.DefaultVersion, 1) == 1 {
		cands, picks = cw.guard(cands, sugg, picks, reason)
	}
	if !cw.approved(cands, picks, why) {
		return nil
	}
	t0 := workflow.Now(cw.ctx)
	labs := cw.runLabs(cands, picks)
	cw.st.Time.Lab += cw.since(t0)
	return labs
}

// analyse is step 5: the best so far is updated, and the analyst reads
// the iteration's outcome; its findings go to memory, and its verdict
// that the campaign converged is honoured only with evidence.
func (cw *campaignRun) analyse(b *agents.Brief, labs []agents.Result) {
	improved := cw.updateBest()
	b.LabResults = labs
	b.Outcome = &agents.Outcome{Improved: improved, Stale: cw.st.Stale}
	if cw.best != nil {
		r := cw.best.Result
		b.Outcome.Best = &r
	}
	var an agents.Analysis
	if res := cw.turn(agents.Analyst, *b); res != nil && res.Analysis != nil {
		an = *res.Analysis
		cw.event(agents.Analyst, "analysed", clip.Clip(an.Summary, 160))
		if an.Converged && cw.convergenceVote() {
			cw.stop = "analyst judged the campaign converged: " + clip.Clip(an.Summary, 100)
		}
	} else {
		cw.fallback(agents.Analyst, "recording the iteration's numbers only")
		an.Findings = []string{fmt.Sprintf("iteration %d: %d lab runs, best %s", cw.st.Iteration, len(labs), cw.bestString())}
	}
	cw.remember(an.Findings)
}

// updateBest recomputes the best experiment and counts the iteration as
// stale when it did not improve on the best; it reports whether it did.
func (cw *campaignRun) updateBest() bool {
	prev := math.NaN()
	if cw.best != nil {
		prev = cw.score(cw.best.Values)
	}
	cw.recomputeBest()
	improved := cw.best != nil && (math.IsNaN(prev) || cw.score(cw.best.Values) > prev)
	if improved {
		cw.st.Stale = 0
	} else {
		cw.st.Stale++
	}
	return improved
}

// remember keeps the analyst's findings (at most three per iteration, the
// last 30 in all) and writes them to memory.
func (cw *campaignRun) remember(findings []string) {
	if len(findings) == 0 {
		return
	}
	if len(findings) > 3 {
		findings = findings[:3]
	}
	for i := range findings {
		findings[i] = clip.Clip(findings[i], 300)
	}
	cw.st.Findings = append(cw.st.Findings, findings...)
	if len(cw.st.Findings) > 30 {
		cw.st.Findings = cw.st.Findings[len(cw.st.Findings)-30:]
	}
	mctx := workflow.WithActivityOptions(cw.ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
	err := workflow.ExecuteActivity(mctx, activities.RememberName, activities.RememberInput{Campaign: cw.id, Challenge: cw.info.ID, Agent: agents.Analyst,
		Iteration: cw.st.Iteration, Texts: findings, MemoryScope: cw.in.MemoryScope}).Get(cw.ctx, nil)
	if err != nil {
		cw.event(agents.Analyst, "memory write failed", clip.Clip(err.Error(), 120))
	}
}

// convergenceVote says whether an agent's "converged" or "stop" is honoured:
// only with evidence (three iterations without improvement) and after half
// the budget, so a small model's premature verdict cannot end a campaign.
func (cw *campaignRun) convergenceVote() bool {
	if cw.st.Watch && cw.st.LowEI < stopEIIters {
		// The optimiser still expects to improve on the best: not converged.
		return false
	}
	return cw.st.Stale >= 3 && 2*len(cw.st.Experiments) >= cw.in.Budget.Experiments
}

func (cw *campaignRun) brief() agents.Brief {
	b := agents.Brief{CampaignID: cw.id, Iteration: cw.st.Iteration, ExperimentsUsed: len(cw.st.Experiments), ExperimentsBudget: cw.in.Budget.Experiments,
		SimulationsUsed: len(cw.st.Sims), SimulationsBudget: cw.in.Budget.Simulations, TokensUsed: cw.st.Tokens, TokenBudget: cw.in.Budget.Tokens, Stale: cw.st.Stale}
	if cw.best != nil {
		r := cw.best.Result
		b.Best = &r
	}
	// Every experiment, oldest first: the prompt lists them as a table
	// that an iteration only appends to (agents.BriefView caps it).
	for _, e := range cw.st.Experiments {
		b.Recent = append(b.Recent, e.Result)
		b.Measured = append(b.Measured, e.Point)
	}
	return b
}

func (cw *campaignRun) limits() agents.Limits {
	left := cw.in.Budget.Experiments - len(cw.st.Experiments)
	return agents.Limits{MaxLabRuns: min(cw.in.MaxBatch, left), LabLeft: left, MaxSimulations: min(2*cw.in.MaxBatch, cw.in.Budget.Simulations-len(cw.st.Sims)),
		SimsLeft: cw.in.Budget.Simulations - len(cw.st.Sims), SimCost: cw.info.SimCost, Candidates: 2 * cw.in.MaxBatch}
}

func fill(info activities.ChallengeInfo, cands, sugg []agents.Candidate, want int) []agents.Candidate {
	seen := map[string]bool{}
	for _, c := range cands {
		seen[info.Key(c.Point)] = true
	}
	for _, s := range sugg {
		if len(cands) >= want {
			break
		}
		if !seen[info.Key(s.Point)] {
			seen[info.Key(s.Point)] = true
			cands = append(cands, s)
		}
	}
	return cands
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

func pickDefault(n, k int) []int {
	var out []int
	for i := 0; i < n && i < k; i++ {
		out = append(out, i)
	}
	return out
}

// validPicks turns 1-based picks into distinct 0-based indices, at most k.
func validPicks(picks []int, n, k int) []int {
	seen := map[int]bool{}
	var out []int
	for _, p := range picks {
		i := p - 1
		if i < 0 || i >= n || seen[i] || len(out) >= k {
			continue
		}
		seen[i] = true
		out = append(out, i)
	}
	return out
}

// topUp appends ranked indices not already picked until there are k.
func topUp(picks, ranked []int, k int) []int {
	seen := map[int]bool{}
	for _, p := range picks {
		seen[p] = true
	}
	for _, r := range ranked {
		if len(picks) >= k {
			break
		}
		if !seen[r] {
			seen[r] = true
			picks = append(picks, r)
		}
	}
	return picks
}

func oneBased(idx []int) []int {
	out := make([]int, len(idx))
	for i, v := range idx {
		out[i] = v + 1
	}
	return out
}

// rankBySim orders candidates by simulated value (best first; unsimulated
// ones keep their order after the simulated ones) and takes k.
func rankBySim(cands []agents.Candidate, sims []agents.Result, score func([]float64) float64, k int) []int {
	type scored struct {
		i   int
		v   float64
		has bool
	}
	xs := make([]scored, len(cands))
	for i, c := range cands {
		xs[i] = scored{i: i}
		for _, r := range sims {
			if len(r.Values) > 0 && slices.Equal(r.Point, c.Point) {
				xs[i].v, xs[i].has = score(r.Values), true
			}
		}
	}
	sort.SliceStable(xs, func(a, b int) bool {
		if xs[a].has != xs[b].has {
			return xs[a].has
		}
		return xs[a].has && xs[a].v > xs[b].v
	})
	var out []int
	for _, x := range xs {
		if len(out) < k {
			out = append(out, x.i)
		}
	}
	return out
}

// repeated notes whether the model proposed only points it had proposed
// or measured before (dup: its replies named such points), and remembers
// what it proposed.
func (cw *campaignRun) repeated(cands []agents.Candidate, dup bool) {
	seen := map[string]bool{}
	for _, k := range cw.st.Proposed {
		seen[k] = true
	}
	for _, e := range cw.st.Experiments {
		seen[cw.info.Key(e.Point)] = true
	}
	fresh, model := false, 0
	for _, c := range cands {
		if c.Source != "model" {
			continue
		}
		model++
		k := cw.info.Key(c.Point)
		if !seen[k] {
			fresh = true
			seen[k] = true
			cw.st.Proposed = append(cw.st.Proposed, k)
		}
	}
	if len(cw.st.Proposed) > 500 {
		cw.st.Proposed = cw.st.Proposed[len(cw.st.Proposed)-500:]
	}
	switch {
	case fresh:
		cw.st.Repeats = 0
	case model > 0 || dup:
		cw.st.Repeats++
		cw.event(agents.Hypothesis, "repeated itself", fmt.Sprintf("it proposed only points proposed or measured before (%d iteration(s) in a row)", cw.st.Repeats))
	}
}
