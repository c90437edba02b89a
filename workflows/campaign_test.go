package workflows

import (
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/scripted"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
)

func runCampaign(t *testing.T, f *fixture, in CampaignInput) *CampaignResult {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{EnableSessionWorker: false})
	Register(env, f.acts)
	env.ExecuteWorkflow(CampaignWorkflowName, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res CampaignResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return &res
}

func TestCampaignWithScriptedTeam(t *testing.T) {
	model := scriptedTeam()
	f := newFixture(t, model)
	res := runCampaign(t, f, CampaignInput{Challenge: "crossed-barrel-toughness", Model: "scripted", Budget: 8, Seed: 3})
	if len(res.Experiments) != 8 {
		t.Fatalf("experiments %d, want the budget of 8: %s", len(res.Experiments), mustJSON(res))
	}
	if res.Best == nil || res.Best.Value <= 0 {
		t.Fatalf("no best: %s", mustJSON(res))
	}
	if res.Simulations == 0 {
		t.Errorf("no simulations ran")
	}
	if !strings.Contains(res.StopReason, "budget") {
		t.Errorf("stop reason %q", res.StopReason)
	}
	n, keys := countRuns(t, f)
	if n != 8 || len(keys) != 8 || f.lab.Measurements() != 8 {
		t.Errorf("lab holds %d runs under %d keys with %d measurements, want 8 each", n, len(keys), f.lab.Measurements())
	}
	if res.Report == "" || res.Tokens == 0 {
		t.Errorf("report %q tokens %d", res.Report, res.Tokens)
	}
	if res.Fallbacks["planner"] != 0 || res.Fallbacks["lab-operator"] != 0 {
		t.Errorf("unexpected fallbacks %v", res.Fallbacks)
	}
}

// A model that never says anything valid cannot crash the campaign: every
// agent falls back to the optimiser and the campaign still spends its budget.
func TestCampaignSurvivesGarbageModel(t *testing.T) {
	model := &scripted.Model{Fn: func(llm.Request) (string, error) { return "I am not JSON", nil }}
	f := newFixture(t, model)
	res := runCampaign(t, f, CampaignInput{Challenge: "crossed-barrel-toughness", Model: "scripted", Budget: 4, Seed: 1})
	if len(res.Experiments) != 4 {
		t.Fatalf("experiments %d, want 4", len(res.Experiments))
	}
	for _, role := range []string{"planner", "hypothesis", "lab-operator", "analyst"} {
		if res.Fallbacks[role] == 0 {
			t.Errorf("%s never fell back: %v", role, res.Fallbacks)
		}
	}
	if res.Repairs == 0 {
		t.Error("no repair attempts recorded")
	}
}

func TestCampaignUnknownChallenge(t *testing.T) {
	f := newFixture(t, scriptedTeam())
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	Register(env, f.acts)
	env.ExecuteWorkflow(CampaignWorkflowName, CampaignInput{Challenge: "nope", Model: "scripted"})
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "unknown challenge") {
		t.Fatalf("want an unknown-challenge error, got %v", err)
	}
}
