package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/internal/clip"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/tools"
	"github.com/genesis-sci/genesis/tools/dataset"
)

// Agents is the activity set that needs a model: one agent's model call
// (with what memory recalls for it) and the information tools the agents
// call between calls (the dataset, memory and the optimiser).
type Agents struct {
	cat    *challenges.Catalog
	models *Models
	mem    *Memory
	// transcripts is where each call's transcript is written ("": none).
	transcripts string
	temperature float64

	mu sync.Mutex
	// recalled keeps what each iteration's roles recall (the same query
	// for them all): one embedding and search per iteration, not per step.
	recalled map[string][]string
}

// NewAgents returns the set. mem may be off (NewMemory without a store);
// transcripts go under dataDir/transcripts when dataDir is set.
func NewAgents(cat *challenges.Catalog, models *Models, mem *Memory, dataDir string, temperature float64) *Agents {
	s := &Agents{cat: cat, models: models, mem: mem, temperature: temperature}
	if dataDir != "" {
		s.transcripts = filepath.Join(dataDir, "transcripts")
	}
	return s
}

// Register registers the set's activities under their names.
func (s *Agents) Register(r worker.ActivityRegistry) {
	register(r, AgentStepName, s.AgentStep)
	register(r, RunToolName, s.RunTool)
}

// AgentStepInput is one agent step of one campaign.
type AgentStepInput struct {
	Campaign  string           `json:"campaign"`
	Challenge string           `json:"challenge"`
	Model     string           `json:"model"`
	Step      agents.StepInput `json:"step"`
	// MemoryScope is the campaign's (see CampaignInput.MemoryScope).
	MemoryScope string `json:"memory_scope,omitempty"`
}

// AgentStep runs one model call of one agent (a regular activity).
func (s *Agents) AgentStep(ctx context.Context, in AgentStepInput) (agents.StepResult, error) {
	c, err := lookup(s.cat, in.Challenge)
	if err != nil {
		return agents.StepResult{}, err
	}
	m, err := s.models.Get(in.Model)
	if err != nil {
		return agents.StepResult{}, err
	}
	stop := HeartbeatEvery(ctx, 5*time.Second, func() any { return in.Step.Role })
	defer stop()
	env := agents.Env{Model: m, Challenge: c, Temperature: s.temperature, TranscriptDir: s.transcripts}
	if s.mem.Enabled() {
		thisIteration := fmt.Sprintf("%s/it%d/", in.Campaign, in.Step.Brief.Iteration)
		env.Recall = func(ctx context.Context, q string, k int) ([]string, error) {
			key := fmt.Sprintf("%s %d %s", thisIteration, k, q)
			s.mu.Lock()
			out, ok := s.recalled[key]
			s.mu.Unlock()
			if ok {
				return slices.Clone(out), nil
			}
			out, err := s.recallFor(ctx, c, in.Campaign, in.MemoryScope, thisIteration, q, k)
			if err != nil {
				return out, err
			}
			s.mu.Lock()
			if s.recalled == nil || len(s.recalled) >= 256 {
				s.recalled = map[string][]string{}
			}
			s.recalled[key] = out
			s.mu.Unlock()
			return slices.Clone(out), nil
		}
	}
	res, err := agents.Step(ctx, env, in.Step)
	if err != nil {
		if e, ok := llm.AsError(err); ok {
			if e.Retryable {
				return res, temporal.NewApplicationError(e.Error(), e.Kind)
			}
			return res, temporal.NewNonRetryableApplicationError(e.Error(), e.Kind, nil)
		}
		return res, err
	}
	// What the agent produced goes to memory; the ID makes a retried step overwrite, not duplicate.
	if res.Kind == agents.KindFinal && s.mem.Enabled() && in.Step.Role != agents.Analyst {
		kind := memory.KindObservation
		if in.Step.Role == agents.Hypothesis {
			kind = memory.KindHypothesis
		}
		id := fmt.Sprintf("%s/it%d/%s", in.Campaign, in.Step.Brief.Iteration, in.Step.Role)
		if err := s.mem.Put(ctx, []memory.Record{{ID: id, Text: clip.Clip(string(res.Output), 600), Kind: kind, Campaign: in.Campaign,
			Challenge: c.ID, Agent: in.Step.Role, Source: res.Transcript, Scope: in.MemoryScope}}); err != nil {
			activity.GetLogger(ctx).Warn("memory write failed", "error", err)
		}
	}
	return res, nil
}

// recallFor is what a step of campaign's iteration (ID prefix thisIteration)
// recalls for query q: mostly this challenge's memories (this and earlier
// campaigns), plus the best one from another challenge, so lessons can
// travel between related problems. What this iteration's roles wrote is
// left out, so every role of the iteration recalls the same memories (and
// their prompts share that text; agents/prompt.go). A scoped campaign sees
// only its scope's records.
func (s *Agents) recallFor(ctx context.Context, c *challenges.Challenge, campaign, scope, thisIteration, q string, k int) ([]string, error) {
	hits, err := s.mem.Recall(ctx, q, memory.Filter{Challenge: c.ID, Scope: scope}, max(k-1, 1)+5)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, h := range hits {
		if strings.HasPrefix(h.ID, thisIteration) || len(out) >= max(k-1, 1) {
			continue
		}
		from := "an earlier campaign"
		if h.Campaign == campaign {
			from = "this campaign"
		}
		out = append(out, fmt.Sprintf("%s by the %s (%s): %s", h.Kind, h.Agent, from, clip.Clip(h.Text, 600)))
	}
	if k > 1 {
		others, err := s.mem.Recall(ctx, q, memory.Filter{Scope: scope}, k+4)
		if err != nil {
			return out, err
		}
		for _, h := range others {
			if h.Challenge != c.ID {
				out = append(out, fmt.Sprintf("%s from challenge %s (%s): %s", h.Kind, h.Challenge, h.Agent, clip.Clip(h.Text, 400)))
				break
			}
		}
	}
	return out, nil
}

// ToolInput is one information tool call.
type ToolInput struct {
	Campaign    string          `json:"campaign"`
	Challenge   string          `json:"challenge"`
	Role        string          `json:"role"`
	Tool        string          `json:"tool"`
	Args        json.RawMessage `json:"args"`
	Experiments []Experiment    `json:"experiments,omitempty"`
	Sims        []agents.Result `json:"sims,omitempty"`
	Seed        int             `json:"seed"`
	NoOptimizer bool            `json:"no_optimizer,omitempty"`
	MemoryScope string          `json:"memory_scope,omitempty"`
}

const maxObservation = 1500

// RunTool runs one information tool. A bad call is an observation for the
// agent, not an activity failure.
func (s *Agents) RunTool(ctx context.Context, in ToolInput) (agents.Observation, error) {
	obs := agents.Observation{Tool: in.Tool, Input: clip.Clip(string(in.Args), 300)}
	c, err := lookup(s.cat, in.Challenge)
	if err != nil {
		return obs, err
	}
	spec, ok := agents.ToolSpecs[in.Tool]
	allowed := false
	for _, t := range agents.ToolsFor(in.Role, in.NoOptimizer) {
		allowed = allowed || t.Name == in.Tool
	}
	if !ok || !allowed {
		obs.Error = fmt.Sprintf("the %s agent has no tool %q", in.Role, in.Tool)
		return obs, nil
	}
	out, err := s.runTool(ctx, c, spec, in)
	if err != nil {
		obs.Error = clip.Clip(err.Error(), 400)
		return obs, nil
	}
	obs.Output = clip.Clip(out, maxObservation)
	return obs, nil
}

func (s *Agents) runTool(ctx context.Context, c *challenges.Challenge, spec *tools.Spec, in ToolInput) (string, error) {
	switch in.Tool {
	case agents.ToolDatasetQuery:
		q, err := tools.Decode[dataset.Query](spec, in.Args)
		if err != nil {
			return "", err
		}
		var exps []dataset.Experiment
		for _, e := range in.Experiments {
			exps = append(exps, dataset.Experiment{Iteration: e.Iteration, Source: "lab", Point: e.Point, Values: e.Values})
		}
		for _, s := range in.Sims {
			exps = append(exps, dataset.Experiment{Iteration: s.Iteration, Source: "sim", Point: s.Point, Values: s.Values})
		}
		res, err := dataset.Run(ctx, c, exps, q)
		if err != nil {
			return "", err
		}
		return res.String(), nil
	case agents.ToolMemoryRecall:
		q, err := tools.Decode[agents.RecallInput](spec, in.Args)
		if err != nil {
			return "", err
		}
		if !s.mem.Enabled() {
			return "", errors.New("memory is not configured on this worker")
		}
		k := q.K
		if k == 0 {
			k = 4
		}
		hits, err := s.mem.Recall(ctx, q.Query, memory.Filter{Challenge: c.ID, Scope: in.MemoryScope}, k)
		if err != nil {
			return "", err
		}
		if len(hits) == 0 {
			return "no memories yet", nil
		}
		var b strings.Builder
		for _, h := range hits {
			fmt.Fprintf(&b, "- [%.2f] %s by %s: %s\n", h.Score, h.Kind, h.Agent, clip.Clip(h.Text, 300))
		}
		return b.String(), nil
	case agents.ToolOptimizerSuggest:
		q, err := tools.Decode[agents.SuggestInput](spec, in.Args)
		if err != nil {
			return "", err
		}
		k := q.K
		if k == 0 {
			k = 4
		}
		cands, _, err := suggest(s.cat, SuggestInput{Challenge: c.ID, Experiments: in.Experiments, K: k, Acquisition: q.Acquisition, Seed: in.Seed})
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, s := range cands {
			fmt.Fprintf(&b, "- %s %s\n", agents.PointJSON(c, s.Point), s.Note)
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("unknown tool %q", in.Tool)
}
