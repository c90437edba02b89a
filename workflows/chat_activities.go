package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/tools"
)

// ChatTurnInput is one chat turn.
type ChatTurnInput struct {
	Chat     string        `json:"chat"`
	Model    string        `json:"model"`
	Summary  string        `json:"summary,omitempty"`
	Messages []ChatMessage `json:"messages"`
}

// ChatProgress is a running ChatTurn's heartbeat: the reply so far, as the
// model writes it. An API in another process than the worker reads it
// from the chat's pending activity (DescribeWorkflowExecution); heartbeats
// go at most every HeartbeatThrottle.
type ChatProgress struct {
	Reply string `json:"reply"`
	// Attempt is the activity attempt that wrote it: Temporal keeps the
	// last heartbeat across retries, so a reader compares it with the
	// running attempt.
	Attempt int32 `json:"attempt"`
}

// ChatTurnActivity is the name of the activity that answers a chat turn.
const ChatTurnActivity = "ChatTurn"

// ChatTurnResult is the team's answer, and an action it wants taken.
type ChatTurnResult struct {
	Reply  string      `json:"reply"`
	Action *ChatAction `json:"action,omitempty"`
	Tokens int         `json:"tokens"`
}

// chatOutput is what the model must reply with.
type chatOutput struct {
	Reply  string `json:"reply" jsonschema:"description=the answer to the user, plain text"`
	Action struct {
		Kind        string `json:"kind" jsonschema:"enum=none,enum=start_campaign,enum=stop_campaign,enum=approve_runs,enum=reject_runs,enum=approve_approval,enum=reject_approval"`
		Challenge   string `json:"challenge,omitempty"`
		Budget      int    `json:"budget,omitempty" jsonschema:"minimum=0,maximum=200"`
		CampaignID  string `json:"campaign_id,omitempty"`
		PortfolioID string `json:"portfolio_id,omitempty"`
		ApprovalID  string `json:"approval_id,omitempty"`
	} `json:"action"`
}

const chatSystem = `You are the coordinator of Genesis, a team of five AI agents (planner, hypothesis, simulation-operator, lab-operator, analyst) that run closed-loop discovery campaigns on scientific challenges, with a robotic lab and HPC simulations.
You talk with a scientist. Answer from the campaign state and memories below; say when you do not know. Keep answers short and concrete.
You can act for the user: start a campaign (action start_campaign with a challenge ID from the list and a budget of lab experiments), stop one (action stop_campaign with its campaign ID), approve or reject the lab runs a campaign is waiting on (approve_runs or reject_runs with its campaign ID), or approve or reject a portfolio's pending approval (approve_approval or reject_approval with its portfolio_id and approval_id). When something waits for approval, tell the user what it wants to run and ask. Only act when the user asks for it.
Reply with one JSON object: {"reply": "...", "action": {"kind": "none"}}.`

// ChatTurn answers one chat message with the model, grounded in the
// challenge catalog, recent campaigns and memory.
func (a *Activities) ChatTurn(ctx context.Context, in ChatTurnInput) (ChatTurnResult, error) {
	m, err := a.model(in.Model)
	if err != nil {
		return ChatTurnResult{}, err
	}
	// The heartbeat carries the reply so far, for an API in another
	// process (see ChatProgress); the timer keeps a slow first token alive.
	var progress struct {
		sync.Mutex
		ChatProgress
	}
	if activity.IsActivity(ctx) {
		progress.Attempt = activity.GetInfo(ctx).Attempt
	}
	details := func() any {
		progress.Lock()
		defer progress.Unlock()
		return progress.ChatProgress
	}
	stop := heartbeatEvery(ctx, 5*time.Second, details)
	defer stop()
	var b strings.Builder
	b.WriteString("Challenges: ")
	for i, c := range a.Catalog.All() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%s %s)", c.ID, c.Primary().Direction, c.Primary().Name)
	}
	b.WriteString("\n")
	if camps := a.recentCampaigns(ctx); camps != "" {
		b.WriteString("Recent campaigns:\n" + camps)
	}
	pending, shown := a.pendingForPeople(ctx)
	if pending != "" {
		b.WriteString("Waiting for a person's decision:\n" + pending)
	}
	// lastText is the message this turn answers.
	lastText := ""
	for i := len(in.Messages) - 1; i >= 0; i-- {
		if in.Messages[i].Role == "user" {
			lastText = in.Messages[i].Text
			break
		}
	}
	if a.Memory != nil && a.Embedder != nil && lastText != "" {
		if hits, err := a.recall(ctx, lastText, memory.Filter{}, 4); err == nil && len(hits) > 0 {
			b.WriteString("Memories:\n")
			for _, h := range hits {
				fmt.Fprintf(&b, "- %s (%s, %s): %s\n", h.Kind, h.Challenge, h.Agent, shorten(h.Text, 300))
			}
		}
	}
	if in.Summary != "" {
		b.WriteString("Earlier in this conversation:\n" + in.Summary + "\n")
	}
	msgs := []llm.Message{{Role: "system", Content: chatSystem + "\n\n" + b.String()}}
	for _, cm := range in.Messages {
		role := "user"
		if cm.Role == "assistant" {
			role = "assistant"
		}
		msgs = append(msgs, llm.Message{Role: role, Content: cm.Text})
	}
	schema := tools.SchemaFor(chatOutput{})
	req := llm.Request{Messages: msgs, Schema: schema, SchemaName: "chat_reply", Temperature: a.Temperature, MaxTokens: 400}
	var resp llm.Response
	if sm, ok := m.(llm.Streamer); ok {
		// The reply's text goes to listeners as the model writes it: in
		// this process through Streams, elsewhere through the heartbeat.
		var raw strings.Builder
		last := ""
		resp, err = sm.GenerateStream(ctx, req, func(delta string) {
			raw.WriteString(delta)
			if p := partialReply(raw.String()); p != last {
				last = p
				a.Streams.Publish(in.Chat, p)
				progress.Lock()
				progress.Reply = p
				progress.Unlock()
				heartbeat(ctx, details())
			}
		})
		// A server that refuses to stream this request (some
		// OpenAI-compatible ones refuse stream options or a schema with a
		// stream) still answers it whole.
		if e, ok := llm.AsError(err); ok && e.Kind == llm.KindBadRequest {
			resp, err = m.Generate(ctx, req)
		}
	} else {
		resp, err = m.Generate(ctx, req)
	}
	if err != nil {
		if e, ok := llm.AsError(err); ok && !e.Retryable {
			return ChatTurnResult{}, temporal.NewNonRetryableApplicationError(e.Error(), e.Kind, nil)
		}
		return ChatTurnResult{}, err
	}
	out := ChatTurnResult{Tokens: resp.Usage.Total()}
	var parsed chatOutput
	if err := json.Unmarshal([]byte(stripJSON(resp.Content)), &parsed); err != nil || strings.TrimSpace(parsed.Reply) == "" {
		// A reply cut off by the length limit still has its text: keep
		// that (what was streamed), marked as cut, rather than raw JSON.
		if p := strings.TrimSpace(partialReply(resp.Content)); p != "" {
			out.Reply = p + " …"
			return out, nil
		}
		out.Reply = strings.TrimSpace(resp.Content)
		if out.Reply == "" {
			out.Reply = "(the model gave no answer)"
		}
		return out, nil
	}
	out.Reply = strings.TrimSpace(parsed.Reply)
	// Only well-formed actions are taken; anything else becomes a note.
	switch act := parsed.Action; act.Kind {
	case "start_campaign":
		c, err := a.Catalog.Get(act.Challenge)
		switch {
		case err != nil:
			out.Reply += fmt.Sprintf("\n\n(I did not start a campaign: %q is not a known challenge.)", act.Challenge)
		case act.Budget < 1 || act.Budget > 200:
			out.Action = &ChatAction{Kind: act.Kind, Challenge: c.ID, Budget: c.Budget.Experiments}
		default:
			out.Action = &ChatAction{Kind: act.Kind, Challenge: c.ID, Budget: act.Budget}
		}
	case "approve_runs", "reject_runs":
		// Only runs this turn showed are decided, and exactly those: the
		// decision names their iteration.
		if it, ok := shown.runs[act.CampaignID]; ok {
			out.Action = &ChatAction{Kind: act.Kind, CampaignID: act.CampaignID, Iteration: it}
		} else {
			out.Reply += fmt.Sprintf("\n\n(I decided nothing: campaign %q had no lab runs waiting for approval when you asked.)", act.CampaignID)
		}
	case "approve_approval", "reject_approval":
		// A portfolio decision is taken with the sender's role, so the
		// message itself must name the approval: the model never applies
		// it to an earlier message, someone else's, or the agents' text.
		switch {
		case !shown.approvals[[2]string{act.PortfolioID, act.ApprovalID}]:
			out.Reply += fmt.Sprintf("\n\n(I decided nothing: portfolio %q had no approval %q waiting when you asked.)", act.PortfolioID, act.ApprovalID)
		case !namesWord(lastText, act.ApprovalID):
			out.Reply += fmt.Sprintf("\n\n(I decided nothing: to decide approval %s of portfolio %s, name it in your message, e.g. \"approve %s\".)", act.ApprovalID, act.PortfolioID, act.ApprovalID)
		default:
			out.Action = &ChatAction{Kind: act.Kind, PortfolioID: act.PortfolioID, ApprovalID: act.ApprovalID}
		}
	case "stop_campaign":
		if strings.HasPrefix(act.CampaignID, "campaign-") {
			out.Action = &ChatAction{Kind: act.Kind, CampaignID: act.CampaignID}
		} else {
			out.Reply += "\n\n(I did nothing: tell me the campaign's ID, campaign-….)"
		}
	}
	activity.GetLogger(ctx).Debug("chat turn", "chat", in.Chat, "tokens", out.Tokens)
	return out, nil
}

func stripJSON(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "```json")
	s = strings.TrimPrefix(s, "```")
	s = strings.TrimSuffix(s, "```")
	return strings.TrimSpace(s)
}

// shownDecisions is what a chat turn showed the model as waiting: the
// iteration of each campaign's runs, and the portfolio approvals.
type shownDecisions struct {
	runs      map[string]int
	approvals map[[2]string]bool // {portfolio, approval}
}

// namesWord reports whether text contains word on its own (not inside a
// longer word or ID).
func namesWord(text, word string) bool {
	for i := 0; word != ""; {
		j := strings.Index(text[i:], word)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		if (start == 0 || !idChar(text[start-1])) && (end == len(text) || !idChar(text[end])) {
			return true
		}
		i = start + 1
	}
	return false
}

func idChar(c byte) bool {
	return c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// pendingForPeople lists the decisions people owe (ListPendingDecisions),
// with how each is decided, when the worker has a Temporal client, and
// what it showed.
func (a *Activities) pendingForPeople(ctx context.Context) (text string, shown shownDecisions) {
	shown = shownDecisions{runs: map[string]int{}, approvals: map[[2]string]bool{}}
	if a.Temporal == nil {
		return "", shown
	}
	ds, _, err := ListPendingDecisions(ctx, a.Temporal)
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
		// The rationale is model-written: quoted, and short.
		why := ""
		if d.Why != "" {
			why = fmt.Sprintf(" (their stated reason, quoted: %q)", shorten(d.Why, 200))
		}
		if d.Kind == "portfolio" {
			shown.approvals[[2]string{d.Portfolio, d.Approval}] = true
			fmt.Fprintf(&b, "- portfolio %s, approval %s for campaign %s: %s %s%s. Only an %s may decide it: you may approve_approval or reject_approval with portfolio_id %s and approval_id %s when the user's message names %s (the portfolio checks the user's role), or the user runs `%s`.\n",
				d.Portfolio, d.Approval, d.Campaign, d.What, shorten(string(pts), 200), why, d.Role, d.Portfolio, d.Approval, d.Approval, d.Command)
			continue
		}
		shown.runs[d.Campaign] = d.Iteration
		fmt.Fprintf(&b, "- campaign %s (%s) waits for approval of %s: %s%s. You may approve_runs or reject_runs with campaign_id %s when the user asks.\n",
			d.Campaign, d.Challenge, d.What, shorten(string(pts), 300), why, d.Campaign)
	}
	return b.String(), shown
}

// recentCampaigns lists the newest campaigns with their status, when the
// worker has a Temporal client.
func (a *Activities) recentCampaigns(ctx context.Context) string {
	if a.Temporal == nil {
		return ""
	}
	resp, err := a.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = '%s'", CampaignWorkflowName), PageSize: 5})
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, e := range resp.GetExecutions() {
		id := e.GetExecution().GetWorkflowId()
		line := fmt.Sprintf("- %s: %s", id, strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")))
		if v, err := a.Temporal.QueryWorkflow(ctx, id, "", QueryStatus); err == nil {
			var st Status
			if v.Get(&st) == nil {
				line += fmt.Sprintf(", %d/%d experiments", st.ExperimentsUsed, st.Budget)
				if st.Best != nil {
					line += fmt.Sprintf(", best %s %.4g", st.Objective, st.Best.Value)
				}
			}
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// DecidePortfolioInput is a chat user's decision on a portfolio approval.
type DecidePortfolioInput struct {
	Portfolio string            `json:"portfolio"`
	Decision  PortfolioDecision `json:"decision"`
}

// DecidePortfolio passes a decision to a portfolio (its decide Update).
// The portfolio's validator checks it (the approval is still pending; an
// escalated one needs an admin): a refusal comes back as the result's
// text, not an error, so the chat can tell the user.
func (a *Activities) DecidePortfolio(ctx context.Context, in DecidePortfolioInput) (string, error) {
	if a.Temporal == nil {
		return "", temporal.NewNonRetryableApplicationError("this worker has no Temporal client to reach portfolios", "NoClient", nil)
	}
	// One update ID for every attempt: a retry after a timeout gets the
	// first attempt's outcome instead of deciding (or failing) again.
	info := activity.GetInfo(ctx)
	h, err := a.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: in.Portfolio, UpdateName: UpdateDecide,
		UpdateID: "chat-decide-" + info.WorkflowExecution.ID + "-" + info.ActivityID,
		Args:     []any{in.Decision}, WaitForStage: client.WorkflowUpdateStageCompleted})
	var verdict string
	if err == nil {
		err = h.Get(ctx, &verdict)
	}
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return fmt.Sprintf("portfolio %s is not running", in.Portfolio), nil
		}
		// The validator's refusal (or the handler's error) comes back as
		// an application error.
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			return "the portfolio refused: " + shortenErr(err), nil
		}
		return "", err
	}
	return verdict, nil
}
