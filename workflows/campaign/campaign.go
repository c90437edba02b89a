// Package campaign is the vocabulary of a discovery campaign: what starts
// one (CampaignInput, with its validation and defaults, and the classical
// strategies' plan), what it reports (Status, CampaignResult, its state),
// and the names and messages of the Campaign workflow, its signals and
// query, and its side of the portfolio protocol. The API, the CLI, evals,
// the Portfolio and Chat workflows speak it; package campaignflow is the
// workflow itself.
package campaign

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
