// Package activities holds the activity sets the Genesis workflows call:
// one set per dependency (the challenge catalog, the model, the lab, the
// HPC executors, the memory), each built from only what it needs, so a
// worker registers the sets its host can serve. The workflows call them by
// name (the *Name constants): the names are in every recorded history, so
// they never change.
package activities

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/challenges"
)

// Activity names, as recorded in histories.
const (
	LoadChallengeName = "LoadChallenge"
	SuggestName       = "Suggest"
	SafetyCheckName   = "SafetyCheck"
	AppraiseName      = "Appraise"
	AgentStepName     = "AgentStep"
	RunToolName       = "RunTool"
	LabRunName        = "LabRun"
	ClassicalStepName = "ClassicalStep"
	SimulateName      = "Simulate"
	RememberName      = "Remember"
	RecallFamilyName  = "RecallFamily"
)

// ErrUnknownChallenge is the error type of a campaign started on a challenge
// the worker does not know; it is not retried.
const ErrUnknownChallenge = "UnknownChallenge"

// Experiment is one lab experiment a campaign ran.
type Experiment struct {
	agents.Result
	Key string `json:"key"`
	// Origin says who chose the point: model, optimizer or fallback.
	Origin     string `json:"origin"`
	Hypothesis string `json:"hypothesis,omitempty"`
}

// lookup finds a challenge in the catalog; an unknown one is a
// non-retryable ErrUnknownChallenge.
func lookup(cat *challenges.Catalog, id string) (*challenges.Challenge, error) {
	c, err := cat.Get(id)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrUnknownChallenge, nil)
	}
	return c, nil
}

// register registers one activity under its name.
func register(r worker.ActivityRegistry, name string, fn any) {
	r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
}
