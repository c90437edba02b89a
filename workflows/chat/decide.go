package chat

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/workflows/portfolioflow"
)

// DecidePortfolioName is the name of the activity that passes a chat
// user's decision to a portfolio, as recorded in histories.
const DecidePortfolioName = "DecidePortfolio"

// Portfolios is the activity set that needs a Temporal client: it passes
// decisions made in a chat to portfolios.
type Portfolios struct {
	temporal client.Client
}

// NewPortfolios returns the set; with a nil client every decision fails,
// not retried.
func NewPortfolios(temporal client.Client) *Portfolios { return &Portfolios{temporal: temporal} }

// Register registers the set's activity under its name.
func (s *Portfolios) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(s.DecidePortfolio, activity.RegisterOptions{Name: DecidePortfolioName})
}

// DecidePortfolioInput is a chat user's decision on a portfolio approval.
type DecidePortfolioInput struct {
	Portfolio string                          `json:"portfolio"`
	Decision  portfolioflow.PortfolioDecision `json:"decision"`
}

// DecidePortfolio passes a decision to a portfolio (its decide Update).
// The portfolio's validator checks it (the approval is still pending; an
// escalated one needs an admin): a refusal comes back as the result's
// text, not an error, so the chat can tell the user.
func (s *Portfolios) DecidePortfolio(ctx context.Context, in DecidePortfolioInput) (string, error) {
	if s.temporal == nil {
		return "", temporal.NewNonRetryableApplicationError("this worker has no Temporal client to reach portfolios", "NoClient", nil)
	}
	// One update ID for every attempt: a retry after a timeout gets the
	// first attempt's outcome instead of deciding (or failing) again.
	info := activity.GetInfo(ctx)
	h, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: in.Portfolio, UpdateName: portfolioflow.UpdateDecide,
		UpdateID: "chat-decide-" + info.WorkflowExecution.ID + "-" + info.ActivityID,
		Args:     []any{in.Decision}, WaitForStage: client.WorkflowUpdateStageCompleted})
	var verdict string
	if err == nil {
		err = h.Get(ctx, &verdict)
	}
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return fmt.Sprintf("portfolio %s is not running", in.Portfolio), nil
		}
		// The validator's refusal (or the handler's error) comes back as
		// an application error.
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			return "the portfolio refused: " + shortenErr(err), nil
		}
		return "", err
	}
	return verdict, nil
}
