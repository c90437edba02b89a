package agents

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/challenges"
)

var update = flag.Bool("update", false, "rewrite golden files")

func crossedBarrel(t testing.TB) *challenges.Challenge {
	t.Helper()
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	c, err := cat.Get(challenges.DefaultID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fixture(c *challenges.Challenge, role string) StepInput {
	p := c.Pool().Points
	best := Result{Source: "lab", Iteration: 2, Point: p[500], Values: []float64{31.25}, Ref: "run-0004"}
	b := Brief{
		CampaignID: "campaign-test", Iteration: 3, ExperimentsUsed: 6, ExperimentsBudget: 30, SimulationsUsed: 4, SimulationsBudget: 60,
		TokensUsed: 12000, Best: &best,
		Recent:      []Result{{Source: "lab", Iteration: 2, Point: p[10], Values: []float64{12.5}, Ref: "run-0003"}, best},
		Plan:        &Plan{Decision: "exploit", LabRuns: 2, Simulations: 2, Rationale: "Refine near the best."},
		Suggestions: []Candidate{{Point: p[501], Source: "optimizer", Note: "31.0 ± 2.1"}},
		Candidates:  []Candidate{{Point: p[501], Source: "model", Hypothesis: "thicker walls"}, {Point: p[502], Source: "optimizer"}},
		SimResults:  []Result{{Source: "sim", Iteration: 3, Point: p[501], Values: []float64{29.9}, Ref: "job-1"}},
		LabResults:  []Result{{Source: "lab", Iteration: 3, Point: p[502], Values: []float64{33.1}, Ref: "run-0007"}},
		Outcome:     &Outcome{Best: &Result{Source: "lab", Iteration: 3, Point: p[502], Values: []float64{33.1}, Ref: "run-0007"}, Improved: true},
	}
	return StepInput{Role: role, Brief: b, AllowTools: true, Limits: Limits{MaxLabRuns: 4, LabLeft: 24, MaxSimulations: 8, SimsLeft: 56, SimCost: 0.1, Candidates: 4},
		Observations: []Observation{{Tool: ToolDatasetQuery, Input: `{"sql":"SELECT count(*) FROM candidates"}`, Output: "count(*)\n600"}}}
}

// The rendered prompts are pinned by golden files; run with -update to
// accept a deliberate change, and review the diff.
func TestPromptGolden(t *testing.T) {
	c := crossedBarrel(t)
	for _, role := range Roles {
		t.Run(role, func(t *testing.T) {
			sys, user, err := RenderPrompt(c, fixture(c, role), []string{"finding: thick walls (t=1.4) beat thin ones at every radius"})
			if err != nil {
				t.Fatal(err)
			}
			got := "=== system\n" + sys + "=== user\n" + user
			path := filepath.Join("testdata", "golden", role+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./agents -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("prompt for %s changed; run go test ./agents -run TestPromptGolden -update and review the diff.\n--- got\n%s", role, got)
			}
			if strings.Contains(got, "<no value>") || strings.Contains(got, "%!") {
				t.Errorf("prompt has a rendering hole:\n%s", got)
			}
		})
	}
}

func TestParseReplies(t *testing.T) {
	c := crossedBarrel(t)
	in := fixture(c, Planner)
	schema := EnvelopeSchema(Planner, c, true)
	cases := []struct {
		name, reply, kind, problem string
	}{
		{"final", `{"action":"final","output":{"decision":"explore","lab_runs":2,"simulations":1,"rationale":"Few points are measured yet."}}`, KindFinal, ""},
		{"fenced", "```json\n{\"action\":\"final\",\"output\":{\"decision\":\"stop\",\"lab_runs\":0,\"simulations\":0,\"rationale\":\"No gain in three iterations.\"}}\n```", KindFinal, ""},
		{"rationale too short", `{"action":"final","output":{"decision":"explore","lab_runs":2,"simulations":1,"rationale":"r"}}`, KindInvalid, "rationale"},
		{"placeholder copied", `{"action":"final","output":{"decision":"explore","lab_runs":2,"simulations":1,"rationale":"Your reason, from the results above, in one sentence."}}`, KindInvalid, "placeholder"},
		{"template debris", `{"action":"final","output":{"decision":"explore","lab_runs":2,"simulations":1,"rationale":"{{#1}}} ({{#2}}) [{{#3}}}"}}`, KindInvalid, "template debris"},
		{"not prose", `{"action":"final","output":{"decision":"explore","lab_runs":2,"simulations":1,"rationale":"][0][ 12, 50, 2.5"}}`, KindInvalid, "rationale"},
		{"tool", `{"action":"call_tool","tool":"dataset_query","input":{"sql":"SELECT 1"}}`, KindTool, ""},
		{"tool not allowed for role", `{"action":"call_tool","tool":"optimizer_suggest","input":{}}`, KindInvalid, "schema"},
		{"bad enum", `{"action":"final","output":{"decision":"maybe","lab_runs":2,"simulations":1,"rationale":"r"}}`, KindInvalid, "decision"},
		{"prose", `I think we should explore.`, KindInvalid, "not valid JSON"},
	}
	for _, tc := range cases {
		res := Parse(c, in, schema, tc.reply)
		if res.Kind != tc.kind || !strings.Contains(res.Problem, tc.problem) {
			t.Errorf("%s: got %s %q, want %s mentioning %q", tc.name, res.Kind, res.Problem, tc.kind, tc.problem)
		}
	}
}

func TestHypothesisCandidates(t *testing.T) {
	c := crossedBarrel(t)
	in := fixture(c, Hypothesis)
	in.Brief.Measured = []challenges.Point{c.Pool().Points[0]}
	schema := EnvelopeSchema(Hypothesis, c, false)
	measured, _ := json.Marshal(c.Map(c.Pool().Points[0]))
	reply := `{"action":"final","output":{"hypotheses":[{"statement":"Thick walls absorb more energy.","expected":"higher toughness","candidates":[
		{"n":12,"theta":0,"r":2.5,"t":1.4}, {"n":12,"theta":0,"r":2.5,"t":1.4}, ` + string(measured) + `]}]}}`
	res := Parse(c, in, schema, reply)
	if res.Kind != KindFinal || len(res.Proposed) != 1 {
		t.Fatalf("got %s %d proposed (%s), want 1 (duplicate and measured dropped)", res.Kind, len(res.Proposed), res.Problem)
	}
	if !strings.Contains(res.Problem, "already measured") {
		t.Errorf("problem %q should say a candidate was already measured", res.Problem)
	}
	bad := `{"action":"final","output":{"hypotheses":[{"statement":"Seven columns are best.","expected":"higher toughness","candidates":[{"n":7,"theta":0,"r":2.5,"t":1.4}]}]}}`
	if res := Parse(c, in, schema, bad); res.Kind != KindInvalid {
		t.Errorf("n=7 is outside the design space: got %s", res.Kind)
	}
}

func TestEnvelopeSchemasCompile(t *testing.T) {
	c := crossedBarrel(t)
	for _, role := range Roles {
		for _, tools := range []bool{true, false} {
			var v any
			if err := json.Unmarshal(EnvelopeSchema(role, c, tools), &v); err != nil {
				t.Errorf("%s: %v", role, err)
			}
		}
	}
}

// The prompts of one iteration extend one another: each role's prompt
// starts with everything the previous role's prompt held before its task,
// and the system message never changes. That is what lets the server's
// prompt cache serve most of every call (see prompt.go).
func TestPromptsOfAnIterationShareTheirPrefix(t *testing.T) {
	c := crossedBarrel(t)
	p := c.Pool().Points
	lim := Limits{MaxLabRuns: 4, LabLeft: 24, MaxSimulations: 8, SimsLeft: 56, SimCost: 0.1, Candidates: 8}
	b := Brief{CampaignID: "c", Iteration: 2, ExperimentsUsed: 2, ExperimentsBudget: 30, SimulationsBudget: 60,
		Recent: []Result{{Source: "lab", Iteration: 1, Point: p[10], Values: []float64{12.5}}, {Source: "lab", Iteration: 1, Point: p[20], Values: []float64{20}}}}
	b.Best = &b.Recent[1]
	mem := []string{"finding by the analyst (an earlier campaign): more columns helped"}
	render := func(role string, b Brief) (string, string) {
		sys, user, err := RenderPrompt(c, StepInput{Role: role, Brief: b, Limits: lim, AllowTools: true}, mem)
		if err != nil {
			t.Fatal(err)
		}
		return sys, user
	}
	// (up to the blank line before the task: a token the cache may miss)
	shared := func(user string) string { return strings.TrimRight(user[:strings.Index(user, "Your task")], "\n") }
	sys0, prev := render(Planner, b)
	steps := []struct {
		role string
		add  func(*Brief)
	}{
		{Hypothesis, func(b *Brief) {
			b.Plan = &Plan{Decision: "explore", LabRuns: 4, Simulations: 2, Rationale: "Few points are known."}
			b.Suggestions = []Candidate{{Point: p[30], Source: "optimizer", Note: "30 ± 2"}}
		}},
		{SimOperator, func(b *Brief) {
			b.Candidates = []Candidate{{Point: p[30], Source: "model"}, {Point: p[31], Source: "optimizer"}}
		}},
		{LabOperator, func(b *Brief) { b.SimResults = []Result{{Source: "sim", Point: p[31], Values: []float64{25}}} }},
		{Analyst, func(b *Brief) {
			b.LabResults = []Result{{Source: "lab", Point: p[30], Values: []float64{33}}}
			b.Outcome = &Outcome{Best: &b.LabResults[0], Improved: true}
		}},
	}
	for _, s := range steps {
		s.add(&b)
		sys, user := render(s.role, b)
		if sys != sys0 {
			t.Errorf("%s: the system message differs from the planner's", s.role)
		}
		if !strings.HasPrefix(user, shared(prev)) {
			t.Errorf("%s's prompt does not start with the previous role's:\n--- previous\n%s\n--- %s\n%s", s.role, shared(prev), s.role, user)
		}
		if len(shared(user)) <= len(shared(prev)) {
			t.Errorf("%s adds nothing to the shared part", s.role)
		}
		prev = user
	}
	// The next iteration's state appends the new result to the table.
	_, first := render(Planner, b)
	b2 := Brief{CampaignID: "c", Iteration: 3, ExperimentsUsed: 3, ExperimentsBudget: 30, SimulationsUsed: 1, SimulationsBudget: 60,
		Recent: append(append([]Result(nil), b.Recent...), Result{Source: "lab", Iteration: 2, Point: p[30], Values: []float64{33}})}
	_, next := render(Planner, b2)
	table := first[:strings.Index(first, "Iteration 2:")]
	if !strings.HasPrefix(next, table) {
		t.Errorf("the next iteration's table does not extend this one's:\n%s\n---\n%s", table, next)
	}
}

func TestProseProblem(t *testing.T) {
	ph := []string{"your reason in one sentence"}
	for _, tc := range []struct {
		s    string
		want string
	}{
		{"Their simulations are the highest.", ""},
		{"Candidate 2 beat 31 J at t=1.4.", ""},
		{"<your reason in one sentence>", "placeholder"},
		{"Your reason, in one sentence: the best two.", "placeholder"},
		{"}],   // no more than one hypothesis per point.", "debris"},
		{"{{#1}}} ({{#2}}) [{{#3}}}", "debris"},
		{"][0][", "debris"},
		{"1, 2, 3, 4, 5, 6", "not prose"},
		{"ok go", "not prose"},
		{"", "not prose"},
	} {
		got := ProseProblem(tc.s, 3, ph)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("ProseProblem(%q) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestCapMemories(t *testing.T) {
	long := strings.Repeat("thick walls help ", 40)
	got := CapMemories([]string{long, "b  c", long, long, long}, 160)
	if len(got) < 2 || got[1] != "b c" {
		t.Fatalf("got %q", got)
	}
	total := 0
	for _, m := range got {
		if approxTokens(m) > memoryItemTokens+1 {
			t.Errorf("memory of %d tokens, cap %d", approxTokens(m), memoryItemTokens)
		}
		total += approxTokens(m)
	}
	if total > 160 {
		t.Errorf("%d tokens of memory, budget 160", total)
	}
}

// The reply bound holds the longest reply a role's schema allows, at 2.5
// bytes a token (JSON with numbers and short words; English runs ~4), so
// a reply the schema accepts is never cut into invalid JSON.
func TestReplyTokensHoldTheLongestReply(t *testing.T) {
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	prose := func(n int) string { return strings.Repeat("a", n) }
	num := "-1.1234567890123456"
	for _, c := range cat.All() {
		point := map[string]any{}
		for _, p := range c.Parameters {
			point[p.Name] = json.RawMessage(num)
			if p.Kind == challenges.Categorical {
				longest := ""
				for _, o := range p.Options {
					if len(o) > len(longest) {
						longest = o
					}
				}
				point[p.Name] = longest
			}
		}
		var cands []any
		for range maxPerHyp {
			cands = append(cands, point)
		}
		var hyps []any
		for range maxHypotheses {
			hyps = append(hyps, map[string]any{"statement": prose(maxRationale), "expected": prose(maxExpected), "candidates": cands})
		}
		picks := make([]int, maxPicks)
		for i := range picks {
			picks[i] = 10
		}
		outs := map[string]any{
			Planner:     map[string]any{"decision": "exploit", "lab_runs": 8, "simulations": 16, "rationale": prose(maxRationale)},
			Hypothesis:  map[string]any{"hypotheses": hyps},
			SimOperator: map[string]any{"simulate": picks, "rationale": prose(maxRationale)},
			LabOperator: map[string]any{"run": picks, "rationale": prose(maxRationale)},
			Analyst:     map[string]any{"findings": []string{prose(maxFinding), prose(maxFinding), prose(maxFinding)}, "converged": false, "summary": prose(maxRationale)},
		}
		for _, role := range Roles {
			b, _ := json.Marshal(map[string]any{"action": "final", "output": outs[role]})
			if 5*ReplyTokens(role, c) < 2*len(b) {
				t.Errorf("%s/%s: bound %d tokens for a %d-byte reply", c.ID, role, ReplyTokens(role, c), len(b))
			}
		}
	}
}

// An operator's picks are bounded by the candidates and the plan: the
// schema (and so constrained decoding) allows no more.
func TestOperatorPicksAreBounded(t *testing.T) {
	c := crossedBarrel(t)
	in := fixture(c, LabOperator) // 2 candidates, the plan asks for 2 lab runs
	schema := stepSchema(in, c)
	for reply, want := range map[string]string{
		`{"action":"final","output":{"run":[2,1],"rationale":"Both are near the best point."}}`:   KindFinal,
		`{"action":"final","output":{"run":[3],"rationale":"Both are near the best point."}}`:     KindInvalid,
		`{"action":"final","output":{"run":[1,2,1],"rationale":"Both are near the best point."}}`: KindInvalid,
	} {
		if res := Parse(c, in, schema, reply); res.Kind != want {
			t.Errorf("%s: %s (%s), want %s", reply, res.Kind, res.Problem, want)
		}
	}
}
