package api

import (
	"context"
	crand "crypto/rand"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"golang.org/x/sync/singleflight"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/campaign"
	"github.com/genesis-sci/genesis/workflows/chat"
)

// openAPI is the OpenAPI 3 description served at /openapi.json; a test
// checks it against the route table.
//
//go:embed openapi.json
var openAPI []byte

// webFiles is the single-page web UI (no build step: plain HTML, CSS and
// JavaScript, embedded in the binary). Script and style are files of their
// own so the content security policy can forbid inline code.
//
//go:embed web/index.html web/app.js web/app.css
var webFiles embed.FS

// webAsset is one file of the web UI.
type webAsset struct {
	contentType string
	body        []byte
}

func (a webAsset) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(a.body)
}

// webAssets maps the UI's URL patterns to its files.
var webAssets = func() map[string]webAsset {
	read := func(name, ct string) webAsset {
		b, err := webFiles.ReadFile("web/" + name)
		if err != nil {
			panic(err) // embedded: cannot fail
		}
		return webAsset{ct, b}
	}
	return map[string]webAsset{
		"/{$}":     read("index.html", "text/html; charset=utf-8"),
		"/app.js":  read("app.js", "text/javascript; charset=utf-8"),
		"/app.css": read("app.css", "text/css; charset=utf-8"),
	}
}()

func (s *Server) getChallenge(w http.ResponseWriter, r *http.Request) {
	c, err := s.Catalog.Get(r.PathValue("id"))
	if err != nil {
		writeErr(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"challenge": c, "pool_size": c.Pool().Len(), "finite": c.Finite(),
		"top_size": len(c.TopSet()), "threshold": c.Threshold(), "best_value": c.BestValue()})
}

// CampaignSummary is one line of GET /api/v1/campaigns.
type CampaignSummary struct {
	ID        string    `json:"id"`
	RunID     string    `json:"run_id"`
	Status    string    `json:"status"`
	Started   time.Time `json:"started"`
	Closed    time.Time `json:"closed,omitempty"`
	Challenge string    `json:"challenge,omitempty"`
	// Strategy is empty when the campaign's input could not be read.
	Strategy string `json:"strategy,omitempty"`
}

func (s *Server) listCampaigns(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if q := r.URL.Query(); q.Has("limit") {
		v := q.Get("limit")
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit %q must be an integer in [1, 500]", v))
			return
		}
		limit = n
	}
	resp, err := s.Temporal.ListWorkflow(r.Context(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = '%s'", campaign.CampaignWorkflowName), PageSize: int32(limit)})
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, "temporal_unavailable", "listing campaigns: "+err.Error())
		return
	}
	out := []CampaignSummary{}
	for _, e := range resp.GetExecutions() {
		cs := summary(e)
		if cs.Challenge == "" {
			cs.Challenge = s.portfolioChallenge(cs.ID)
		}
		out = append(out, cs)
	}
	s.addStrategies(r.Context(), out)
	writeJSON(w, http.StatusOK, map[string]any{"campaigns": out})
}

func summary(e *workflowpb.WorkflowExecutionInfo) CampaignSummary {
	cs := CampaignSummary{ID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(),
		Status: strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")), Started: e.GetStartTime().AsTime()}
	if e.GetCloseTime() != nil {
		cs.Closed = e.GetCloseTime().AsTime()
	}
	// IDs are campaign-<challenge>-<time>.
	if rest, ok := strings.CutPrefix(cs.ID, "campaign-"); ok {
		if i := strings.LastIndex(rest, "-"); i > 0 {
			cs.Challenge = rest[:i]
		}
	}
	return cs
}

// portfolioSlot finds the "-NN-" before the challenge in a portfolio
// campaign's ID (<portfolio>-NN-<challenge>, see portfolioflow.CampaignID).
var portfolioSlot = regexp.MustCompile(`-[0-9]{2}-`)

// portfolioChallenge reads the challenge from a portfolio campaign's ID, if
// it names one in the catalog.
func (s *Server) portfolioChallenge(id string) string {
	for _, loc := range portfolioSlot.FindAllStringIndex(id, -1) {
		if c, err := s.Catalog.Get(id[loc[1]:]); err == nil {
			return c.ID
		}
	}
	return ""
}

// sse writes server-sent events, each flushed at once.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

// startSSE answers 200 with an event stream.
func startSSE(w http.ResponseWriter) sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return sse{w, f}
}

// event sends one event with v as its JSON data.
func (s sse) event(name string, v any) {
	fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, jsonString(v))
	if s.f != nil {
		s.f.Flush()
	}
}

// watchCampaign streams the campaign's status as server-sent events: an
// "status" event whenever it changes, then "done" when the campaign ends.
func (s *Server) watchCampaign(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !checkID(w, "campaign", id) {
		return
	}
	if _, ok := w.(http.Flusher); !ok {
		writeErr(w, http.StatusInternalServerError, "internal", "streaming is not supported here")
		return
	}
	every := s.WatchEvery
	if every <= 0 {
		every = time.Second
	}
	var out *sse
	last := ""
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		st, err := s.status(r, id)
		if err != nil {
			if out == nil {
				s.writeTemporalErr(w, r, err, campaign.CampaignWorkflowName, id, fmt.Sprintf("no campaign %q", id))
				return
			}
			out.event("error", map[string]string{"message": err.Error()})
			return
		}
		if out == nil {
			stream := startSSE(w)
			out = &stream
		} else if !s.stillValid(r) {
			// A token revoked mid-stream ends the stream at once.
			out.event("error", map[string]string{"message": "the token was revoked"})
			return
		}
		b, _ := json.Marshal(s.campaignStatus(r.Context(), id, st))
		if string(b) != last {
			last = string(b)
			out.event("status", json.RawMessage(b))
		}
		if st.Done {
			out.event("done", map[string]string{"stop_reason": st.StopReason})
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// statusTTL is how long a campaign's status is served from cache: many
// clients watching one campaign cost one workflow query per TTL, and
// concurrent misses share one query.
const statusTTL = 200 * time.Millisecond

type statusCache struct {
	cacheMu sync.Mutex
	cache   map[string]cachedStatus
	flight  singleflight.Group
	// pending is the last listing of pending decisions (pendingFlight
	// shares one listing among concurrent callers).
	pending       *cachedPending
	pendingFlight singleflight.Group
	// settingsCache holds each campaign's settings (see settings).
	settingsCache  map[string]cachedSettings
	settingsFlight singleflight.Group
}

type cachedStatus struct {
	st campaign.Status
	at time.Time
}

func (s *Server) status(r *http.Request, id string) (campaign.Status, error) {
	s.cacheMu.Lock()
	if c, ok := s.cache[id]; ok && time.Since(c.at) < statusTTL {
		s.cacheMu.Unlock()
		return c.st, nil
	}
	s.cacheMu.Unlock()
	v, err, _ := s.flight.Do(id, func() (any, error) {
		var st campaign.Status
		q, err := s.Temporal.QueryWorkflow(context.WithoutCancel(r.Context()), id, "", campaign.QueryStatus)
		if err != nil {
			return st, err
		}
		if err := q.Get(&st); err != nil {
			return st, err
		}
		s.cacheMu.Lock()
		if s.cache == nil {
			s.cache = map[string]cachedStatus{}
		}
		if len(s.cache) > 1000 { // bound the cache; entries are cheap to refetch
			clear(s.cache)
		}
		s.cache[id] = cachedStatus{st, time.Now()}
		s.cacheMu.Unlock()
		return st, nil
	})
	if err != nil {
		return campaign.Status{}, err
	}
	return v.(campaign.Status), nil
}

func (s *Server) searchMemory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := strings.TrimSpace(q.Get("q"))
	if query == "" {
		writeErr(w, http.StatusBadRequest, "bad_request", "q is required: what to look for")
		return
	}
	if s.Memory == nil || s.Embedder == nil {
		writeErr(w, http.StatusServiceUnavailable, "memory_unavailable", "this server has no memory store")
		return
	}
	f := memory.Filter{Kind: q.Get("kind"), Challenge: q.Get("challenge"), Campaign: q.Get("campaign"), Agent: q.Get("agent")}
	if q.Has("kind") && !contains(memory.Kinds, f.Kind) {
		writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("kind %q: want one of %s", f.Kind, strings.Join(memory.Kinds, ", ")))
		return
	}
	k := 5
	if q.Has("k") {
		v := q.Get("k")
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 50 {
			writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("k %q must be an integer in [1, 50]", v))
			return
		}
		k = n
	}
	vecs, err := s.Embedder.Embed(r.Context(), []string{query})
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, "embedder_unavailable", err.Error())
		return
	}
	hits, err := s.Memory.Search(r.Context(), vecs[0], f, k)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	for i := range hits {
		hits[i].Vector = nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"hits": hits})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (s *Server) listEvals(w http.ResponseWriter, r *http.Request) {
	type item struct {
		ID        string    `json:"id"`
		Generated time.Time `json:"generated"`
	}
	out := []item{}
	ents, _ := os.ReadDir(s.EvalsDir)
	for _, e := range ents {
		if st, err := os.Stat(filepath.Join(s.EvalsDir, e.Name(), "report.json")); err == nil && e.IsDir() {
			out = append(out, item{e.Name(), st.ModTime().UTC()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Generated.After(out[j].Generated) })
	writeJSON(w, http.StatusOK, map[string]any{"evals": out})
}

func (s *Server) getEval(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		writeErr(w, http.StatusBadRequest, "bad_request", "bad eval id")
		return
	}
	b, err := os.ReadFile(filepath.Join(s.EvalsDir, id, "report.json"))
	if err != nil {
		writeErr(w, http.StatusNotFound, "not_found", fmt.Sprintf("no eval report %q; list them with GET /api/v1/evals", id))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// stillValid says whether the request's token (if the server checks
// tokens) still authenticates: a long stream checks it as it goes.
func (s *Server) stillValid(r *http.Request) bool {
	if s.Tokens == nil {
		return true
	}
	_, ok := s.Tokens.lookupRequest(r)
	return ok
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	list := s.Tokens.List()
	for i := range list {
		list[i].Hash = ""
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": list})
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Role string `json:"role"`
		Name string `json:"name"`
	}
	if !decodeBody(w, r, &req, false, `JSON like {"role": "viewer", "name": "dashboard"}`) {
		return
	}
	if rank(req.Role) < 0 {
		writeErr(w, http.StatusUnprocessableEntity, "invalid_role", fmt.Sprintf("role %q: want one of %s", req.Role, strings.Join(Roles, ", ")))
		return
	}
	if err := ValidateTokenName(req.Name); err != nil {
		writeErr(w, http.StatusUnprocessableEntity, "invalid_name", err.Error())
		return
	}
	tok, entry, err := s.Tokens.Issue(req.Role, req.Name)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "internal", "could not store the token: "+err.Error())
		return
	}
	noteCreated(r, entry.ID, "token role "+entry.Role)
	writeJSON(w, http.StatusCreated, map[string]string{"token": tok, "id": entry.ID, "role": entry.Role, "name": entry.Name})
}

// revokeToken deletes a token; from the next request on it authenticates
// nothing (streams it opened end at their next check).
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	gone, err := s.Tokens.Revoke(id)
	switch {
	case errors.Is(err, ErrNoToken):
		writeErr(w, http.StatusNotFound, "not_found", err.Error())
		return
	case errors.Is(err, ErrLastAdmin):
		writeErr(w, http.StatusConflict, "last_admin", err.Error())
		return
	case err != nil:
		writeErr(w, http.StatusInternalServerError, "internal", "could not update the token store: "+err.Error())
		return
	}
	noteCreated(r, gone.ID, "revoked token role "+gone.Role)
	gone.Hash = ""
	writeJSON(w, http.StatusOK, map[string]any{"revoked": gone})
}

// signal sends a campaign a signal without payload (pause, resume).
func (s *Server) signal(name, done string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !checkID(w, "campaign", id) {
			return
		}
		if err := s.signalKind(r, campaign.CampaignWorkflowName, id, name, nil); err != nil {
			s.writeTemporalErr(w, r, err, campaign.CampaignWorkflowName, id, fmt.Sprintf("no running campaign %q", id))
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": done})
	}
}

// decide approves or rejects the campaign's pending lab runs.
func (s *Server) decide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !checkID(w, "campaign", id) {
			return
		}
		var body struct {
			Reason string `json:"reason"`
			// Iteration, when given, is the pending runs' iteration the
			// caller saw; other runs pending now are not decided.
			Iteration int `json:"iteration"`
		}
		if !decodeBody(w, r, &body, true, `empty or {"reason": "...", "iteration": N}`) {
			return
		}
		st, err := s.status(r, id)
		if err != nil {
			s.writeTemporalErr(w, r, err, campaign.CampaignWorkflowName, id, fmt.Sprintf("no campaign %q", id))
			return
		}
		if st.Pending == nil {
			writeErr(w, http.StatusConflict, "nothing_pending", fmt.Sprintf("campaign %s has no lab runs awaiting approval", id))
			return
		}
		if body.Iteration != 0 && body.Iteration != st.Pending.Iteration {
			writeErr(w, http.StatusConflict, "changed", fmt.Sprintf("campaign %s now awaits approval of iteration %d's runs, not iteration %d's: look at them again", id, st.Pending.Iteration, body.Iteration))
			return
		}
		// The decision names the runs it is about, so runs that replace
		// them meanwhile are not decided by it.
		d := campaign.Decision{Approve: approve, By: s.caller(r).By, Reason: body.Reason, Iteration: st.Pending.Iteration}
		if err := s.Temporal.SignalWorkflow(r.Context(), id, "", campaign.SignalDecision, d); err != nil {
			s.writeTemporalErr(w, r, err, campaign.CampaignWorkflowName, id, fmt.Sprintf("no running campaign %q", id))
			return
		}
		verdict := "rejected"
		if approve {
			verdict = "approved"
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "status": verdict, "runs": len(st.Pending.Points)})
	}
}

func (s *Server) createChat(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string `json:"model"`
	}
	if !decodeBody(w, r, &req, true, `empty or {"model": "ollama:smollm2:135m"}`) {
		return
	}
	if req.Model == "" {
		req.Model = s.DefaultModel
	} else if err := agents.CheckModelSpec(req.Model); err != nil {
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
// in this process when it runs the turn (Streams), and otherwise
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
	from := chat.Caller{By: "api", Role: RoleAdmin}
	if t, ok := s.Tokens.lookupRequest(r); ok {
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
