package campaign

import "github.com/genesis-sci/genesis/portfolio"

// A campaign in a portfolio asks the Portfolio workflow before every spend
// and reports its progress and its end (campaignflow/portfolioside.go is
// its side of the protocol); these are the messages.

// Signals between a portfolio and its campaigns.
const (
	SignalPortfolioRequest  = "portfolio-request"
	SignalPortfolioProgress = "portfolio-progress"
	SignalPortfolioDone     = "portfolio-done"
	SignalGrant             = "grant"
	SignalReplan            = "replan"
	SignalBudget            = "budget"
)

// Done tells the portfolio a campaign ended (returning its last grant).
type Done struct {
	Campaign string             `json:"campaign"`
	Reason   string             `json:"reason"`
	Failed   bool               `json:"failed,omitempty"`
	Release  *portfolio.Release `json:"release,omitempty"`
}

// Report is a campaign's progress (returning its last grant).
type Report struct {
	portfolio.Progress
	Release *portfolio.Release `json:"release,omitempty"`
}
