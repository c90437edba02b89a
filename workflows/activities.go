package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/providers"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/optimizer"
	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/tools"
	"github.com/genesis-sci/genesis/tools/dataset"
	"github.com/genesis-sci/genesis/tools/hpc"
	"github.com/genesis-sci/genesis/tools/labclient"
	"github.com/genesis-sci/genesis/tools/sim"
)

// ErrUnknownChallenge is the error type of a campaign started on a challenge
// the worker does not know; it is not retried.
const ErrUnknownChallenge = "UnknownChallenge"

// Activities holds what the campaign's activities need. One value serves
// every activity of a worker; its methods are safe for concurrent use.
type Activities struct {
	Catalog     *challenges.Catalog
	ModelConfig providers.Config
	// NewModel builds a model from a spec; nil means providers.NewModel.
	NewModel func(spec string) (llm.Model, error)
	Lab      *labclient.Client
	// HPC is the default executor for simulation jobs; Executors names
	// further ones ("local", "slurm") a campaign may pick with its HPC option.
	HPC       hpc.Executor
	Executors map[string]hpc.Executor
	// SimCommand is the program an HPC job runs (genesis sim).
	SimCommand    []string
	ChallengesDir string
	// SimTimeScale makes simulations take their modelled time × scale.
	SimTimeScale float64
	Memory       memory.Store
	Embedder     memory.Embedder
	DataDir      string
	Temperature  float64
	// Poll is how often lab runs and jobs are polled (default 200 ms).
	Poll time.Duration
	// Temporal, when set, lets the chat read campaign state.
	Temporal client.Client
	// Streams, when set, receives chat replies as the model writes them
	// (shared with the API in the same process).
	Streams *Streams

	mu     sync.Mutex
	models map[string]llm.Model
	// recalled keeps what each iteration's roles recall (the same query
	// for them all): one embedding and search per iteration, not per step.
	recalled map[string][]string
}

// ChallengeInfo is what the workflow needs to know about a challenge.
type ChallengeInfo struct {
	ID         string                 `json:"id"`
	Title      string                 `json:"title"`
	Objective  string                 `json:"objective"`
	Unit       string                 `json:"unit"`
	Direction  string                 `json:"direction"`
	PoolSize   int                    `json:"pool_size"`
	Budget     challenges.Budget      `json:"budget"`
	SimCost    float64                `json:"sim_cost"`
	Parameters []challenges.Parameter `json:"parameters"`
	// Objectives and Score describe a multi-objective challenge (empty
	// for a single objective and in histories recorded before they existed).
	Objectives []string               `json:"objectives,omitempty"`
	Score      *challenges.Scalarizer `json:"score,omitempty"`
	// Finite is true when the design space is the measured pool.
	Finite bool `json:"finite,omitempty"`
	// Family and Siblings name the challenge's family and its other
	// members (see challenges.Family).
	Family   string   `json:"family,omitempty"`
	Siblings []string `json:"siblings,omitempty"`
}

// score orients a measurement so that higher is better.
func (ci ChallengeInfo) score(values []float64) float64 {
	if ci.Score != nil && len(ci.Score.Directions) > 1 {
		return ci.Score.Score(values)
	}
	if len(values) == 0 {
		return math.Inf(-1)
	}
	if ci.Direction == challenges.Minimize {
		return -values[0]
	}
	return values[0]
}

func (ci ChallengeInfo) challenge() *challenges.Challenge {
	return &challenges.Challenge{ID: ci.ID, Parameters: ci.Parameters}
}

// Key is the canonical key of a point.
func (ci ChallengeInfo) Key(p challenges.Point) string { return ci.challenge().Key(p) }

// Map renders a point as name → value.
func (ci ChallengeInfo) Map(p challenges.Point) map[string]any { return ci.challenge().Map(p) }

func (a *Activities) challenge(id string) (*challenges.Challenge, error) {
	c, err := a.Catalog.Get(id)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrUnknownChallenge, nil)
	}
	return c, nil
}

// LoadChallenge returns a challenge's summary (a local activity).
func (a *Activities) LoadChallenge(_ context.Context, id string) (ChallengeInfo, error) {
	c, err := a.challenge(id)
	if err != nil {
		return ChallengeInfo{}, err
	}
	o := c.Primary()
	info := ChallengeInfo{ID: c.ID, Title: c.Title, Objective: o.Name, Unit: o.Unit, Direction: o.Direction, PoolSize: c.Pool().Len(),
		Budget: c.Budget, SimCost: c.Simulation.Cost, Parameters: c.Parameters, Finite: c.Finite()}
	if c.Family != nil {
		info.Family = c.Family.Name
		for _, sib := range a.Catalog.Siblings(c) {
			info.Siblings = append(info.Siblings, sib.ID)
		}
	}
	if c.MultiObjective() {
		sc := c.Scalarizer()
		info.Score = &sc
		for _, o := range c.Objectives {
			info.Objectives = append(info.Objectives, o.Name)
		}
	}
	return info, nil
}

func (a *Activities) model(spec string) (llm.Model, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m, ok := a.models[spec]; ok {
		return m, nil
	}
	var m llm.Model
	var err error
	if a.NewModel != nil {
		m, err = a.NewModel(spec)
	} else {
		m, err = providers.NewModel(spec, a.ModelConfig)
	}
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), llm.KindBadRequest, nil)
	}
	if a.models == nil {
		a.models = map[string]llm.Model{}
	}
	a.models[spec] = m
	return m, nil
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

// heartbeatEvery heartbeats on a timer while fn runs, so a slow model call
// (a slow first token) never looks like a dead worker.
func heartbeatEvery(ctx context.Context, d time.Duration, details func() any) func() {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, details())
			}
		}
	}()
	return func() { close(done) }
}

// pollHeartbeat returns what a polling activity calls on every poll: it
// heartbeats when the details change, and otherwise at most every d.
func pollHeartbeat(ctx context.Context, d time.Duration) func(details string) {
	return onChangeOrEvery(d, func(details string) { heartbeat(ctx, details) })
}

// onChangeOrEvery passes a value on to send when it differs from the last
// one sent, or when d has passed since.
func onChangeOrEvery(d time.Duration, send func(string)) func(string) {
	var last string
	var at time.Time
	return func(v string) {
		if v == last && !at.IsZero() && time.Since(at) < d {
			return
		}
		last, at = v, time.Now()
		send(v)
	}
}

// AgentStep runs one model call of one agent (a regular activity).
func (a *Activities) AgentStep(ctx context.Context, in AgentStepInput) (agents.StepResult, error) {
	c, err := a.challenge(in.Challenge)
	if err != nil {
		return agents.StepResult{}, err
	}
	m, err := a.model(in.Model)
	if err != nil {
		return agents.StepResult{}, err
	}
	stop := heartbeatEvery(ctx, 5*time.Second, func() any { return in.Step.Role })
	defer stop()
	env := agents.Env{Model: m, Challenge: c, Temperature: a.Temperature}
	if a.DataDir != "" {
		env.TranscriptDir = filepath.Join(a.DataDir, "transcripts")
	}
	if a.Memory != nil && a.Embedder != nil {
		thisIteration := fmt.Sprintf("%s/it%d/", in.Campaign, in.Step.Brief.Iteration)
		env.Recall = func(ctx context.Context, q string, k int) ([]string, error) {
			key := fmt.Sprintf("%s %d %s", thisIteration, k, q)
			a.mu.Lock()
			out, ok := a.recalled[key]
			a.mu.Unlock()
			if ok {
				return slices.Clone(out), nil
			}
			out, err := a.recallFor(ctx, c, in.Campaign, in.MemoryScope, thisIteration, q, k)
			if err != nil {
				return out, err
			}
			a.mu.Lock()
			if a.recalled == nil || len(a.recalled) >= 256 {
				a.recalled = map[string][]string{}
			}
			a.recalled[key] = out
			a.mu.Unlock()
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
	if res.Kind == agents.KindFinal && a.Memory != nil && a.Embedder != nil && in.Step.Role != agents.Analyst {
		kind := memory.KindObservation
		if in.Step.Role == agents.Hypothesis {
			kind = memory.KindHypothesis
		}
		id := fmt.Sprintf("%s/it%d/%s", in.Campaign, in.Step.Brief.Iteration, in.Step.Role)
		if err := a.store(ctx, []memory.Record{{ID: id, Text: shorten(string(res.Output), 600), Kind: kind, Campaign: in.Campaign,
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
// their prompts share that text; agents/prompt.go).
// Mostly this challenge's memories (this and earlier campaigns), plus the
// best one from another challenge, so lessons can travel between related
// problems; a scoped campaign sees only its scope's records.
func (a *Activities) recallFor(ctx context.Context, c *challenges.Challenge, campaign, scope, thisIteration, q string, k int) ([]string, error) {
	hits, err := a.recall(ctx, q, memory.Filter{Challenge: c.ID, Scope: scope}, max(k-1, 1)+5)
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
		out = append(out, fmt.Sprintf("%s by the %s (%s): %s", h.Kind, h.Agent, from, shorten(h.Text, 600)))
	}
	if k > 1 {
		others, err := a.recall(ctx, q, memory.Filter{Scope: scope}, k+4)
		if err != nil {
			return out, err
		}
		for _, h := range others {
			if h.Challenge != c.ID {
				out = append(out, fmt.Sprintf("%s from challenge %s (%s): %s", h.Kind, h.Challenge, h.Agent, shorten(h.Text, 400)))
				break
			}
		}
	}
	return out, nil
}

func (a *Activities) recall(ctx context.Context, q string, f memory.Filter, k int) ([]memory.Hit, error) {
	vecs, err := a.Embedder.Embed(ctx, []string{q})
	if err != nil {
		return nil, err
	}
	return a.Memory.Search(ctx, vecs[0], f, k)
}

func (a *Activities) store(ctx context.Context, recs []memory.Record) error {
	texts := make([]string, len(recs))
	for i, r := range recs {
		texts[i] = r.Text
	}
	vecs, err := a.Embedder.Embed(ctx, texts)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for i := range recs {
		recs[i].Vector = vecs[i]
		recs[i].Created = now
	}
	return a.Memory.Upsert(ctx, recs)
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
func (a *Activities) RunTool(ctx context.Context, in ToolInput) (agents.Observation, error) {
	obs := agents.Observation{Tool: in.Tool, Input: shorten(string(in.Args), 300)}
	c, err := a.challenge(in.Challenge)
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
	out, err := a.runTool(ctx, c, spec, in)
	if err != nil {
		obs.Error = shorten(err.Error(), 400)
		return obs, nil
	}
	obs.Output = shorten(out, maxObservation)
	return obs, nil
}

func (a *Activities) runTool(ctx context.Context, c *challenges.Challenge, spec *tools.Spec, in ToolInput) (string, error) {
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
		if a.Memory == nil || a.Embedder == nil {
			return "", errors.New("memory is not configured on this worker")
		}
		k := q.K
		if k == 0 {
			k = 4
		}
		hits, err := a.recall(ctx, q.Query, memory.Filter{Challenge: c.ID, Scope: in.MemoryScope}, k)
		if err != nil {
			return "", err
		}
		if len(hits) == 0 {
			return "no memories yet", nil
		}
		var b strings.Builder
		for _, h := range hits {
			fmt.Fprintf(&b, "- [%.2f] %s by %s: %s\n", h.Score, h.Kind, h.Agent, shorten(h.Text, 300))
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
		cands, err := a.Suggest(ctx, SuggestInput{Challenge: c.ID, Experiments: in.Experiments, K: k, Acquisition: q.Acquisition, Seed: in.Seed})
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

// SuggestInput asks the optimiser for candidates.
type SuggestInput struct {
	Challenge   string       `json:"challenge"`
	Experiments []Experiment `json:"experiments"`
	K           int          `json:"k"`
	Acquisition string       `json:"acquisition,omitempty"`
	// Start and StartSize are the start design (see optimizer.Options):
	// while fewer experiments have results, the suggestions come from it.
	// Empty: 2 random points, as before they existed.
	Start     string `json:"start,omitempty"`
	StartSize int    `json:"start_size,omitempty"`
	// Warm warm-starts the surrogate's fit with earlier hyperparameters.
	Warm *optimizer.Hyper `json:"warm,omitempty"`
	// Related are siblings' measurements (see RecallFamily): the
	// surrogate learns this challenge and theirs together.
	Related []RelatedPoint `json:"related,omitempty"`
	Seed    int            `json:"seed"`
}

// degenerateNote marks a suggestion whose surrogate fit fell back to its
// priors (optimizer.Result.Note).
const degenerateNote = "surrogate fit degenerate"

// suggestSample is how many points of a continuous space the optimiser
// chooses among.
const suggestSample = 2000

// Suggest runs the Gaussian-process optimiser over the untested pool, or a
// sample of a continuous space (a local activity: it is fast and
// deterministic). Points the lab would refuse are never suggested.
func (a *Activities) Suggest(_ context.Context, in SuggestInput) ([]agents.Candidate, error) {
	out, _, err := a.suggest(in)
	return out, err
}

// suggest is Suggest, also returning the surrogate's hyperparameters (nil
// when no model was fitted).
func (a *Activities) suggest(in SuggestInput) ([]agents.Candidate, *optimizer.Hyper, error) {
	c, err := a.challenge(in.Challenge)
	if err != nil {
		return nil, nil, err
	}
	measured := map[string]bool{}
	var obs []optimizer.Observation
	for _, e := range in.Experiments {
		if len(e.Values) == 0 {
			continue
		}
		measured[c.Key(e.Point)] = true
		obs = append(obs, optimizer.Observation{X: c.SearchPoint(e.Point), Y: c.SearchScore(e.Values)})
	}
	// The candidates: the untested pool of a pool lab, or a fresh sample of
	// the design space (reproducible from the seed) for an emulator lab.
	var pts []challenges.Point
	if c.Finite() {
		pts = c.Pool().Points
	} else {
		pts = c.Sample(suggestSample, uint64(in.Seed)+uint64(len(in.Experiments)))
	}
	var cands []challenges.Point
	var xs [][]float64
	for _, p := range pts {
		if !measured[c.Key(p)] && c.CheckSafety(p) == nil {
			cands = append(cands, p)
			xs = append(xs, c.SearchPoint(p))
		}
	}
	if len(xs) == 0 {
		return nil, nil, nil
	}
	start, size := in.Start, in.StartSize
	if start == "" {
		start, size = optimizer.StartRandom, 2
	}
	var related []optimizer.Observation
	for _, r := range in.Related {
		if len(r.Values) == len(c.Objectives) && c.CheckPoint(r.Point) == nil {
			related = append(related, optimizer.Observation{X: c.SearchPoint(r.Point), Y: c.SearchScore(r.Values)})
		}
	}
	res, err := optimizer.Run(obs, xs, min(in.K, len(xs)), optimizer.Options{Acquisition: in.Acquisition, Seed: uint64(in.Seed),
		Space: c.SearchSpace(), Start: start, StartSize: size, Warm: in.Warm, Related: related})
	if err != nil {
		return nil, nil, err
	}
	out := make([]agents.Candidate, len(res.Suggestions))
	for i, s := range res.Suggestions {
		var note string
		switch res.Phase {
		case optimizer.PhaseStart:
			note = "(start design: " + start + ")"
		case optimizer.PhaseRandom:
			note = "(random)"
		default:
			note = fmt.Sprintf("(predicted %.3g ± %.2g)", c.UnwarpScore(s.Mean), s.SD)
			if len(c.Primary().Bounds) == 2 && !c.MultiObjective() {
				note = fmt.Sprintf("(predicted %.3g)", c.UnwarpScore(s.Mean)) // the sd is on the warped scale
			}
			if res.Note != "" {
				note += " (" + res.Note + ")"
			}
		}
		out[i] = agents.Candidate{Point: cands[s.Index], Source: "optimizer", Note: note}
	}
	return out, res.Hyper, nil
}

// ClassicalStepInput is one iteration of a classical strategy: Rounds
// times, suggest K points and run each in the lab (keys KeyPrefix/rR/labI),
// each round seeing the results of the ones before.
type ClassicalStepInput struct {
	Suggest   SuggestInput `json:"suggest"`
	KeyPrefix string       `json:"key_prefix"`
	Rounds    int          `json:"rounds"`
	// Most caps the points run over all rounds (0: Rounds × K).
	Most      int    `json:"most,omitempty"`
	Requester string `json:"requester"`
	// Chosen, when set, are the points to run (one round; they were
	// suggested before, for the portfolio's approval).
	Chosen []agents.Candidate `json:"chosen,omitempty"`
	// Remember writes each result to memory (in MemoryScope), as agent
	// campaigns do: a challenge in a family does, so that its siblings can
	// start from what it measured. Otherwise classical steps skip the
	// embedding call per run.
	Remember    bool   `json:"remember,omitempty"`
	MemoryScope string `json:"memory_scope,omitempty"`
}

// ClassicalStepResult is what the chosen points measured, in order, with
// the lab key of each.
type ClassicalStepResult struct {
	Chosen  []agents.Candidate `json:"chosen"`
	Results []agents.Result    `json:"results"`
	Keys    []string           `json:"keys"`
	// Hyper are the surrogate's last hyperparameters (to warm-start the
	// next step's first fit).
	Hyper *optimizer.Hyper `json:"hyper,omitempty"`
}

// ClassicalStep runs iterations of the bo or random strategy inside one
// local activity: suggestions from the optimiser, run in the lab
// concurrently within a round (idempotent by key, so a retried step
// measures nothing twice). Few local activities keep the orchestration
// small next to the optimiser's own work.
func (a *Activities) ClassicalStep(ctx context.Context, in ClassicalStepInput) (ClassicalStepResult, error) {
	var out ClassicalStepResult
	sin := in.Suggest
	sin.Experiments = append([]Experiment(nil), in.Suggest.Experiments...)
	for round := range max(in.Rounds, 1) {
		sin.Seed = in.Suggest.Seed + round
		if in.Most > 0 {
			if sin.K = min(in.Suggest.K, in.Most-len(out.Chosen)); sin.K <= 0 {
				break
			}
		}
		sugg := in.Chosen
		if len(sugg) == 0 {
			var err error
			var h *optimizer.Hyper
			if sugg, h, err = a.suggest(sin); err != nil {
				return out, err
			}
			if h != nil {
				out.Hyper, sin.Warm = h, h
			}
		}
		if len(sugg) == 0 {
			break
		}
		res := make([]agents.Result, len(sugg))
		errs := make([]error, len(sugg))
		keys := make([]string, len(sugg))
		var wg sync.WaitGroup
		for i, s := range sugg {
			keys[i] = fmt.Sprintf("%s/r%d/lab%d", in.KeyPrefix, round, i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i], errs[i] = a.LabRun(ctx, LabRunInput{Challenge: sin.Challenge, Point: s.Point, Key: keys[i], Requester: in.Requester,
					NoMemory: !in.Remember, MemoryScope: in.MemoryScope})
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return out, err
		}
		out.Chosen = append(out.Chosen, sugg...)
		out.Results = append(out.Results, res...)
		out.Keys = append(out.Keys, keys...)
		for _, r := range res {
			if len(r.Values) > 0 {
				sin.Experiments = append(sin.Experiments, Experiment{Result: r})
			}
		}
	}
	return out, nil
}

// SimInput is one simulation job.
type SimInput struct {
	Challenge string           `json:"challenge"`
	Point     challenges.Point `json:"point"`
	// Executor names the HPC backend ("" for the worker's default).
	Executor string `json:"executor,omitempty"`
	// Key names the job; a retried activity finds the job it submitted.
	Key string `json:"key"`
}

// Simulate submits a `genesis sim` job to the HPC executor and waits for it.
// A job that fails comes back as a result with a note, for the agents.
func (a *Activities) Simulate(ctx context.Context, in SimInput) (agents.Result, error) {
	ex, err := a.executor(in.Executor)
	if err != nil {
		return agents.Result{}, err
	}
	input, _ := json.Marshal(sim.Input{Challenge: in.Challenge, ChallengesDir: a.ChallengesDir, Point: in.Point, Key: in.Key, TimeScale: a.SimTimeScale})
	cmd := append(append([]string(nil), a.SimCommand...), "--input", "input.json", "--output", "result.json")
	// Submission is idempotent by name (the key), so a retry after a
	// worker crash finds the job instead of starting another.
	start := time.Now()
	job, err := ex.Submit(ctx, hpc.JobSpec{Name: in.Key, Command: cmd, Files: map[string][]byte{"input.json": input}, CPUs: 1, MemoryMB: 256, TimeLimit: portfolio.SimJobLimit})
	if err != nil {
		return agents.Result{}, err
	}
	id := job.ID
	beat := pollHeartbeat(ctx, 5*time.Second)
	job, err = hpc.Wait(ctx, ex, id, a.poll(), func(j hpc.Job) { beat(j.ID + " " + j.State) })
	if err != nil {
		// Cancelled by the campaign (it was stopped): cancel the job too.
		// A worker shutting down leaves the job running; the retried
		// activity on the next worker finds it and waits again.
		if ctx.Err() != nil && !workerStopping(ctx) {
			if cerr := ex.Cancel(context.WithoutCancel(ctx), id); cerr != nil {
				activity.GetLogger(ctx).Warn("cancelling the job of a cancelled simulation", "job", id, "err", cerr)
			}
		}
		return agents.Result{}, err
	}
	// The node time is measured from this attempt's submit (or find) to
	// the job's end: one CPU, so node-seconds are seconds.
	res := agents.Result{Source: "sim", Point: in.Point, Ref: job.ID, Seconds: time.Since(start).Seconds()}
	if job.State != hpc.Completed {
		res.Note = fmt.Sprintf("job %s %s (exit %d): %s", job.ID, job.State, job.ExitCode, job.Reason)
		return res, nil
	}
	b, err := ex.ReadFile(ctx, job.ID, "result.json")
	if err != nil {
		res.Note = "job completed without a result file: " + err.Error()
		return res, nil
	}
	var out sim.Output
	if err := json.Unmarshal(b, &out); err != nil {
		res.Note = "unreadable result file: " + err.Error()
		return res, nil
	}
	res.Values = out.Values
	return res, nil
}

// executor returns the named HPC backend, or the default.
func (a *Activities) executor(name string) (hpc.Executor, error) {
	if len(a.SimCommand) == 0 {
		return nil, temporal.NewNonRetryableApplicationError("no simulation program configured on this worker", "NoExecutor", nil)
	}
	if name == "" {
		if a.HPC == nil {
			return nil, temporal.NewNonRetryableApplicationError("no HPC executor configured on this worker", "NoExecutor", nil)
		}
		return a.HPC, nil
	}
	if ex, ok := a.Executors[name]; ok {
		return ex, nil
	}
	names := make([]string, 0, len(a.Executors))
	for n := range a.Executors {
		names = append(names, n)
	}
	sort.Strings(names)
	return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("this worker has no %q HPC executor (it has: %s); start the worker with --hpc %s", name, strings.Join(names, ", "), name), "NoExecutor", nil)
}

// workerStopping reports whether the activity's context ends because the
// worker is shutting down rather than because the workflow cancelled it.
func workerStopping(ctx context.Context) bool {
	select {
	case <-activity.GetWorkerStopChannel(ctx):
		return true
	default:
		return false
	}
}

func (a *Activities) poll() time.Duration {
	if a.Poll > 0 {
		return a.Poll
	}
	return 200 * time.Millisecond
}

// refusedNote starts the note of a run the lab refused (it did not run).
const refusedNote = "refused by the lab: "

// LabRunInput is one lab experiment.
type LabRunInput struct {
	Challenge string           `json:"challenge"`
	Point     challenges.Point `json:"point"`
	// Key is the idempotency key: the lab returns the same run for the same key.
	Key       string `json:"key"`
	Requester string `json:"requester"`
	// NoMemory skips writing the result to memory (strategies without agents).
	NoMemory    bool   `json:"no_memory,omitempty"`
	MemoryScope string `json:"memory_scope,omitempty"`
}

// heartbeat records progress when ctx is an activity's; the lab and
// optimiser steps may also be called directly (the eval benchmark's
// baseline), where there is nothing to report to.
func heartbeat(ctx context.Context, details any) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, details)
	}
}

// LabRun submits a protocol to the lab service and waits for the result,
// heartbeating. A refused or failed run comes back as a result with a note.
func (a *Activities) LabRun(ctx context.Context, in LabRunInput) (agents.Result, error) {
	c, err := a.challenge(in.Challenge)
	if err != nil {
		return agents.Result{}, err
	}
	if a.Lab == nil {
		return agents.Result{}, temporal.NewNonRetryableApplicationError("no lab configured on this worker", "NoLab", nil)
	}
	res := agents.Result{Source: "lab", Point: in.Point}
	run, err := a.Lab.Submit(ctx, labclient.SubmitRequest{Challenge: c.ID, Parameters: c.Map(in.Point), IdempotencyKey: in.Key, Requester: in.Requester})
	if err != nil {
		if labclient.IsRefused(err) {
			res.Note = refusedNote + err.Error()
			return res, nil
		}
		return res, err
	}
	res.Ref = run.ID
	beat := pollHeartbeat(ctx, 5*time.Second)
	run, err = a.Lab.Wait(ctx, run.ID, a.poll(), func(r labclient.Run) { beat(string(r.Status)) })
	if err != nil {
		return res, err
	}
	if run.Status != labclient.Succeeded || run.Result == nil {
		res.Note = fmt.Sprintf("run %s %s: %s", run.ID, run.Status, run.Error)
		return res, nil
	}
	var parts []string
	for _, o := range c.Objectives {
		v, ok := run.Result.Values[o.Name]
		if !ok {
			res.Note = fmt.Sprintf("run %s has no value for %s", run.ID, o.Name)
			return res, nil
		}
		res.Values = append(res.Values, v)
		parts = append(parts, fmt.Sprintf("%s = %.4g %s", o.Name, v, o.Unit))
	}
	// The measurement goes to memory as a result (keyed by the run's key,
	// so a retry overwrites rather than duplicates).
	if a.Memory != nil && a.Embedder != nil && !in.NoMemory {
		text := fmt.Sprintf("lab result on %s: %s gave %s", c.ID, c.Format(in.Point), strings.Join(parts, ", "))
		m := &memory.Measurement{Point: c.Map(in.Point), Values: map[string]float64{}}
		for k, o := range c.Objectives {
			m.Values[o.Name] = res.Values[k]
		}
		if err := a.store(ctx, []memory.Record{{ID: in.Key, Text: text, Kind: memory.KindResult, Campaign: in.Requester, Challenge: c.ID,
			Agent: agents.LabOperator, Source: run.ID, Scope: in.MemoryScope, Measurement: m}}); err != nil {
			activity.GetLogger(ctx).Warn("memory write failed", "error", err)
		}
	}
	return res, nil
}

// RememberInput writes findings to memory.
type RememberInput struct {
	Campaign  string   `json:"campaign"`
	Challenge string   `json:"challenge"`
	Agent     string   `json:"agent"`
	Iteration int      `json:"iteration"`
	Texts     []string `json:"texts"`
	// MemoryScope is the campaign's (see CampaignInput.MemoryScope).
	MemoryScope string `json:"memory_scope,omitempty"`
}

// Remember stores findings in the shared memory.
func (a *Activities) Remember(ctx context.Context, in RememberInput) error {
	if a.Memory == nil || a.Embedder == nil {
		return nil
	}
	recs := make([]memory.Record, len(in.Texts))
	for i, t := range in.Texts {
		recs[i] = memory.Record{ID: fmt.Sprintf("%s/it%d/%s/%d", in.Campaign, in.Iteration, in.Agent, i), Text: t, Kind: memory.KindFinding,
			Campaign: in.Campaign, Challenge: in.Challenge, Agent: in.Agent, Scope: in.MemoryScope}
	}
	return a.store(ctx, recs)
}

// ReportInput is what the report is written from.
type ReportInput struct {
	Result    CampaignResult `json:"result"`
	State     CampaignState  `json:"state"`
	Challenge string         `json:"challenge"`
}

// WriteReport writes report.md and result.json under the data directory and
// returns the report's path.
func (a *Activities) WriteReport(_ context.Context, in ReportInput) (string, error) {
	if a.DataDir == "" {
		return "", nil
	}
	c, err := a.challenge(in.Challenge)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(a.DataDir, "campaigns", agents.PathSafe(in.Result.CampaignID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	md := renderReport(c, in)
	if err := writeAtomic(filepath.Join(dir, "report.md"), []byte(md)); err != nil {
		return "", err
	}
	js, _ := json.MarshalIndent(map[string]any{"result": in.Result, "experiments": in.State.Experiments, "simulations": in.State.Sims,
		"findings": in.State.Findings, "events": in.State.Events}, "", "  ")
	if err := writeAtomic(filepath.Join(dir, "result.json"), js); err != nil {
		return "", err
	}
	return filepath.Join(dir, "report.md"), nil
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func renderReport(c *challenges.Challenge, in ReportInput) string {
	r := in.Result
	var b strings.Builder
	o := c.Primary()
	fmt.Fprintf(&b, "# Campaign %s\n\n", r.CampaignID)
	fmt.Fprintf(&b, "- Challenge: **%s** (`%s`), %s %s (%s)\n", c.Title, c.ID, o.Direction, o.Name, o.Unit)
	fmt.Fprintf(&b, "- Model: `%s`\n- Stopped: %s\n", r.Model, r.StopReason)
	fmt.Fprintf(&b, "- Lab experiments: %d (%d refused or failed), simulations: %d, iterations: %d\n", len(r.Experiments), r.Refused, r.Simulations, r.Iterations)
	fmt.Fprintf(&b, "- Model calls: %d, tokens: %d, repaired replies: %d, fallbacks: %v\n", r.ModelCalls, r.Tokens, r.Repairs, r.Fallbacks)
	if r.Best != nil {
		fmt.Fprintf(&b, "- Best: %s = %.4g %s at `%s` (lab run %s, iteration %d)\n", o.Name, r.Best.Value, o.Unit, agents.PointJSON(c, in.bestPoint()), r.Best.RunID, r.Best.Iteration)
	}
	top := c.TopSet()
	found := 0
	inTop := make([]bool, len(in.State.Experiments))
	for i, e := range in.State.Experiments {
		inTop[i] = c.InTop(e.Point)
		if inTop[i] {
			found++
		}
	}
	if c.Finite() {
		fmt.Fprintf(&b, "- Dataset best: %.4g; top-%g%% members found: %d of %d\n\n", c.BestValue(), 100*c.Scoring.TopFraction, found, len(top))
	} else {
		fmt.Fprintf(&b, "- Dataset best: %.4g; experiments at or above the measured top-%g%% threshold (by the emulator's noise-free value): %d\n\n", c.BestValue(), 100*c.Scoring.TopFraction, found)
	}
	b.WriteString("## Experiments\n\n| # | iteration | lab run | origin | point |")
	for _, o := range c.Objectives {
		b.WriteString(" " + o.Name + " |")
	}
	b.WriteString(" top set |\n|---|---|---|---|---|" + strings.Repeat("---|", len(c.Objectives)) + "---|\n")
	for i, e := range in.State.Experiments {
		fmt.Fprintf(&b, "| %d | %d | %s | %s | `%s` |", i+1, e.Iteration, e.Ref, e.Origin, agents.PointJSON(c, e.Point))
		for _, v := range e.Values {
			fmt.Fprintf(&b, " %.4g |", v)
		}
		fmt.Fprintf(&b, " %v |\n", inTop[i])
	}
	if len(in.State.Findings) > 0 {
		b.WriteString("\n## Findings\n\n")
		for _, f := range in.State.Findings {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(f, "\n", " "))
		}
	}
	b.WriteString("\n## Timeline\n\n")
	for _, e := range in.State.Events {
		fmt.Fprintf(&b, "- it%d %s **%s** %s\n", e.Iteration, e.Agent, e.Action, strings.ReplaceAll(e.Detail, "\n", " "))
	}
	return b.String()
}

func (in ReportInput) bestPoint() challenges.Point {
	for _, e := range in.State.Experiments {
		if in.Result.Best != nil && e.Ref == in.Result.Best.RunID {
			return e.Point
		}
	}
	return nil
}
