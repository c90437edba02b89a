package campaign

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/optimizer"
)

// Strategies (see CampaignInput.Strategy).
const (
	StrategyAgents      = "agents"
	StrategyAgentsNoOpt = "agents-noopt"
	StrategyBO          = "bo"
	StrategyRandom      = "random"
)

// Strategies lists every strategy.
var Strategies = []string{StrategyAgents, StrategyAgentsNoOpt, StrategyBO, StrategyRandom}

// CampaignInput starts a campaign. Zero values take the challenge's defaults.
type CampaignInput struct {
	Challenge string `json:"challenge"`
	Model     string `json:"model"`
	// Budget is what the campaign may spend: lab experiments, simulations
	// and model tokens (a zero field: the challenge's). It is the
	// challenge's type and flows unchanged from the challenge through the
	// campaign; a portfolio's budget action replaces it. In JSON (histories,
	// eval records) it stays three flat fields, budget, sim_budget and
	// token_budget (see MarshalJSON).
	Budget challenges.Budget `json:"-"`
	Seed   int               `json:"seed,omitempty"`
	// MaxBatch bounds lab runs per iteration (default 4).
	MaxBatch int `json:"max_batch,omitempty"`
	// Patience stops the campaign after this many iterations without improvement (default 5; <0 disables).
	Patience int `json:"patience,omitempty"`
	// HPC names the executor for simulation jobs ("local", "slurm"; ""
	// for the worker's default).
	HPC string `json:"hpc,omitempty"`
	// Strategy is how the campaign chooses experiments: "agents" (the
	// default: the five-agent team with the optimiser as a tool),
	// "agents-noopt" (the team without the optimiser; fallbacks and top-ups
	// draw random points), "bo" (Gaussian-process Bayesian optimisation,
	// one experiment at a time) or "random" (uniform over the design
	// space). The last two call no model; evals compare all four.
	Strategy string `json:"strategy,omitempty"`
	// InitialRandom is how many random experiments "bo" starts with when
	// Init is empty (the earlier setting; Init "random:N" says the same).
	InitialRandom int `json:"initial_random,omitempty"`
	// Acquisition is how bo chooses among candidates: "ei" (expected
	// improvement, the default; q-EI for batches) or "ucb" (upper
	// confidence bound, κ = 2; GP-BUCB for batches).
	Acquisition string `json:"acquisition,omitempty"`
	// Init is the optimiser's start design: "auto" (the default: k-medoids
	// of the pool or a sample of the space, seeded by maximin so categorical
	// options are covered evenly, optimizer.StartSizeFor points),
	// "medoids:N", "maximin[:N]" or "random:N" (Liang et al.'s protocol:
	// random:2).
	Init string `json:"init,omitempty"`
	// Batch is how many experiments bo chooses together, run at once in
	// the lab (default 1).
	Batch int `json:"batch,omitempty"`
	// NoTransfer starts a campaign in a family cold: without its
	// siblings' measurements (evals compare the two).
	NoTransfer bool `json:"no_transfer,omitempty"`
	// NoReport skips writing report.md/result.json (evals write their own).
	NoReport bool `json:"no_report,omitempty"`
	// RequireApproval holds every set of lab runs until a person approves
	// or rejects it (signal "decision", the API, the UI).
	RequireApproval bool `json:"require_approval,omitempty"`
	// Portfolio is the ID of the Portfolio workflow this campaign belongs
	// to: it then asks the portfolio before every spend (see portfolioside.go).
	Portfolio string `json:"portfolio,omitempty"`
	// MemoryScope confines the agents' memory: what the campaign writes
	// carries the scope and what it recalls comes only from records of the
	// same scope. Evals give every run its own, so seeds stay independent;
	// campaigns meant to learn from each other in order (a family sequence)
	// share one. Empty: the shared memory, as for every ordinary campaign.
	MemoryScope string `json:"memory_scope,omitempty"`
	// StartedBy says who started the campaign when someone did it for a
	// person (the chat: the sender's token ID and the chat); it goes into
	// the "started" event.
	StartedBy string `json:"started_by,omitempty"`
	// MaxHistory continues the campaign as new once its history has this
	// many events (0: when the server suggests it).
	MaxHistory int `json:"max_history,omitempty"`
	// Resume carries state across continue-as-new.
	Resume *CampaignState `json:"resume,omitempty"`
}

// Classical reports whether the strategy calls no model.
func Classical(strategy string) bool { return strategy == StrategyBO || strategy == StrategyRandom }

// Bounds of a campaign's input beyond the budgets (challenges.MaxExperiments
// and its kin bound those).
const (
	// MaxLabBatch bounds the lab runs of one iteration and bo's batch.
	MaxLabBatch = 64
	// MaxPatience bounds the iterations without improvement a campaign
	// waits (a negative patience waits forever).
	MaxPatience = 1000
	// MaxHistoryEvents is Temporal's limit on a run's history.
	MaxHistoryEvents = 51200
)

// FieldError is a bad value of one field of an input; Field is its name as
// the API and files spell it, and the message starts with it.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Msg }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks every setting of a campaign's input at the edge (the API,
// the command line, the chat): the optimiser's settings (ValidateSearch),
// the model spec, and that every number lies in its range, so nothing
// downstream overflows (3×budget+10 iterations) or carries a state too big
// for Temporal. Zero values stand for the defaults and pass. The error is
// a *FieldError.
func (in CampaignInput) Validate() error {
	if err := in.ValidateSearch(); err != nil {
		return err
	}
	if err := in.ValidateBounds(); err != nil {
		return err
	}
	// The workflow leaves the model to its worker's factory (which may
	// know other names: tests' scripted models); the edge takes only specs.
	if in.Model != "" && !Classical(in.Strategy) { // bo and random call no model
		if _, err := llm.ParseSpec(in.Model); err != nil {
			return fieldErr("model", "%v", err)
		}
	}
	return nil
}

func (in CampaignInput) ValidateBounds() error {
	for _, b := range []struct {
		field   string
		v, most int
		what    string
	}{
		{"budget", in.Budget.Experiments, challenges.MaxExperiments, "lab experiments"},
		{"sim_budget", in.Budget.Simulations, challenges.MaxSimulations, "simulations"},
		{"token_budget", in.Budget.Tokens, challenges.MaxTokens, "model tokens"},
		{"max_batch", in.MaxBatch, MaxLabBatch, "lab runs per iteration"},
		{"initial_random", in.InitialRandom, challenges.MaxExperiments, "random start points"},
		{"max_history", in.MaxHistory, MaxHistoryEvents, "history events"},
	} {
		if b.v < 0 || b.v > b.most {
			return fieldErr(b.field, "%s %d: want 0 (the default) to %d %s", b.field, b.v, b.most, b.what)
		}
	}
	if in.Patience > MaxPatience {
		return fieldErr("patience", "patience %d: want at most %d iterations without improvement (negative: never stop for it)", in.Patience, MaxPatience)
	}
	switch in.HPC {
	case "", "local", "slurm":
	default:
		return fieldErr("hpc", "hpc %q: want local or slurm (or empty for the worker's default)", in.HPC)
	}
	return nil
}

// ValidateSearch checks the optimiser settings of a campaign input: the
// acquisition, the start design and the batch.
func (in CampaignInput) ValidateSearch() error {
	switch strings.ToLower(in.Acquisition) {
	case "", optimizer.AcqEI, optimizer.AcqUCB:
	default:
		return fieldErr("acquisition", "acquisition %q: want ei (expected improvement; q-EI for batches) or ucb (upper confidence bound; GP-BUCB for batches)", in.Acquisition)
	}
	if _, _, err := optimizer.ParseStart(in.Init); err != nil {
		return fieldErr("init", "init: %v", err)
	}
	if in.Batch < 0 || in.Batch > MaxLabBatch {
		return fieldErr("batch", "batch %d: want 1 to %d experiments chosen together (0 for the default, 1)", in.Batch, MaxLabBatch)
	}
	if in.InitialRandom < 0 {
		return fieldErr("initial_random", "initial_random %d: want 0 or more", in.InitialRandom)
	}
	return nil
}

// StartDesign resolves the start design of the optimiser (Init; see
// optimizer.ParseStart) for a challenge of nParams parameters: an explicit
// size, else InitialRandom random points when set (the earlier protocol),
// else optimizer.StartSizeFor the budget.
func (in CampaignInput) StartDesign(nParams int) (start string, size int) {
	start, size, err := optimizer.ParseStart(in.Init)
	if err != nil {
		// Validated when the campaign starts; a bad value cannot get here.
		start, size = optimizer.StartMedoids, 0
	}
	if size == 0 && strings.TrimSpace(in.Init) == "" && in.InitialRandom > 0 {
		return optimizer.StartRandom, in.InitialRandom
	}
	if size == 0 {
		size = optimizer.StartSizeFor(nParams, in.Budget.Experiments)
	}
	return start, size
}

// ApplyDefaults fills what the input leaves unset: budgets from the
// challenge's, and the campaign's default batch, patience, seed, strategy
// and random starts.
func (in *CampaignInput) ApplyDefaults(b challenges.Budget) {
	if in.Budget.Experiments <= 0 {
		in.Budget.Experiments = b.Experiments
	}
	if in.Budget.Simulations <= 0 {
		in.Budget.Simulations = b.Simulations
	}
	if in.Budget.Tokens <= 0 {
		in.Budget.Tokens = b.Tokens
	}
	if in.MaxBatch <= 0 {
		in.MaxBatch = 4
	}
	if in.Patience == 0 {
		in.Patience = 5
	}
	if in.Seed == 0 {
		in.Seed = 1
	}
	if in.Strategy == "" {
		in.Strategy = StrategyAgents
	}
}

// inputFields is CampaignInput without its JSON methods.
type inputFields CampaignInput

// flatBudget is the budget as JSON has always carried it: recorded
// histories hold inputs in this shape, and decode unchanged.
type flatBudget struct {
	Budget      int `json:"budget,omitempty"`
	SimBudget   int `json:"sim_budget,omitempty"`
	TokenBudget int `json:"token_budget,omitempty"`
}

// MarshalJSON writes the budget as the three flat fields, where they have
// always been (after the model), so an input encodes byte for byte as it
// did before the budget was one type.
func (in CampaignInput) MarshalJSON() ([]byte, error) {
	head, err := json.Marshal(struct {
		Challenge string `json:"challenge"`
		Model     string `json:"model"`
		flatBudget
	}{in.Challenge, in.Model, flatBudget{in.Budget.Experiments, in.Budget.Simulations, in.Budget.Tokens}})
	if err != nil {
		return nil, err
	}
	// The other fields, in their order: empty fields of the same names
	// hide the two already written.
	rest, err := json.Marshal(struct {
		inputFields
		Challenge string `json:"challenge,omitempty"`
		Model     string `json:"model,omitempty"`
	}{inputFields: inputFields(in)})
	if err != nil {
		return nil, err
	}
	if string(rest) == "{}" {
		return head, nil
	}
	return append(append(head[:len(head)-1], ','), rest[1:]...), nil
}

// UnmarshalJSON reads the budget from the three flat fields.
func (in *CampaignInput) UnmarshalJSON(b []byte) error {
	w := struct {
		*inputFields
		flatBudget
	}{inputFields: (*inputFields)(in)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	in.Budget = challenges.Budget{Experiments: w.flatBudget.Budget, Simulations: w.SimBudget, Tokens: w.TokenBudget}
	return nil
}
