// Package workflows holds Genesis's durable workflows and their activities.
// The Campaign workflow is the discovery loop of DESIGN.md: planner →
// hypothesis → simulation-operator → lab-operator → analyst, repeated until
// the budget is spent, the campaign converges or a human stops it. The loop
// is deterministic workflow code; every model call and every tool call is an
// activity. Large things (transcripts, datasets, memory) stay in stores and
// travel as references.
package workflows

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/optimizer"
	"github.com/genesis-sci/genesis/portfolio"
)

// TaskQueue is the queue Genesis workers poll.
const TaskQueue = "genesis"

// Names of the workflow, its signals and queries.
const (
	CampaignWorkflowName = "Campaign"
	SignalStop           = "stop"
	SignalPause          = "pause"
	SignalResume         = "resume"
	// SignalDecision approves or rejects the pending lab runs (a Decision).
	SignalDecision = "decision"
	QueryStatus    = "status"
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

// Pending is a set of lab runs waiting for a person's approval.
type Pending struct {
	Iteration int              `json:"iteration"`
	Points    []map[string]any `json:"points"`
	Rationale string           `json:"rationale,omitempty"`
}

// Decision approves or rejects the pending lab runs.
type Decision struct {
	Approve bool   `json:"approve"`
	By      string `json:"by,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Iteration is the pending runs' iteration the decision is about (0:
	// whatever is pending); a decision about other runs is dropped.
	Iteration int `json:"iteration,omitempty"`
}

// approved asks for approval of the chosen lab runs when the campaign
// requires it, and waits for the decision (or a stop). why is how the runs
// were chosen; the rationale shown adds the hypotheses they test.
func (cw *campaign) approved(cands []agents.Candidate, picks []int, why string) bool {
	if !cw.in.RequireApproval || len(picks) == 0 {
		return true
	}
	p := &Pending{Iteration: cw.st.Iteration}
	var hyps []string
	for _, k := range picks {
		p.Points = append(p.Points, cw.info.Map(cands[k].Point))
		if h := cands[k].Hypothesis; h != "" && !slices.Contains(hyps, h) {
			hyps = append(hyps, h)
		}
	}
	p.Rationale = strings.TrimRight(why, ". ")
	if len(hyps) > 0 {
		p.Rationale += ". Testing: " + shorten(strings.Join(hyps, " / "), 300)
	}
	cw.pending, cw.decision = p, nil
	cw.phase = "awaiting approval"
	cw.event(agents.LabOperator, "awaiting approval", fmt.Sprintf("%d lab run(s): approve or reject in the UI or API", len(picks)))
	t0 := workflow.Now(cw.ctx)
	_ = workflow.Await(cw.ctx, func() bool { return cw.decision != nil || cw.stop != "" })
	cw.st.Time.Wait += cw.since(t0)
	d := cw.decision
	cw.pending, cw.decision = nil, nil
	switch {
	case d == nil:
		return false
	case d.Approve:
		cw.event(agents.LabOperator, "approved", strings.TrimSpace(d.By+" "+d.Reason))
		return true
	default:
		cw.event(agents.LabOperator, "rejected", strings.TrimSpace(d.By+" "+d.Reason))
		cw.st.Stale++
		return false
	}
}

// ClassicalRounds is how many sequential bo rounds one local activity runs.
const ClassicalRounds = 25

// ClassicalPlan is the next iteration of a classical strategy after done
// experiments: k points per round, chosen by acq ("random", "ei" or "ucb"),
// in rounds rounds inside one local activity, at most most points in all
// (0: rounds × k); start and startSize are the optimiser's start design. in
// carries the campaign's defaults; nParams is the challenge's number of
// parameters; related says the campaign starts from its family's
// measurements, so it skips the start design. ver reports whether a change (a workflow.GetVersion change
// ID) applies: ClassicalPlan asks "random-rounds" only when random could
// batch its rounds and "search-v2" for bo; callers outside a workflow
// answer true.
//
// Since search-v2, bo starts with the campaign's start design (Init: by
// default k-medoids, optimizer.StartSizeFor points, in one round), then
// chooses Batch points per round (default 1) by Acquisition (default EI,
// q-EI for batches). Before it, bo ran InitialRandom random points, then
// UCB one point at a time, as Liang et al.'s GP-LCB2.
func ClassicalPlan(in CampaignInput, done, nParams int, related bool, ver func(change string) bool) (k int, acq string, rounds, most int, start string, startSize int) {
	left := in.Budget - done
	k, acq, rounds = min(left, in.MaxBatch), "random", 1
	switch {
	case in.Strategy == StrategyBO && ver("search-v2"):
		start, startSize = in.StartDesign(nParams)
		if related {
			startSize = 0
		}
		if done < startSize {
			// The whole start design in one round.
			return min(startSize-done, left), cmp.Or(in.Acquisition, optimizer.AcqEI), 1, 0, start, startSize
		}
		k, acq = min(max(in.Batch, 1), left), cmp.Or(in.Acquisition, optimizer.AcqEI)
		if in.Portfolio == "" {
			rounds = min((left+k-1)/k, ClassicalRounds)
			most = left
		}
	case in.Strategy == StrategyBO:
		k, acq = 1, "ucb"
		initial := cmp.Or(in.InitialRandom, 2)
		start, startSize = optimizer.StartRandom, initial
		if n := initial - done; n > 0 {
			k, acq = min(n, left), "random"
		} else if in.Portfolio == "" {
			// Sequential bo runs several rounds (suggest one, measure it)
			// inside one local activity; the workflow records them together.
			rounds = min(left, ClassicalRounds)
		}
	case in.Strategy == StrategyRandom && in.Patience < 0 && in.Portfolio == "" && ver("random-rounds"):
		// Random draws do not depend on results. With patience off and no
		// portfolio, nothing between two batches could change the course,
		// so one local activity draws and runs the batches left (fewer
		// markers, less orchestration per experiment, as in an eval).
		rounds, most = min((left+k-1)/k, ClassicalRounds), left
	}
	return k, acq, rounds, most, start, startSize
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
		size = optimizer.StartSizeFor(nParams, in.Budget)
	}
	return start, size
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

// inputBoundsChange is the workflow.GetVersion change that added the
// campaign's own check of its input's bounds.
const inputBoundsChange = "input-bounds"

// classical reports whether the strategy calls no model.
func classical(strategy string) bool { return strategy == StrategyBO || strategy == StrategyRandom }

// CampaignInput starts a campaign. Zero values take the challenge's defaults.
type CampaignInput struct {
	Challenge string `json:"challenge"`
	Model     string `json:"model"`
	// Budget is the number of lab experiments.
	Budget      int `json:"budget,omitempty"`
	SimBudget   int `json:"sim_budget,omitempty"`
	TokenBudget int `json:"token_budget,omitempty"`
	Seed        int `json:"seed,omitempty"`
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
	// to: it then asks the portfolio before every spend (see member.go).
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

// Experiment is one lab experiment the campaign ran.
type Experiment struct {
	agents.Result
	Key string `json:"key"`
	// Origin says who chose the point: model, optimizer or fallback.
	Origin     string `json:"origin"`
	Hypothesis string `json:"hypothesis,omitempty"`
}

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
	// refuse them (safety.go).
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
	Transfer *Transfer      `json:"transfer,omitempty"`
	Related  []RelatedPoint `json:"related,omitempty"`
	// Watch is set once the guard appraises the team's picks (guard.go);
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

const (
	maxToolCalls = 1 // information tool calls per agent turn (small models spend most of their time here)
	maxRepairs   = 2 // re-asks after an invalid reply, then fall back
	// maxProseRepairs is the re-asks after a reply rejected only for its
	// texts (a copied placeholder, debris): a small model seldom does
	// better, and every role's fallback is sound.
	maxProseRepairs = 1
	maxEvents       = 200
)

type campaign struct {
	paused   bool
	pending  *Pending
	decision *Decision
	ctx      workflow.Context
	in       CampaignInput
	info     ChallengeInfo
	id       string
	st       *CampaignState
	phase    string
	stop     string
	done     bool
	best     *Experiment
	reason   string
	bestView *Best
	m        member
	signals  []signalHandler
	// lastProblem is the last invalid reply's problem in the current turn.
	lastProblem string
	// loop is the agent loop's version (see loopVersion), once asked.
	loop      workflow.Version
	loopAsked bool
}

// The agent loop's versions: loopFast skips the turns whose decision is
// forced and lets the lab batch grow to the lab's capacity.
const (
	loopChange = "agent-loop-fast"
	loopFast   = workflow.Version(1)
)

// loopVersion is the agent loop's version for this run, asked once: a run
// recorded before loopFast replays the loop as it was.
func (cw *campaign) loopVersion() workflow.Version {
	if !cw.loopAsked {
		cw.loop, cw.loopAsked = workflow.GetVersion(cw.ctx, loopChange, workflow.DefaultVersion, loopFast), true
	}
	return cw.loop
}

func (cw *campaign) fast() bool { return cw.loopVersion() >= loopFast }

// since is the seconds from t to now, in workflow time.
func (cw *campaign) since(t time.Time) float64 { return workflow.Now(cw.ctx).Sub(t).Seconds() }

// usage is the role's entry in the campaign's usage table.
func (cw *campaign) usage(role string) *RoleUsage {
	for i := range cw.st.Usage {
		if cw.st.Usage[i].Role == role {
			return &cw.st.Usage[i]
		}
	}
	cw.st.Usage = append(cw.st.Usage, RoleUsage{Role: role})
	slices.SortStableFunc(cw.st.Usage, func(a, b RoleUsage) int { return roleOrder(a.Role) - roleOrder(b.Role) })
	return cw.usage(role)
}

func roleOrder(role string) int {
	if i := slices.Index(agents.Roles, role); i >= 0 {
		return i
	}
	return len(agents.Roles)
}

// account adds one model call to its role's usage.
func (cw *campaign) account(role string, u llm.Usage, seconds float64) {
	r := cw.usage(role)
	r.Calls++
	r.PromptTokens += u.PromptTokens
	r.CachedTokens += u.CachedTokens
	r.CompletionTokens += u.CompletionTokens
	r.PromptSeconds += u.PromptSeconds
	r.GenSeconds += u.GenSeconds
	r.Seconds += seconds
	if u.CacheMiss {
		r.CacheMisses++
		r.MissedTokens += u.PromptTokens
	}
	if u.Truncated {
		r.Truncated++
	}
	cw.st.Time.Model += seconds
}

// skip records a turn not taken because its decision was forced.
func (cw *campaign) skip(role, why string) {
	cw.usage(role).Skipped++
	cw.event(role, "skipped", why)
}

// CampaignWorkflow runs one discovery campaign.
func CampaignWorkflow(ctx workflow.Context, in CampaignInput) (*CampaignResult, error) {
	cw := &campaign{ctx: ctx, in: in, id: workflow.GetInfo(ctx).WorkflowExecution.ID, phase: "starting"}
	res, err := cw.run()
	switch {
	case in.Portfolio == "" || workflow.IsContinueAsNewError(err):
	case err != nil:
		cw.finished("failed: "+shorten(err.Error(), 200), true)
	default:
		cw.finished(res.StopReason, false)
	}
	return res, err
}

func (cw *campaign) run() (*CampaignResult, error) {
	ctx, in := cw.ctx, cw.in
	if in.Resume != nil {
		cw.st = in.Resume
		cw.in.Resume = nil
	} else {
		cw.st = &CampaignState{Fallbacks: map[string]int{}}
	}
	if cw.st.Fallbacks == nil {
		cw.st.Fallbacks = map[string]int{}
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, cw.status); err != nil {
		return nil, err
	}
	cw.m.replan, cw.st.Replan = cw.st.Replan, ""
	cw.listen()
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3, NonRetryableErrorTypes: []string{ErrUnknownChallenge}}})
	var a *Activities
	if err := workflow.ExecuteLocalActivity(lctx, "LoadChallenge", in.Challenge).Get(ctx, &cw.info); err != nil {
		return nil, err
	}
	cw.applyDefaults()
	if !slices.Contains(Strategies, cw.in.Strategy) {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown strategy %q; want one of %s", cw.in.Strategy, strings.Join(Strategies, ", ")), "BadInput", nil)
	}
	if err := cw.in.ValidateSearch(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "BadInput", nil)
	}
	// Inputs out of range are refused at the edge (Validate); one that got
	// here anyway fails now, not later (a budget of 2^63-1 overflowed the
	// iteration limit). Histories recorded before the check replay as
	// they ran: it asks its version only when it fails.
	if err := cw.in.validateBounds(); err != nil && workflow.GetVersion(ctx, inputBoundsChange, workflow.DefaultVersion, 1) == 1 {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "BadInput", nil)
	}
	cw.recomputeBest()
	if cw.st.Iteration == 0 {
		detail := fmt.Sprintf("%s with %s, budget %d lab experiments", cw.info.ID, cw.in.Model, cw.in.Budget)
		if cw.in.StartedBy != "" {
			detail += "; started by " + shorten(cw.in.StartedBy, 120)
		}
		cw.event("campaign", "started", detail)
	}
	if err := cw.recallFamily(); err != nil {
		return nil, err
	}
	if cw.st.Started.IsZero() {
		cw.st.Started = workflow.Now(ctx)
	}

	for {
		if r := cw.shouldStop(); r != "" {
			cw.reason = r
			break
		}
		// A paused campaign waits here, before it may continue as new: the
		// pause is not part of the state carried to the next run.
		if cw.paused {
			cw.phase = "paused"
			t0 := workflow.Now(ctx)
			if err := workflow.Await(ctx, func() bool { return !cw.paused || cw.stop != "" }); err != nil {
				return nil, err
			}
			cw.st.Time.Wait += cw.since(t0)
			continue
		}
		if info := workflow.GetInfo(ctx); info.GetContinueAsNewSuggested() || (in.MaxHistory > 0 && info.GetCurrentHistoryLength() >= in.MaxHistory) {
			_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
			// Signals delivered in this task that the listener has not
			// taken yet would end with this run: take them now, and stop
			// or pause here rather than continue.
			cw.settleSignals()
			if cw.stop != "" || cw.paused {
				continue
			}
			next := cw.in
			cw.st.Replan = cw.m.replan
			next.Resume = cw.st
			return nil, workflow.NewContinueAsNewError(ctx, CampaignWorkflow, next)
		}
		cw.st.Iteration++
		iterate := cw.iterate
		if classical(cw.in.Strategy) {
			iterate = cw.iterateClassical
		}
		if err := iterate(); err != nil {
			return nil, err
		}
		cw.progress()
	}
	cw.phase = "reporting"
	cw.event("campaign", "stopping", cw.reason)
	cw.st.Time.Wall = cw.since(cw.st.Started)
	res := cw.result()
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 5}})
	var report string
	if !cw.in.NoReport {
		if err := workflow.ExecuteActivity(actx, a.WriteReport, ReportInput{Result: *res, State: *cw.st, Challenge: cw.info.ID}).Get(ctx, &report); err != nil {
			workflow.GetLogger(ctx).Error("report failed", "error", err)
		}
	}
	res.Report = report
	cw.done = true
	cw.phase = "done"
	cw.event("campaign", "done", cw.reason)
	return res, nil
}

func (cw *campaign) applyDefaults() { cw.in.ApplyDefaults(cw.info.Budget) }

// ApplyDefaults fills what the input leaves unset: budgets from the
// challenge's, and the campaign's default batch, patience, seed, strategy
// and random starts.
func (in *CampaignInput) ApplyDefaults(b challenges.Budget) {
	if in.Budget <= 0 {
		in.Budget = b.Experiments
	}
	if in.SimBudget <= 0 {
		in.SimBudget = b.Simulations
	}
	if in.TokenBudget <= 0 {
		in.TokenBudget = b.Tokens
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

func (cw *campaign) shouldStop() string {
	switch {
	case cw.stop != "":
		return cw.stop
	case len(cw.st.Experiments) >= cw.in.Budget:
		return fmt.Sprintf("experiment budget spent (%d)", cw.in.Budget)
	case cw.in.TokenBudget > 0 && cw.st.Tokens >= cw.in.TokenBudget:
		return fmt.Sprintf("token budget spent (%d of %d)", cw.st.Tokens, cw.in.TokenBudget)
	case cw.info.Finite && len(cw.st.Experiments) >= cw.info.PoolSize:
		return "every candidate has been measured"
	case cw.in.Patience > 0 && cw.st.Stale >= cw.in.Patience:
		return fmt.Sprintf("converged: no improvement in %d iterations", cw.st.Stale)
	case cw.st.Iteration >= 3*cw.in.Budget+10:
		return "iteration limit reached"
	}
	return ""
}

func (cw *campaign) status() (Status, error) {
	s := Status{CampaignID: cw.id, Challenge: cw.info.ID, Model: cw.in.Model, Phase: cw.phase, Iteration: cw.st.Iteration,
		ExperimentsUsed: len(cw.st.Experiments), Budget: cw.in.Budget, Simulations: len(cw.st.Sims), SimBudget: cw.in.SimBudget,
		Tokens: cw.st.Tokens, TokenBudget: cw.in.TokenBudget, ModelCalls: cw.st.ModelCalls, Best: cw.bestView,
		Objective: cw.info.Objective, Direction: cw.info.Direction, Events: cw.st.Events, Fallbacks: cw.st.Fallbacks, Done: cw.done, StopReason: cw.reason}
	for _, e := range cw.st.Experiments {
		s.Values = append(s.Values, e.Values[0])
	}
	s.Paused, s.Pending = cw.paused, cw.pending
	return s, nil
}

func (cw *campaign) event(agent, action, detail string) {
	cw.st.Seq++
	cw.st.Events = append(cw.st.Events, Event{Seq: cw.st.Seq, Time: workflow.Now(cw.ctx), Iteration: cw.st.Iteration, Agent: agent, Action: action, Detail: detail})
	if len(cw.st.Events) > maxEvents {
		cw.st.Events = cw.st.Events[len(cw.st.Events)-maxEvents:]
	}
}

// score orients a measurement so that higher is better: the challenge's
// scalarised score when it has several objectives, the primary value
// (negated when minimising) otherwise.
func (cw *campaign) score(values []float64) float64 {
	return cw.info.score(values)
}

func (cw *campaign) recomputeBest() {
	cw.best = nil
	for i := range cw.st.Experiments {
		e := &cw.st.Experiments[i]
		if len(e.Values) == 0 {
			continue
		}
		if cw.best == nil || cw.score(e.Values) > cw.score(cw.best.Values) {
			cw.best = e
		}
	}
	cw.bestView = nil
	if cw.best != nil {
		cw.bestView = &Best{Point: cw.info.Map(cw.best.Point), Value: cw.best.Values[0], RunID: cw.best.Ref, Iteration: cw.best.Iteration}
	}
}

func (cw *campaign) brief() agents.Brief {
	b := agents.Brief{CampaignID: cw.id, Iteration: cw.st.Iteration, ExperimentsUsed: len(cw.st.Experiments), ExperimentsBudget: cw.in.Budget,
		SimulationsUsed: len(cw.st.Sims), SimulationsBudget: cw.in.SimBudget, TokensUsed: cw.st.Tokens, TokenBudget: cw.in.TokenBudget, Stale: cw.st.Stale}
	if cw.best != nil {
		r := cw.best.Result
		b.Best = &r
	}
	// Every experiment, oldest first: the prompt lists them as a table
	// that an iteration only appends to (agents.BriefView caps it).
	for _, e := range cw.st.Experiments {
		b.Recent = append(b.Recent, e.Result)
		b.Measured = append(b.Measured, e.Point)
	}
	return b
}

func (cw *campaign) limits() agents.Limits {
	left := cw.in.Budget - len(cw.st.Experiments)
	return agents.Limits{MaxLabRuns: min(cw.in.MaxBatch, left), LabLeft: left, MaxSimulations: min(2*cw.in.MaxBatch, cw.in.SimBudget-len(cw.st.Sims)),
		SimsLeft: cw.in.SimBudget - len(cw.st.Sims), SimCost: cw.info.SimCost, Candidates: 2 * cw.in.MaxBatch}
}

// turn runs one agent's turn: model steps, information tool calls, repairs.
// It returns the validated final step, or nil when the agent must fall back.
func (cw *campaign) turn(role string, b agents.Brief) *agents.StepResult {
	ctx := workflow.WithActivityOptions(cw.ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute, HeartbeatTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 4,
			NonRetryableErrorTypes: []string{llm.KindNotFound, llm.KindBadRequest, llm.KindAuth, ErrUnknownChallenge}},
	})
	tctx := workflow.WithActivityOptions(cw.ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
	var a *Activities
	in := agents.StepInput{Role: role, Brief: b, Limits: cw.limits(), Seed: cw.in.Seed*1000 + cw.st.Iteration, NoOptimizer: cw.noOpt()}
	cw.phase = role
	cw.lastProblem = ""
	toolCalls, repairs := 0, 0
	for step := 1; ; step++ {
		in.Step = step
		in.AllowTools = toolCalls < maxToolCalls
		seq, granted := cw.acquire(portfolio.Model, 1, nil)
		if granted == 0 {
			return nil
		}
		var res agents.StepResult
		t0 := workflow.Now(cw.ctx)
		err := workflow.ExecuteActivity(ctx, a.AgentStep, AgentStepInput{Campaign: cw.id, Challenge: cw.info.ID, Model: cw.in.Model, Step: in, MemoryScope: cw.in.MemoryScope}).Get(cw.ctx, &res)
		cw.release(seq, portfolio.Amount{Tokens: res.Usage.Total()})
		if err != nil {
			cw.st.Time.Model += cw.since(t0)
			cw.event(role, "model failed", shorten(err.Error(), 160))
			return nil
		}
		cw.st.ModelCalls++
		cw.st.Tokens += res.Usage.Total()
		cw.account(role, res.Usage, cw.since(t0))
		switch res.Kind {
		case agents.KindFinal:
			return &res
		case agents.KindTool:
			toolCalls++
			cw.usage(role).ToolCalls++
			var obs agents.Observation
			t0 := workflow.Now(cw.ctx)
			err := workflow.ExecuteActivity(tctx, a.RunTool, ToolInput{Campaign: cw.id, Challenge: cw.info.ID, Role: role, Tool: res.Tool,
				Args: res.ToolInput, Experiments: cw.st.Experiments, Sims: cw.st.Sims, Seed: cw.in.Seed + cw.st.Iteration, NoOptimizer: cw.noOpt(), MemoryScope: cw.in.MemoryScope}).Get(cw.ctx, &obs)
			cw.st.Time.Tools += cw.since(t0)
			if err != nil {
				obs = agents.Observation{Tool: res.Tool, Input: string(res.ToolInput), Error: err.Error()}
			}
			in.Observations = append(in.Observations, obs)
			cw.event(role, "called "+res.Tool, shorten(string(res.ToolInput), 120))
		default:
			repairs++
			cw.st.Repairs++
			cw.usage(role).Repairs++
			cw.lastProblem = res.Problem
			cw.event(role, "invalid reply", shorten(res.Problem, 160))
			if repairs > maxRepairs || (res.Prose && repairs > maxProseRepairs && cw.fast()) {
				return nil
			}
			in.Repair = res.Problem
		}
	}
}

func (cw *campaign) noOpt() bool { return cw.in.Strategy == StrategyAgentsNoOpt }

// iterateClassical is one iteration of a strategy without agents: "bo"
// suggests one point at a time with the Gaussian-process optimiser (UCB,
// κ = 2, after InitialRandom random points, as in Liang et al.'s
// GP-LCB2); "random" draws a batch uniformly. Lab runs are local
// activities: nothing here waits on a model, so the orchestration cost
// per experiment stays small next to the optimiser's own.
func (cw *campaign) iterateClassical() error {
	left := cw.in.Budget - len(cw.st.Experiments)
	k, acq, rounds, most, start, startSize := ClassicalPlan(cw.in, len(cw.st.Experiments), len(cw.info.Parameters), len(cw.st.Related) > 0, func(change string) bool {
		return workflow.GetVersion(cw.ctx, change, workflow.DefaultVersion, 1) == 1
	})
	if cw.m.replan != "" {
		k, acq, cw.m.replan = min(left, cw.in.MaxBatch), "random", ""
	}
	cw.phase = "lab"
	var step ClassicalStepResult
	lctx := workflow.WithLocalActivityOptions(cw.ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumInterval: 5 * time.Second, MaximumAttempts: 10}})
	in := ClassicalStepInput{Suggest: SuggestInput{Challenge: cw.info.ID, Experiments: cw.st.Experiments, K: k, Acquisition: acq,
		Start: start, StartSize: startSize, Warm: cw.st.Hyper, Related: cw.st.Related, Seed: cw.in.Seed*7919 + cw.st.Iteration},
		KeyPrefix: fmt.Sprintf("%s/it%d", cw.id, cw.st.Iteration), Rounds: rounds, Most: most, Requester: cw.id,
		Remember: cw.info.Family != "", MemoryScope: cw.in.MemoryScope}
	var seq int
	if cw.in.Portfolio != "" {
		// In a portfolio the points are chosen first, so the approval
		// policy sees them, and run only as far as the grant goes.
		if err := workflow.ExecuteLocalActivity(lctx, "Suggest", in.Suggest).Get(cw.ctx, &in.Chosen); err != nil {
			return fmt.Errorf("%s step: %w", cw.in.Strategy, err)
		}
		if len(in.Chosen) == 0 {
			cw.stop = "no untested candidate left"
			return nil
		}
		var n int
		seq, n = cw.acquire(portfolio.Lab, len(in.Chosen), cw.labPoints(in.Chosen))
		if n == 0 {
			return nil
		}
		in.Chosen = in.Chosen[:n]
	}
	err := workflow.ExecuteLocalActivity(lctx, "ClassicalStep", in).Get(cw.ctx, &step)
	if err != nil {
		// What ran is unknown: charge the whole grant.
		cw.release(seq, portfolio.Amount{LabRuns: len(in.Chosen)})
	} else {
		cw.release(seq, labSpend(step.Results))
	}
	if err != nil {
		return fmt.Errorf("%s step: %w", cw.in.Strategy, err)
	}
	if len(step.Chosen) == 0 {
		cw.stop = "no untested candidate left"
		return nil
	}
	prev := math.NaN()
	if cw.best != nil {
		prev = cw.score(cw.best.Values)
	}
	cw.recordKeys(step.Chosen, step.Results, step.Keys)
	if step.Hyper != nil {
		cw.st.Hyper = step.Hyper
	}
	for _, c := range step.Chosen {
		// A surrogate fit that fell back to its priors is reported, not
		// hidden: the campaign counts it and says so.
		if strings.Contains(c.Note, degenerateNote) {
			cw.fallback("optimizer", "the surrogate's fit was degenerate; it used its priors' modes")
			break
		}
	}
	cw.recomputeBest()
	if cw.best != nil && (math.IsNaN(prev) || cw.score(cw.best.Values) > prev) {
		cw.st.Stale = 0
	} else {
		cw.st.Stale++
	}
	return nil
}

func (cw *campaign) fallback(role, why string) {
	cw.st.Fallbacks[role]++
	cw.event(role, "fell back", why)
}

func (cw *campaign) iterate() error {
	ctx := cw.ctx
	var a *Activities
	lim := cw.limits()
	fast := cw.fast()
	// The iteration's brief: the state as the iteration began, to which
	// each role's output is added for the next. Every role sees the same
	// growing text, so each prompt extends the one before (agents/prompt.go).
	b := cw.brief()

	// 1. Planner.
	plan := agents.Plan{Decision: "explore", LabRuns: min(2, lim.MaxLabRuns), Simulations: min(2, max(lim.MaxSimulations, 0)), Rationale: "default plan"}
	if fast {
		plan.LabRuns = lim.MaxLabRuns
	}
	if len(cw.st.Experiments) > cw.in.Budget/3 {
		plan.Decision = "exploit"
	}
	if res := cw.turn(agents.Planner, b); res != nil && res.Plan != nil {
		plan = *res.Plan
		cw.event(agents.Planner, plan.Decision, fmt.Sprintf("%d lab runs, %d simulations: %s", plan.LabRuns, plan.Simulations, shorten(plan.Rationale, 120)))
	} else {
		cw.fallback(agents.Planner, "using the default plan: "+plan.Decision)
	}
	if plan.Decision == "stop" {
		// A stop vote is honoured only with evidence of convergence.
		if cw.convergenceVote() {
			cw.stop = "planner judged the campaign converged: " + shorten(plan.Rationale, 100)
			return nil
		}
		plan.Decision = "exploit"
	}
	if cw.m.replan != "" {
		// The portfolio found the campaign stalled: explore afresh.
		plan.Decision = "explore"
		cw.event(agents.Planner, "re-planned", "exploring: "+cw.m.replan)
		cw.m.replan = ""
	}
	if fast && plan.LabRuns == 0 {
		plan.LabRuns = lim.MaxLabRuns // the planner left the batch to the lab's capacity
	}
	plan.LabRuns = clamp(plan.LabRuns, 1, lim.MaxLabRuns)
	plan.Simulations = clamp(plan.Simulations, 0, max(lim.MaxSimulations, 0))

	// 2. Optimiser suggestions, then the hypothesis agent.
	want := plan.LabRuns + plan.Simulations
	var sugg []agents.Candidate
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
	acq := map[bool]string{true: "ucb", false: "ei"}[plan.Decision == "explore"]
	if cw.noOpt() {
		acq = "random" // the team on its own: top-ups and fallbacks are random points
	}
	start, startSize := cw.in.StartDesign(len(cw.info.Parameters))
	t0 := workflow.Now(ctx)
	if err := workflow.ExecuteLocalActivity(lctx, "Suggest", SuggestInput{Challenge: cw.info.ID, Experiments: cw.st.Experiments, K: max(want, 4),
		Acquisition: acq, Start: start, StartSize: startSize, Related: cw.st.Related, Seed: cw.in.Seed*7919 + cw.st.Iteration}).Get(ctx, &sugg); err != nil {
		return fmt.Errorf("optimiser: %w", err)
	}
	cw.st.Time.Tools += cw.since(t0)
	b.Plan = &plan
	if !cw.noOpt() {
		b.Suggestions = sugg
	}
	var cands []agents.Candidate
	res := cw.turn(agents.Hypothesis, b)
	if res != nil {
		for _, p := range res.Proposed {
			cands = append(cands, agents.Candidate{Point: p.Point, Source: "model", Hypothesis: p.Hypothesis, Note: p.Note})
		}
		note := fmt.Sprintf("%d candidates", len(cands))
		if res.Problem != "" {
			note += "; dropped: " + shorten(res.Problem, 100)
		}
		cw.event(agents.Hypothesis, "proposed", note)
	} else {
		cw.fallback(agents.Hypothesis, "using the optimiser's suggestions")
	}
	if len(cands) > 0 && workflow.GetVersion(ctx, safeCandidatesChange, workflow.DefaultVersion, 1) == 1 {
		var err error
		if cands, err = cw.dropUnsafe(agents.Hypothesis, cands); err != nil {
			return err
		}
	}
	if len(cands) > lim.Candidates {
		cands = cands[:lim.Candidates]
	}
	repeat := strings.Contains(cw.lastProblem, agents.AlreadyTaken) || (res != nil && strings.Contains(res.Problem, agents.AlreadyTaken))
	cw.repeated(cands, repeat)
	cands = fill(cw.info, cands, sugg, want)
	b.Candidates = cands

	// 3. Simulations. The operator chooses which candidates only when
	// there is a choice.
	var sims []agents.Result
	switch {
	case plan.Simulations > 0 && len(cands) > 0:
		picks := pickDefault(len(cands), plan.Simulations)
		if fast && plan.Simulations >= len(cands) {
			cw.skip(agents.SimOperator, fmt.Sprintf("all %d candidates are simulated", len(cands)))
		} else if res := cw.turn(agents.SimOperator, b); res != nil {
			if sel := res.Sims; sel != nil {
				// The planner decides how many, the operator which: its picks come first.
				picks = topUp(validPicks(sel.Simulate, len(cands), plan.Simulations), picks, plan.Simulations)
				cw.event(agents.SimOperator, "chose", fmt.Sprintf("simulate %v: %s", oneBased(picks), shorten(sel.Rationale, 100)))
			}
		} else {
			cw.fallback(agents.SimOperator, "simulating the first candidates")
		}
		t0 := workflow.Now(ctx)
		sims = cw.runSims(cands, picks)
		cw.st.Time.Sim += cw.since(t0)
	case fast:
		cw.skip(agents.SimOperator, "no simulation this iteration")
	}
	b.SimResults = sims

	// 4. Lab runs.
	picks := rankBySim(cands, sims, cw.info.score, plan.LabRuns)
	why := "ranked by simulation"
	reason := false // the lab-operator stated why it chose its picks
	if fast && len(cands) <= plan.LabRuns {
		why = "every candidate runs"
		cw.skip(agents.LabOperator, fmt.Sprintf("all %d candidates run", len(cands)))
	} else if res := cw.turn(agents.LabOperator, b); res != nil {
		if sel := res.Lab; sel != nil {
			picks = topUp(validPicks(sel.Run, len(cands), plan.LabRuns), picks, plan.LabRuns)
			why = "lab-operator: " + shorten(sel.Rationale, 200)
			reason = strings.TrimSpace(sel.Rationale) != ""
			cw.event(agents.LabOperator, "chose", fmt.Sprintf("run %v: %s", oneBased(picks), shorten(sel.Rationale, 100)))
		}
	} else {
		cw.fallback(agents.LabOperator, "running the candidates ranked by simulation")
	}
	if !cw.noOpt() && workflow.GetVersion(ctx, "guard", workflow.DefaultVersion, 1) == 1 {
		cands, picks = cw.guard(cands, sugg, picks, reason)
	}
	var labs []agents.Result
	if cw.approved(cands, picks, why) {
		t0 := workflow.Now(ctx)
		labs = cw.runLabs(cands, picks)
		cw.st.Time.Lab += cw.since(t0)
	}

	// 5. Analyst.
	prev := math.NaN()
	if cw.best != nil {
		prev = cw.score(cw.best.Values)
	}
	cw.recomputeBest()
	improved := cw.best != nil && (math.IsNaN(prev) || cw.score(cw.best.Values) > prev)
	if improved {
		cw.st.Stale = 0
	} else {
		cw.st.Stale++
	}
	b.LabResults = labs
	b.Outcome = &agents.Outcome{Improved: improved, Stale: cw.st.Stale}
	if cw.best != nil {
		r := cw.best.Result
		b.Outcome.Best = &r
	}
	var an agents.Analysis
	if res := cw.turn(agents.Analyst, b); res != nil && res.Analysis != nil {
		an = *res.Analysis
		cw.event(agents.Analyst, "analysed", shorten(an.Summary, 160))
		if an.Converged && cw.convergenceVote() {
			cw.stop = "analyst judged the campaign converged: " + shorten(an.Summary, 100)
		}
	} else {
		cw.fallback(agents.Analyst, "recording the iteration's numbers only")
		an.Findings = []string{fmt.Sprintf("iteration %d: %d lab runs, best %s", cw.st.Iteration, len(labs), cw.bestString())}
	}
	if len(an.Findings) > 0 {
		if len(an.Findings) > 3 {
			an.Findings = an.Findings[:3]
		}
		for i := range an.Findings {
			an.Findings[i] = shorten(an.Findings[i], 300)
		}
		cw.st.Findings = append(cw.st.Findings, an.Findings...)
		if len(cw.st.Findings) > 30 {
			cw.st.Findings = cw.st.Findings[len(cw.st.Findings)-30:]
		}
		mctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
		err := workflow.ExecuteActivity(mctx, a.Remember, RememberInput{Campaign: cw.id, Challenge: cw.info.ID, Agent: agents.Analyst,
			Iteration: cw.st.Iteration, Texts: an.Findings, MemoryScope: cw.in.MemoryScope}).Get(ctx, nil)
		if err != nil {
			cw.event(agents.Analyst, "memory write failed", shorten(err.Error(), 120))
		}
	}
	cw.event("campaign", "iteration done", fmt.Sprintf("experiments %d/%d, best %s", len(cw.st.Experiments), cw.in.Budget, cw.bestString()))
	return nil
}

// convergenceVote says whether an agent's "converged" or "stop" is honoured:
// only with evidence (three iterations without improvement) and after half
// the budget, so a small model's premature verdict cannot end a campaign.
func (cw *campaign) convergenceVote() bool {
	if cw.st.Watch && cw.st.LowEI < stopEIIters {
		// The optimiser still expects to improve on the best: not converged.
		return false
	}
	return cw.st.Stale >= 3 && 2*len(cw.st.Experiments) >= cw.in.Budget
}

func (cw *campaign) bestString() string {
	if cw.best == nil {
		return "none yet"
	}
	return fmt.Sprintf("%.4g", cw.best.Values[0])
}

func (cw *campaign) runSims(cands []agents.Candidate, picks []int) []agents.Result {
	cw.phase = "simulating"
	var a *Activities
	// The heartbeat timeout also bounds how soon a stop reaches a job: the
	// cancellation arrives with the answer to a heartbeat, which the SDK
	// sends at most every 80 % of it.
	ctx := workflow.WithActivityOptions(cw.ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}, WaitForCancellation: true})
	// A stop while simulations run cancels them, and the cancellation
	// reaches the jobs (scancel on Slurm).
	ctx, cancel := workflow.WithCancel(ctx)
	done := false
	workflow.Go(cw.ctx, func(g workflow.Context) {
		if err := workflow.Await(g, func() bool { return done || cw.stop != "" }); err == nil && !done {
			cancel()
		}
	})
	defer func() { done = true }()
	seq, n := cw.acquire(portfolio.HPC, len(picks), nil)
	picks = picks[:n]
	spent := portfolio.Amount{Simulations: n}
	defer func() { cw.release(seq, spent) }()
	futs := make([]workflow.Future, len(picks))
	for i, k := range picks {
		key := fmt.Sprintf("%s/it%d/sim%d", cw.id, cw.st.Iteration, i)
		futs[i] = workflow.ExecuteActivity(ctx, a.Simulate, SimInput{Challenge: cw.info.ID, Point: cands[k].Point, Key: key, Executor: cw.in.HPC})
	}
	var out []agents.Result
	for _, f := range futs {
		var r agents.Result
		if err := f.Get(cw.ctx, &r); err != nil {
			// How long it ran is unknown: charge its time limit.
			spent.NodeHours += portfolio.SimJobLimit.Hours()
			cw.event(agents.SimOperator, "simulation failed", shorten(err.Error(), 120))
			continue
		}
		spent.NodeHours += r.Seconds / 3600
		r.Iteration = cw.st.Iteration
		if len(r.Values) == 0 {
			cw.event(agents.SimOperator, "simulation failed", r.Note)
			continue
		}
		out = append(out, r)
		cw.st.Sims = append(cw.st.Sims, r)
	}
	cw.event(agents.SimOperator, "simulated", fmt.Sprintf("%d of %d jobs completed", len(out), len(picks)))
	return out
}

func (cw *campaign) runLabs(cands []agents.Candidate, picks []int) []agents.Result {
	cw.phase = "lab"
	var a *Activities
	ctx := workflow.WithActivityOptions(cw.ctx, workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Hour, HeartbeatTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10}})
	chosen := make([]agents.Candidate, len(picks))
	for i, k := range picks {
		chosen[i] = cands[k]
	}
	seq, n := cw.acquire(portfolio.Lab, len(chosen), cw.labPoints(chosen))
	if n == 0 {
		return nil
	}
	chosen = chosen[:n]
	futs := make([]workflow.Future, len(chosen))
	for i, c := range chosen {
		futs[i] = workflow.ExecuteActivity(ctx, a.LabRun, LabRunInput{Challenge: cw.info.ID, Point: c.Point, Key: cw.labKey(i), Requester: cw.id, MemoryScope: cw.in.MemoryScope})
	}
	out := make([]agents.Result, len(futs))
	for i, f := range futs {
		if err := f.Get(cw.ctx, &out[i]); err != nil {
			out[i] = agents.Result{Source: "lab", Point: chosen[i].Point, Note: "lab error: " + shorten(err.Error(), 160)}
		}
	}
	cw.release(seq, labSpend(out))
	cw.record(chosen, out)
	return out
}

// labKey is the idempotency key of the iteration's i-th lab run.
func (cw *campaign) labKey(i int) string {
	return fmt.Sprintf("%s/it%d/lab%d", cw.id, cw.st.Iteration, i)
}

// record adds the iteration's lab results to the campaign: measured ones
// as experiments, refused or failed ones as counted failures.
func (cw *campaign) record(chosen []agents.Candidate, results []agents.Result) {
	keys := make([]string, len(results))
	for i := range keys {
		keys[i] = cw.labKey(i)
	}
	cw.recordKeys(chosen, results, keys)
}

func (cw *campaign) recordKeys(chosen []agents.Candidate, results []agents.Result, keys []string) {
	for i, r := range results {
		r.Iteration = cw.st.Iteration
		results[i] = r
		if len(r.Values) == 0 {
			cw.st.Refused++
			cw.event(agents.LabOperator, "run refused or failed", shorten(r.Note, 160))
			continue
		}
		cw.st.Experiments = append(cw.st.Experiments, Experiment{Result: r, Key: keys[i], Origin: chosen[i].Source, Hypothesis: chosen[i].Hypothesis})
		cw.event(agents.LabOperator, "measured", fmt.Sprintf("%s = %.4g (run %s)", cw.info.Objective, r.Values[0], r.Ref))
	}
}

// labSpend charges the lab runs of a batch: every one but those the lab
// refused. A run whose activity failed may have run (the lab may have
// accepted it before the failure), so it is charged: the ledger may
// over-count, never under-count.
func labSpend(results []agents.Result) portfolio.Amount {
	var a portfolio.Amount
	for _, r := range results {
		if r.Ref != "" || !strings.HasPrefix(r.Note, refusedNote) {
			a.LabRuns++
		}
	}
	return a
}

func (cw *campaign) result() *CampaignResult {
	r := &CampaignResult{CampaignID: cw.id, Challenge: cw.info.ID, Model: cw.in.Model, Best: cw.bestView, Simulations: len(cw.st.Sims),
		Refused: cw.st.Refused, Unsafe: cw.st.Unsafe, Iterations: cw.st.Iteration, Tokens: cw.st.Tokens, ModelCalls: cw.st.ModelCalls, Fallbacks: cw.st.Fallbacks,
		Repairs: cw.st.Repairs, StopReason: cw.reason}
	round, prev := 0, ""
	for _, e := range cw.st.Experiments {
		r.Experiments = append(r.Experiments, e.Ref)
		r.Trace = append(r.Trace, e.Result)
		// A lab key ends in the run's slot; what comes before it names
		// the round (campaign/itN for an agent iteration, campaign/itN/rM
		// for a classical round).
		if p := e.Key[:max(strings.LastIndex(e.Key, "/"), 0)]; p != prev || round == 0 {
			round, prev = round+1, p
		}
		r.Rounds = append(r.Rounds, round)
	}
	for _, sm := range cw.st.Sims {
		r.SimIterations = append(r.SimIterations, sm.Iteration)
	}
	r.Strategy = cw.in.Strategy
	r.MemoryScope = cw.in.MemoryScope
	r.Transfer = cw.st.Transfer
	r.Usage, r.Time = cw.st.Usage, cw.st.Time
	return r
}

// fill tops up the model's candidates with the optimiser's suggestions
// (skipping duplicates) until there are want of them.
func fill(info ChallengeInfo, cands, sugg []agents.Candidate, want int) []agents.Candidate {
	seen := map[string]bool{}
	for _, c := range cands {
		seen[info.Key(c.Point)] = true
	}
	for _, s := range sugg {
		if len(cands) >= want {
			break
		}
		if !seen[info.Key(s.Point)] {
			seen[info.Key(s.Point)] = true
			cands = append(cands, s)
		}
	}
	return cands
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

func pickDefault(n, k int) []int {
	var out []int
	for i := 0; i < n && i < k; i++ {
		out = append(out, i)
	}
	return out
}

// validPicks turns 1-based picks into distinct 0-based indices, at most k.
func validPicks(picks []int, n, k int) []int {
	seen := map[int]bool{}
	var out []int
	for _, p := range picks {
		i := p - 1
		if i < 0 || i >= n || seen[i] || len(out) >= k {
			continue
		}
		seen[i] = true
		out = append(out, i)
	}
	return out
}

// topUp appends ranked indices not already picked until there are k.
func topUp(picks, ranked []int, k int) []int {
	seen := map[int]bool{}
	for _, p := range picks {
		seen[p] = true
	}
	for _, r := range ranked {
		if len(picks) >= k {
			break
		}
		if !seen[r] {
			seen[r] = true
			picks = append(picks, r)
		}
	}
	return picks
}

func oneBased(idx []int) []int {
	out := make([]int, len(idx))
	for i, v := range idx {
		out[i] = v + 1
	}
	return out
}

// rankBySim orders candidates by simulated value (best first; unsimulated
// ones keep their order after the simulated ones) and takes k.
func rankBySim(cands []agents.Candidate, sims []agents.Result, score func([]float64) float64, k int) []int {
	type scored struct {
		i   int
		v   float64
		has bool
	}
	xs := make([]scored, len(cands))
	for i, c := range cands {
		xs[i] = scored{i: i}
		for _, r := range sims {
			if len(r.Values) > 0 && slices.Equal(r.Point, c.Point) {
				xs[i].v, xs[i].has = score(r.Values), true
			}
		}
	}
	sort.SliceStable(xs, func(a, b int) bool {
		if xs[a].has != xs[b].has {
			return xs[a].has
		}
		return xs[a].has && xs[a].v > xs[b].v
	})
	var out []int
	for _, x := range xs {
		if len(out) < k {
			out = append(out, x.i)
		}
	}
	return out
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
