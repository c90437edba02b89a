package apiclient

import (
	"encoding/json"
	"time"

	"github.com/genesis-sci/genesis/api/waiting"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// The wire types: the server (package api) encodes these very types, so
// client and server cannot drift apart. Types that are a workflow's own
// (campaign.Status, ChatReply, ChatState, PortfolioStatus) travel as the
// workflow returns them.

// ChallengeSummary is one line of GET /api/v1/challenges. The field names
// are the Go names (the list predates the API's snake_case).
type ChallengeSummary struct {
	ID        string `json:"ID"`
	Title     string `json:"Title"`
	Domain    string `json:"Domain"`
	Objective string `json:"Objective"`
	Direction string `json:"Direction"`
	PoolSize  int    `json:"PoolSize"`
}

// ChallengeDetail is GET /api/v1/challenges/{id}: the challenge's
// definition (as challenges.Challenge encodes it) and figures from its
// data.
type ChallengeDetail struct {
	Challenge json.RawMessage `json:"challenge"`
	PoolSize  int             `json:"pool_size"`
	Finite    bool            `json:"finite"`
	TopSize   int             `json:"top_size"`
	Threshold float64         `json:"threshold"`
	BestValue float64         `json:"best_value"`
}

// StartRequest is the body of POST /api/v1/campaigns.
type StartRequest struct {
	Challenge   string `json:"challenge"`
	Model       string `json:"model,omitempty"`
	Budget      int    `json:"budget,omitempty"`
	TokenBudget int    `json:"token_budget,omitempty"`
	Seed        int    `json:"seed,omitempty"`
	// HPC picks the executor for simulation jobs: "local" or "slurm" ("" = the worker's default).
	HPC string `json:"hpc,omitempty"`
	// RequireApproval holds each set of lab runs until an operator approves it.
	RequireApproval bool `json:"require_approval,omitempty"`
	// Strategy is how the campaign chooses experiments: agents (the
	// default), agents-noopt, bo or random (see campaign.CampaignInput).
	Strategy string `json:"strategy,omitempty"`
	// Acquisition ("ei" or "ucb") and Batch (1 to 64 experiments chosen
	// together) steer bo; Init ("auto", "medoids[:N]", "maximin[:N]" or
	// "random:N") is the optimiser's start design, for bo and for the
	// suggestions the agents see. Empty or 0: the defaults (ei, auto, 1).
	Acquisition string `json:"acquisition,omitempty"`
	Init        string `json:"init,omitempty"`
	Batch       int    `json:"batch,omitempty"`
}

// Started is the answer to starting a campaign: its workflow and run IDs.
type Started struct {
	ID    string `json:"id"`
	RunID string `json:"run_id"`
}

// Accepted is the answer to a campaign's or portfolio's stop, pause,
// resume, approve or reject: the status it is now in. Runs counts the lab
// runs a campaign's approve or reject decided.
type Accepted struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Runs   int    `json:"runs,omitempty"`
}

// CampaignSummary is one line of GET /api/v1/campaigns.
type CampaignSummary struct {
	ID        string    `json:"id"`
	RunID     string    `json:"run_id"`
	Status    string    `json:"status"`
	Started   time.Time `json:"started"`
	Closed    time.Time `json:"closed,omitempty"`
	Challenge string    `json:"challenge,omitempty"`
	// Strategy is empty when the campaign's input could not be read.
	Strategy string `json:"strategy,omitempty"`
}

// CampaignStatus is GET /api/v1/campaigns/{id}: the workflow's status
// and how the campaign chooses experiments (see CampaignSettings).
type CampaignStatus struct {
	campaign.Status
	Strategy    string `json:"strategy,omitempty"`
	Acquisition string `json:"acquisition,omitempty"`
	Init        string `json:"init,omitempty"`
	Batch       int    `json:"batch,omitempty"`
}

// CampaignDecision is the optional body of a campaign's approve or reject.
// Iteration, when given, is the pending runs' iteration the caller saw:
// runs pending for another iteration are then not decided (409).
type CampaignDecision struct {
	Reason    string `json:"reason,omitempty"`
	Iteration int    `json:"iteration,omitempty"`
}

// ChatCreated is the answer to starting a chat session.
type ChatCreated struct {
	ID    string `json:"id"`
	Model string `json:"model"`
}

// PortfolioSummary is one line of GET /api/v1/portfolios.
type PortfolioSummary struct {
	ID      string    `json:"id"`
	Status  string    `json:"status"`
	Started time.Time `json:"started"`
	Closed  time.Time `json:"closed,omitempty"`
}

// PortfolioStarted is the answer to starting a portfolio.
type PortfolioStarted struct {
	ID        string `json:"id"`
	RunID     string `json:"run_id"`
	Campaigns int    `json:"campaigns"`
}

// PortfolioDecided is the answer to deciding a portfolio's approval.
type PortfolioDecided struct {
	ID       string `json:"id"`
	Approval string `json:"approval"`
	Status   string `json:"status"`
}

// PendingDecisionItem is one decision people owe, with the API paths that
// decide it (POST; for a campaign, send {"iteration": N} so only these
// runs are decided).
type PendingDecisionItem struct {
	waiting.PendingDecision
	Approve string `json:"approve"`
	Reject  string `json:"reject"`
}

// PendingDecisions is what GET /api/v1/approvals answers.
type PendingDecisions struct {
	Approvals []PendingDecisionItem `json:"approvals"`
	// Truncated says more running workflows exist than one listing queries.
	Truncated bool `json:"truncated,omitempty"`
}

// EvalSummary is one line of GET /api/v1/evals.
type EvalSummary struct {
	ID        string    `json:"id"`
	Generated time.Time `json:"generated"`
}

// TokenInfo is an API token as the API lists it: never its secret.
type TokenInfo struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
}

// CreatedToken is the answer to creating a token: the secret, shown only
// this once, and the token's ID (which the audit log records).
type CreatedToken struct {
	Token string `json:"token"`
	ID    string `json:"id"`
	Role  string `json:"role"`
	Name  string `json:"name"`
}
