package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/genesis-sci/genesis/api/waiting"
	"github.com/genesis-sci/genesis/internal/clip"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// what it showed. The text is data for a fence: IDs and rationales come
// from workflows and models.
func (s *Turns) pendingForPeople(ctx context.Context) (text string, shown shownDecisions) {
	shown = shownDecisions{runs: map[string]int{}, challenge: map[string]string{}, approvals: map[[2]string]bool{}, campaigns: map[string]bool{}}
	if s.temporal == nil {
		return "", shown
	}
	ds, _, err := waiting.ListPendingDecisions(ctx, s.temporal)
	if err != nil {
		return "", shown
	}
	var b strings.Builder
	for i, d := range ds {
		if i == 10 {
			fmt.Fprintf(&b, "- and %d more (see the web UI or `genesis approvals`)\n", len(ds)-i)
			break
		}
		pts, _ := json.Marshal(d.Points)
		why := ""
		if d.Why != "" {
			why = fmt.Sprintf(" (their stated reason: %s)", clip.Clip(d.Why, 200))
		}
		if d.Kind == "portfolio" {
			shown.approvals[[2]string{d.Portfolio, d.Approval}] = true
			fmt.Fprintf(&b, "- portfolio %s, approval %s for campaign %s: %s %s%s. Only an %s may decide it (approve_approval or reject_approval with portfolio_id %s and approval_id %s), or the user runs `%s`.\n",
				d.Portfolio, d.Approval, d.Campaign, d.What, clip.Clip(string(pts), 200), why, d.Role, d.Portfolio, d.Approval, d.Command)
			continue
		}
		shown.runs[d.Campaign] = d.Iteration
		shown.challenge[d.Campaign] = d.Challenge
		shown.campaigns[d.Campaign] = true
		fmt.Fprintf(&b, "- campaign %s (%s) waits for approval of %s: %s%s (approve_runs or reject_runs with campaign_id %s).\n",
			d.Campaign, d.Challenge, d.What, clip.Clip(string(pts), 300), why, d.Campaign)
	}
	return b.String(), shown
}

// maxNamedCampaigns is how many campaign IDs of a message a chat turn
// looks up.
const maxNamedCampaigns = 3

// recentCampaigns lists the newest campaigns with their status, and those
// the user's message names, when the worker has a Temporal client; each
// listed campaign is added to shown.
func (s *Turns) recentCampaigns(ctx context.Context, text string, shown *shownDecisions) string {
	if s.temporal == nil {
		return ""
	}
	var ids, states []string
	resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = '%s'", campaign.CampaignWorkflowName), PageSize: 5})
	if err == nil {
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
			states = append(states, strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")))
		}
	}
	for _, id := range campaignIDsIn(text, maxNamedCampaigns) {
		if !slices.Contains(ids, id) {
			ids, states = append(ids, id), append(states, "")
		}
	}
	var b strings.Builder
	for i, id := range ids {
		line := fmt.Sprintf("- %s: %s", id, states[i])
		v, err := s.temporal.QueryWorkflow(ctx, id, "", campaign.QueryStatus)
		var st campaign.Status
		switch {
		case err == nil && v.Get(&st) == nil:
			if states[i] == "" {
				line += map[bool]string{true: "done", false: "running"}[st.Done]
			}
			line += fmt.Sprintf(", %s, %d/%d experiments", st.Challenge, st.ExperimentsUsed, st.Budget)
			if st.Best != nil {
				line += fmt.Sprintf(", best %s %.4g", st.Objective, st.Best.Value)
			}
		case states[i] == "":
			continue // named in the message, but not a campaign this worker can reach
		}
		shown.campaigns[id] = true
		b.WriteString(line + "\n")
	}
	return b.String()
}

// campaignIDsIn finds up to n campaign IDs (campaign-…) in a message.
func campaignIDsIn(text string, n int) []string {
	var out []string
	for i := 0; len(out) < n; {
		j := strings.Index(text[i:], "campaign-")
		if j < 0 {
			break
		}
		start := i + j
		end := start
		for end < len(text) && idChar(text[end]) {
			end++
		}
		if (start == 0 || !idChar(text[start-1])) && !slices.Contains(out, text[start:end]) {
			out = append(out, text[start:end])
		}
		i = end
	}
	return out
}
