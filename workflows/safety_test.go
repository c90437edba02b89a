package workflows

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/scripted"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/tools/labclient"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// A candidate the challenge's safety limits forbid is dropped before the
// lab-operator picks, with an event, so a model that keeps proposing it
// (and picking it) spends no lab run on a refusal: the campaign measures
// its whole budget and the lab never sees the point.
func TestUnsafeCandidatesAreDroppedBeforeThePick(t *testing.T) {
	team := scriptedTeam()
	model := &scripted.Model{Fn: func(req llm.Request) (string, error) {
		switch roleOf(req) {
		case agents.Hypothesis:
			// ratio 4.9: above the lab's cap of 4.5 equivalents.
			return `{"action":"final","output":{"hypotheses":[{"statement":"More benzyl bromide drives the reaction to completion.","expected":"low impurity","candidates":[` +
				`{"flow_rate":0.3,"ratio":4.9,"solvent":0.7,"temperature":130},{"flow_rate":0.35,"ratio":4.8,"solvent":0.6,"temperature":120}]}]}}`, nil
		case agents.LabOperator:
			return `{"action":"final","output":{"run":[1,2],"rationale":"The two high-ratio candidates look best."}}`, nil
		}
		return team.Fn(req)
	}}
	f := newFixture(t, model)
	log := &labLog{}
	srv := httptest.NewServer(log.wrap(f.lab.Handler()))
	t.Cleanup(srv.Close)
	f.acts.Lab = labclient.New(srv.URL, srv.Client())
	ch, err := f.acts.Catalog.Get("benzylation-impurity")
	if err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(time.Minute)
	Register(env, f.acts)
	env.ExecuteWorkflow(campaign.CampaignWorkflowName, campaign.CampaignInput{Challenge: ch.ID, Model: "scripted", Budget: challenges.Budget{Experiments: 4, Simulations: 1}, MaxBatch: 2, Seed: 1, Patience: -1})
	var res campaign.CampaignResult
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	for _, r := range log.runs {
		p, err := ch.ParseMap(r.Parameters)
		if err != nil || ch.CheckSafety(p) != nil {
			t.Errorf("the lab was sent %v (%v, %v)", r.Parameters, err, ch.CheckSafety(p))
		}
	}
	if res.Refused != 0 || len(res.Experiments) != 4 || len(log.runs) != 4 {
		t.Errorf("%d refused, %d experiments, %d lab runs; want 0, 4, 4", res.Refused, len(res.Experiments), len(log.runs))
	}
	if res.Unsafe < 4 { // two a turn, two iterations at least
		t.Errorf("%d unsafe candidates dropped, want at least 4", res.Unsafe)
	}
	v, err := env.QueryWorkflow(campaign.QueryStatus)
	if err != nil {
		t.Fatal(err)
	}
	var st campaign.Status
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for _, e := range st.Events {
		if e.Action == "dropped unsafe" && strings.Contains(e.Detail, "2 candidate(s) the lab would refuse") && strings.Contains(e.Detail, `safety limit on "ratio"`) {
			dropped++
		}
	}
	if dropped == 0 {
		t.Errorf("no event says what was dropped and why: %s", mustJSON(st.Events))
	}
}
