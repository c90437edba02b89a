package workflows

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
)

// Waiting is one decision a person owes: the lab runs a campaign waits to
// have approved, or a portfolio's pending approval.
type Waiting struct {
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
}

// maxWaitingScan bounds how many running workflows one listing queries.
const maxWaitingScan = 200

// ListWaiting finds every decision people owe across the running campaigns
// and portfolios, by querying each (at most 200, newest first): portfolio
// approvals first, by deadline, then campaigns by ID.
func ListWaiting(ctx context.Context, c client.Client) ([]Waiting, error) {
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: maxWaitingScan,
		Query: fmt.Sprintf("(WorkflowType = '%s' OR WorkflowType = '%s') AND ExecutionStatus = 'Running'", CampaignWorkflowName, PortfolioWorkflowName)})
	if err != nil {
		return nil, fmt.Errorf("listing running campaigns and portfolios: %w", err)
	}
	execs := resp.GetExecutions()
	found := make([][]Waiting, len(execs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, e := range execs {
		id, typ := e.GetExecution().GetWorkflowId(), e.GetType().GetName()
		g.Go(func() error {
			// A workflow that ended meanwhile, or whose worker is away,
			// owes nothing that can be decided now: skip it.
			if typ == PortfolioWorkflowName {
				found[i] = portfolioWaiting(gctx, c, id)
			} else {
				found[i] = campaignWaiting(gctx, c, id)
			}
			return nil
		})
	}
	_ = g.Wait()
	out := []Waiting{}
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
	return out, nil
}

func campaignWaiting(ctx context.Context, c client.Client, id string) []Waiting {
	v, err := c.QueryWorkflow(ctx, id, "", QueryStatus)
	var st Status
	if err != nil || v.Get(&st) != nil || st.Pending == nil || st.Done {
		return nil
	}
	return []Waiting{{Kind: "campaign", Campaign: id, Challenge: st.Challenge, What: fmt.Sprintf("%d lab run(s)", len(st.Pending.Points)),
		Points: st.Pending.Points, Why: st.Pending.Rationale}}
}

func portfolioWaiting(ctx context.Context, c client.Client, id string) []Waiting {
	v, err := c.QueryWorkflow(ctx, id, "", QueryPortfolio)
	var st PortfolioStatus
	if err != nil || v.Get(&st) != nil {
		return nil
	}
	var out []Waiting
	for _, a := range st.Pending {
		w := Waiting{Kind: "portfolio", Campaign: a.Campaign, Challenge: a.Challenge, Portfolio: id, Approval: a.ID,
			What: fmt.Sprintf("%d %s", a.Request.N, portfolio.Units(a.Request.Kind)), Points: a.Request.Points, Role: a.Role}
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
