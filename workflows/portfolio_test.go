package workflows

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/scripted"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/tools/labclient"
	"github.com/genesis-sci/genesis/workflows/portfolioflow"
)

func runPortfolio(t *testing.T, f *fixture, yaml string, during func(env *testsuite.TestWorkflowEnvironment)) portfolioflow.PortfolioStatus {
	t.Helper()
	spec, err := portfolio.Parse([]byte(yaml), portfolio.Catalog(f.acts.Catalog))
	if err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	// A portfolio's campaigns run simulations as subprocesses, slow under
	// -race on a busy machine; the default 3 s would cut them off.
	env.SetTestTimeout(2 * time.Minute)
	Register(env, f.acts)
	if during != nil {
		during(env)
	}
	env.ExecuteWorkflow(portfolioflow.PortfolioWorkflowName, portfolioflow.PortfolioInput{Spec: *spec})
	if !env.IsWorkflowCompleted() {
		t.Fatal("portfolio did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var st portfolioflow.PortfolioStatus
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// Three classical campaigns share one lab instrument under budgets: every
// campaign gets runs, none exceeds its budget, and the ledger matches the
// lab's own record.
func TestPortfolioSharesOneInstrument(t *testing.T) {
	f := newFixture(t, scriptedTeam())
	st := runPortfolio(t, f, `
name: test
capacity: {lab: 1}
approval: {lab_runs: auto}
stall: {patience: 50}
campaigns:
  - {challenge: crossed-barrel-toughness, strategy: random, priority: 1, budget: {lab_runs: 5}}
  - {challenge: p3ht-cnt-conductivity, strategy: bo, priority: 3, budget: {lab_runs: 5}}
  - {challenge: agnp-spectrum-loss, strategy: random, priority: 2, budget: {lab_runs: 5}, lab_cost: 2.5}
`, nil)
	// With one instrument, capacity follows priority: the campaigns finish
	// in priority order, and the lowest one still gets all its runs.
	var order []string
	for _, r := range st.Log {
		if r.Kind == portfolio.RecDone {
			order = append(order, r.Campaign[strings.LastIndex(r.Campaign, "-0")+4:])
		}
	}
	if strings.Join(order, " ") != "p3ht-cnt-conductivity agnp-spectrum-loss crossed-barrel-toughness" {
		t.Errorf("finish order %v, want priority order 3, 2, 1", order)
	}
	if !st.Done || len(st.Campaigns) != 3 {
		t.Fatalf("status: %s", mustJSON(st))
	}
	n, keys := countRuns(t, f)
	if st.Spent.LabRuns != n || len(keys) != n || n != 15 {
		t.Fatalf("ledger %d lab runs, lab %d runs under %d keys; want 15", st.Spent.LabRuns, n, len(keys))
	}
	for _, c := range st.Campaigns {
		if c.Spent.LabRuns != c.Budget.LabRuns || !strings.Contains(c.Reason, "budget") {
			t.Errorf("%s spent %v of %v: %s", c.ID, c.Spent, c.Budget, c.Reason)
		}
		if len(c.Holding) != 0 || !c.Reserved.Zero() {
			t.Errorf("%s still holds %v", c.ID, c.Holding)
		}
	}
	if st.Spent.Cost != 5+5+5*2.5 || st.InUse.Lab != 0 {
		t.Errorf("cost %v in use %v", st.Spent.Cost, st.InUse)
	}
}

// A portfolio's bo campaign runs with the optimiser settings of its file:
// a start design of 3 random points, then 2 points chosen together per
// iteration (lab keys .../itI/r0/labJ).
func TestPortfolioPassesOptimiserSettings(t *testing.T) {
	f := newFixture(t, scriptedTeam())
	st := runPortfolio(t, f, `
name: search
capacity: {lab: 4}
approval: {lab_runs: auto}
stall: {patience: 50}
campaigns:
  - {challenge: crossed-barrel-toughness, strategy: bo, acquisition: ucb, init: random:3, batch: 2, budget: {lab_runs: 7}}
`, nil)
	if c := st.Campaigns[0]; c.Spent.LabRuns != 7 {
		t.Fatalf("spent %v, want 7 lab runs", c.Spent)
	}
	_, keys := countRuns(t, f)
	perIteration := map[int]int{}
	for k := range keys {
		var it, r, j int
		if _, err := fmt.Sscanf(k[strings.LastIndex(k, "/it"):], "/it%d/r%d/lab%d", &it, &r, &j); err != nil {
			t.Fatalf("lab key %q: %v", k, err)
		}
		perIteration[it]++
	}
	var sizes []int
	for _, it := range slices.Sorted(maps.Keys(perIteration)) {
		sizes = append(sizes, perIteration[it])
	}
	if fmt.Sprint(sizes) != "[3 2 2]" {
		t.Errorf("lab runs per iteration %v (keys %v), want [3 2 2]: the start design, then batches of 2", sizes, keys)
	}
}

// An agent campaign charges every model call, simulation and lab run.
func TestPortfolioChargesAgents(t *testing.T) {
	f := newFixture(t, scriptedTeam())
	st := runPortfolio(t, f, `
name: agents
capacity: {lab: 2, hpc: 2, model: 1}
approval: {lab_runs: auto}
campaigns:
  - {challenge: crossed-barrel-toughness, budget: {lab_runs: 4, simulations: 4}}
`, nil)
	c := st.Campaigns[0]
	if c.Spent.LabRuns != 4 || c.Spent.Simulations == 0 || c.Spent.Simulations > 4 || c.Spent.Tokens == 0 || c.Spent.NodeHours <= 0 {
		t.Fatalf("spent %+v", c.Spent)
	}
	if c.Grants < 10 {
		t.Errorf("only %d grants for a whole agent campaign", c.Grants)
	}
}

// A lab batch outside the routine region waits; nobody decides; it is
// escalated, then rejected by default; the campaign goes on.
func TestPortfolioApprovalTimesOut(t *testing.T) {
	f := newFixture(t, scriptedTeam())
	var seen []string
	st := runPortfolio(t, f, `
name: approvals
approval: {lab_runs: auto_if_routine, timeout: 10m, escalation_timeout: 20m}
stall: {patience: 50}
campaigns:
  - {challenge: crossed-barrel-toughness, strategy: random, budget: {lab_runs: 4}, max_batch: 2, routine: {theta: {max: -1}}}
`, func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(func() {
			v, err := env.QueryWorkflow(portfolioflow.QueryPortfolio)
			if err != nil {
				t.Error(err)
				return
			}
			var st portfolioflow.PortfolioStatus
			_ = v.Get(&st)
			if len(st.Pending) > 0 {
				seen = append(seen, st.Pending[0].Role+" "+st.Campaigns[0].Waiting)
			}
		}, 15*time.Minute)
	})
	if len(seen) != 1 || !strings.HasPrefix(seen[0], "admin an admin's approval") {
		t.Fatalf("mid-way the approval should be escalated to an admin: %q", seen)
	}
	n, _ := countRuns(t, f)
	if n != 0 || st.Spent.LabRuns != 0 {
		t.Fatalf("rejected runs ran: lab %d ledger %d", n, st.Spent.LabRuns)
	}
	var log []string
	for _, r := range st.Log {
		log = append(log, r.Detail)
	}
	all := strings.Join(log, "\n")
	for _, want := range []string{"waits for an operator", "escalated to an admin", "rejected by policy (escalation timed out"} {
		if !strings.Contains(all, want) {
			t.Errorf("log lacks %q:\n%s", want, all)
		}
	}
}

// A campaign whose hypothesis agent proposes the same point every time is
// flagged as repeating itself: told to re-plan, then stopped when it
// repeats again; its unspent lab runs go to the campaign still improving,
// with the reason in the log, and that campaign spends them.
func TestPortfolioStallReplanStopReallocate(t *testing.T) {
	team := scriptedTeam()
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	agnp, err := cat.Get("agnp-spectrum-loss")
	if err != nil {
		t.Fatal(err)
	}
	var first string
	model := &scripted.Model{Fn: func(req llm.Request) (string, error) {
		if roleOf(req) == agents.Hypothesis && forChallenge(req, agnp) {
			out, err := team.Fn(req)
			if first == "" {
				first = out
			}
			return first, err
		}
		return team.Fn(req)
	}}
	f := newFixture(t, model)
	st := runPortfolio(t, f, `
name: stall
approval: {lab_runs: auto}
stall: {repeats: 2, patience: 50, action: replan, max_replans: 1}
campaigns:
  - {challenge: agnp-spectrum-loss, priority: 1, budget: {lab_runs: 30, simulations: 200}}
  - {challenge: crossed-barrel-toughness, priority: 1, budget: {lab_runs: 14, simulations: 200}}
`, nil)
	a, b := st.Campaigns[0], st.Campaigns[1]
	if a.Replans != 1 || !strings.Contains(a.Reason, "stopped by the portfolio: stalled (the agents repeated themselves") {
		t.Fatalf("the repeating campaign: replans %d, ended %q", a.Replans, a.Reason)
	}
	left := 30 - a.Spent.LabRuns
	if left <= 0 || b.Budget.LabRuns != 14+left || b.Spent.LabRuns != b.Budget.LabRuns {
		t.Fatalf("reallocation: a spent %d of 30, b budget %d spent %d", a.Spent.LabRuns, b.Budget.LabRuns, b.Spent.LabRuns)
	}
	var log []string
	for _, r := range st.Log {
		if r.Kind == portfolio.RecStall || r.Kind == portfolio.RecReallocation {
			log = append(log, r.Kind+": "+r.Detail)
		}
	}
	if len(st.Reallocations) < 2 {
		t.Errorf("reallocations: %+v", st.Reallocations)
	}
	all := strings.Join(log, "\n")
	for _, want := range []string{"told to re-plan (1 of 1)", "stalled (the agents repeated themselves 2 iterations in a row): stopped",
		"unspent, returned to the pool", "still improving"} {
		if !strings.Contains(all, want) {
			t.Errorf("log lacks %q:\n%s", want, all)
		}
	}
}

// flaky fails every other request to the lab before it is sent, so lab
// activities are retried; the ledger still charges each run once and never
// goes past the budget.
type flaky struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (f *flaky) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.n.Add(1)%2 == 0 {
		return nil, fmt.Errorf("injected network failure")
	}
	return f.next.RoundTrip(r)
}

func TestPortfolioBudgetHoldsUnderRetries(t *testing.T) {
	f := newFixtureWithLab(t, scriptedTeam(), lab.Config{FaultRate: 0.3, FaultSeed: 7, FaultKinds: []string{"instrument_error"}})
	tr := &flaky{next: http.DefaultTransport}
	steady := f.acts.Lab
	f.acts.Lab = labclient.New(f.srv.URL, &http.Client{Transport: tr})
	st := runPortfolio(t, f, `
name: retries
capacity: {lab: 3}
budget: {lab_runs: 15}
approval: {lab_runs: auto}
stall: {patience: 50}
campaigns:
  - {challenge: crossed-barrel-toughness, budget: {lab_runs: 8, simulations: 20}}
  - {challenge: p3ht-cnt-conductivity, strategy: random, budget: {lab_runs: 10}}
`, nil)
	f.acts.Lab = steady
	n, keys := countRuns(t, f)
	// A run whose every attempt failed is charged though it may not have
	// run, so the ledger may count more than the lab, never fewer.
	if st.Spent.LabRuns < n || len(keys) != n || st.Spent.LabRuns != 15 || n > 15 {
		t.Fatalf("ledger %d lab runs (budget 15); the lab has %d runs under %d keys", st.Spent.LabRuns, n, len(keys))
	}
	for _, c := range st.Campaigns {
		if c.Spent.LabRuns > c.Budget.LabRuns {
			t.Errorf("%s spent %d of %d", c.ID, c.Spent.LabRuns, c.Budget.LabRuns)
		}
	}
	if tr.n.Load() < 2*int64(n) {
		t.Errorf("only %d lab requests: the retries did not happen", tr.n.Load())
	}
}

// A paused portfolio grants nothing: its campaigns wait, saying so, and no
// lab run happens; on resume they run to their budgets.
func TestPortfolioPauseAndResume(t *testing.T) {
	f := newFixture(t, scriptedTeam())
	var mid portfolioflow.PortfolioStatus
	var midRuns int
	st := runPortfolio(t, f, `
name: paused
capacity: {lab: 2}
approval: {lab_runs: auto}
stall: {patience: 50}
campaigns:
  - {challenge: crossed-barrel-toughness, strategy: random, budget: {lab_runs: 4}}
  - {challenge: p3ht-cnt-conductivity, strategy: bo, budget: {lab_runs: 4}}
`, func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(portfolioflow.SignalPause, portfolioflow.PauseRequest{Pause: true, By: "ops"})
		}, time.Nanosecond)
		env.RegisterDelayedCallback(func() {
			v, err := env.QueryWorkflow(portfolioflow.QueryPortfolio)
			if err == nil {
				err = v.Get(&mid)
			}
			if err != nil {
				t.Error(err)
			}
			midRuns, _ = countRuns(t, f)
		}, 30*time.Minute)
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(portfolioflow.SignalPause, portfolioflow.PauseRequest{By: "ops"}) }, time.Hour)
	})
	if mid.Paused != "ops" || midRuns != 0 || mid.Spent.LabRuns != 0 {
		t.Fatalf("while paused: paused %q, %d lab runs, ledger %v", mid.Paused, midRuns, mid.Spent)
	}
	for _, c := range mid.Campaigns {
		if !strings.Contains(c.Waiting, "the portfolio to resume (paused by ops)") {
			t.Errorf("%s waits for %q", c.ID, c.Waiting)
		}
	}
	if n, _ := countRuns(t, f); st.Paused != "" || n != 8 || st.Spent.LabRuns != 8 {
		t.Fatalf("after resume: paused %q, %d lab runs, ledger %v", st.Paused, n, st.Spent)
	}
}

// forChallenge reports whether req is a step of a campaign on c, by its
// reply schema, whose points carry exactly c's parameters: the contract of
// the reply, not the prompt's wording.
func forChallenge(req llm.Request, c *challenges.Challenge) bool {
	var schema, point any
	if json.Unmarshal(req.Schema, &schema) != nil || json.Unmarshal(agents.PointSchema(c), &point) != nil {
		return false
	}
	var holds func(v any) bool
	holds = func(v any) bool {
		if reflect.DeepEqual(v, point) {
			return true
		}
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				if holds(x) {
					return true
				}
			}
		case []any:
			for _, x := range v {
				if holds(x) {
					return true
				}
			}
		}
		return false
	}
	return holds(schema)
}
