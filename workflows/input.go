package workflows

import (
	"fmt"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/challenges"
)

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
	if err := in.validateBounds(); err != nil {
		return err
	}
	// The workflow leaves the model to its worker's factory (which may
	// know other names: tests' scripted models); the edge takes only specs.
	if in.Model != "" && !classical(in.Strategy) { // bo and random call no model
		if _, err := llm.ParseSpec(in.Model); err != nil {
			return fieldErr("model", "%v", err)
		}
	}
	return nil
}

func (in CampaignInput) validateBounds() error {
	for _, b := range []struct {
		field   string
		v, most int
		what    string
	}{
		{"budget", in.Budget, challenges.MaxExperiments, "lab experiments"},
		{"sim_budget", in.SimBudget, challenges.MaxSimulations, "simulations"},
		{"token_budget", in.TokenBudget, challenges.MaxTokens, "model tokens"},
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
