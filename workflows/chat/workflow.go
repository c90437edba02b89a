// Package chat is the Chat workflow: a durable conversation with the agent
// team, one turn at a time (an Update waits for the reply). Each turn is
// an activity (turn.go) that reads campaign state, pending decisions and
// memory and asks the model; the team can act for the user (actions.go),
// but only when the user's own message asks for it (guard.go). Long
// sessions continue as new with a summary.
package chat

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/internal/clip"
)

// Chat workflow names.
const (
	ChatWorkflowName = "Chat"
	// UpdateSend sends the team a message and returns its reply.
	UpdateSend = "send"
	// QueryChat returns the conversation.
	QueryChat = "chat"
	// SignalClose ends a chat session.
	SignalClose = "close"
)

// Chat limits.
const (
	MaxChatMessageBytes = 4000
	// chatKeep is how many messages go to the model; chatRollover is how
	// many a run keeps before it continues as new with a summary.
	chatKeep     = 12
	chatRollover = 60
)

// ChatMessage is one message of a chat session.
type ChatMessage struct {
	Role   string      `json:"role"` // user or assistant
	Text   string      `json:"text"`
	Time   time.Time   `json:"time"`
	Action *ChatAction `json:"action,omitempty"`
}

// ChatAction is something the team did for the user in a turn.
type ChatAction struct {
	Kind       string `json:"kind"` // start_campaign, stop_campaign, approve_runs, reject_runs, approve_approval or reject_approval
	Challenge  string `json:"challenge,omitempty"`
	Budget     int    `json:"budget,omitempty"`
	CampaignID string `json:"campaign_id,omitempty"`
	// Iteration is the pending runs' iteration an approval is about.
	Iteration int `json:"iteration,omitempty"`
	// PortfolioID and ApprovalID name a portfolio approval to decide.
	PortfolioID string `json:"portfolio_id,omitempty"`
	ApprovalID  string `json:"approval_id,omitempty"`
	Result      string `json:"result,omitempty"`
	// By is who asked for it: the sender's API token ID (see Caller).
	By string `json:"by,omitempty"`
}

// Caller is who asked for something, as the API authenticated them: the
// sender of a chat message, whom the chat acts for with their role (a
// portfolio checks it).
type Caller struct {
	By   string `json:"by"`
	Role string `json:"role"`
}

// ChatInput starts (or continues) a chat session.
type ChatInput struct {
	Model string `json:"model"`
	// Summary carries earlier turns across continue-as-new.
	Summary  string        `json:"summary,omitempty"`
	Messages []ChatMessage `json:"messages,omitempty"`
}

// ChatState is what the chat query returns.
type ChatState struct {
	ID       string        `json:"id"`
	Model    string        `json:"model"`
	Summary  string        `json:"summary,omitempty"`
	Messages []ChatMessage `json:"messages"`
	Busy     bool          `json:"busy"`
	Closed   bool          `json:"closed"`
	Tokens   int           `json:"tokens"`
}

// ChatReply is the result of one send.
type ChatReply struct {
	Text   string      `json:"text"`
	Action *ChatAction `json:"action,omitempty"`
}

// ValidateChatMessage checks a user message.
func ValidateChatMessage(text string) error {
	switch {
	case strings.TrimSpace(text) == "":
		return errors.New("the message is empty")
	case len(text) > MaxChatMessageBytes:
		return fmt.Errorf("the message is %d bytes; at most %d", len(text), MaxChatMessageBytes)
	}
	return nil
}

// ChatWorkflow is a durable chat session with the agent team: one turn at
// a time (an Update waits for the reply), each turn an activity that reads
// campaign state and memory; the team can start or stop campaigns for the
// user. Long sessions continue as new, keeping a summary.
func ChatWorkflow(ctx workflow.Context, in ChatInput) error {
	st := &ChatState{ID: workflow.GetInfo(ctx).WorkflowExecution.ID, Model: in.Model, Summary: in.Summary, Messages: in.Messages}
	if st.Messages == nil {
		st.Messages = []ChatMessage{}
	}
	if err := workflow.SetQueryHandler(ctx, QueryChat, func() (ChatState, error) { return *st, nil }); err != nil {
		return err
	}
	c := &session{st: st, mu: workflow.NewMutex(ctx)}
	// from is absent (zero) in messages sent before it existed.
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateSend, c.send,
		workflow.UpdateHandlerOptions{Validator: func(text string, _ Caller) error { return ValidateChatMessage(text) }}); err != nil {
		return err
	}
	closeCh := workflow.GetSignalChannel(ctx, SignalClose)
	workflow.Go(ctx, func(gctx workflow.Context) {
		closeCh.Receive(gctx, nil)
		st.Closed = true
	})
	if err := workflow.Await(ctx, func() bool { return st.Closed || len(st.Messages) >= chatRollover }); err != nil {
		return err
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	if st.Closed {
		return nil
	}
	return workflow.NewContinueAsNewError(ctx, ChatWorkflow, rollover(st))
}

// session is a chat run's state and the lock that keeps its turns one at
// a time.
type session struct {
	st *ChatState
	mu workflow.Mutex
}

// send is one turn: the user's message, the team's reply (a ChatTurn
// activity), and the action it asks for, checked again here and taken.
func (c *session) send(ctx workflow.Context, text string, from Caller) (ChatReply, error) {
	st := c.st
	if err := c.mu.Lock(ctx); err != nil {
		return ChatReply{}, err
	}
	defer c.mu.Unlock()
	st.Busy = true
	defer func() { st.Busy = false }()
	st.Messages = append(st.Messages, ChatMessage{Role: "user", Text: text, Time: workflow.Now(ctx)})
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Minute, HeartbeatTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 4, NonRetryableErrorTypes: []string{llm.KindNotFound, llm.KindBadRequest, llm.KindAuth}}})
	var turn ChatTurnResult
	if err := workflow.ExecuteActivity(actx, ChatTurnActivity, ChatTurnInput{Chat: st.ID, Model: st.Model, Summary: st.Summary,
		Messages: lastMessages(st.Messages, chatKeep)}).Get(ctx, &turn); err != nil {
		msg := "The team could not answer just now (" + shortenErr(err) + "). Please try again."
		st.Messages = append(st.Messages, ChatMessage{Role: "assistant", Text: msg, Time: workflow.Now(ctx)})
		return ChatReply{Text: msg}, nil
	}
	st.Tokens += turn.Tokens
	reply := ChatReply{Text: turn.Reply, Action: turn.Action}
	if act := turn.Action; act != nil {
		// The activity's guard, again in the workflow: the action must
		// be what this message asks for (guard.go). Histories recorded
		// before it replay as they ran.
		why := ""
		if effectful(act.Kind) && workflow.GetVersion(ctx, chatGuardChange, workflow.DefaultVersion, 1) == 1 {
			why = chatAsked(text, act.Kind, actionNames(act)...)
		}
		if why != "" {
			reply.Action = nil
			reply.Text = strings.TrimSpace(reply.Text + "\n\n(I did nothing: " + why + ".)")
		} else {
			act.By = from.By
			act.Result = runChatAction(ctx, st.ID, st.Model, from, act)
			reply.Text = strings.TrimSpace(reply.Text + "\n\n" + act.Result)
		}
	}
	st.Messages = append(st.Messages, ChatMessage{Role: "assistant", Text: reply.Text, Time: workflow.Now(ctx), Action: reply.Action})
	return reply, nil
}

// rollover is the next run's input when a long chat continues as new: the
// last turns, and a summary of the rest.
func rollover(st *ChatState) ChatInput {
	keep := lastMessages(st.Messages, chatKeep)
	summary := st.Summary
	for _, m := range st.Messages[:len(st.Messages)-len(keep)] {
		if m.Role == "user" {
			summary += "\n- user: " + clip.Clip(m.Text, 160)
		} else if m.Action != nil {
			summary += "\n- team: " + clip.Clip(m.Action.Result, 160)
		}
	}
	if len(summary) > 4000 {
		summary = summary[len(summary)-4000:]
	}
	return ChatInput{Model: st.Model, Summary: strings.TrimSpace(summary), Messages: keep}
}

// chatGuardChange is the workflow.GetVersion change that added the
// workflow's own check of a chat action (chatAsked).
const chatGuardChange = "chat-guard"

// sender names who sent a chat message, for the events of what the chat
// does for them: their token ID and the chat.
func sender(from Caller, chatID string) string {
	by := from.By
	if by == "" {
		by = "an unknown sender"
	}
	return by + " in chat " + chatID
}

func lastMessages(ms []ChatMessage, n int) []ChatMessage {
	if len(ms) > n {
		ms = ms[len(ms)-n:]
	}
	return append([]ChatMessage(nil), ms...)
}

func shortenErr(err error) string { return clip.Clip(err.Error(), 160) }

// Register registers the Chat workflow under its name.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(ChatWorkflow, workflow.RegisterOptions{Name: ChatWorkflowName})
}
