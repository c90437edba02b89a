// Package agents defines Genesis's five agents — planner, hypothesis,
// simulation-operator, lab-operator and analyst. An agent is a role prompt
// (package prompts), the tools it may call, and a typed output schema. One
// agent step is one model call: Step renders the prompt, asks the model for
// JSON constrained to the agent's envelope schema (a final answer or one
// tool call), and validates what comes back. Steps never fail on odd model
// output: they return it as Invalid with a reason, and the campaign workflow
// repairs, retries or falls back.
package agents

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/tools"
	"github.com/genesis-sci/genesis/tools/dataset"
)

// Roles.
const (
	Planner     = "planner"
	Hypothesis  = "hypothesis"
	SimOperator = "simulation-operator"
	LabOperator = "lab-operator"
	Analyst     = "analyst"
)

// Roles in loop order.
var Roles = []string{Planner, Hypothesis, SimOperator, LabOperator, Analyst}

var roleSummary = map[string]string{
	Planner:     "You decide each iteration's strategy: explore or exploit, how many simulations and lab experiments, or stop.",
	Hypothesis:  "You propose hypotheses about the design space, each with concrete candidate points to test.",
	SimOperator: "You choose which candidates get a cheap, lower-fidelity simulation on the HPC cluster.",
	LabOperator: "You choose which candidates earn an expensive, real lab experiment on the robotic lab.",
	Analyst:     "You interpret the results, write findings to the team's memory and judge whether the campaign has converged.",
}

// Information tools an agent may call during its turn. Actions with
// physical or costly effects (lab runs, HPC jobs) are not model tools: the
// operators decide and the workflow carries the decision out after checking
// budget, design space and safety.
const (
	ToolDatasetQuery     = "dataset_query"
	ToolMemoryRecall     = "memory_recall"
	ToolOptimizerSuggest = "optimizer_suggest"
)

// RecallInput is memory_recall's input.
type RecallInput struct {
	Query string `json:"query" jsonschema:"description=what to look for"`
	K     int    `json:"k,omitempty" jsonschema:"minimum=1,maximum=8,description=how many memories (default 4)"`
}

// SuggestInput is optimizer_suggest's input.
type SuggestInput struct {
	K           int    `json:"k,omitempty" jsonschema:"minimum=1,maximum=8,description=how many suggestions (default 4)"`
	Acquisition string `json:"acquisition,omitempty" jsonschema:"enum=ei,enum=ucb,description=ei (expected improvement; default) or ucb (more exploratory)"`
}

// ToolSpecs are the information tools by name.
var ToolSpecs = map[string]*tools.Spec{
	ToolDatasetQuery:     tools.Define[dataset.Query](ToolDatasetQuery, "Run one read-only SQL SELECT over the candidate pool (parameters only) and this campaign's results."),
	ToolMemoryRecall:     tools.Define[RecallInput](ToolMemoryRecall, "Search the team's shared memory (findings, hypotheses, results of this and earlier campaigns) by meaning."),
	ToolOptimizerSuggest: tools.Define[SuggestInput](ToolOptimizerSuggest, "Ask the Gaussian-process Bayesian optimiser for the most promising untested candidates."),
}

var roleTools = map[string][]string{
	Planner:     {ToolMemoryRecall, ToolDatasetQuery},
	Hypothesis:  {ToolOptimizerSuggest, ToolDatasetQuery, ToolMemoryRecall},
	SimOperator: {ToolDatasetQuery},
	LabOperator: {ToolDatasetQuery, ToolMemoryRecall},
	Analyst:     {ToolDatasetQuery, ToolMemoryRecall},
}

// Tools returns the tools a role may call, in a fixed order.
func Tools(role string) []*tools.Spec { return ToolsFor(role, false) }

// ToolsFor is Tools without the optimiser when noOptimizer is set (the
// agents-noopt strategy: the team on its own, for evals).
func ToolsFor(role string, noOptimizer bool) []*tools.Spec {
	var out []*tools.Spec
	for _, n := range roleTools[role] {
		if noOptimizer && n == ToolOptimizerSuggest {
			continue
		}
		out = append(out, ToolSpecs[n])
	}
	return out
}

// Plan is the planner's output.
type Plan struct {
	Decision    string `json:"decision" jsonschema:"enum=explore,enum=exploit,enum=stop"`
	LabRuns     int    `json:"lab_runs" jsonschema:"minimum=0,maximum=8"`
	Simulations int    `json:"simulations" jsonschema:"minimum=0,maximum=16"`
	Rationale   string `json:"rationale"`
}

// HypothesisOut is one hypothesis as the model gives it.
type HypothesisOut struct {
	Statement  string           `json:"statement"`
	Expected   string           `json:"expected"`
	Candidates []map[string]any `json:"candidates"`
}

// Hypotheses is the hypothesis agent's output.
type Hypotheses struct {
	Hypotheses []HypothesisOut `json:"hypotheses"`
}

// SimSelection is the simulation-operator's output.
type SimSelection struct {
	Simulate  []int  `json:"simulate"`
	Rationale string `json:"rationale"`
}

// LabSelection is the lab-operator's output.
type LabSelection struct {
	Run       []int  `json:"run"`
	Rationale string `json:"rationale"`
}

// Analysis is the analyst's output.
type Analysis struct {
	Findings  []string `json:"findings"`
	Converged bool     `json:"converged"`
	Summary   string   `json:"summary"`
}

// OutputSchema is a role's output schema. The hypothesis schema depends on
// the challenge: candidate points are objects with one property per
// parameter, constrained to the allowed values.
func OutputSchema(role string, c *challenges.Challenge) json.RawMessage {
	switch role {
	case Planner:
		return tools.SchemaFor(Plan{})
	case SimOperator:
		return tools.SchemaFor(SimSelection{})
	case LabOperator:
		return tools.SchemaFor(LabSelection{})
	case Analyst:
		return tools.SchemaFor(Analysis{})
	case Hypothesis:
		return hypothesisSchema(c)
	}
	panic("agents: unknown role " + role)
}

func obj(props map[string]any, required ...string) map[string]any {
	return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}

// PointSchema is the JSON schema of one design point of c.
func PointSchema(c *challenges.Challenge) map[string]any {
	props := map[string]any{}
	var req []string
	for _, p := range c.Parameters {
		var s map[string]any
		switch p.Kind {
		case challenges.Categorical:
			s = map[string]any{"type": "string", "enum": p.Options}
		case challenges.Discrete:
			s = map[string]any{"type": "number", "enum": p.Values}
		case challenges.Integer:
			s = map[string]any{"type": "integer", "minimum": *p.Low, "maximum": *p.High}
		default:
			s = map[string]any{"type": "number", "minimum": *p.Low, "maximum": *p.High}
		}
		props[p.Name] = s
		req = append(req, p.Name)
	}
	return obj(props, req...)
}

func hypothesisSchema(c *challenges.Challenge) json.RawMessage {
	str := map[string]any{"type": "string"}
	h := obj(map[string]any{
		"statement":  str,
		"expected":   str,
		"candidates": map[string]any{"type": "array", "items": PointSchema(c), "minItems": 1, "maxItems": 4},
	}, "statement", "expected", "candidates")
	s := obj(map[string]any{"hypotheses": map[string]any{"type": "array", "items": h, "minItems": 1, "maxItems": 2}}, "hypotheses")
	b, _ := json.Marshal(s)
	return b
}

// EnvelopeSchema is what the model must reply with: a final answer, or (when
// tools are allowed) one call to one of the role's tools.
func EnvelopeSchema(role string, c *challenges.Challenge, allowTools bool) json.RawMessage {
	var specs []*tools.Spec
	if allowTools {
		specs = Tools(role)
	}
	return envelopeSchema(role, c, specs)
}

func envelopeSchema(role string, c *challenges.Challenge, specs []*tools.Spec) json.RawMessage {
	var out any
	_ = json.Unmarshal(OutputSchema(role, c), &out)
	alts := []any{obj(map[string]any{
		"action": map[string]any{"type": "string", "enum": []string{"final"}},
		"output": out,
	}, "action", "output")}
	{
		for _, t := range specs {
			var in any
			_ = json.Unmarshal(t.Schema, &in)
			alts = append(alts, obj(map[string]any{
				"action": map[string]any{"type": "string", "enum": []string{"call_tool"}},
				"tool":   map[string]any{"type": "string", "enum": []string{t.Name}},
				"input":  in,
			}, "action", "tool", "input"))
		}
	}
	var s any = alts[0]
	if len(alts) > 1 {
		s = map[string]any{"anyOf": alts}
	}
	b, _ := json.Marshal(s)
	return b
}

// ChallengeView is what prompts say about a challenge.
type ChallengeView struct {
	ID, Title, Domain, Description string
	Objective, Direction, Unit     string
	PoolSize                       int
	// Space says which points can be run: the pool's size, or any point
	// within the bounds.
	Space string
	// Objectives lists every objective of a multi-objective challenge
	// ("maximize yield (%)"); empty for a single objective.
	Objectives  []string
	Parameters  []string
	Constraints []string
	// Example is one candidate as JSON, to show the shape.
	Example string
}

// NewChallengeView summarises c for prompts.
func NewChallengeView(c *challenges.Challenge) ChallengeView {
	o := c.Primary()
	v := ChallengeView{ID: c.ID, Title: c.Title, Domain: c.Domain, Description: strings.TrimSpace(c.Description),
		Objective: o.Name, Direction: o.Direction, Unit: o.Unit, PoolSize: c.Pool().Len()}
	if c.Finite() {
		v.Space = fmt.Sprintf("%d runnable points", c.Pool().Len())
	} else {
		v.Space = fmt.Sprintf("any point within the bounds can be run; %d have been measured before", c.Pool().Len())
	}
	if c.MultiObjective() {
		sc := c.Scalarizer()
		for k, o := range c.Objectives {
			line := fmt.Sprintf("%s %s", o.Direction, o.Name)
			if o.Unit != "" {
				line += " (" + o.Unit + ")"
			}
			v.Objectives = append(v.Objectives, fmt.Sprintf("%s, weight %.2f", line, sc.Weights[k]))
		}
	}
	for _, k := range c.Constraints {
		v.Constraints = append(v.Constraints, k.String())
	}
	for _, p := range c.Parameters {
		var allowed string
		switch p.Kind {
		case challenges.Categorical:
			allowed = "one of " + strings.Join(p.Options, ", ")
		case challenges.Discrete:
			vs := make([]string, len(p.Values))
			for i, x := range p.Values {
				vs[i] = fmt.Sprint(x)
			}
			allowed = "one of " + strings.Join(vs, ", ")
		default:
			allowed = fmt.Sprintf("%s in [%g, %g]", p.Kind, *p.Low, *p.High)
		}
		line := fmt.Sprintf("%s: %s", p.Name, allowed)
		if p.Unit != "" {
			line += " " + p.Unit
		}
		if p.Description != "" {
			line += " — " + p.Description
		}
		v.Parameters = append(v.Parameters, line)
	}
	b, _ := json.Marshal(orderedPoint(c, c.Pool().Points[0]))
	v.Example = string(b)
	return v
}

// orderedPoint marshals with keys in parameter order (encoding/json sorts map keys).
type orderedMap struct {
	keys []string
	vals map[string]any
}

func (m orderedMap) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			b.WriteString(", ")
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(m.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteString(": ")
		b.Write(vb)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

func orderedPoint(c *challenges.Challenge, p challenges.Point) orderedMap {
	keys := make([]string, len(c.Parameters))
	for i, prm := range c.Parameters {
		keys[i] = prm.Name
	}
	return orderedMap{keys: keys, vals: c.Map(p)}
}

// PointJSON renders a point as a JSON object in parameter order.
func PointJSON(c *challenges.Challenge, p challenges.Point) string {
	b, _ := json.Marshal(orderedPoint(c, p))
	return string(b)
}

// SortedKeys returns a map's keys in order (for deterministic rendering).
func SortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
