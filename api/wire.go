package api

import "github.com/genesis-sci/genesis/api/apiclient"

// The API's request and answer types are defined once, in the client
// package, and the server encodes the very types the client decodes: a
// field added on one side is on the other. The aliases keep the names
// callers of this package know.
type (
	CampaignSummary     = apiclient.CampaignSummary
	StartRequest        = apiclient.StartRequest
	CampaignStatus      = apiclient.CampaignStatus
	PortfolioSummary    = apiclient.PortfolioSummary
	PendingDecisionItem = apiclient.PendingDecisionItem
	PendingDecisions    = apiclient.PendingDecisions
)
