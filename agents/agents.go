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
	"bytes"
	"cmp"
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

// Plan is the planner's output. LabRuns 0 means as many as the lab takes
// this iteration (the batch grows to the lab's capacity unless the planner
// says otherwise).
type Plan struct {
	Decision    string `json:"decision"`
	LabRuns     int    `json:"lab_runs"`
	Simulations int    `json:"simulations"`
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

// Bounds of what a reply may hold. They bound the reply's length (and so
// the time spent generating it: a small model on two cores writes about 60
// tokens a second), and constrained decoding enforces them as it writes.
const (
	maxRationale   = 120 // characters of a rationale, statement or summary
	maxExpected    = 60
	maxFinding     = 120
	maxFindings    = 3
	maxHypotheses  = 1
	maxPerHyp      = 3 // candidates per hypothesis
	maxPicks       = 8 // candidate numbers an operator may list
	minProse       = 12
	maxLabRunsPlan = 8
	maxSimsPlan    = 16
)

// OutputSchema is a role's output schema. The hypothesis schema depends on
// the challenge: candidate points are objects with one property per
// parameter, constrained to the allowed values.
func OutputSchema(role string, c *challenges.Challenge) json.RawMessage {
	b, err := json.Marshal(outputSchema(role, c, 0, 0))
	if err != nil {
		panic(fmt.Sprintf("agents: %s schema: %v", role, err)) // static shapes: a programming error
	}
	return b
}

// outputSchema is role's output schema; an operator's picks are bounded
// by the number of candidates and how many the plan asks for, when known
// (0: not known).
func outputSchema(role string, c *challenges.Challenge, candidates, wanted int) object {
	prose := func(max int) object {
		return object{{"type", "string"}, {"minLength", minProse}, {"maxLength", max}}
	}
	item := object{{"type", "integer"}, {"minimum", 1}}
	if candidates > 0 {
		item = append(item, field{"maximum", candidates})
	}
	picks := object{{"type", "array"}, {"items", item}, {"maxItems", min(maxPicks, cmp.Or(wanted, maxPicks))}}
	switch role {
	case Planner:
		return schemaObject(
			field{"decision", object{{"type", "string"}, {"enum", []string{"explore", "exploit", "stop"}}}},
			field{"lab_runs", object{{"type", "integer"}, {"minimum", 0}, {"maximum", maxLabRunsPlan}}},
			field{"simulations", object{{"type", "integer"}, {"minimum", 0}, {"maximum", maxSimsPlan}}},
			field{"rationale", prose(maxRationale)})
	case SimOperator:
		return schemaObject(field{"simulate", picks}, field{"rationale", prose(maxRationale)})
	case LabOperator:
		return schemaObject(field{"run", picks}, field{"rationale", prose(maxRationale)})
	case Analyst:
		return schemaObject(
			field{"findings", object{{"type", "array"}, {"items", prose(maxFinding)}, {"minItems", 1}, {"maxItems", maxFindings}}},
			field{"converged", object{{"type", "boolean"}}},
			field{"summary", prose(maxRationale)})
	case Hypothesis:
		h := schemaObject(
			field{"statement", prose(maxRationale)},
			field{"expected", object{{"type", "string"}, {"minLength", 4}, {"maxLength", maxExpected}}},
			field{"candidates", object{{"type", "array"}, {"items", pointSchema(c)}, {"minItems", 1}, {"maxItems", maxPerHyp}}})
		return schemaObject(field{"hypotheses", object{{"type", "array"}, {"items", h}, {"minItems", 1}, {"maxItems", maxHypotheses}}})
	}
	panic("agents: unknown role " + role)
}

// object is a JSON object that keeps its keys in order. Constrained
// decoding (llama.cpp's grammar from a JSON schema, behind Ollama's
// structured outputs) asks for properties in schema order, so the schema's
// order is the order the model writes them: the statement before its
// candidates, the tool's name before its input.
type object []field

type field struct {
	key string
	val any
}

// MarshalJSON implements json.Marshaler.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		v, err := json.Marshal(f.val)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// schemaObject is the schema of an object with exactly these properties,
// all required.
func schemaObject(fs ...field) object {
	req := make([]string, len(fs))
	for i, f := range fs {
		req[i] = f.key
	}
	return object{{"type", "object"}, {"properties", object(fs)}, {"required", req}, {"additionalProperties", false}}
}

// PointSchema is the JSON schema of one design point of c.
func PointSchema(c *challenges.Challenge) json.RawMessage {
	b, _ := json.Marshal(pointSchema(c))
	return b
}

func pointSchema(c *challenges.Challenge) object {
	var fs []field
	for _, p := range c.Parameters {
		var s object
		switch p.Kind {
		case challenges.Categorical:
			s = object{{"type", "string"}, {"enum", p.Options}}
		case challenges.Discrete:
			s = object{{"type", "number"}, {"enum", p.Values}}
		case challenges.Integer:
			s = object{{"type", "integer"}, {"minimum", *p.Low}, {"maximum", *p.High}}
		default:
			s = object{{"type", "number"}, {"minimum", *p.Low}, {"maximum", *p.High}}
		}
		fs = append(fs, field{p.Name, s})
	}
	return schemaObject(fs...)
}

// EnvelopeSchema is what the model must reply with: a final answer, or (when
// tools are allowed) one call to one of the role's tools.
func EnvelopeSchema(role string, c *challenges.Challenge, allowTools bool) json.RawMessage {
	var specs []*tools.Spec
	if allowTools {
		specs = Tools(role)
	}
	return envelopeSchema(role, c, specs, 0, 0)
}

// stepSchema is the envelope of one step, with the operators' picks
// bounded by the step's candidates and plan.
func stepSchema(in StepInput, c *challenges.Challenge) json.RawMessage {
	wanted := 0
	if p := in.Brief.Plan; p != nil {
		switch in.Role {
		case SimOperator:
			wanted = p.Simulations
		case LabOperator:
			wanted = p.LabRuns
		}
	}
	return envelopeSchema(in.Role, c, in.tools(), len(in.Brief.Candidates), wanted)
}

func envelopeSchema(role string, c *challenges.Challenge, specs []*tools.Spec, candidates, wanted int) json.RawMessage {
	alts := []any{schemaObject(
		field{"action", object{{"type", "string"}, {"enum", []string{"final"}}}},
		field{"output", outputSchema(role, c, candidates, wanted)})}
	for _, t := range specs {
		alts = append(alts, schemaObject(
			field{"action", object{{"type", "string"}, {"enum", []string{"call_tool"}}}},
			field{"tool", object{{"type", "string"}, {"enum", []string{t.Name}}}},
			field{"input", t.Schema}))
	}
	var s any = alts[0]
	if len(alts) > 1 {
		s = object{{"anyOf", alts}}
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("agents: %s envelope: %v", role, err))
	}
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
	// Example is one candidate as JSON, to show the shape; Header names
	// the parameters in order, as the prompts' tables list them.
	Example string
	Header  string
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
	names := make([]string, len(c.Parameters))
	for i, p := range c.Parameters {
		names[i] = p.Name
	}
	v.Header = strings.Join(names, ", ")
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
