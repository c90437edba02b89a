package workflows

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/scripted"
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
	if !ap.Judged {
		t.Error("a fitted appraisal is not marked judged")
	}
	if ap, err := f.acts.Appraise(context.Background(), AppraiseInput{Challenge: c.ID, Experiments: exps[:1], Points: []challenges.Point{near}}); err != nil || ap.Judged {
		t.Errorf("one measurement: judged %v, %v; want unjudged", ap.Judged, err)
	}
	if _, err := f.acts.Appraise(context.Background(), AppraiseInput{Challenge: c.ID, Experiments: exps, Points: []challenges.Point{{1, 2, 3}}}); err == nil {
		t.Error("appraised a point outside the design space")
	}
}

// A team that keeps proposing thin-walled barrels (the weakest corner of
// crossed barrel) and picks them with a reason runs at most one of them
// per batch once the surrogate can judge: the guard gives the other slots
// to the optimiser's best suggestion and says so in the events.
func TestGuardHoldsTheTeamToTheOptimiser(t *testing.T) {
	var mu sync.Mutex
	next := 0 // the next weak point the team proposes
	inner := scriptedTeam()
	model := &scripted.Model{Fn: func(req llm.Request) (string, error) {
		switch roleOf(req) {
		case agents.Planner:
			return `{"action":"final","output":{"decision":"exploit","lab_runs":2,"simulations":0,"rationale":"Refine around the best point."}}`, nil
		case agents.Hypothesis:
			mu.Lock()
			defer mu.Unlock()
			var pts []string
			for range 2 {
				n, theta := []int{6, 8, 10, 12}[next%4], 25*((next/4)%9)
				next++
				pts = append(pts, fmt.Sprintf(`{"n":%d,"theta":%d,"r":1.5,"t":0.7}`, n, theta))
			}
			return `{"action":"final","output":{"hypotheses":[{"statement":"Thin walls are worth a look.","expected":"a high value","candidates":[` + strings.Join(pts, ",") + `]}]}}`, nil
		case agents.LabOperator:
			return `{"action":"final","output":{"run":[1,2],"rationale":"The team's hypothesis deserves a test."}}`, nil
		}
		return inner.Fn(req)
	}}
	f := newFixture(t, model)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{EnableSessionWorker: false})
	env.SetTestTimeout(time.Minute)
	Register(env, f.acts)
	env.ExecuteWorkflow(CampaignWorkflowName, CampaignInput{Challenge: "crossed-barrel-toughness", Model: "scripted", Budget: 12, Seed: 5})
	if err := env.GetWorkflowError(); err != nil || !env.IsWorkflowCompleted() {
		t.Fatalf("campaign: %v", err)
	}
	v, err := env.QueryWorkflow(QueryStatus)
	var st Status
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		t.Fatal(err)
	}
	replaced := 0
	for _, e := range st.Events {
		if e.Agent == "guard" {
			if e.Action != "replaced" || !strings.Contains(e.Detail, `"t":0.7`) || !strings.Contains(e.Detail, "below half") {
				t.Errorf("guard event %s: %s", e.Action, e.Detail)
			}
			replaced++
		}
	}
	if replaced == 0 {
		t.Fatalf("the guard never replaced a weak pick: %s", mustJSON(st.Events))
	}
	// Once the surrogate has a few points to judge by, at most one
	// thin-walled pick per batch.
	var res CampaignResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	thin := map[int]int{}
	for _, e := range res.Trace {
		if e.Source == "lab" && e.Point[2] == 1.5 && e.Point[3] == 0.7 && e.Iteration > 2 {
			thin[e.Iteration]++
		}
	}
	for it, n := range thin {
		if n > guardLowCap {
			t.Errorf("iteration %d ran %d of the team's weak picks: %s", it, n, mustJSON(st.Events))
		}
	}
}

// A stop vote needs the optimiser's agreement once the guard watches: a
// stale campaign past half its budget does not converge while the best
// expected improvement is still above 1 % of the range.
func TestConvergenceNeedsTheOptimiser(t *testing.T) {
	cw := &campaign{in: CampaignInput{Budget: 10}, st: &CampaignState{Stale: 3, Experiments: make([]Experiment, 6)}}
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
