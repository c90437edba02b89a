package apiclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/genesis-sci/genesis/workflows/portfolioflow"
)

const portfolios = "/api/v1/portfolios"

// StartPortfolio starts a portfolio from a portfolio file (YAML or JSON;
// the README's "Portfolios" section gives the format). id "" lets the
// server name it after the file's name. A file the server refuses is an
// *Error with status 422 naming every problem; a taken id, 409.
func (c *Client) StartPortfolio(ctx context.Context, file []byte, id string) (PortfolioStarted, error) {
	p := portfolios
	if id != "" {
		p += "?" + url.Values{"id": {id}}.Encode()
	}
	var out PortfolioStarted
	return out, c.doRaw(ctx, http.MethodPost, p, "application/yaml", file, &out)
}

// Portfolios lists the portfolios, newest first.
func (c *Client) Portfolios(ctx context.Context) ([]PortfolioSummary, error) {
	var out struct {
		Portfolios []PortfolioSummary `json:"portfolios"`
	}
	return out.Portfolios, c.do(ctx, http.MethodGet, portfolios, nil, &out)
}

// Portfolio is a portfolio's status: each campaign's progress, spend
// against budget, and what waits for whom.
func (c *Client) Portfolio(ctx context.Context, id string) (portfolioflow.PortfolioStatus, error) {
	var out portfolioflow.PortfolioStatus
	return out, c.do(ctx, http.MethodGet, path(portfolios, id), nil, &out)
}

// StopPortfolio stops every campaign of a portfolio.
func (c *Client) StopPortfolio(ctx context.Context, id string) (Accepted, error) {
	return c.portfolioAction(ctx, id, "stop")
}

// PausePortfolio pauses a portfolio: nothing more is granted until it
// resumes (work already granted finishes).
func (c *Client) PausePortfolio(ctx context.Context, id string) (Accepted, error) {
	return c.portfolioAction(ctx, id, "pause")
}

// ResumePortfolio resumes a paused portfolio.
func (c *Client) ResumePortfolio(ctx context.Context, id string) (Accepted, error) {
	return c.portfolioAction(ctx, id, "resume")
}

func (c *Client) portfolioAction(ctx context.Context, id, verb string) (Accepted, error) {
	var out Accepted
	return out, c.do(ctx, http.MethodPost, path(portfolios, id, verb), nil, &out)
}

// DecidePortfolio approves or rejects one of a portfolio's pending
// approvals, with an optional reason for the record. An escalated
// approval needs an admin's token (403); an approval that is not pending,
// 409.
func (c *Client) DecidePortfolio(ctx context.Context, id, approval string, approve bool, reason string) (PortfolioDecided, error) {
	verb := "reject"
	if approve {
		verb = "approve"
	}
	body := struct {
		Reason string `json:"reason,omitempty"`
	}{reason}
	var out PortfolioDecided
	return out, c.do(ctx, http.MethodPost, path(portfolios, id, "approvals", approval, verb), body, &out)
}
