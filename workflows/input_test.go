package workflows

import (
	"errors"
	"math"
	"strings"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// Every number of a campaign's input has a range, and the model spec a
// form; the error names the field.
func TestCampaignInputValidate(t *testing.T) {
	ok := []campaign.CampaignInput{
		{Challenge: "x"},
		{Challenge: "x", Budget: challenges.Budget{Experiments: 1000, Simulations: 2000, Tokens: 1_000_000_000}, MaxBatch: 64, Patience: -1, Model: "ollama:smollm2:135m"},
		{Challenge: "x", Strategy: campaign.StrategyBO, Model: "anything at all"}, // bo calls no model
	}
	for _, in := range ok {
		if err := in.Validate(); err != nil {
			t.Errorf("%+v refused: %v", in, err)
		}
	}
	for _, c := range []struct {
		in          campaign.CampaignInput
		field, want string
	}{
		{campaign.CampaignInput{Budget: challenges.Budget{Experiments: math.MaxInt64}}, "budget", "budget 9223372036854775807: want 0 (the default) to 1000 lab experiments"},
		{campaign.CampaignInput{Budget: challenges.Budget{Experiments: -1}}, "budget", "budget -1"},
		{campaign.CampaignInput{Budget: challenges.Budget{Simulations: 1 << 40}}, "sim_budget", "to 2000 simulations"},
		{campaign.CampaignInput{Budget: challenges.Budget{Tokens: math.MaxInt64}}, "token_budget", "to 1000000000 model tokens"},
		{campaign.CampaignInput{MaxBatch: 65}, "max_batch", "max_batch 65"},
		{campaign.CampaignInput{Patience: math.MaxInt32}, "patience", "at most 1000"},
		{campaign.CampaignInput{InitialRandom: 5000}, "initial_random", "initial_random 5000"},
		{campaign.CampaignInput{MaxHistory: -3}, "max_history", "max_history -3"},
		{campaign.CampaignInput{HPC: "cloud"}, "hpc", `hpc "cloud"`},
		{campaign.CampaignInput{Model: "none:x"}, "model", `unknown provider "none"`},
		{campaign.CampaignInput{Model: "ollama:../../etc"}, "model", "must start with a letter or digit"},
		{campaign.CampaignInput{Batch: 99}, "batch", "batch 99"},
		{campaign.CampaignInput{Acquisition: "pi"}, "acquisition", `acquisition "pi"`},
	} {
		err := c.in.Validate()
		var fe *campaign.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want a %s error saying %q", c.in, err, c.field, c.want)
		}
	}
}

// An input out of range that reaches the workflow anyway fails it at once
// with the field named, instead of overflowing (3×budget+10 iterations
// wrapped negative: the campaign stopped at once, "iteration limit reached").
func TestCampaignRefusesOutOfRangeInput(t *testing.T) {
	f := newFixture(t, scriptedTeam())
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	Register(env, f.acts)
	env.ExecuteWorkflow(campaign.CampaignWorkflowName, campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Strategy: campaign.StrategyRandom, Budget: challenges.Budget{Experiments: math.MaxInt64}})
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "budget 9223372036854775807: want 0 (the default) to 1000") {
		t.Fatalf("want the budget refused, got %v", err)
	}
	if n, _ := countRuns(t, f); n != 0 {
		t.Errorf("%d lab runs", n)
	}
}
