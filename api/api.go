// Package api is Genesis's HTTP API, served by `genesis dev`. It starts
// campaigns as Temporal workflows and reports their live status from the
// workflow's status query. The API issue grows it (auth, chat, watch, UI);
// what is here is real and tested.
package api

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// Server serves the API.
type Server struct {
	Temporal client.Client
	Catalog  *challenges.Catalog
	// DefaultModel is used when a start request names none.
	DefaultModel string
	// Tokens authenticates callers (nil disables auth: tests of the bare
	// handlers only); Audit records every state-changing call.
	Tokens *Tokens
	Audit  *Audit
	// Memory and Embedder serve memory search (optional).
	Memory   memory.Store
	Embedder memory.Embedder
	// EvalsDir holds eval directories (each with report.json).
	EvalsDir string
	// WatchEvery is how often a watch polls the campaign (default 1 s).
	WatchEvery time.Duration
	// Streams, shared with a worker in the same process, streams chat
	// replies as the model writes them (optional).
	Streams *Streams

	statusCache
	// conns guards the connections of the server NewHTTPServer makes.
	conns *connGuard
}

// maxBody bounds request bodies.
const maxBody = 64 << 10

// route is one endpoint with the role it needs ("" = public).
type route struct {
	method, pattern, role string
	h                     http.HandlerFunc
}

func (s *Server) routes() []route {
	return []route{
		{"GET", "/health", "", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "time": time.Now().UTC()})
		}},
		{"GET", "/openapi.json", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(openAPI)
		}},
		{"GET", "/api/v1/challenges", RoleViewer, s.listChallenges},
		{"GET", "/api/v1/challenges/{id}", RoleViewer, s.getChallenge},
		{"GET", "/api/v1/campaigns", RoleViewer, s.listCampaigns},
		{"POST", "/api/v1/campaigns", RoleOperator, s.startCampaign},
		{"GET", "/api/v1/campaigns/{id}", RoleViewer, s.getCampaign},
		{"GET", "/api/v1/campaigns/{id}/watch", RoleViewer, s.watchCampaign},
		{"POST", "/api/v1/campaigns/{id}/stop", RoleOperator, s.stopCampaign},
		{"POST", "/api/v1/campaigns/{id}/pause", RoleOperator, s.signal(campaign.SignalPause, "paused")},
		{"POST", "/api/v1/campaigns/{id}/resume", RoleOperator, s.signal(campaign.SignalResume, "resumed")},
		{"POST", "/api/v1/campaigns/{id}/approve", RoleOperator, s.decide(true)},
		{"POST", "/api/v1/campaigns/{id}/reject", RoleOperator, s.decide(false)},
		{"POST", "/api/v1/chats", RoleOperator, s.createChat},
		{"GET", "/api/v1/chats/{id}", RoleViewer, s.getChat},
		{"POST", "/api/v1/chats/{id}/messages", RoleOperator, s.sendChat},
		{"GET", "/api/v1/memory/search", RoleViewer, s.searchMemory},
		{"GET", "/api/v1/evals", RoleViewer, s.listEvals},
		{"GET", "/api/v1/evals/{id}", RoleViewer, s.getEval},
		{"GET", "/api/v1/approvals", RoleViewer, s.listPendingDecisions},
		{"GET", "/api/v1/portfolios", RoleViewer, s.listPortfolios},
		{"POST", "/api/v1/portfolios", RoleOperator, s.startPortfolio},
		{"GET", "/api/v1/portfolios/{id}", RoleViewer, s.getPortfolio},
		{"POST", "/api/v1/portfolios/{id}/stop", RoleOperator, s.stopPortfolio},
		{"POST", "/api/v1/portfolios/{id}/pause", RoleOperator, s.pausePortfolio(true)},
		{"POST", "/api/v1/portfolios/{id}/resume", RoleOperator, s.pausePortfolio(false)},
		{"POST", "/api/v1/portfolios/{id}/approvals/{approval}/approve", RoleOperator, s.decidePortfolio(true)},
		{"POST", "/api/v1/portfolios/{id}/approvals/{approval}/reject", RoleOperator, s.decidePortfolio(false)},
		{"GET", "/api/v1/tokens", RoleAdmin, s.listTokens},
		{"POST", "/api/v1/tokens", RoleAdmin, s.createToken},
		{"DELETE", "/api/v1/tokens/{id}", RoleAdmin, s.revokeToken},
	}
}

// Handler returns the HTTP handler: the routes, the web UI, JSON 405s
// (with Allow) for known paths asked with another method, a JSON 404 for
// everything else, and the security headers on every answer. Serve it
// with NewHTTPServer, which adds timeouts and caps unauthenticated
// connections.
func (s *Server) Handler() http.Handler {
	if s.conns == nil {
		s.conns = &connGuard{}
	}
	mux := http.NewServeMux()
	allow := map[string][]string{}
	var paths []string
	add := func(method, pattern string, h http.HandlerFunc) {
		mux.HandleFunc(method+" "+pattern, h)
		if _, ok := allow[pattern]; !ok {
			paths = append(paths, pattern)
		}
		allow[pattern] = append(allow[pattern], method)
	}
	for _, rt := range s.routes() {
		h := rt.h
		if rt.role != "" {
			h = s.require(rt.role, h)
		}
		add(rt.method, rt.pattern, h)
	}
	for path, asset := range webAssets {
		add("GET", path, asset.serve)
	}
	for _, p := range paths {
		methods := allow[p]
		if slices.Contains(methods, "GET") {
			methods = append(methods, "HEAD")
		}
		list := strings.Join(methods, ", ")
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", list)
			writeErr(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s is not supported on %s; use %s (see GET /openapi.json)", r.Method, r.URL.Path, list))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "not_found", fmt.Sprintf("no endpoint %s %s; see GET /openapi.json", r.Method, quoteShort(r.URL.Path)))
	})
	return &handler{Handler: securityHeaders(recoverPanics(http.MaxBytesHandler(mux, maxBody))), conns: s.conns}
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody decodes a JSON request body into v, refusing unknown fields,
// fields set to null (leave a field out to mean its default) and anything
// after the object. An optional body may be empty. On failure it answers
// (413 for a body over maxBody, else 400 saying the body must be want) and
// returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool, want string) bool {
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeErr(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is larger than %d bytes", maxBody))
		return false
	case err != nil:
		writeErr(w, http.StatusBadRequest, "malformed_request", "reading the body: "+err.Error())
		return false
	case len(bytes.TrimSpace(b)) == 0:
		if optional {
			return true
		}
		writeErr(w, http.StatusBadRequest, "malformed_request", "the body is empty; it must be "+want)
		return false
	}
	if bytes.TrimSpace(b)[0] != '{' {
		writeErr(w, http.StatusBadRequest, "malformed_request", "the body must be a JSON object: "+want)
		return false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(b, &fields) == nil {
		var nulls []string
		for k, raw := range fields {
			if string(raw) == "null" {
				nulls = append(nulls, k)
			}
		}
		if len(nulls) > 0 {
			slices.Sort(nulls)
			writeErr(w, http.StatusBadRequest, "malformed_request", fmt.Sprintf("field(s) %s are null: leave a field out for its default, or give a value; the body must be %s", strings.Join(nulls, ", "), want))
			return false
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err = dec.Decode(v); err == nil && dec.More() {
		err = errors.New("data after the JSON object")
	}
	if err != nil {
		writeErr(w, http.StatusBadRequest, "malformed_request", "body must be "+want+": "+err.Error())
		return false
	}
	return true
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: msg}})
}

func (s *Server) listChallenges(w http.ResponseWriter, r *http.Request) {
	type item struct {
		ID, Title, Domain, Objective, Direction string
		PoolSize                                int
	}
	var out []item
	for _, c := range s.Catalog.All() {
		out = append(out, item{c.ID, c.Title, c.Domain, c.Primary().Name, c.Primary().Direction, c.Pool().Len()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"challenges": out})
}

// StartRequest is the body of POST /api/v1/campaigns.
type StartRequest struct {
	Challenge   string `json:"challenge"`
	Model       string `json:"model,omitempty"`
	Budget      int    `json:"budget,omitempty"`
	TokenBudget int    `json:"token_budget,omitempty"`
	Seed        int    `json:"seed,omitempty"`
	// HPC picks the executor for simulation jobs: "local" or "slurm" ("" = the worker's default).
	HPC string `json:"hpc,omitempty"`
	// RequireApproval holds each set of lab runs until an operator approves it.
	RequireApproval bool `json:"require_approval,omitempty"`
	// Strategy is how the campaign chooses experiments: agents (the
	// default), agents-noopt, bo or random (see campaign.CampaignInput).
	Strategy string `json:"strategy,omitempty"`
	// Acquisition ("ei" or "ucb") and Batch (1 to 64 experiments chosen
	// together) steer bo; Init ("auto", "medoids[:N]", "maximin[:N]" or
	// "random:N") is the optimiser's start design, for bo and for the
	// suggestions the agents see. Empty or 0: the defaults (ei, auto, 1).
	Acquisition string `json:"acquisition,omitempty"`
	Init        string `json:"init,omitempty"`
	Batch       int    `json:"batch,omitempty"`
}

func (s *Server) startCampaign(w http.ResponseWriter, r *http.Request) {
	var req StartRequest
	if !decodeBody(w, r, &req, false, `JSON like {"challenge": "crossed-barrel-toughness", "budget": 30}`) {
		return
	}
	if _, err := s.Catalog.Get(req.Challenge); err != nil {
		writeErr(w, http.StatusUnprocessableEntity, "unknown_challenge", err.Error())
		return
	}
	if req.Budget < 0 || req.TokenBudget < 0 {
		writeErr(w, http.StatusUnprocessableEntity, "invalid_budget", "budget and token_budget must be ≥ 0 (0 means the challenge's default)")
		return
	}
	if req.HPC != "" && req.HPC != "local" && req.HPC != "slurm" {
		writeErr(w, http.StatusUnprocessableEntity, "invalid_hpc", fmt.Sprintf("hpc %q must be \"local\" or \"slurm\" (or empty for the worker's default)", req.HPC))
		return
	}
	in := campaign.CampaignInput{Challenge: req.Challenge, Model: req.Model, Budget: challenges.Budget{Experiments: req.Budget, Tokens: req.TokenBudget}, Seed: req.Seed, HPC: req.HPC,
		RequireApproval: req.RequireApproval, Strategy: req.Strategy, Acquisition: req.Acquisition, Init: req.Init, Batch: req.Batch,
		StartedBy: s.caller(r).By + " through the API"}
	if err := CheckStrategy(&in); err != nil {
		field := "strategy"
		if se := (*StrategyError)(nil); errors.As(err, &se) {
			field = se.Field
		}
		writeErr(w, http.StatusUnprocessableEntity, "invalid_"+field, err.Error())
		return
	}
	// bo and random call no model: none is named for them.
	if in.Model == "" && in.Strategy != campaign.StrategyBO && in.Strategy != campaign.StrategyRandom {
		in.Model = s.DefaultModel
	}
	id := NewCampaignID(req.Challenge)
	run, err := s.Temporal.ExecuteWorkflow(r.Context(), client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, campaign.CampaignWorkflowName, in)
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, "temporal_unavailable", "could not start the campaign workflow: "+err.Error())
		return
	}
	noteCreated(r, run.GetID(), "strategy "+cmp.Or(in.Strategy, campaign.StrategyAgents))
	writeJSON(w, http.StatusAccepted, map[string]string{"id": run.GetID(), "run_id": run.GetRunID()})
}

// NewCampaignID makes a readable, unique campaign (workflow) ID.
// A random suffix keeps IDs unique when many start in the same millisecond.
func NewCampaignID(challenge string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("campaign-%s-%s%x", challenge, strings.ToLower(time.Now().UTC().Format("20060102T150405.000")), b)
}

func (s *Server) getCampaign(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !checkID(w, "campaign", id) {
		return
	}
	st, err := s.status(r, id)
	if err != nil {
		s.writeTemporalErr(w, r, err, campaign.CampaignWorkflowName, id, fmt.Sprintf("no campaign %q", id))
		return
	}
	writeJSON(w, http.StatusOK, s.campaignStatus(r.Context(), id, st))
}

func (s *Server) stopCampaign(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !checkID(w, "campaign", id) {
		return
	}
	if err := s.signalKind(r, campaign.CampaignWorkflowName, id, campaign.SignalStop, "stopped through the API"); err != nil {
		s.writeTemporalErr(w, r, err, campaign.CampaignWorkflowName, id, fmt.Sprintf("no running campaign %q", id))
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": "stopping"})
}
