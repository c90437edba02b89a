// Package waiting lists the decisions people owe across the running
// campaigns and portfolios (lab runs awaiting approval, portfolio
// approvals) by querying each workflow: client-side Temporal code, used by
// the API's approvals listing and by the chat, which shows them to its
// model.
package waiting

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/workflows/campaign"
	"github.com/genesis-sci/genesis/workflows/portfolioflow"
)

// PendingDecision is one decision a person owes: the lab runs a campaign
// waits to have approved, or a portfolio's pending approval.
type PendingDecision struct {
	// Kind is "campaign" (decide with the campaign's approve/reject) or
	// "portfolio" (decide the approval in the portfolio).
	Kind      string `json:"kind"`
	Campaign  string `json:"campaign"`
	Challenge string `json:"challenge,omitempty"`
	Portfolio string `json:"portfolio,omitempty"`
	Approval  string `json:"approval,omitempty"`
	// What is asked, in words ("2 lab runs, cost 4"), and the points.
	What   string           `json:"what"`
	Points []map[string]any `json:"points,omitempty"`
	// Why: the hypothesis' rationale, or the policy's reasons.
	Why string `json:"why,omitempty"`
	// Role is who may decide a portfolio approval (operator, or admin once
	// escalated); Deadline is when its timeout applies.
	Role     string     `json:"role,omitempty"`
	Deadline *time.Time `json:"deadline,omitempty"`
	// Iteration is a campaign's pending iteration: a decision naming it
	// decides exactly these runs (campaign.Decision.Iteration).
	Iteration int `json:"iteration,omitempty"`
	// Command is the CLI command that decides it.
	Command string `json:"command"`
}

// queryTimeout bounds each query of a listing: a workflow whose worker is
// away is left out rather than holding the listing up.
const queryTimeout = 2 * time.Second

// maxWaitingScan bounds how many running workflows one listing queries.
const maxWaitingScan = 200

// ListPendingDecisions finds every decision people owe across the running
// campaigns and portfolios, by querying each (the newest 200; truncated
// says there were more): portfolio approvals first, by deadline, then
// campaigns by ID.
func ListPendingDecisions(ctx context.Context, c client.Client) (out []PendingDecision, truncated bool, err error) {
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: maxWaitingScan,
		Query: fmt.Sprintf("(WorkflowType = '%s' OR WorkflowType = '%s') AND ExecutionStatus = 'Running'", campaign.CampaignWorkflowName, portfolioflow.PortfolioWorkflowName)})
	if err != nil {
		return nil, false, fmt.Errorf("listing running campaigns and portfolios: %w", err)
	}
	execs := resp.GetExecutions()
	found := make([][]PendingDecision, len(execs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, e := range execs {
		id, typ := e.GetExecution().GetWorkflowId(), e.GetType().GetName()
		g.Go(func() error {
			// A workflow that ended meanwhile, or whose worker is away,
			// owes nothing that can be decided now: skip it.
			qctx, cancel := context.WithTimeout(gctx, queryTimeout)
			defer cancel()
			if typ == portfolioflow.PortfolioWorkflowName {
				found[i] = portfolioPending(qctx, c, id)
			} else {
				found[i] = campaignPending(qctx, c, id)
			}
			return nil
		})
	}
	_ = g.Wait()
	out = []PendingDecision{}
	for _, f := range found {
		out = append(out, f...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Deadline == nil) != (b.Deadline == nil) {
			return a.Deadline != nil
		}
		if a.Deadline != nil && !a.Deadline.Equal(*b.Deadline) {
			return a.Deadline.Before(*b.Deadline)
		}
		return a.Campaign < b.Campaign
	})
	return out, len(resp.GetNextPageToken()) > 0, nil
}

func campaignPending(ctx context.Context, c client.Client, id string) []PendingDecision {
	v, err := c.QueryWorkflow(ctx, id, "", campaign.QueryStatus)
	var st campaign.Status
	if err != nil || v.Get(&st) != nil || st.Pending == nil || st.Done {
		return nil
	}
	return []PendingDecision{{Kind: "campaign", Campaign: id, Challenge: st.Challenge, What: fmt.Sprintf("%d lab run(s)", len(st.Pending.Points)),
		Points: st.Pending.Points, Why: st.Pending.Rationale, Iteration: st.Pending.Iteration, Command: "genesis campaign approve|reject " + id}}
}

func portfolioPending(ctx context.Context, c client.Client, id string) []PendingDecision {
	v, err := c.QueryWorkflow(ctx, id, "", portfolioflow.QueryPortfolio)
	var st portfolioflow.PortfolioStatus
	if err != nil || v.Get(&st) != nil {
		return nil
	}
	var out []PendingDecision
	for _, a := range st.Pending {
		w := PendingDecision{Kind: "portfolio", Campaign: a.Campaign, Challenge: a.Challenge, Portfolio: id, Approval: a.ID,
			What: fmt.Sprintf("%d %s", a.Request.N, portfolio.Units(a.Request.Kind)), Points: a.Request.Points, Role: a.Role,
			Command: fmt.Sprintf("genesis portfolio approve|reject %s %s", id, a.ID)}
		if a.Request.Kind == portfolio.Lab {
			w.What += fmt.Sprintf(", cost %.3g", a.Cost)
		}
		w.Why = strings.Join(a.Reasons, "; ")
		d := a.Deadline
		w.Deadline = &d
		out = append(out, w)
	}
	return out
}
