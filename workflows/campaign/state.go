package campaign

import (
	"time"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/optimizer"
	"github.com/genesis-sci/genesis/workflows/activities"
)

// Experiment is one lab experiment the campaign ran.
type Experiment = activities.Experiment

// Event is one line of campaign progress.
type Event struct {
	Seq       int       `json:"seq"`
	Time      time.Time `json:"time"`
	Iteration int       `json:"iteration"`
	Agent     string    `json:"agent"`
	Action    string    `json:"action"`
	Detail    string    `json:"detail,omitempty"`
}

// Best is the best lab result so far.
type Best struct {
	Point     map[string]any `json:"point"`
	Value     float64        `json:"value"`
	RunID     string         `json:"run_id"`
	Iteration int            `json:"iteration"`
}

// CampaignState is the campaign's whole state; it is small by design.
type CampaignState struct {
	Iteration   int             `json:"iteration"`
	Experiments []Experiment    `json:"experiments"`
	Sims        []agents.Result `json:"sims"`
	Refused     int             `json:"refused"`
	// Unsafe counts the model's candidates dropped because the lab would
	// refuse them (campaignflow/safety.go).
	Unsafe     int            `json:"unsafe,omitempty"`
	Tokens     int            `json:"tokens"`
	ModelCalls int            `json:"model_calls"`
	Fallbacks  map[string]int `json:"fallbacks"`
	Repairs    int            `json:"repairs"`
	Stale      int            `json:"stale"`
	Findings   []string       `json:"findings"`
	Seq        int            `json:"seq"`
	Events     []Event        `json:"events"`
	// GrantSeq numbers the portfolio requests; Repeats counts iterations
	// in a row in which the model proposed nothing new; Proposed holds the
	// keys of what it proposed.
	GrantSeq int      `json:"grant_seq,omitempty"`
	Repeats  int      `json:"repeats,omitempty"`
	Proposed []string `json:"proposed,omitempty"`
	// Replan is a portfolio's re-plan not yet acted on when the campaign
	// continued as new.
	Replan string `json:"replan,omitempty"`
	// Hyper are the optimiser's last fitted hyperparameters (bo), which
	// warm-start its next fit.
	Hyper *optimizer.Hyper `json:"hyper,omitempty"`
	// Transfer and Related are what the campaign took from its family's
	// memory when it started (see recallFamily).
	Transfer *Transfer                 `json:"transfer,omitempty"`
	Related  []activities.RelatedPoint `json:"related,omitempty"`
	// Watch is set once the guard appraises the team's picks (campaignflow/guard.go);
	// LowEI counts the iterations in a row in which the optimiser's best
	// expected improvement was below stopEIFrac of the measured range.
	Watch bool `json:"watch,omitempty"`
	LowEI int  `json:"low_ei,omitempty"`
	// Usage is what each agent role's model calls cost, in loop order;
	// Time is where the campaign's time went; Started is when it began.
	Usage   []RoleUsage `json:"usage,omitempty"`
	Time    Timing      `json:"time"`
	Started time.Time   `json:"started"`
}

// RoleUsage is what one agent role's model calls cost in a campaign.
type RoleUsage struct {
	Role string `json:"role"`
	// Calls counts model calls (tool calls and repairs included); Skipped
	// the turns not taken because the role's decision was forced.
	Calls     int `json:"calls"`
	Skipped   int `json:"skipped,omitempty"`
	Repairs   int `json:"repairs,omitempty"`
	ToolCalls int `json:"tool_calls,omitempty"`
	// Prompt tokens as the server reported them, the part of them it took
	// from its prompt cache, and the tokens generated.
	PromptTokens     int `json:"prompt_tokens"`
	CachedTokens     int `json:"cached_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	// The server's time evaluating prompts and generating replies, and the
	// calls' wall time as the campaign saw it (with queueing and transport).
	PromptSeconds float64 `json:"prompt_s"`
	GenSeconds    float64 `json:"gen_s"`
	Seconds       float64 `json:"seconds"`
	// CacheMisses counts calls whose shared prefix the server evaluated
	// again (MissedTokens their prompt tokens); Truncated calls whose
	// prompt did not fit the context window.
	CacheMisses  int `json:"cache_misses,omitempty"`
	MissedTokens int `json:"missed_tokens,omitempty"`
	Truncated    int `json:"truncated,omitempty"`
}

// Timing is where a campaign's wall time went, in seconds.
type Timing struct {
	Wall float64 `json:"wall_s"`
	// Model is the agents' model calls; Tools their tool calls and the
	// optimiser's suggestions; Lab and Sim the lab batches and simulation
	// jobs; Wait the time spent waiting for an approval or paused. The
	// rest is orchestration, memory and reports.
	Model float64 `json:"model_s"`
	Tools float64 `json:"tools_s"`
	Lab   float64 `json:"lab_s"`
	Sim   float64 `json:"sim_s"`
	Wait  float64 `json:"wait_s"`
}

// Status is what the status query returns.
type Status struct {
	CampaignID      string         `json:"campaign_id"`
	Challenge       string         `json:"challenge"`
	Model           string         `json:"model"`
	Phase           string         `json:"phase"`
	Iteration       int            `json:"iteration"`
	ExperimentsUsed int            `json:"experiments_used"`
	Budget          int            `json:"budget"`
	Simulations     int            `json:"simulations"`
	SimBudget       int            `json:"sim_budget"`
	Tokens          int            `json:"tokens"`
	TokenBudget     int            `json:"token_budget,omitempty"`
	ModelCalls      int            `json:"model_calls"`
	Best            *Best          `json:"best,omitempty"`
	Objective       string         `json:"objective"`
	Direction       string         `json:"direction"`
	Events          []Event        `json:"events"`
	Fallbacks       map[string]int `json:"fallbacks,omitempty"`
	Done            bool           `json:"done"`
	StopReason      string         `json:"stop_reason,omitempty"`
	// Values is the primary objective of every lab experiment, in order
	// (for live convergence plots).
	Values []float64 `json:"values,omitempty"`
	// Paused is set while a user has paused the campaign; Pending lists lab
	// runs awaiting approval.
	Paused  bool     `json:"paused,omitempty"`
	Pending *Pending `json:"pending,omitempty"`
}

// CampaignResult is what a finished campaign returns. Experiments are listed
// by reference (lab run IDs); the values live in the lab and the report.
type CampaignResult struct {
	CampaignID  string   `json:"campaign_id"`
	Challenge   string   `json:"challenge"`
	Model       string   `json:"model"`
	Best        *Best    `json:"best,omitempty"`
	Experiments []string `json:"experiments"`
	Simulations int      `json:"simulations"`
	Refused     int      `json:"refused"`
	// Unsafe counts candidates dropped before the pick because the lab
	// would refuse them.
	Unsafe     int            `json:"unsafe,omitempty"`
	Iterations int            `json:"iterations"`
	Tokens     int            `json:"tokens"`
	ModelCalls int            `json:"model_calls"`
	Fallbacks  map[string]int `json:"fallbacks,omitempty"`
	Repairs    int            `json:"repairs"`
	StopReason string         `json:"stop_reason"`
	Report     string         `json:"report"`
	// Strategy is how experiments were chosen; Trace lists every lab
	// experiment in order with its point and values (for evals).
	Strategy string          `json:"strategy,omitempty"`
	Trace    []agents.Result `json:"trace,omitempty"`
	// SimIterations is the iteration of every simulation, for cost traces.
	SimIterations []int `json:"sim_iterations,omitempty"`
	// Rounds numbers the lab round (from 1) of every Trace entry: the
	// experiments of one round were chosen together and run at once, so
	// rounds are what a campaign's wall-clock time goes by.
	Rounds []int `json:"rounds,omitempty"`
	// MemoryScope is the input's (see CampaignInput.MemoryScope).
	MemoryScope string `json:"memory_scope,omitempty"`
	// Transfer is what the campaign took from its family's memory.
	Transfer *Transfer `json:"transfer,omitempty"`
	// Usage is what each agent role's model calls cost; Time where the
	// campaign's time went.
	Usage []RoleUsage `json:"usage,omitempty"`
	Time  Timing      `json:"time"`
}

// fill tops up the model's candidates with the optimiser's suggestions

// Transfer is a campaign's provenance for what it took from its family:
// how many sibling measurements, from which challenges, and the memory
// records they came from.
type Transfer struct {
	Family  string         `json:"family"`
	From    map[string]int `json:"from,omitempty"`
	Points  int            `json:"points"`
	Skipped int            `json:"skipped,omitempty"`
	Records []string       `json:"records,omitempty"`
}
