package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/genesis-sci/genesis/memory"
)

// Challenges lists the challenges the server's catalog holds.
func (c *Client) Challenges(ctx context.Context) ([]ChallengeSummary, error) {
	var out struct {
		Challenges []ChallengeSummary `json:"challenges"`
	}
	return out.Challenges, c.do(ctx, http.MethodGet, "/api/v1/challenges", nil, &out)
}

// Challenge is one challenge's definition and figures from its data.
func (c *Client) Challenge(ctx context.Context, id string) (ChallengeDetail, error) {
	var out ChallengeDetail
	return out, c.do(ctx, http.MethodGet, path("/api/v1/challenges", id), nil, &out)
}

// PendingDecisions lists every decision people owe across running
// campaigns and portfolios (the server reuses one listing for 2 s).
func (c *Client) PendingDecisions(ctx context.Context) (PendingDecisions, error) {
	var out PendingDecisions
	return out, c.do(ctx, http.MethodGet, "/api/v1/approvals", nil, &out)
}

// MemoryQuery is a search of the shared memory: Q is what to look for;
// the other fields narrow it (empty: any). K is how many hits (1 to 50;
// 0 = the server's default of 5).
type MemoryQuery struct {
	Q                                string
	Kind, Challenge, Campaign, Agent string
	K                                int
}

// SearchMemory searches the shared memory (records without their vectors).
func (c *Client) SearchMemory(ctx context.Context, q MemoryQuery) ([]memory.Hit, error) {
	v := url.Values{"q": {q.Q}}
	for k, s := range map[string]string{"kind": q.Kind, "challenge": q.Challenge, "campaign": q.Campaign, "agent": q.Agent} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.K != 0 {
		v.Set("k", fmt.Sprint(q.K))
	}
	var out struct {
		Hits []memory.Hit `json:"hits"`
	}
	return out.Hits, c.do(ctx, http.MethodGet, "/api/v1/memory/search?"+v.Encode(), nil, &out)
}

// Evals lists the eval reports, newest first.
func (c *Client) Evals(ctx context.Context) ([]EvalSummary, error) {
	var out struct {
		Evals []EvalSummary `json:"evals"`
	}
	return out.Evals, c.do(ctx, http.MethodGet, "/api/v1/evals", nil, &out)
}

// Eval is one eval's report.json, as `genesis eval` wrote it.
func (c *Client) Eval(ctx context.Context, id string) (json.RawMessage, error) {
	var out json.RawMessage
	return out, c.do(ctx, http.MethodGet, path("/api/v1/evals", id), nil, &out)
}

// Tokens lists the API tokens (an admin's call; never their secrets).
func (c *Client) Tokens(ctx context.Context) ([]TokenInfo, error) {
	var out struct {
		Tokens []TokenInfo `json:"tokens"`
	}
	return out.Tokens, c.do(ctx, http.MethodGet, "/api/v1/tokens", nil, &out)
}

// CreateToken creates a token for role (viewer, operator or admin), named
// for what it is for.
func (c *Client) CreateToken(ctx context.Context, role, name string) (CreatedToken, error) {
	body := struct {
		Role string `json:"role"`
		Name string `json:"name"`
	}{role, name}
	var out CreatedToken
	return out, c.do(ctx, http.MethodPost, "/api/v1/tokens", body, &out)
}

// RevokeToken revokes the token with ID id: from the next request on it
// authenticates nothing. The last admin token cannot be revoked (409).
func (c *Client) RevokeToken(ctx context.Context, id string) (TokenInfo, error) {
	var out struct {
		Revoked TokenInfo `json:"revoked"`
	}
	return out.Revoked, c.do(ctx, http.MethodDelete, path("/api/v1/tokens", id), nil, &out)
}
