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
		Improved:    true,
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
		{"final", `{"action":"final","output":{"decision":"explore","lab_runs":2,"simulations":1,"rationale":"r"}}`, KindFinal, ""},
		{"fenced", "```json\n{\"action\":\"final\",\"output\":{\"decision\":\"stop\",\"lab_runs\":0,\"simulations\":0,\"rationale\":\"\"}}\n```", KindFinal, ""},
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
	reply := `{"action":"final","output":{"hypotheses":[{"statement":"thick walls","expected":"higher toughness","candidates":[
		{"n":12,"theta":0,"r":2.5,"t":1.4}, {"n":12,"theta":0,"r":2.5,"t":1.4}, ` + string(measured) + `]}]}}`
	res := Parse(c, in, schema, reply)
	if res.Kind != KindFinal || len(res.Proposed) != 1 {
		t.Fatalf("got %s %d proposed (%s), want 1 (duplicate and measured dropped)", res.Kind, len(res.Proposed), res.Problem)
	}
	if !strings.Contains(res.Problem, "already measured") {
		t.Errorf("problem %q should say a candidate was already measured", res.Problem)
	}
	bad := `{"action":"final","output":{"hypotheses":[{"statement":"s","expected":"e","candidates":[{"n":7,"theta":0,"r":2.5,"t":1.4}]}]}}`
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
