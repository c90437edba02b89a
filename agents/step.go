package agents

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/tools"
)

// Result is one measurement or simulation the campaign holds.
type Result struct {
	Source    string           `json:"source"` // lab or sim
	Iteration int              `json:"iteration"`
	Point     challenges.Point `json:"point"`
	Values    []float64        `json:"values,omitempty"`
	// Ref is the lab run ID or HPC job ID.
	Ref string `json:"ref,omitempty"`
	// Note explains a refused or failed run (then Values is empty).
	Note string `json:"note,omitempty"`
	// Seconds is how long a simulation job took, for the cost ledger.
	Seconds float64 `json:"seconds,omitempty"`
}

// Candidate is a point proposed in this iteration.
type Candidate struct {
	Point challenges.Point `json:"point"`
	// Source is model, optimizer or fallback.
	Source     string `json:"source"`
	Hypothesis string `json:"hypothesis,omitempty"`
	Note       string `json:"note,omitempty"`
}

// Brief is the campaign state an agent sees: small, and built by the
// workflow, so it is deterministic and cheap to keep in history.
type Brief struct {
	CampaignID        string             `json:"campaign_id"`
	Iteration         int                `json:"iteration"`
	ExperimentsUsed   int                `json:"experiments_used"`
	ExperimentsBudget int                `json:"experiments_budget"`
	SimulationsUsed   int                `json:"simulations_used"`
	SimulationsBudget int                `json:"simulations_budget"`
	TokensUsed        int                `json:"tokens_used"`
	TokenBudget       int                `json:"token_budget,omitempty"`
	Best              *Result            `json:"best,omitempty"`
	Recent            []Result           `json:"recent,omitempty"`
	Plan              *Plan              `json:"plan,omitempty"`
	Suggestions       []Candidate        `json:"suggestions,omitempty"`
	Candidates        []Candidate        `json:"candidates,omitempty"`
	SimResults        []Result           `json:"sim_results,omitempty"`
	LabResults        []Result           `json:"lab_results,omitempty"`
	Stale             int                `json:"stale,omitempty"`
	Measured          []challenges.Point `json:"measured,omitempty"`
	// Outcome is how the iteration's lab runs changed the campaign (the
	// analyst's brief); the fields above describe it as the iteration began.
	Outcome *Outcome `json:"outcome,omitempty"`
}

// Outcome is what an iteration's lab runs did to the campaign.
type Outcome struct {
	Best     *Result `json:"best,omitempty"`
	Improved bool    `json:"improved,omitempty"`
	Stale    int     `json:"stale,omitempty"`
}

// Limits bound what an agent may ask for this iteration.
type Limits struct {
	MaxLabRuns     int     `json:"max_lab_runs"`
	LabLeft        int     `json:"lab_left"`
	MaxSimulations int     `json:"max_simulations"`
	SimsLeft       int     `json:"sims_left"`
	SimCost        float64 `json:"sim_cost"`
	Candidates     int     `json:"candidates"`
}

// Observation is a tool result fed back to the agent within its turn.
type Observation struct {
	Tool   string `json:"tool"`
	Input  string `json:"input"`
	Output string `json:"output,omitempty"`
	Error  string `json:"error,omitempty"`
}

// StepInput is one agent step.
type StepInput struct {
	Role         string        `json:"role"`
	Brief        Brief         `json:"brief"`
	Limits       Limits        `json:"limits"`
	Observations []Observation `json:"observations,omitempty"`
	// Repair is the reason the previous reply was rejected, if it was.
	Repair     string `json:"repair,omitempty"`
	AllowTools bool   `json:"allow_tools"`
	// NoOptimizer hides the optimiser tool (the agents-noopt strategy).
	NoOptimizer bool `json:"no_optimizer,omitempty"`
	Seed        int  `json:"seed,omitempty"`
	// Step numbers the model calls within one agent turn, for transcript names.
	Step int `json:"step"`
}

// tools are the tools this step may call.
func (in StepInput) tools() []*tools.Spec {
	if !in.AllowTools {
		return nil
	}
	return ToolsFor(in.Role, in.NoOptimizer)
}

// Step outcome kinds.
const (
	KindFinal   = "final"
	KindTool    = "tool"
	KindInvalid = "invalid"
)

// Proposed is one candidate from the hypothesis agent after validation.
type Proposed struct {
	Point      challenges.Point `json:"point"`
	Hypothesis string           `json:"hypothesis"`
	Note       string           `json:"note,omitempty"`
}

// StepResult is what one step produced.
type StepResult struct {
	Kind      string          `json:"kind"`
	Output    json.RawMessage `json:"output,omitempty"`
	Tool      string          `json:"tool,omitempty"`
	ToolInput json.RawMessage `json:"tool_input,omitempty"`
	Problem   string          `json:"problem,omitempty"`
	Usage     llm.Usage       `json:"usage"`
	// Transcript is the path of the stored prompt and reply.
	Transcript string `json:"transcript,omitempty"`
	// The final output, decoded for the role that gave it.
	Plan     *Plan         `json:"plan,omitempty"`
	Sims     *SimSelection `json:"sims,omitempty"`
	Lab      *LabSelection `json:"lab,omitempty"`
	Analysis *Analysis     `json:"analysis,omitempty"`
	// Proposed holds the hypothesis agent's validated candidates.
	Proposed []Proposed `json:"proposed,omitempty"`
	// Recalled is how many memories were put in the prompt.
	Recalled int `json:"recalled,omitempty"`
	// Prose is set on an invalid reply whose only problem is its texts (a
	// copied placeholder, template debris): a small model that wrote one
	// seldom writes better when asked again.
	Prose bool `json:"prose,omitempty"`
}

// Env is what a step needs besides its input.
type Env struct {
	Model     llm.Model
	Challenge *challenges.Challenge
	// Recall returns memories relevant to a query (may be nil).
	Recall func(ctx context.Context, query string, k int) ([]string, error)
	// TranscriptDir, when set, receives one JSON file per model call.
	TranscriptDir string
	Temperature   float64
	// MaxTokens caps every reply; 0 leaves each role its own bound
	// (ReplyTokens).
	MaxTokens int
}

// envelope is the reply's outer shape.
type envelope struct {
	Action string          `json:"action"`
	Output json.RawMessage `json:"output"`
	Tool   string          `json:"tool"`
	Input  json.RawMessage `json:"input"`
}

// Step runs one agent step: recall, render, call the model, validate.
// Provider errors are returned (for the activity to classify and retry);
// malformed replies are not errors but KindInvalid results.
func Step(ctx context.Context, env Env, in StepInput) (StepResult, error) {
	c := env.Challenge
	var memories []string
	if env.Recall != nil {
		var err error
		if memories, err = env.Recall(ctx, RecallQuery(c, in.Brief), recallK); err != nil {
			return StepResult{}, fmt.Errorf("memory recall: %w", err)
		}
		memories = CapMemories(memories, memoryTokens)
	}
	system, user, err := RenderPrompt(c, in, memories)
	if err != nil {
		return StepResult{}, err
	}
	schema := stepSchema(in, c)
	req := llm.Request{
		Messages:    []llm.Message{{Role: "system", Content: system}, {Role: "user", Content: user}},
		Schema:      schema,
		SchemaName:  strings.ReplaceAll(in.Role, "-", "_"),
		Temperature: env.Temperature,
		Seed:        in.Seed,
		MaxTokens:   cmp.Or(env.MaxTokens, ReplyTokens(in.Role, c)),
	}
	start := time.Now()
	resp, err := env.Model.Generate(ctx, req)
	if err != nil {
		return StepResult{}, err
	}
	res := Parse(c, in, schema, resp.Content)
	res.Usage = resp.Usage
	res.Recalled = len(memories)
	if env.TranscriptDir != "" {
		res.Transcript = writeTranscript(env.TranscriptDir, in, req, resp, res, time.Since(start))
	}
	return res, nil
}

// Parse validates a raw reply against the step's envelope and the role's
// semantics.
func Parse(c *challenges.Challenge, in StepInput, schema json.RawMessage, raw string) StepResult {
	text := stripFences(raw)
	compiled, err := tools.Compile(schema)
	if err != nil {
		return StepResult{Kind: KindInvalid, Problem: "internal: " + err.Error()}
	}
	if err := tools.Validate(compiled, []byte(text)); err != nil {
		return StepResult{Kind: KindInvalid, Problem: "reply " + err.Error()}
	}
	var env envelope
	if err := json.Unmarshal([]byte(text), &env); err != nil {
		return StepResult{Kind: KindInvalid, Problem: "reply is not a JSON object: " + err.Error()}
	}
	if env.Action == "call_tool" {
		return StepResult{Kind: KindTool, Tool: env.Tool, ToolInput: env.Input}
	}
	if in.Role != Hypothesis {
		res := StepResult{Kind: KindFinal, Output: env.Output}
		var target any
		switch in.Role {
		case Planner:
			res.Plan = &Plan{}
			target = res.Plan
		case SimOperator:
			res.Sims = &SimSelection{}
			target = res.Sims
		case LabOperator:
			res.Lab = &LabSelection{}
			target = res.Lab
		case Analyst:
			res.Analysis = &Analysis{}
			target = res.Analysis
		}
		if err := json.Unmarshal(env.Output, target); err != nil {
			return StepResult{Kind: KindInvalid, Problem: "output: " + err.Error()}
		}
		if p := checkProse(c, in.Role, target); p != "" {
			return StepResult{Kind: KindInvalid, Problem: p, Prose: true}
		}
		return res
	}
	var h Hypotheses
	if err := json.Unmarshal(env.Output, &h); err != nil {
		return StepResult{Kind: KindInvalid, Problem: "hypotheses: " + err.Error()}
	}
	if p := checkProse(c, in.Role, &h); p != "" {
		return StepResult{Kind: KindInvalid, Problem: p, Prose: true}
	}
	props, problems := ValidateCandidates(c, h, in.Brief.Measured)
	if len(props) == 0 {
		return StepResult{Kind: KindInvalid, Problem: "no usable candidate: " + strings.Join(problems, "; ")}
	}
	return StepResult{Kind: KindFinal, Output: env.Output, Proposed: props, Problem: strings.Join(problems, "; ")}
}

// AlreadyTaken ends the problem reported for a candidate that repeats a
// measured or already proposed point.
const AlreadyTaken = "was already measured or proposed"

// ValidateCandidates turns the model's candidates into design points. For a
// pool lab a point outside the pool is snapped to the nearest unmeasured
// pool member (and says so); an emulator lab takes any point in the space.
// A point already measured or proposed twice is dropped.
func ValidateCandidates(c *challenges.Challenge, h Hypotheses, measured []challenges.Point) ([]Proposed, []string) {
	taken := map[string]bool{}
	for _, p := range measured {
		taken[c.Key(p)] = true
	}
	var out []Proposed
	var problems []string
	for hi, hyp := range h.Hypotheses {
		for ci, m := range hyp.Candidates {
			pt, err := c.ParseMap(m)
			if err != nil {
				problems = append(problems, fmt.Sprintf("hypothesis %d candidate %d: %v", hi+1, ci+1, err))
				continue
			}
			note := ""
			if _, ok := c.Pool().Lookup(c, pt); c.Finite() && !ok {
				near, ok := Nearest(c, pt, taken)
				if !ok {
					problems = append(problems, fmt.Sprintf("hypothesis %d candidate %d: no untested pool point left", hi+1, ci+1))
					continue
				}
				note = "snapped from " + PointJSON(c, pt)
				pt = near
			}
			if taken[c.Key(pt)] {
				problems = append(problems, fmt.Sprintf("hypothesis %d candidate %d: %s %s", hi+1, ci+1, PointJSON(c, pt), AlreadyTaken))
				continue
			}
			taken[c.Key(pt)] = true
			out = append(out, Proposed{Point: pt, Hypothesis: hyp.Statement, Note: note})
		}
	}
	return out, problems
}

// Nearest returns the pool member closest to p (normalised distance) that is not taken.
func Nearest(c *challenges.Challenge, p challenges.Point, taken map[string]bool) (challenges.Point, bool) {
	x := c.Encode(p)
	best, bestD := -1, math.Inf(1)
	for i, q := range c.Pool().Points {
		if taken[c.Key(q)] {
			continue
		}
		y := c.Pool().Encoded(i)
		var d float64
		for k := range x {
			d += (x[k] - y[k]) * (x[k] - y[k])
		}
		if d < bestD {
			best, bestD = i, d
		}
	}
	if best < 0 {
		return nil, false
	}
	return c.Pool().Points[best], true
}

func stripFences(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "```") {
		s = strings.TrimPrefix(s, "```json")
		s = strings.TrimPrefix(s, "```")
		s = strings.TrimSuffix(strings.TrimSpace(s), "```")
	}
	return strings.TrimSpace(s)
}

func writeTranscript(dir string, in StepInput, req llm.Request, resp llm.Response, res StepResult, d time.Duration) string {
	path := filepath.Join(dir, PathSafe(in.Brief.CampaignID), fmt.Sprintf("it%03d-%s-s%d.json", in.Brief.Iteration, in.Role, in.Step))
	rec := map[string]any{
		"role": in.Role, "iteration": in.Brief.Iteration, "step": in.Step, "messages": req.Messages,
		"reply": resp.Content, "usage": resp.Usage, "model": resp.Model, "kind": res.Kind, "problem": res.Problem,
		"duration_s": d.Seconds(),
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	if os.MkdirAll(filepath.Dir(path), 0o755) != nil || os.WriteFile(path, b, 0o644) != nil {
		return ""
	}
	return path
}

// PathSafe turns a campaign ID into a file name (IDs may hold '/' or ':').
func PathSafe(s string) string { return strings.NewReplacer("/", "_", "\\", "_", ":", "_").Replace(s) }

// compactSchema renders a tool's input schema the short way a small model
// reads best: {"sql": string (required), "k": integer 1-8}.
func compactSchema(schema json.RawMessage) string {
	var sc struct {
		Properties map[string]struct {
			Type    string   `json:"type"`
			Enum    []string `json:"enum"`
			Minimum *float64 `json:"minimum"`
			Maximum *float64 `json:"maximum"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if json.Unmarshal(schema, &sc) != nil {
		return string(schema)
	}
	req := map[string]bool{}
	for _, r := range sc.Required {
		req[r] = true
	}
	var parts []string
	for _, name := range SortedKeys(sc.Properties) {
		p := sc.Properties[name]
		t := p.Type
		switch {
		case len(p.Enum) > 0:
			t = strings.Join(p.Enum, "|")
		case p.Minimum != nil && p.Maximum != nil:
			t = fmt.Sprintf("%s %g-%g", t, *p.Minimum, *p.Maximum)
		}
		if req[name] {
			t += ", required"
		}
		parts = append(parts, fmt.Sprintf("%q: %s", name, t))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
