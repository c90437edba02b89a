package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/scripted"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/tools/labclient"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

func runCampaign(t *testing.T, f *fixture, in campaign.CampaignInput) *campaign.CampaignResult {
	t.Helper()
	return runCampaignAs(t, f, "", in)
}

// runCampaignAs runs a campaign with a workflow ID of its own (its lab keys
// derive from it), for tests that run several campaigns on one lab.
func runCampaignAs(t *testing.T, f *fixture, id string, in campaign.CampaignInput) *campaign.CampaignResult {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{EnableSessionWorker: false})
	if id != "" {
		env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: id})
	}
	// The default 3 s guards against deadlocks; a campaign's simulations
	// run as subprocesses, which under -race on a busy machine take longer.
	env.SetTestTimeout(time.Minute)
	Register(env, f.acts)
	env.ExecuteWorkflow(campaign.CampaignWorkflowName, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res campaign.CampaignResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return &res
}

func TestCampaignWithScriptedTeam(t *testing.T) {
	model := scriptedTeam()
	f := newFixture(t, model)
	res := runCampaign(t, f, campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Model: "scripted", Budget: challenges.Budget{Experiments: 8}, Seed: 3})
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
	res := runCampaign(t, f, campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Model: "scripted", Budget: challenges.Budget{Experiments: 4}, Seed: 1})
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
	env.ExecuteWorkflow(campaign.CampaignWorkflowName, campaign.CampaignInput{Challenge: "nope", Model: "scripted"})
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "unknown challenge") {
		t.Fatalf("want an unknown-challenge error, got %v", err)
	}
}

// Every built-in challenge runs through the whole loop — pool and emulator
// labs, categorical, continuous and mixed spaces, one or several
// objectives — with the scripted team, the real lab service and real
// simulation subprocesses.
func TestCampaignOnEveryChallenge(t *testing.T) {
	if testing.Short() {
		t.Skip("one campaign per challenge")
	}
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cat.All() {
		t.Run(c.ID, func(t *testing.T) {
			// A fresh lab each: test campaigns share one workflow ID, so
			// their idempotency keys would collide in a shared lab.
			f := newFixture(t, scriptedTeam())
			res := runCampaign(t, f, campaign.CampaignInput{Challenge: c.ID, Model: "scripted", Budget: challenges.Budget{Experiments: 3}, Seed: 2})
			if len(res.Experiments) != 3 {
				t.Fatalf("experiments %d, want 3: %s", len(res.Experiments), mustJSON(res))
			}
			if res.Best == nil {
				t.Fatal("no best result")
			}
			runs, err := f.acts.Lab.List(context.Background(), labclient.ListOptions{Challenge: c.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 3 {
				t.Fatalf("lab holds %d runs for %s, want 3", len(runs), c.ID)
			}
			var best []float64
			bestScore := math.Inf(-1)
			for _, r := range runs {
				pt, err := c.ParseMap(r.Parameters)
				if err == nil {
					err = c.Answers(pt)
				}
				if err != nil {
					t.Errorf("ran %v: %v", r.Parameters, err)
				}
				if r.Result == nil || len(r.Result.Values) != len(c.Objectives) {
					t.Fatalf("run %s result %+v: want one value per objective", r.ID, r.Result)
				}
				vals := make([]float64, len(c.Objectives))
				for k, o := range c.Objectives {
					vals[k] = r.Result.Values[o.Name]
				}
				if s := c.Score(vals); s > bestScore {
					best, bestScore = vals, s
				}
			}
			// The reported best is the best by the challenge's own score.
			if res.Best.Value != best[0] {
				t.Errorf("reported best %v, want %v (best score)", res.Best.Value, best)
			}
			if res.Fallbacks["hypothesis"] != 0 {
				t.Errorf("the hypothesis agent fell back (its candidates were rejected): %v", res.Fallbacks)
			}
		})
	}
}

// A whole campaign against a lab whose instruments fail a fifth of the
// runs (errors, lost samples, going offline) spends its budget on
// successful runs, and the service's own records show no lost and no
// duplicated experiment.
func TestCampaignWithLabFaults(t *testing.T) {
	f := newFixtureWithLab(t, scriptedTeam(), lab.Config{FaultRate: 0.2, FaultSeed: 3, OfflineSeconds: 200, Token: "campaign-token"})
	res := runCampaign(t, f, campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Model: "scripted", Budget: challenges.Budget{Experiments: 12}, Seed: 5, Patience: -1})
	if len(res.Experiments) != 12 {
		t.Fatalf("experiments %d, want 12: %s", len(res.Experiments), mustJSON(res))
	}
	runs, err := f.acts.Lab.List(context.Background(), labclient.ListOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	byID := map[string]labclient.Run{}
	succeeded, failed, faulted := 0, 0, 0
	for _, r := range runs {
		if keys[r.IdempotencyKey] {
			t.Errorf("two runs under key %s", r.IdempotencyKey)
		}
		keys[r.IdempotencyKey] = true
		byID[r.ID] = r
		switch r.Status {
		case labclient.Succeeded:
			succeeded++
		case labclient.Failed:
			failed++
		default:
			t.Errorf("run %s left %s", r.ID, r.Status)
		}
		if r.Fault != "" {
			faulted++
		}
	}
	faults, err := f.acts.Lab.Faults(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("service: %d runs, %d succeeded, %d failed, %d hit by %d faults; campaign: %d experiments, %d refused or failed",
		len(runs), succeeded, failed, faulted, len(faults), len(res.Experiments), res.Refused)
	if len(faults) == 0 || failed == 0 {
		t.Fatalf("no faults at rate 0.2: the test does not test anything")
	}
	// Every successful run is one of the campaign's experiments and vice versa; every failed one it saw as failed.
	if succeeded != len(res.Experiments) || failed != res.Refused {
		t.Errorf("service has %d succeeded and %d failed runs; the campaign counted %d experiments and %d failures", succeeded, failed, len(res.Experiments), res.Refused)
	}
	for _, id := range res.Experiments {
		if byID[id].Status != labclient.Succeeded {
			t.Errorf("campaign experiment %s is %q on the service", id, byID[id].Status)
		}
	}
	if m := f.lab.Measurements(); m != int64(succeeded) {
		t.Errorf("%d measurements for %d successful runs: a run was measured twice", m, succeeded)
	}
}

// The classical strategies call no model, spend the whole budget and
// return a trace of every experiment.
func TestClassicalStrategies(t *testing.T) {
	model := &scripted.Model{Fn: func(llm.Request) (string, error) {
		t.Error("a classical strategy called the model")
		return "", nil
	}}
	for _, s := range []string{campaign.StrategyRandom, campaign.StrategyBO} {
		t.Run(s, func(t *testing.T) {
			f := newFixture(t, model)
			res := runCampaign(t, f, campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Strategy: s, Budget: challenges.Budget{Experiments: 8}, Seed: 3, Patience: -1})
			if len(res.Experiments) != 8 || len(res.Trace) != 8 || res.ModelCalls != 0 || res.Strategy != s {
				t.Fatalf("result %s", mustJSON(res))
			}
			seen := map[string]bool{}
			for _, e := range res.Trace {
				if len(e.Values) != 1 || seen[fmt.Sprint(e.Point)] {
					t.Errorf("trace entry %+v (duplicate %v)", e, seen[fmt.Sprint(e.Point)])
				}
				seen[fmt.Sprint(e.Point)] = true
			}
		})
	}
	// Random with patience off draws every batch in one local activity
	// (one iteration), and its last batch is cut to the budget; with
	// patience on, each batch is an iteration so patience can stop it.
	for _, tc := range []struct{ patience, iterations int }{{-1, 1}, {5, 3}} {
		f := newFixture(t, model)
		res := runCampaign(t, f, campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Strategy: campaign.StrategyRandom, Budget: challenges.Budget{Experiments: 10}, MaxBatch: 4, Seed: 3, Patience: tc.patience})
		if len(res.Trace) != 10 || res.Iterations != tc.iterations {
			t.Errorf("random, patience %d: %d experiments in %d iterations, want 10 in %d", tc.patience, len(res.Trace), res.Iterations, tc.iterations)
		}
	}
	// A portfolio's re-plan not yet acted on when the campaign continued
	// as new is carried in its state: the next run starts with a random
	// batch (4) instead of bo's 2 initial points.
	for _, tc := range []struct {
		replan string
		first  int
	}{{"", 2}, {"stalled", 4}} {
		f := newFixture(t, model)
		res := runCampaign(t, f, campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Strategy: campaign.StrategyBO, Budget: challenges.Budget{Experiments: 8}, MaxBatch: 4, Seed: 3, Patience: -1,
			Resume: &campaign.CampaignState{Replan: tc.replan}})
		n := 0
		for _, e := range res.Trace {
			if e.Iteration == 1 {
				n++
			}
		}
		if n != tc.first {
			t.Errorf("carried re-plan %q: %d experiments in the first iteration, want %d", tc.replan, n, tc.first)
		}
	}
	// An emulator challenge (continuous space) works too.
	f := newFixture(t, model)
	res := runCampaign(t, f, campaign.CampaignInput{Challenge: "suzuki-flow-yield", Strategy: campaign.StrategyBO, Budget: challenges.Budget{Experiments: 5}, Seed: 1, Patience: -1})
	if len(res.Trace) != 5 {
		t.Fatalf("bo on a continuous challenge: %s", mustJSON(res))
	}
}

// agents-noopt: the team never sees the optimiser, as a tool or as suggestions.
func TestAgentsWithoutOptimizer(t *testing.T) {
	var sawOpt bool
	inner := scriptedTeam()
	model := &scripted.Model{Fn: func(req llm.Request) (string, error) {
		for _, m := range req.Messages {
			if strings.Contains(m.Content, "optimizer_suggest") || strings.Contains(m.Content, "Bayesian optimiser suggests") {
				sawOpt = true
			}
		}
		return inner.Fn(req)
	}}
	f := newFixture(t, model)
	res := runCampaign(t, f, campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Model: "scripted", Strategy: campaign.StrategyAgentsNoOpt, Budget: challenges.Budget{Experiments: 4}, Seed: 2})
	if len(res.Experiments) != 4 {
		t.Fatalf("result %s", mustJSON(res))
	}
	if sawOpt {
		t.Error("the agents-noopt team was shown the optimiser")
	}
}

func TestUnknownStrategy(t *testing.T) {
	for _, tc := range []struct {
		in   campaign.CampaignInput
		want string
	}{
		{campaign.CampaignInput{Strategy: "genetic"}, `unknown strategy "genetic"`},
		{campaign.CampaignInput{Strategy: campaign.StrategyBO, Acquisition: "pi"}, `acquisition "pi": want ei`},
		{campaign.CampaignInput{Strategy: campaign.StrategyBO, Init: "sobol:4"}, `init: start design "sobol:4"`},
		{campaign.CampaignInput{Strategy: campaign.StrategyBO, Init: "random"}, `say how many random points`},
		{campaign.CampaignInput{Strategy: campaign.StrategyBO, Batch: 500}, `batch 500: want 1 to 64`},
	} {
		f := newFixture(t, scriptedTeam())
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		Register(env, f.acts)
		tc.in.Challenge = "crossed-barrel-toughness"
		env.ExecuteWorkflow(campaign.CampaignWorkflowName, tc.in)
		if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

// bo's start design comes in one iteration, then Batch points per round,
// the rounds of an iteration in one local activity.
func TestBOBatchesAndStartDesign(t *testing.T) {
	model := &scripted.Model{Fn: func(llm.Request) (string, error) {
		t.Error("bo called the model")
		return "", nil
	}}
	for _, tc := range []struct {
		in       campaign.CampaignInput
		perIter  []int
		distinct int
		maxRound int // most lab runs in one round
	}{
		{campaign.CampaignInput{Init: "maximin:4", Batch: 3}, []int{4, 9}, 13, 4},
		{campaign.CampaignInput{Init: "random:2", Acquisition: "ucb"}, []int{2, 11}, 13, 2},
		{campaign.CampaignInput{Batch: 4}, []int{2, 11}, 13, 4}, // auto: StartSizeFor(4 parameters, 13) = 2
	} {
		f := newFixture(t, model)
		tc.in.Challenge, tc.in.Strategy, tc.in.Budget.Experiments, tc.in.Seed, tc.in.Patience = "crossed-barrel-toughness", campaign.StrategyBO, 13, 4, -1
		res := runCampaign(t, f, tc.in)
		per := map[int]int{}
		seen := map[string]bool{}
		for _, e := range res.Trace {
			per[e.Iteration]++
			seen[fmt.Sprint(e.Point)] = true
		}
		var got []int
		for it := 1; per[it] > 0; it++ {
			got = append(got, per[it])
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.perIter) || len(seen) != tc.distinct {
			t.Errorf("%+v: experiments per iteration %v (want %v), %d distinct points (want %d)", tc.in, got, tc.perIter, len(seen), tc.distinct)
		}
		// Lab keys name the iteration and round: count runs per round.
		runs, err := f.acts.Lab.List(context.Background(), labclient.ListOptions{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		rounds := map[string]int{}
		for _, r := range runs {
			k := r.IdempotencyKey
			rounds[k[:strings.LastIndex(k, "/")]]++
		}
		most := 0
		for _, n := range rounds {
			most = max(most, n)
		}
		if most != tc.maxRound {
			t.Errorf("%+v: at most %d lab runs in a round (%v), want %d", tc.in, most, rounds, tc.maxRound)
		}
	}
}

// A decision names the iteration whose runs it decides: one about other
// runs is dropped, and the runs shown wait on; the right one runs them.
func TestDecisionAboutOtherRunsIsDropped(t *testing.T) {
	f := newFixture(t, scriptedTeam())
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	Register(env, f.acts)
	var first, after campaign.Status
	query := func(st *campaign.Status) {
		v, err := env.QueryWorkflow(campaign.QueryStatus)
		if err == nil {
			err = v.Get(st)
		}
		if err != nil {
			t.Error(err)
		}
	}
	env.RegisterDelayedCallback(func() {
		query(&first)
		if first.Pending != nil {
			env.SignalWorkflow(campaign.SignalDecision, campaign.Decision{Approve: true, By: "t", Iteration: first.Pending.Iteration + 1})
		}
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		query(&after)
		if after.Pending != nil {
			env.SignalWorkflow(campaign.SignalDecision, campaign.Decision{Approve: true, By: "t", Iteration: after.Pending.Iteration})
		}
	}, 2*time.Minute)
	env.ExecuteWorkflow(campaign.CampaignWorkflowName, campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Model: "scripted", Budget: challenges.Budget{Experiments: 2}, Seed: 1, RequireApproval: true})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if first.Pending == nil || first.Pending.Rationale != "lab-operator: The best two candidates so far. Testing: The optimiser's pick is the best bet." {
		t.Fatalf("first status: pending %+v", first.Pending)
	}
	if after.Pending == nil || after.Pending.Iteration != first.Pending.Iteration || after.ExperimentsUsed != 0 {
		t.Fatalf("a decision about iteration %d decided iteration %d's runs: %+v", first.Pending.Iteration+1, first.Pending.Iteration, after)
	}
	var res campaign.CampaignResult
	if err := env.GetWorkflowResult(&res); err != nil || len(res.Experiments) != 2 {
		t.Fatalf("after the right decision: %d experiments (%v)", len(res.Experiments), err)
	}
}

// A planner that leaves the batch to the lab and asks for no simulation:
// the batch grows to the lab's capacity (MaxBatch), and the operators,
// whose decisions are then forced (nothing to simulate; every candidate
// runs), are skipped and the skips recorded, not called.
func TestForcedTurnsAreSkipped(t *testing.T) {
	team := scriptedTeam()
	model := &scripted.Model{Fn: func(req llm.Request) (string, error) {
		if roleOf(req) == agents.Planner {
			return `{"action":"final","output":{"decision":"exploit","lab_runs":0,"simulations":0,"rationale":"Run a full batch near the best."}}`, nil
		}
		return team.Fn(req)
	}}
	f := newFixture(t, model)
	res := runCampaign(t, f, campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Model: "scripted", Budget: challenges.Budget{Experiments: 8}, MaxBatch: 4, Seed: 3})
	if len(res.Experiments) != 8 || res.Iterations != 2 {
		t.Fatalf("%d experiments in %d iterations, want 8 in 2 (batches of the lab's 4)", len(res.Experiments), res.Iterations)
	}
	byRole := map[string]campaign.RoleUsage{}
	for _, u := range res.Usage {
		byRole[u.Role] = u
	}
	for _, role := range []string{agents.SimOperator, agents.LabOperator} {
		if u := byRole[role]; u.Calls != 0 || u.Skipped != 2 {
			t.Errorf("%s: %d calls, %d skipped; want 0 and 2", role, u.Calls, u.Skipped)
		}
	}
	for _, role := range []string{agents.Planner, agents.Hypothesis, agents.Analyst} {
		if u := byRole[role]; u.Calls != 2 || u.PromptTokens == 0 || u.Skipped != 0 {
			t.Errorf("%s: %+v, want 2 calls with their tokens", role, u)
		}
	}
	if res.ModelCalls != 6 {
		t.Errorf("%d model calls, want 6", res.ModelCalls)
	}
	if res.Usage[0].Role != agents.Planner || res.Usage[len(res.Usage)-1].Role != agents.Analyst {
		t.Errorf("usage not in loop order: %+v", res.Usage)
	}
}

// Every role of an iteration recalls the same memories, so their prompts
// share that text (the prompt cache serves it after the first role); what
// the iteration's own roles wrote meanwhile is left out.
func TestRolesOfAnIterationRecallTheSameMemories(t *testing.T) {
	f := newFixture(t, scriptedTeam())
	runCampaign(t, f, campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Model: "scripted", Budget: challenges.Budget{Experiments: 8}, Seed: 5})
	files, err := filepath.Glob(filepath.Join(f.acts.DataDir, "transcripts", "*", "it002-*-s1.json"))
	if err != nil || len(files) < 3 {
		t.Fatalf("transcripts of iteration 2: %v %v", files, err)
	}
	var first string
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var tr struct {
			Messages []llm.Message `json:"messages"`
		}
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatal(err)
		}
		user := tr.Messages[1].Content
		i := strings.Index(user, "Team memory:")
		if i < 0 {
			t.Fatalf("%s: no memory in the prompt:\n%s", file, user)
		}
		var mem []string
		for _, line := range strings.Split(user[i:], "\n")[2:] { // after the fence's first line
			if !strings.HasPrefix(line, "- ") {
				break
			}
			mem = append(mem, line)
		}
		if len(mem) == 0 {
			t.Fatalf("%s: an empty memory:\n%s", file, user)
		}
		if got := strings.Join(mem, "\n"); first == "" {
			first = got
		} else if got != first {
			t.Errorf("%s recalled\n%s\nwhere %s recalled\n%s", filepath.Base(file), got, filepath.Base(files[0]), first)
		}
	}
}
