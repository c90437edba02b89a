package api

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/chat"
)

func (s *Server) createChat(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string `json:"model"`
	}
	if !decodeBody(w, r, &req, true, `empty or {"model": "ollama:smollm2:135m"}`) {
		return
	}
	if req.Model == "" {
		req.Model = s.DefaultModel
	} else if _, err := llm.ParseSpec(req.Model); err != nil {
		writeErr(w, http.StatusUnprocessableEntity, "invalid_model", err.Error())
		return
	}
	var b [5]byte
	_, _ = crand.Read(b[:])
	id := fmt.Sprintf("chat-%s-%x", strings.ToLower(time.Now().UTC().Format("20060102T150405")), b)
	run, err := s.Temporal.ExecuteWorkflow(r.Context(), client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue},
		chat.ChatWorkflowName, chat.ChatInput{Model: req.Model})
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, "temporal_unavailable", "could not start the chat: "+err.Error())
		return
	}
	noteCreated(r, run.GetID(), "")
	writeJSON(w, http.StatusCreated, map[string]string{"id": run.GetID(), "model": req.Model})
}

func (s *Server) sendChat(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !checkID(w, "chat", id) {
		return
	}
	var req struct {
		Text string `json:"text"`
	}
	if !decodeBody(w, r, &req, false, `JSON like {"text": "how is the campaign doing?"}`) {
		return
	}
	if err := chat.ValidateChatMessage(req.Text); err != nil {
		writeErr(w, http.StatusUnprocessableEntity, "invalid_message", err.Error())
		return
	}
	// An update to another kind's workflow fails only once it reaches the
	// worker, with a message about update names: check the kind first.
	if err := s.requireKind(r.Context(), chat.ChatWorkflowName, id); err != nil {
		s.writeTemporalErr(w, r, err, chat.ChatWorkflowName, id, fmt.Sprintf("no chat %q; start one with POST /api/v1/chats", id))
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		s.sendChatStream(w, r, id, req.Text)
		return
	}
	h, err := s.Temporal.UpdateWorkflow(r.Context(), client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: chat.UpdateSend,
		Args: []any{req.Text, s.caller(r)}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		s.writeTemporalErr(w, r, err, chat.ChatWorkflowName, id, fmt.Sprintf("no open chat %q; start one with POST /api/v1/chats", id))
		return
	}
	var reply chat.ChatReply
	if err := h.Get(r.Context(), &reply); err != nil {
		writeErr(w, http.StatusUnprocessableEntity, "rejected", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, reply)
}

// sendChatStream sends a chat message and answers with server-sent
// events: "delta" events carry the reply so far as the model writes it,
// then one "reply" event carries the whole reply, as the plain send
// returns it, or an "error" event. The reply so far comes from the worker
// in this process when it runs the turn (workflows.Streams), and otherwise
// from the ChatTurn activity's heartbeat, read through Temporal until a
// local piece arrives.
func (s *Server) sendChatStream(w http.ResponseWriter, r *http.Request, id, text string) {
	var local <-chan string
	if s.Streams != nil {
		ch, cancel := s.Streams.Subscribe(id)
		defer cancel()
		local = ch
	}
	var localSeen atomic.Bool
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	remote := s.heartbeatPartials(ctx, id, &localSeen)
	h, err := s.Temporal.UpdateWorkflow(r.Context(), client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: chat.UpdateSend,
		Args: []any{text, s.caller(r)}, WaitForStage: client.WorkflowUpdateStageAccepted})
	if err != nil {
		s.writeTemporalErr(w, r, err, chat.ChatWorkflowName, id, fmt.Sprintf("no open chat %q; start one with POST /api/v1/chats", id))
		return
	}
	type result struct {
		reply chat.ChatReply
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		res.err = h.Get(r.Context(), &res.reply)
		done <- res
	}()
	out := startSSE(w)
	last, attempt := "", int32(0)
	for {
		select {
		case p := <-local:
			localSeen.Store(true)
			if p != last {
				last = p
				out.event("delta", map[string]string{"text": p})
			}
		case p := <-remote:
			// Heartbeats lag the local stream: only news goes out. A
			// retried turn starts its reply afresh.
			if p.Attempt != attempt {
				attempt, last = p.Attempt, ""
			}
			if len(p.Reply) > len(last) {
				last = p.Reply
				out.event("delta", map[string]string{"text": p.Reply})
			}
		case res := <-done:
			if res.err != nil {
				out.event("error", apiError{Code: "rejected", Message: res.err.Error()})
			} else {
				out.event("reply", res.reply)
			}
			return
		case <-r.Context().Done():
			return
		}
	}
}

// caller is who makes a request that acts for someone (a portfolio
// decision, a chat message): the token's ID and role, or an admin named
// "api" when the API runs without tokens.
func (s *Server) caller(r *http.Request) chat.Caller {
	from := chat.Caller{By: "api", Role: access.RoleAdmin}
	if t, ok := lookupRequest(s.Tokens, r); ok {
		from = chat.Caller{By: t.ID, Role: t.Role}
	}
	return from
}

// chatPoll is how often a streaming send reads the chat turn's heartbeat
// while no worker in this process streams it.
const chatPoll = 250 * time.Millisecond

// heartbeatPartials follows chat id's running turn through Temporal: each
// new reply-so-far in the ChatTurn activity's heartbeat is sent on the
// channel (only the latest is kept), until ctx ends. It stops reading once
// localSeen is set (the worker in this process streams the turn).
func (s *Server) heartbeatPartials(ctx context.Context, id string, localSeen *atomic.Bool) <-chan chat.ChatProgress {
	ch := make(chan chat.ChatProgress, 1)
	go func() {
		t := time.NewTicker(chatPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if localSeen.Load() {
				return
			}
			d, err := s.Temporal.DescribeWorkflowExecution(ctx, id, "")
			if err != nil {
				continue // the reply event reports what went wrong
			}
			for _, pa := range d.GetPendingActivities() {
				var p chat.ChatProgress
				// A heartbeat left by an earlier attempt is not this one's.
				if pa.GetActivityType().GetName() != chat.ChatTurnActivity || pa.GetHeartbeatDetails() == nil ||
					converter.GetDefaultDataConverter().FromPayloads(pa.GetHeartbeatDetails(), &p) != nil || p.Attempt != pa.GetAttempt() || p.Reply == "" {
					continue
				}
				// The reader keeps only news; only the latest waits here.
				select {
				case <-ch: // drop the stale value
				default:
				}
				ch <- p
			}
		}
	}()
	return ch
}

func (s *Server) getChat(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !checkID(w, "chat", id) {
		return
	}
	v, err := s.Temporal.QueryWorkflow(r.Context(), id, "", chat.QueryChat)
	if err != nil {
		s.writeTemporalErr(w, r, err, chat.ChatWorkflowName, id, fmt.Sprintf("no chat %q", id))
		return
	}
	var st chat.ChatState
	if err := v.Get(&st); err != nil {
		writeErr(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, st)
}
