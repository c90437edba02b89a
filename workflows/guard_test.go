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
	"github.com/genesis-sci/genesis/workflows/activities"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// The Appraise activity scores the optimiser's own choice highest and a
// point next to the worst measurement low, on a real challenge.
func TestAppraiseActivity(t *testing.T) {
	f := newFixture(t, scriptedTeam())
	c, err := f.acts.Catalog.Get("crossed-barrel-toughness")
	if err != nil {
		t.Fatal(err)
	}
	var exps []campaign.Experiment
	for i, p := range c.Pool().Points[:12] {
		exps = append(exps, campaign.Experiment{Result: agents.Result{Point: p, Values: c.Pool().Values[i]}})
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
	sugg, err := activities.NewCatalog(f.acts.Catalog).Suggest(context.Background(), activities.SuggestInput{Challenge: c.ID, Experiments: exps, K: 1, Acquisition: "ei", Start: "medoids", StartSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := activities.NewCatalog(f.acts.Catalog).Appraise(context.Background(), activities.AppraiseInput{Challenge: c.ID, Experiments: exps, Points: []challenges.Point{sugg[0].Point, near}})
	if err != nil {
		t.Fatal(err)
	}
	if !(ap.EI[0] > 0 && math.Abs(ap.EI[0]-ap.BestEI) < 1e-9*(1+ap.BestEI) && ap.EI[1] < ap.EI[0] && ap.Range > 0) {
		t.Errorf("appraisal %+v: want the optimiser's pick at the best EI and the point by the worst below it", ap)
	}
	if !ap.Judged {
		t.Error("a fitted appraisal is not marked judged")
	}
	if ap, err := activities.NewCatalog(f.acts.Catalog).Appraise(context.Background(), activities.AppraiseInput{Challenge: c.ID, Experiments: exps[:1], Points: []challenges.Point{near}}); err != nil || ap.Judged {
		t.Errorf("one measurement: judged %v, %v; want unjudged", ap.Judged, err)
	}
	if _, err := activities.NewCatalog(f.acts.Catalog).Appraise(context.Background(), activities.AppraiseInput{Challenge: c.ID, Experiments: exps, Points: []challenges.Point{{1, 2, 3}}}); err == nil {
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
	env.ExecuteWorkflow(campaign.CampaignWorkflowName, campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Model: "scripted", Budget: challenges.Budget{Experiments: 12}, Seed: 5})
	if err := env.GetWorkflowError(); err != nil || !env.IsWorkflowCompleted() {
		t.Fatalf("campaign: %v", err)
	}
	v, err := env.QueryWorkflow(campaign.QueryStatus)
	var st campaign.Status
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
	var res campaign.CampaignResult
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
		if n > 1 { // the guard lets one weak pick per batch through
			t.Errorf("iteration %d ran %d of the team's weak picks: %s", it, n, mustJSON(st.Events))
		}
	}
}
