// Package portfolio is Genesis's policy layer (DESIGN.md, layer 1) and the
// capacity side of its resource layer (layer 2): a portfolio file names
// challenges with priorities, budgets, deadlines and an approval policy,
// and the global capacity they share; a Scheduler decides, deterministically,
// which campaign gets which lab instrument, HPC slot and model call, when,
// and keeps the cost ledger. The Portfolio workflow (package workflows)
// holds a Scheduler as its state; nothing here touches Temporal, so every
// rule is unit-tested on its own.
package portfolio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/optimizer"
)

// Kinds of capacity (and of the spend they grant).
const (
	Lab   = "lab"   // lab instruments: one slot per concurrent lab run
	HPC   = "hpc"   // HPC slots: one per concurrent simulation job
	Model = "model" // model slots: one per concurrent model call
)

// Kinds lists every kind, in the order the scheduler serves them.
var Kinds = []string{Lab, HPC, Model}

// Approval modes and outcomes.
const (
	Auto          = "auto"            // granted without asking
	Review        = "review"          // always waits for an operator
	AutoIfRoutine = "auto_if_routine" // lab runs: auto inside the routine region and under the cost limit
	Escalate      = "escalate"        // on timeout: hand to an admin, with a second timeout
	Approve       = "approve"
	Reject        = "reject"
)

// Stall actions.
const (
	Replan       = "replan"       // tell the campaign to re-plan (explore), then stop if it stalls again
	Deprioritise = "deprioritise" // halve its priority
	Stop         = "stop"         // stop it and hand its budget to campaigns still improving
)

// SimJobLimit is a simulation job's time limit; the scheduler reserves it
// (as node-time) before the job runs, so a node-hour budget holds even if
// every job runs to its limit.
const SimJobLimit = 10 * time.Minute

// DefaultTokenReserve is what one model call may use at most: the context
// window Genesis asks Ollama for (4096) plus the reply limit (384). It is
// reserved before the call and the actual use charged after.
const DefaultTokenReserve = 4096 + 384

// Amount is a budget or a spend in every unit the ledger keeps. In a budget
// a zero field means "no limit" except where the campaign's defaults fill it.
type Amount struct {
	LabRuns     int     `yaml:"lab_runs,omitempty" json:"lab_runs"`
	Simulations int     `yaml:"simulations,omitempty" json:"simulations"`
	Tokens      int     `yaml:"tokens,omitempty" json:"tokens"`
	NodeHours   float64 `yaml:"node_hours,omitempty" json:"node_hours"`
	// Cost is consumables, in the portfolio's cost units (a lab run costs
	// its campaign's lab_cost).
	Cost float64 `yaml:"cost,omitempty" json:"cost"`
}

// Budget is the part of an amount a campaign spends and counts itself:
// lab runs (the challenge's experiments), simulations and tokens, as the
// challenge's type, which the campaign carries unchanged. Node-hours and
// cost stay in the portfolio's ledger.
func (a Amount) Budget() challenges.Budget {
	return challenges.Budget{Experiments: a.LabRuns, Simulations: a.Simulations, Tokens: a.Tokens}
}

// AmountOf is a campaign's budget as an amount of the ledger.
func AmountOf(b challenges.Budget) Amount {
	return Amount{LabRuns: b.Experiments, Simulations: b.Simulations, Tokens: b.Tokens}
}

// fieldNames names an Amount's fields, in the order vec lists them.
var fieldNames = [5]string{"lab runs", "simulations", "tokens", "node-hours", "cost"}

// vec is the Amount's fields as numbers, in fieldNames' order.
func (a Amount) vec() [5]float64 {
	return [5]float64{float64(a.LabRuns), float64(a.Simulations), float64(a.Tokens), a.NodeHours, a.Cost}
}

// zip applies f to each pair of fields of a and b (counts stay whole).
func zip(a, b Amount, f func(x, y float64) float64) Amount {
	x, y := a.vec(), b.vec()
	return Amount{LabRuns: int(f(x[0], y[0])), Simulations: int(f(x[1], y[1])), Tokens: int(f(x[2], y[2])), NodeHours: f(x[3], y[3]), Cost: f(x[4], y[4])}
}

// Add returns a + b.
func (a Amount) Add(b Amount) Amount { return zip(a, b, func(x, y float64) float64 { return x + y }) }

// Sub returns a - b.
func (a Amount) Sub(b Amount) Amount { return zip(a, b, func(x, y float64) float64 { return x - y }) }

// Scale returns a × n.
func (a Amount) Scale(n int) Amount {
	return zip(a, a, func(x, _ float64) float64 { return x * float64(n) })
}

// Zero reports whether nothing is in a.
func (a Amount) Zero() bool { return a == Amount{} }

// String is a short human form: "3 lab runs, 1200 tokens".
func (a Amount) String() string {
	var parts []string
	if a.LabRuns != 0 {
		parts = append(parts, fmt.Sprintf("%d lab runs", a.LabRuns))
	}
	if a.Simulations != 0 {
		parts = append(parts, fmt.Sprintf("%d simulations", a.Simulations))
	}
	if a.Tokens != 0 {
		parts = append(parts, fmt.Sprintf("%d tokens", a.Tokens))
	}
	if a.NodeHours != 0 {
		parts = append(parts, fmt.Sprintf("%.3g node-hours", a.NodeHours))
	}
	if a.Cost != 0 {
		parts = append(parts, fmt.Sprintf("cost %.3g", a.Cost))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// Capacity is what the portfolio's campaigns share at any moment.
type Capacity struct {
	Lab   int `yaml:"lab" json:"lab"`
	HPC   int `yaml:"hpc" json:"hpc"`
	Model int `yaml:"model" json:"model"`
}

// Of returns the capacity of a kind.
func (c Capacity) Of(kind string) int {
	switch kind {
	case Lab:
		return c.Lab
	case HPC:
		return c.HPC
	default:
		return c.Model
	}
}

// Range is a routine range of one parameter: numeric bounds, or the
// allowed values of a categorical one.
type Range struct {
	Min    *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max    *float64 `yaml:"max,omitempty" json:"max,omitempty"`
	Values []string `yaml:"values,omitempty" json:"values,omitempty"`
}

// Contains reports whether v lies in the range.
func (r Range) Contains(v any) bool {
	switch x := v.(type) {
	case float64:
		return (r.Min == nil || x >= *r.Min) && (r.Max == nil || x <= *r.Max) && len(r.Values) == 0
	case int:
		return r.Contains(float64(x))
	case string:
		return slices.Contains(r.Values, x)
	}
	return false
}

// NamedRange is the routine range of one parameter.
type NamedRange struct {
	Parameter string `json:"parameter"`
	Range
}

// Routine is a routine region: parameter ranges, in the file's order (a
// list, not a map, so workflow code never iterates a map).
type Routine []NamedRange

// UnmarshalYAML reads a mapping of parameter → range.
func (r *Routine) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: routine must map parameter names to ranges, like {temperature: {max: 80}}", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		var rg Range
		if err := n.Content[i+1].Decode(&rg); err != nil {
			return fmt.Errorf("routine.%s: %w", n.Content[i].Value, err)
		}
		*r = append(*r, NamedRange{Parameter: n.Content[i].Value, Range: rg})
	}
	return nil
}

// CampaignSpec is one challenge in the portfolio.
type CampaignSpec struct {
	Challenge string `yaml:"challenge" json:"challenge"`
	// Priority is 1 (lowest) to 10; capacity is shared in proportion to
	// it, and the higher one goes first when capacity is short.
	Priority int `yaml:"priority" json:"priority"`
	// Strategy is how the campaign chooses experiments: agents (the
	// default), agents-noopt, bo or random.
	Strategy string `yaml:"strategy,omitempty" json:"strategy,omitempty"`
	// Acquisition (ei, the default, or ucb) and Batch (1 to 64
	// experiments chosen together, default 1) steer bo only. Init is the
	// optimiser's start design, for bo and the agents' suggestions: auto
	// (the default: k-medoids), medoids[:N], maximin[:N] or random:N.
	Acquisition string `yaml:"acquisition,omitempty" json:"acquisition,omitempty"`
	Init        string `yaml:"init,omitempty" json:"init,omitempty"`
	Batch       int    `yaml:"batch,omitempty" json:"batch,omitempty"`
	Model       string `yaml:"model,omitempty" json:"model,omitempty"`
	Seed        int    `yaml:"seed,omitempty" json:"seed,omitempty"`
	// Budget: lab runs, simulations and tokens default to the challenge's
	// budget; node-hours and cost are unlimited unless given.
	Budget Amount `yaml:"budget,omitempty" json:"budget"`
	// Deadline stops the campaign when reached (RFC 3339).
	Deadline *time.Time `yaml:"deadline,omitempty" json:"deadline,omitempty"`
	// LabCost is the consumables cost of one lab run (default 1).
	LabCost float64 `yaml:"lab_cost,omitempty" json:"lab_cost,omitempty"`
	// Routine is the region where lab runs are routine (see
	// ApprovalPolicy.LabRuns); parameters not named are unrestricted.
	Routine Routine `yaml:"routine,omitempty" json:"routine,omitempty"`
	// MaxBatch bounds lab runs per iteration (the campaign's default when 0).
	MaxBatch int `yaml:"max_batch,omitempty" json:"max_batch,omitempty"`
}

// ApprovalPolicy says which actions wait for a person.
type ApprovalPolicy struct {
	// Simulations: auto (default) or review.
	Simulations string `yaml:"simulations,omitempty" json:"simulations"`
	// LabRuns: auto, review, or auto_if_routine (default): a batch waits
	// when a point lies outside its campaign's routine region or the batch
	// costs more than MaxAutoCost.
	LabRuns string `yaml:"lab_runs,omitempty" json:"lab_runs"`
	// MaxAutoCost: a lab batch costing more waits (0: no cost rule).
	MaxAutoCost float64 `yaml:"max_auto_cost,omitempty" json:"max_auto_cost,omitempty"`
	// Timeout is how long an operator has to decide (default 30m).
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout"`
	// OnTimeout: escalate (default: an admin gets EscalationTimeout more),
	// approve or reject.
	OnTimeout string `yaml:"on_timeout,omitempty" json:"on_timeout"`
	// EscalationTimeout is the admin's time (default: Timeout).
	EscalationTimeout Duration `yaml:"escalation_timeout,omitempty" json:"escalation_timeout"`
	// Default is what happens when an escalation times out: reject
	// (default) or approve.
	Default string `yaml:"default,omitempty" json:"default"`
}

// StallPolicy says when a campaign is stalled and what then.
type StallPolicy struct {
	// Patience: iterations without improvement (default 4).
	Patience int `yaml:"patience,omitempty" json:"patience"`
	// Repeats: iterations in a row in which the agents repeat themselves
	// (propose only points already proposed or measured; default 3).
	Repeats int `yaml:"repeats,omitempty" json:"repeats"`
	// Action: replan (default), deprioritise or stop.
	Action string `yaml:"action,omitempty" json:"action"`
	// MaxReplans: a campaign that stalls again after this many re-plans
	// is stopped (default 1).
	MaxReplans int `yaml:"max_replans,omitempty" json:"max_replans"`
}

// Spec is a portfolio file.
type Spec struct {
	Name     string   `yaml:"name" json:"name"`
	Capacity Capacity `yaml:"capacity" json:"capacity"`
	// Budget bounds the whole portfolio (zero fields: only the campaigns' budgets apply).
	Budget   Amount         `yaml:"budget,omitempty" json:"budget"`
	Approval ApprovalPolicy `yaml:"approval,omitempty" json:"approval"`
	Stall    StallPolicy    `yaml:"stall,omitempty" json:"stall"`
	// Reallocate hands the unspent budget of campaigns that converged,
	// stalled or stopped to those still improving (default true).
	Reallocate *bool `yaml:"reallocate,omitempty" json:"reallocate,omitempty"`
	// TokenReserve is reserved before each model call (default DefaultTokenReserve).
	TokenReserve int `yaml:"token_reserve,omitempty" json:"token_reserve,omitempty"`
	// Model is the default model of agent campaigns.
	Model     string         `yaml:"model,omitempty" json:"model,omitempty"`
	Campaigns []CampaignSpec `yaml:"campaigns" json:"campaigns"`
}

// Duration is a time.Duration written as "30m" or "1h30m".
type Duration time.Duration

// UnmarshalYAML reads "30m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (write it like 30m or 1h30m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes "30m0s".
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalJSON writes "30m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "30m" (or nanoseconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var ns int64
		if err := json.Unmarshal(b, &ns); err != nil {
			return fmt.Errorf("%s is not a duration (write it like \"30m\")", b)
		}
		*d = Duration(ns)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (write it like \"30m\")", s)
	}
	*d = Duration(v)
	return nil
}

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Challenges is what validation needs to know about a challenge.
type Challenges interface {
	// Budget returns the challenge's default lab runs, simulations and
	// tokens, and its parameters' names; ok is false for an unknown ID.
	Lookup(id string) (def Amount, params []string, ok bool)
	IDs() []string
}

// Load reads and validates a portfolio file.
func Load(path string, cat Challenges) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("portfolio file: %w", err)
	}
	s, err := Parse(b, cat)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse decodes and validates a portfolio (YAML or JSON), fills its
// defaults and reports every problem at once.
func Parse(b []byte, cat Challenges) (*Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("not a valid portfolio file: %w (see the README's \"Portfolios\" section for the format)", err)
	}
	s.Defaults(cat)
	if err := s.Validate(cat); err != nil {
		return nil, err
	}
	return &s, nil
}

// Defaults fills every zero setting with its default.
func (s *Spec) Defaults(cat Challenges) {
	orDefault(&s.Capacity.Lab, 2)
	orDefault(&s.Capacity.HPC, 4)
	orDefault(&s.Capacity.Model, 2)
	s.Approval.defaults()
	s.Stall.defaults()
	if s.Reallocate == nil {
		t := true
		s.Reallocate = &t
	}
	orDefault(&s.TokenReserve, DefaultTokenReserve)
	for i := range s.Campaigns {
		s.Campaigns[i].defaults(i, s.Model, cat)
	}
}

// orDefault sets *p to def when it is the zero value.
func orDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

func (a *ApprovalPolicy) defaults() {
	orDefault(&a.Simulations, Auto)
	orDefault(&a.LabRuns, AutoIfRoutine)
	orDefault(&a.Timeout, Duration(30*time.Minute))
	orDefault(&a.OnTimeout, Escalate)
	orDefault(&a.EscalationTimeout, a.Timeout)
	orDefault(&a.Default, Reject)
}

func (st *StallPolicy) defaults() {
	orDefault(&st.Patience, 4)
	orDefault(&st.Repeats, 3)
	orDefault(&st.Action, Replan)
	orDefault(&st.MaxReplans, 1)
}

// defaults fills the zero settings of the i-th campaign: the portfolio's
// model, the challenge's budget, and a seed of its own.
func (c *CampaignSpec) defaults(i int, model string, cat Challenges) {
	orDefault(&c.Priority, 1)
	orDefault(&c.LabCost, 1)
	orDefault(&c.Strategy, "agents")
	c.Acquisition = strings.ToLower(strings.TrimSpace(c.Acquisition))
	c.Init = strings.ToLower(strings.TrimSpace(c.Init))
	orDefault(&c.Model, model)
	orDefault(&c.Seed, i+1)
	if def, _, ok := cat.Lookup(c.Challenge); ok {
		orDefault(&c.Budget.LabRuns, def.LabRuns)
		orDefault(&c.Budget.Simulations, def.Simulations)
		orDefault(&c.Budget.Tokens, def.Tokens)
	}
}

// Upper bounds of a portfolio's settings, so that no count or cost
// overflows or leaves the numbers JSON can carry (a lab_cost of 1e308 made
// the ledger +Inf, and the workflow failed to encode it). A campaign's
// lab runs, simulations and tokens are bounded as any campaign's
// (challenges.MaxExperiments and its kin); the portfolio's own budget as
// MaxCampaigns of them.
const (
	MaxCampaigns = 100
	MaxCapacity  = 1000
	// MaxNodeHours bounds a budget's node-hours; MaxCost its cost and the
	// approval policy's max_auto_cost; MaxLabCost one lab run's cost.
	MaxNodeHours = 1e6
	MaxCost      = 1e12
	MaxLabCost   = 1e6
	// MaxTokenReserve bounds what one model call may reserve.
	MaxTokenReserve = 10_000_000
	// MaxStall bounds the stall policy's patience and repeats;
	// MaxReplans its re-plans.
	MaxStall   = 1000
	MaxReplans = 100
	// MaxTimeout bounds the approval timeouts.
	MaxTimeout = 365 * 24 * time.Hour
	// maxLabBatch is campaign.MaxLabBatch (which this package cannot
	// import): the most lab runs of one iteration.
	maxLabBatch = 64
)

// campaignMax and portfolioMax are the largest budgets of a campaign and of
// a whole portfolio.
var (
	campaignMax  = Amount{LabRuns: challenges.MaxExperiments, Simulations: challenges.MaxSimulations, Tokens: challenges.MaxTokens, NodeHours: MaxNodeHours, Cost: MaxCost}
	portfolioMax = Amount{LabRuns: MaxCampaigns * challenges.MaxExperiments, Simulations: MaxCampaigns * challenges.MaxSimulations,
		Tokens: MaxCampaigns * challenges.MaxTokens, NodeHours: MaxNodeHours, Cost: MaxCost}
)

// finite reports whether v is a number JSON can carry.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// problems collects what Validate finds, each with the field it is about.
type problems []error

func (p *problems) bad(field, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// Validate reports every problem, each with where it is and what is expected.
func (s *Spec) Validate(cat Challenges) error {
	var p problems
	if strings.TrimSpace(s.Name) == "" {
		p.bad("name", "is missing; give the portfolio a short name")
	}
	for _, k := range Kinds {
		if n := s.Capacity.Of(k); n < 1 || n > MaxCapacity {
			p.bad("capacity."+k, "is %d; want 1 to %d", n, MaxCapacity)
		}
	}
	p.amount("budget", s.Budget, portfolioMax)
	if s.Model != "" {
		if _, err := llm.ParseSpec(s.Model); err != nil {
			p.bad("model", "%v", err)
		}
	}
	p.approval(s.Approval)
	p.stall(s.Stall)
	if s.TokenReserve < 0 || s.TokenReserve > MaxTokenReserve {
		p.bad("token_reserve", "is %d; want 0 (the default) to %d", s.TokenReserve, MaxTokenReserve)
	}
	if len(s.Campaigns) == 0 {
		p.bad("campaigns", "is empty; list at least one challenge")
	}
	if len(s.Campaigns) > MaxCampaigns {
		p.bad("campaigns", "lists %d; at most %d", len(s.Campaigns), MaxCampaigns)
	}
	seen := map[string]bool{}
	for i, c := range s.Campaigns {
		p.campaign(i, c, s.Model, cat, seen)
	}
	return errors.Join(p...)
}

// amount checks a budget against the largest allowed.
func (p *problems) amount(field string, a, most Amount) {
	v, m := a.vec(), most.vec()
	keys := [5]string{"lab_runs", "simulations", "tokens", "node_hours", "cost"}
	// Counts are written whole, as in the file.
	show := [5]string{strconv.Itoa(a.LabRuns), strconv.Itoa(a.Simulations), strconv.Itoa(a.Tokens), fmt.Sprint(a.NodeHours), fmt.Sprint(a.Cost)}
	for i := range v {
		switch {
		case !finite(v[i]):
			p.bad(field+"."+keys[i], "is %s; want a finite number", show[i])
		case v[i] < 0:
			p.bad(field+"."+keys[i], "is %s; budgets are zero or more", show[i])
		case v[i] > m[i]:
			p.bad(field+"."+keys[i], "is %s; at most %s", show[i], strconv.FormatFloat(m[i], 'f', -1, 64))
		}
	}
}

func (p *problems) approval(a ApprovalPolicy) {
	if !slices.Contains([]string{Auto, Review}, a.Simulations) {
		p.bad("approval.simulations", "is %q; want auto or review", a.Simulations)
	}
	if !slices.Contains([]string{Auto, Review, AutoIfRoutine}, a.LabRuns) {
		p.bad("approval.lab_runs", "is %q; want auto, review or auto_if_routine", a.LabRuns)
	}
	if !finite(a.MaxAutoCost) || a.MaxAutoCost < 0 || a.MaxAutoCost > MaxCost {
		p.bad("approval.max_auto_cost", "is %g; want 0 (no cost rule) to %g", a.MaxAutoCost, MaxCost)
	}
	if a.Timeout < 0 || a.EscalationTimeout < 0 {
		p.bad("approval.timeout", "is negative")
	}
	if a.Timeout.Std() > MaxTimeout || a.EscalationTimeout.Std() > MaxTimeout {
		p.bad("approval.timeout", "is longer than %s", MaxTimeout)
	}
	if !slices.Contains([]string{Escalate, Approve, Reject}, a.OnTimeout) {
		p.bad("approval.on_timeout", "is %q; want escalate, approve or reject", a.OnTimeout)
	}
	if !slices.Contains([]string{Approve, Reject}, a.Default) {
		p.bad("approval.default", "is %q; want approve or reject", a.Default)
	}
}

func (p *problems) stall(st StallPolicy) {
	if !slices.Contains([]string{Replan, Deprioritise, Stop}, st.Action) {
		p.bad("stall.action", "is %q; want replan, deprioritise or stop", st.Action)
	}
	if st.Patience < 0 || st.Repeats < 0 || st.MaxReplans < 0 {
		p.bad("stall", "has a negative setting")
	}
	if st.Patience > MaxStall || st.Repeats > MaxStall || st.MaxReplans > MaxReplans {
		p.bad("stall", "patience and repeats are at most %d, max_replans at most %d", MaxStall, MaxReplans)
	}
}

// campaign checks the i-th campaign; seen holds the campaigns before it,
// by challenge and settings, so that none repeats another.
func (p *problems) campaign(i int, c CampaignSpec, portfolioModel string, cat Challenges, seen map[string]bool) {
	f := fmt.Sprintf("campaigns[%d]", i)
	def, params, ok := cat.Lookup(c.Challenge)
	switch {
	case c.Challenge == "":
		p.bad(f+".challenge", "is missing")
	case !ok:
		p.bad(f+".challenge", "%q is not in the catalog (see `genesis challenges list`)", c.Challenge)
	}
	key := fmt.Sprintf("%s/%s/%d/%s/%s/%d", c.Challenge, c.Strategy, c.Seed, c.Acquisition, c.Init, c.Batch)
	if seen[key] {
		p.bad(f, "repeats challenge %s with the same strategy, settings and seed; give it another seed", c.Challenge)
	}
	seen[key] = true
	if c.Priority < 1 || c.Priority > 10 {
		p.bad(f+".priority", "is %d; want 1 (lowest) to 10", c.Priority)
	}
	if !slices.Contains([]string{"agents", "agents-noopt", "bo", "random"}, c.Strategy) {
		p.bad(f+".strategy", "is %q; want agents, agents-noopt, bo or random", c.Strategy)
	}
	checkSearch(f, c, p.bad)
	p.amount(f+".budget", c.Budget, campaignMax)
	if ok && c.Budget.LabRuns < 1 {
		p.bad(f+".budget.lab_runs", "is %d; a campaign needs at least one lab run (the challenge's default is %d)", c.Budget.LabRuns, def.LabRuns)
	}
	if !finite(c.LabCost) || c.LabCost < 0 || c.LabCost > MaxLabCost {
		p.bad(f+".lab_cost", "is %g; want 0 to %g", c.LabCost, MaxLabCost)
	}
	if c.MaxBatch < 0 || c.MaxBatch > maxLabBatch {
		p.bad(f+".max_batch", "is %d; want 1 to %d lab runs per iteration (absent: the default)", c.MaxBatch, maxLabBatch)
	}
	if c.Model != "" && c.Model != portfolioModel {
		if _, err := llm.ParseSpec(c.Model); err != nil {
			p.bad(f+".model", "%v", err)
		}
	}
	for _, r := range c.Routine {
		name := r.Parameter
		if ok && !slices.Contains(params, name) {
			p.bad(f+".routine."+name, "is not a parameter of %s (it has %s)", c.Challenge, strings.Join(params, ", "))
		}
		if r.Min != nil && !finite(*r.Min) || r.Max != nil && !finite(*r.Max) {
			p.bad(f+".routine."+name, "has a bound that is not a finite number")
		}
		if r.Min != nil && r.Max != nil && *r.Min > *r.Max {
			p.bad(f+".routine."+name, "has min %g above max %g", *r.Min, *r.Max)
		}
		if (r.Min != nil || r.Max != nil) && len(r.Values) > 0 {
			p.bad(f+".routine."+name, "has both bounds and values; use bounds for numbers, values for categories")
		}
	}
}

// maxBatch is the most experiments bo chooses together (the campaign
// workflow's bound, campaign.CampaignInput.ValidateSearch, which this
// package cannot import).
const maxBatch = maxLabBatch

// checkSearch checks a campaign's optimiser settings, and that its
// strategy uses them: acquisition and batch steer only bo (the agents pick
// their acquisition per plan and size their own batches); init is the
// start design of bo and of the suggestions the agents see (random and
// agents-noopt draw uniform points).
func checkSearch(f string, c CampaignSpec, bad func(field, format string, args ...any)) {
	if c.Acquisition != "" && c.Acquisition != optimizer.AcqEI && c.Acquisition != optimizer.AcqUCB {
		bad(f+".acquisition", "is %q; want ei (expected improvement) or ucb (upper confidence bound)", c.Acquisition)
	}
	if _, _, err := optimizer.ParseStart(c.Init); err != nil {
		bad(f+".init", "%v", err)
	}
	if c.Batch < 0 || c.Batch > maxBatch {
		bad(f+".batch", "is %d; want 1 to %d experiments chosen together (absent: 1)", c.Batch, maxBatch)
	}
	if c.Strategy != "bo" {
		if c.Acquisition != "" {
			bad(f+".acquisition", "applies only to strategy bo, not %s; leave it out or set strategy: bo", c.Strategy)
		}
		if c.Batch != 0 {
			bad(f+".batch", "applies only to strategy bo, not %s (max_batch bounds the lab runs per iteration of the others)", c.Strategy)
		}
	}
	if c.Init != "" && c.Strategy != "bo" && c.Strategy != "agents" {
		bad(f+".init", "applies only to strategies bo and agents, not %s (it draws uniform points, with no start design)", c.Strategy)
	}
}

// Catalog adapts a challenge catalog for validation.
func Catalog(cat *challenges.Catalog) Challenges { return catalogView{cat} }

type catalogView struct{ cat *challenges.Catalog }

func (v catalogView) Lookup(id string) (Amount, []string, bool) {
	c, err := v.cat.Get(id)
	if err != nil {
		return Amount{}, nil, false
	}
	names := make([]string, len(c.Parameters))
	for i, p := range c.Parameters {
		names[i] = p.Name
	}
	return AmountOf(c.Budget), names, true
}

func (v catalogView) IDs() []string { return v.cat.IDs() }
