package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	sse "github.com/tmaxmax/go-sse"
)

const campaigns = "/api/v1/campaigns"

// StartCampaign starts a campaign (POST /api/v1/campaigns). The server
// checks the request first: a refused setting is an *Error with status
// 422 whose code names the field (invalid_strategy, invalid_batch, …).
func (c *Client) StartCampaign(ctx context.Context, req StartRequest) (Started, error) {
	var out Started
	return out, c.do(ctx, http.MethodPost, campaigns, req, &out)
}

// Campaigns lists the newest campaigns, at most limit (1 to 500; 0 = the
// server's default of 50).
func (c *Client) Campaigns(ctx context.Context, limit int) ([]CampaignSummary, error) {
	p := campaigns
	if limit != 0 {
		p += "?" + url.Values{"limit": {fmt.Sprint(limit)}}.Encode()
	}
	var out struct {
		Campaigns []CampaignSummary `json:"campaigns"`
	}
	return out.Campaigns, c.do(ctx, http.MethodGet, p, nil, &out)
}

// Campaign is a campaign's live status.
func (c *Client) Campaign(ctx context.Context, id string) (CampaignStatus, error) {
	var out CampaignStatus
	return out, c.do(ctx, http.MethodGet, path(campaigns, id), nil, &out)
}

// StopCampaign asks a campaign to stop: it finishes its current step and
// reports.
func (c *Client) StopCampaign(ctx context.Context, id string) (Accepted, error) {
	return c.campaignAction(ctx, id, "stop", nil)
}

// PauseCampaign pauses a campaign before its next iteration.
func (c *Client) PauseCampaign(ctx context.Context, id string) (Accepted, error) {
	return c.campaignAction(ctx, id, "pause", nil)
}

// ResumeCampaign resumes a paused campaign.
func (c *Client) ResumeCampaign(ctx context.Context, id string) (Accepted, error) {
	return c.campaignAction(ctx, id, "resume", nil)
}

// ApproveCampaign approves the lab runs a campaign waits on (one started
// with RequireApproval). Nothing pending, or other runs pending than
// d.Iteration's, is an *Error with status 409.
func (c *Client) ApproveCampaign(ctx context.Context, id string, d CampaignDecision) (Accepted, error) {
	return c.campaignAction(ctx, id, "approve", d)
}

// RejectCampaign rejects the lab runs a campaign waits on.
func (c *Client) RejectCampaign(ctx context.Context, id string, d CampaignDecision) (Accepted, error) {
	return c.campaignAction(ctx, id, "reject", d)
}

func (c *Client) campaignAction(ctx context.Context, id, verb string, body any) (Accepted, error) {
	var out Accepted
	return out, c.do(ctx, http.MethodPost, path(campaigns, id, verb), body, &out)
}

// WatchCampaign follows a campaign live until it ends, and returns why it
// ended. onStatus gets the status whenever it changes (first the status
// as it is). A dropped stream is reopened (see WithReconnect), so onStatus may
// see a status again; Status.Events carry sequence numbers to tell what
// is new. An "error" event from the server (a revoked token, a campaign
// that can no longer be queried) ends the watch with that error.
func (c *Client) WatchCampaign(ctx context.Context, id string, onStatus func(CampaignStatus)) (stopReason string, err error) {
	err = c.follow(ctx, path(campaigns, id, "watch"), func(e sse.Event) (bool, error) {
		switch e.Type {
		case "status":
			var st CampaignStatus
			if err := json.Unmarshal([]byte(e.Data), &st); err != nil {
				return true, fmt.Errorf("watching campaign %s: a status event is not a campaign status: %w", id, err)
			}
			onStatus(st)
		case "done":
			var d struct {
				StopReason string `json:"stop_reason"`
			}
			if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
				return true, fmt.Errorf("watching campaign %s: the done event %q is not {\"stop_reason\": …}: %w", id, e.Data, err)
			}
			stopReason = d.StopReason
			return true, nil
		case "error":
			return true, streamError(e.Data)
		}
		return false, nil
	})
	return stopReason, err
}
