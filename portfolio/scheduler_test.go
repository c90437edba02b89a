package portfolio

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/challenges"
)

type fakeCatalog map[string]Amount

func (f fakeCatalog) Lookup(id string) (Amount, []string, bool) {
	a, ok := f[id]
	return a, []string{"x", "solvent"}, ok
}
func (f fakeCatalog) IDs() []string { return nil }

var cat = fakeCatalog{"a": {LabRuns: 10, Simulations: 20, Tokens: 100000}, "b": {LabRuns: 10, Simulations: 20}, "c": {LabRuns: 10}}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func mustParse(t *testing.T, y string) *Spec {
	t.Helper()
	s, err := Parse([]byte(y), cat)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newSched(t *testing.T, y string) *Scheduler {
	s := mustParse(t, y)
	ids := make([]string, len(s.Campaigns))
	for i, c := range s.Campaigns {
		ids[i] = c.Challenge
	}
	return New(*s, ids)
}

func TestParseDefaultsAndErrors(t *testing.T) {
	s := mustParse(t, "name: p\ncampaigns:\n  - challenge: a\n")
	c := s.Campaigns[0]
	if c.Priority != 1 || c.Budget.LabRuns != 10 || c.Budget.Tokens != 100000 || c.LabCost != 1 || s.Capacity.Lab != 2 ||
		s.Approval.LabRuns != AutoIfRoutine || s.Approval.Timeout.Std() != 30*time.Minute || !*s.Reallocate || s.TokenReserve != DefaultTokenReserve {
		t.Fatalf("defaults: %+v", s)
	}
	_, err := Parse([]byte(`
name: ""
capacity: {lab: -1}
approval: {lab_runs: sometimes, on_timeout: shrug, timeout: soon}
campaigns:
  - {challenge: nope, priority: 11}
  - {challenge: a, routine: {y: {min: 1}}, budget: {lab_runs: -3}}
`), cat)
	if err == nil {
		t.Fatal("bad file accepted")
	}
	if !strings.Contains(err.Error(), "not a duration") {
		t.Fatalf("want the duration error first: %v", err)
	}
	_, err = Parse([]byte(`
name: ""
capacity: {lab: -1}
approval: {lab_runs: sometimes, on_timeout: shrug}
campaigns:
  - {challenge: nope, priority: 11}
  - {challenge: a, routine: {y: {min: 1}}, budget: {lab_runs: -3}}
  - {challenge: a, strategy: magic}
`), cat)
	for _, want := range []string{"name: is missing", "capacity.lab: is -1", "approval.lab_runs", "approval.on_timeout", `"nope" is not in the catalog`,
		"campaigns[0].priority: is 11", "campaigns[1].routine.y: is not a parameter", "campaigns[1].budget.lab_runs: is -3; budgets are zero or more", "campaigns[2].strategy"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, err := Parse([]byte("name: p\ncampains: []\n"), cat); err == nil || !strings.Contains(err.Error(), "campains") {
		t.Errorf("unknown field accepted: %v", err)
	}
}

// A campaign's optimiser settings: checked with their field and what is
// allowed, refused where the strategy would ignore them, normalised.
func TestParseOptimiserSettings(t *testing.T) {
	s := mustParse(t, `
name: p
campaigns:
  - {challenge: a, strategy: bo, acquisition: " UCB", init: Random:2, batch: 4}
  - {challenge: a, strategy: bo, acquisition: ei, seed: 1}
  - {challenge: a, init: maximin:6}
`)
	if c := s.Campaigns[0]; c.Acquisition != "ucb" || c.Init != "random:2" || c.Batch != 4 {
		t.Errorf("bo settings %+v", c)
	}
	// Same challenge, strategy and seed, other settings: not a repeat.
	if c := s.Campaigns[1]; c.Seed != 1 || c.Acquisition != "ei" {
		t.Errorf("second bo campaign %+v", c)
	}
	if c := s.Campaigns[2]; c.Strategy != "agents" || c.Init != "maximin:6" {
		t.Errorf("agents with a start design %+v", c)
	}
	_, err := Parse([]byte(`
name: p
campaigns:
  - {challenge: a, strategy: bo, acquisition: pi, init: sobol, batch: 65}
  - {challenge: a, strategy: bo, init: random, batch: -1, seed: 2}
  - {challenge: a, acquisition: ucb, batch: 2}
  - {challenge: a, strategy: random, init: auto}
  - {challenge: a, strategy: agents-noopt, init: random:2}
`), cat)
	for _, want := range []string{
		`campaigns[0].acquisition: is "pi"; want ei (expected improvement) or ucb (upper confidence bound)`,
		`campaigns[0].init: start design "sobol": want auto, medoids[:N], maximin[:N] or random:N`,
		`campaigns[0].batch: is 65; want 1 to 64 experiments chosen together`,
		`campaigns[1].init: start design "random": say how many random points, e.g. random:2`,
		`campaigns[1].batch: is -1; want 1 to 64`,
		`campaigns[2].acquisition: applies only to strategy bo, not agents`,
		`campaigns[2].batch: applies only to strategy bo, not agents (max_batch bounds`,
		`campaigns[3].init: applies only to strategies bo and agents, not random`,
		`campaigns[4].init: applies only to strategies bo and agents, not agents-noopt`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, err := Parse([]byte("name: p\ncampaigns:\n  - {challenge: a, strategy: bo, batch: two}\n"), cat); err == nil || !strings.Contains(err.Error(), "not a valid portfolio file") {
		t.Errorf("a batch that is not a number: %v", err)
	}
}

// Under tight capacity the higher priority goes first, shares follow
// priorities, and nobody starves.
func TestPriorityAndFairShare(t *testing.T) {
	s := newSched(t, `
name: p
capacity: {lab: 1}
approval: {lab_runs: auto}
campaigns:
  - {challenge: a, priority: 1, budget: {lab_runs: 1000}}
  - {challenge: b, priority: 3, budget: {lab_runs: 1000}}
  - {challenge: c, priority: 2, budget: {lab_runs: 1000}}
`)
	seq := map[string]int{}
	ask := func(id string, now time.Time) []Grant {
		seq[id]++
		g, a := s.Submit(Request{Campaign: id, Seq: seq[id], Kind: Lab, N: 1, At: now}, now)
		if a != nil {
			t.Fatalf("approval asked: %+v", a)
		}
		return g
	}
	// Everyone asks at once; only one instrument.
	var order []string
	var held Grant
	for _, id := range []string{"a", "b", "c"} {
		for _, g := range ask(id, t0) {
			order = append(order, g.Campaign)
			held = g
		}
	}
	if fmt.Sprint(order) != "[a]" {
		t.Fatalf("the first asker takes the free instrument: %v", order)
	}
	got := map[string]int{}
	for i := range 600 {
		now := t0.Add(time.Duration(i+1) * time.Second)
		prev := held
		gs := s.Release(prev.Campaign, prev.Seq, Amount{LabRuns: 1, Cost: 1}, now)
		if len(gs) != 1 {
			t.Fatalf("release %d granted %v", i, gs)
		}
		held = gs[0]
		got[held.Campaign]++
		if i < 3 {
			order = append(order, held.Campaign)
		}
		// The campaign that finished its run asks again at once.
		seq[prev.Campaign]++
		s.Queue = append(s.Queue, Request{Campaign: prev.Campaign, Seq: seq[prev.Campaign], Kind: Lab, N: 1, At: now})
	}
	if fmt.Sprint(order[1:3]) != "[b c]" {
		t.Errorf("with the instrument short, priority 3 then 2 go next: %v", order)
	}
	// Shares follow 1:3:2.
	for id, want := range map[string]float64{"a": 100, "b": 300, "c": 200} {
		if g := float64(got[id]); g < want*0.95 || g > want*1.05 {
			t.Errorf("%s got %v grants, want about %v (shares 1:3:2): %v", id, g, want, got)
		}
	}
	if s.Grants != 601 || s.InUse.Lab != 1 {
		t.Errorf("grants %d in use %d", s.Grants, s.InUse.Lab)
	}
}

// The budget is reserved at the grant, so it holds however requests,
// partial grants and retried releases interleave.
func TestBudgetNeverExceeded(t *testing.T) {
	s := newSched(t, `
name: p
capacity: {lab: 3, model: 2}
budget: {lab_runs: 9, tokens: 20000}
approval: {lab_runs: auto}
token_reserve: 5000
campaigns:
  - {challenge: a, budget: {lab_runs: 7}}
  - {challenge: b, budget: {lab_runs: 7}}
`)
	seq := map[string]int{}
	granted := map[string]int{}
	var stops []string
	var holds []Grant
	for round := range 20 {
		now := t0.Add(time.Duration(round) * time.Minute)
		for _, id := range []string{"a", "b"} {
			if slices.Contains(stops, id) {
				continue
			}
			seq[id]++
			gs, _ := s.Submit(Request{Campaign: id, Seq: seq[id], Kind: Lab, N: 4, At: now}, now)
			for _, g := range gs {
				if g.Stop {
					stops = append(stops, g.Campaign)
				}
				if g.N > 0 {
					holds = append(holds, g)
				}
			}
		}
		// Release everything (twice: a retried release must not double-charge or double-free).
		for len(holds) > 0 {
			h := holds[0]
			holds = holds[1:]
			for range 2 {
				for _, g := range s.Release(h.Campaign, h.Seq, Amount{LabRuns: h.N, Cost: float64(h.N)}, now) {
					if g.N > 0 {
						holds = append(holds, g)
					}
				}
			}
			granted[h.Campaign] += h.N
		}
		spent, reserved := s.Totals()
		if spent.LabRuns+reserved.LabRuns > 9 || s.InUse.Lab < 0 || s.InUse.Lab > 3 {
			t.Fatalf("round %d: spent %v reserved %v in use %d", round, spent, reserved, s.InUse.Lab)
		}
	}
	spent, _ := s.Totals()
	if spent.LabRuns != 9 || granted["a"]+granted["b"] != 9 || granted["a"] > 7 || granted["b"] > 7 {
		t.Fatalf("spent %v granted %v", spent, granted)
	}
	if len(stops) != 2 {
		t.Errorf("both campaigns should be told to stop: %v", stops)
	}
	// Tokens: reserved per call, so 4 calls of 5000 fit and the 5th waits
	// only while another reservation is out.
	var calls []Grant
	for i := range 4 {
		gs, _ := s.Submit(Request{Campaign: "a", Seq: 100 + i, Kind: Model, N: 1}, t0)
		calls = append(calls, gs...)
	}
	if len(calls) != 2 || s.InUse.Model != 2 {
		t.Fatalf("model capacity 2: %v", calls)
	}
	calls = append(calls, s.Release("a", 100, Amount{Tokens: 1200}, t0)...)
	calls = append(calls, s.Release("a", 101, Amount{Tokens: 1300}, t0)...)
	if len(calls) != 4 {
		t.Fatalf("the two waiting calls follow: %v", calls)
	}
}

func TestApprovalPolicyTimeoutAndEscalation(t *testing.T) {
	s := newSched(t, `
name: p
approval: {lab_runs: auto_if_routine, max_auto_cost: 3, timeout: 10m, escalation_timeout: 20m, default: reject}
campaigns:
  - {challenge: a, lab_cost: 1, routine: {x: {max: 5}, solvent: {values: [water]}}}
`)
	// Routine and cheap: granted at once.
	gs, ap := s.Submit(Request{Campaign: "a", Seq: 1, Kind: Lab, N: 2, Points: []map[string]any{{"x": 1.0, "solvent": "water"}, {"x": 5.0}}}, t0)
	if ap != nil || len(gs) != 1 || gs[0].N != 2 {
		t.Fatalf("routine batch: %v %v", gs, ap)
	}
	s.Release("a", 1, Amount{LabRuns: 2, Cost: 2}, t0)
	// Outside the region: waits for an operator.
	gs, ap = s.Submit(Request{Campaign: "a", Seq: 2, Kind: Lab, N: 1, Points: []map[string]any{{"x": 7.0, "solvent": "water"}}}, t0)
	if ap == nil || len(gs) != 0 || !strings.Contains(ap.Reasons[0], "x = 7") || ap.Role != "operator" {
		t.Fatalf("outside the region: %v %+v", gs, ap)
	}
	if w := s.Waiting("a"); !strings.Contains(w, "operator's approval") {
		t.Errorf("waiting: %q", w)
	}
	// Before the deadline a timeout does nothing; at it, it escalates.
	if gs, esc := s.Timeout(ap.ID, t0.Add(5*time.Minute)); gs != nil || esc != nil {
		t.Fatal("timed out early")
	}
	gs, esc := s.Timeout(ap.ID, t0.Add(10*time.Minute))
	if esc == nil || esc.Role != "admin" || !esc.Deadline.Equal(t0.Add(30*time.Minute)) || gs != nil {
		t.Fatalf("escalation: %v %+v", gs, esc)
	}
	// The escalation times out: the default (reject) applies.
	gs, esc = s.Timeout(ap.ID, t0.Add(30*time.Minute))
	if esc != nil || len(gs) != 1 || gs[0].N != 0 || !strings.Contains(gs[0].Reason, "escalation timed out") {
		t.Fatalf("default after escalation: %v %+v", gs, esc)
	}
	if len(s.Pending) != 0 {
		t.Fatal("still pending")
	}
	// Too expensive (4 > 3): waits; an operator approves; it is granted.
	_, ap = s.Submit(Request{Campaign: "a", Seq: 3, Kind: Lab, N: 4, Points: make([]map[string]any, 4)}, t0)
	if ap == nil || !strings.Contains(strings.Join(ap.Reasons, ";"), "costs 4") {
		t.Fatalf("expensive batch: %+v", ap)
	}
	if _, err := s.Decide("a999", true, "op", "", t0); err == nil {
		t.Error("unknown approval decided")
	}
	gs, err := s.Decide(ap.ID, true, "op", "fine", t0)
	if err != nil || len(gs) != 1 || gs[0].N != 2 { // capacity 2
		t.Fatalf("approved: %v %v", gs, err)
	}
	if _, err := s.Decide(ap.ID, true, "op", "", t0); err == nil {
		t.Error("decided twice")
	}
	// on_timeout: approve.
	s.Spec.Approval.OnTimeout = Approve
	s.Release("a", 3, Amount{LabRuns: 2, Cost: 2}, t0)
	_, ap = s.Submit(Request{Campaign: "a", Seq: 4, Kind: Lab, N: 1, Points: []map[string]any{{"x": 9.0}}}, t0)
	gs, _ = s.Timeout(ap.ID, t0.Add(time.Hour))
	if len(gs) != 1 || gs[0].N != 1 {
		t.Fatalf("auto-approved on timeout: %v", gs)
	}
}

func TestStallReplanThenStopAndReallocation(t *testing.T) {
	s := newSched(t, `
name: p
stall: {patience: 3, action: replan, max_replans: 1}
campaigns:
  - {challenge: a, priority: 2, budget: {lab_runs: 10}}
  - {challenge: b, priority: 1, budget: {lab_runs: 10}}
  - {challenge: c, priority: 5, budget: {lab_runs: 10}}
`)
	best := 1.0
	s.Report(Progress{Campaign: "a", Iteration: 1, Best: &best}, t0)
	s.Report(Progress{Campaign: "b", Iteration: 1, Best: &best}, t0)
	acts := s.Report(Progress{Campaign: "c", Iteration: 3, Stale: 3}, t0)
	if len(acts) != 1 || acts[0].Kind != Replan {
		t.Fatalf("first stall re-plans: %v", acts)
	}
	// Told to re-plan, the campaign counts again from zero.
	if acts := s.Report(Progress{Campaign: "c", Iteration: 5, Stale: 2}, t0); len(acts) != 0 {
		t.Fatalf("acted again too soon: %v", acts)
	}
	acts = s.Report(Progress{Campaign: "c", Iteration: 6, Stale: 3}, t0)
	if len(acts) != 1 || acts[0].Kind != Stop {
		t.Fatalf("second stall stops: %v", acts)
	}
	// c spent 4 of 10 lab runs; 6 go to a and b (still improving), a first (priority 2).
	gs, _ := s.Submit(Request{Campaign: "c", Seq: 1, Kind: Lab, N: 4}, t0)
	s.Release("c", gs[0].Seq, Amount{LabRuns: 2}, t0)
	gs, _ = s.Submit(Request{Campaign: "c", Seq: 2, Kind: Lab, N: 2}, t0)
	s.Release("c", gs[0].Seq, Amount{LabRuns: 2}, t0)
	_, _, acts = s.Finish("c", "stalled", true, t0)
	if len(acts) != 2 || acts[0].Campaign != "a" || acts[0].Budget.LabRuns != 13 || acts[1].Budget.LabRuns != 13 {
		t.Fatalf("reallocation: %+v", acts)
	}
	var reasons []string
	for _, r := range s.Log {
		if r.Kind == RecReallocation {
			reasons = append(reasons, r.Detail)
		}
	}
	if len(reasons) != 3 || !strings.Contains(reasons[0], "6 lab runs unspent, returned to the pool (stalled)") || !strings.Contains(reasons[1], "still improving") {
		t.Errorf("reallocations logged with reasons: %q", reasons)
	}
	if !s.Pool.Zero() || s.Entry("c").Budget.LabRuns != 4 {
		t.Errorf("pool %v, c's budget %v", s.Pool, s.Entry("c").Budget)
	}
	// A repeating campaign stalls too.
	s.Spec.Stall.Action = Deprioritise
	if acts := s.Report(Progress{Campaign: "a", Iteration: 5, Repeats: 3}, t0); len(acts) != 0 || s.Entry("a").Priority != 1 {
		t.Fatalf("deprioritised: %v priority %d", acts, s.Entry("a").Priority)
	}
}

// A campaign that ends abnormally is charged what it held; one that ends
// gracefully is not; both free their capacity and queue entries.
func TestFinishReleasesCapacity(t *testing.T) {
	s := newSched(t, "name: p\ncapacity: {lab: 1}\napproval: {lab_runs: auto}\ncampaigns:\n  - {challenge: a}\n  - {challenge: b}\n")
	s.Submit(Request{Campaign: "a", Seq: 1, Kind: Lab, N: 1}, t0)
	s.Submit(Request{Campaign: "b", Seq: 1, Kind: Lab, N: 1}, t0)
	gs, _, _ := s.Finish("a", "terminated", false, t0)
	if len(gs) != 1 || gs[0].Campaign != "b" || s.Entry("a").Spent.LabRuns != 1 {
		t.Fatalf("grants %v spent %v", gs, s.Entry("a").Spent)
	}
	if gs, _ := s.Submit(Request{Campaign: "a", Seq: 2, Kind: Lab, N: 1}, t0); len(gs) != 1 || !gs[0].Stop {
		t.Fatalf("an ended campaign is refused: %v", gs)
	}
	s.Finish("b", "done", true, t0)
	if s.InUse.Lab != 0 || s.Entry("b").Spent.LabRuns != 0 {
		t.Fatalf("in use %d, b spent %v", s.InUse.Lab, s.Entry("b").Spent)
	}
}

// A paused portfolio grants nothing: what was granted runs on, releases
// free capacity without handing it out, and every waiting request is
// granted on resume, in the usual order. The pause survives a JSON round
// trip (continue-as-new).
func TestPauseHoldsGrantsUntilResume(t *testing.T) {
	s := newSched(t, "name: p\ncapacity: {lab: 1}\napproval: {lab_runs: auto}\ncampaigns:\n  - {challenge: a}\n  - {challenge: b}\n")
	if gs, _ := s.Submit(Request{Campaign: "a", Seq: 1, Kind: Lab, N: 1}, t0); len(gs) != 1 || gs[0].N != 1 {
		t.Fatalf("first request: %v", gs)
	}
	s.Pause("ops", t0)
	s.Pause("someone else", t0) // already paused: no second record
	if gs, _ := s.Submit(Request{Campaign: "b", Seq: 1, Kind: Lab, N: 1}, t0); len(gs) != 0 {
		t.Fatalf("granted while paused: %v", gs)
	}
	if gs := s.Release("a", 1, Amount{LabRuns: 1, Cost: 1}, t0); len(gs) != 0 || s.InUse.Lab != 0 {
		t.Fatalf("a release while paused granted %v (in use %d)", gs, s.InUse.Lab)
	}
	if w := s.Waiting("b"); !strings.Contains(w, "paused by ops") {
		t.Errorf("b waits for %q", w)
	}
	b, _ := json.Marshal(s)
	var s2 Scheduler
	if err := json.Unmarshal(b, &s2); err != nil || s2.Paused != "ops" {
		t.Fatalf("pause lost across a round trip: %q %v", s2.Paused, err)
	}
	gs := s2.Resume("ops", t0)
	if len(gs) != 1 || gs[0].Campaign != "b" || s2.Paused != "" || s2.Waiting("b") != "" {
		t.Fatalf("resume granted %v (paused %q)", gs, s2.Paused)
	}
	if gs := s2.Resume("ops", t0); gs != nil {
		t.Errorf("a second resume granted %v", gs)
	}
	var kinds []string
	for _, r := range s2.Log {
		if r.Kind == RecPaused || r.Kind == RecResumed {
			kinds = append(kinds, r.Kind)
		}
	}
	if strings.Join(kinds, ",") != "paused,resumed" {
		t.Errorf("log: %v", kinds)
	}
}

// The example in the README parses against the built-in catalog.
func TestExampleParses(t *testing.T) {
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load("example.yaml", Catalog(cat))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Campaigns) != 3 || s.Campaigns[1].Routine[0].Parameter != "theta" || s.Approval.EscalationTimeout.Std() != time.Hour {
		t.Fatalf("%+v", s)
	}
	b, _ := json.Marshal(s)
	var back Spec
	if err := json.Unmarshal(b, &back); err != nil || back.Approval.Timeout != s.Approval.Timeout || back.Campaigns[2].Deadline == nil {
		t.Fatalf("JSON round trip: %v %+v", err, back.Approval)
	}
}

// BenchmarkGrant is the scheduler's own cost of one request → grant →
// release cycle with 50 campaigns competing for 4 instruments.
func BenchmarkGrant(b *testing.B) {
	var y strings.Builder
	y.WriteString("name: bench\ncapacity: {lab: 4}\napproval: {lab_runs: auto}\ncampaigns:\n")
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = fmt.Sprint("c", i)
		fmt.Fprintf(&y, "  - {challenge: a, seed: %d, priority: %d, budget: {lab_runs: 1000000000}}\n", i+1, i%10+1)
	}
	spec, err := Parse([]byte(y.String()), cat)
	if err != nil {
		b.Fatal(err)
	}
	s := New(*spec, ids)
	seq := map[string]int{}
	var held []Grant
	for _, id := range ids {
		seq[id]++
		g, _ := s.Submit(Request{Campaign: id, Seq: seq[id], Kind: Lab, N: 1}, t0)
		held = append(held, g...)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h := held[0]
		held = held[1:]
		held = append(held, s.Release(h.Campaign, h.Seq, Amount{LabRuns: 1}, t0)...)
		seq[h.Campaign]++
		g, _ := s.Submit(Request{Campaign: h.Campaign, Seq: seq[h.Campaign], Kind: Lab, N: 1}, t0)
		held = append(held, g...)
	}
}
