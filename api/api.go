// Package api is Genesis's HTTP API, served by `genesis dev` and
// `genesis api`. It starts campaigns, portfolios and chats as Temporal
// workflows and reports on them through their queries; the OpenAPI
// document (openapi.json, checked against the route table) describes it.
//
// This file holds the server, its route table and the request and error
// helpers; each resource has a file of its own (campaigns.go, watch.go for
// the server-sent events, chats.go, portfolios.go, memory.go, evals.go,
// tokens.go, challenges.go, web.go for the UI), with auth.go (the bearer
// middleware and audit), security.go (limits and headers) and
// statuscache.go. The request and answer types are the client's
// (package apiclient, which the CLI and the tests use); the token store
// and audit log are package access.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/memory"
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
	Tokens *access.Tokens
	Audit  *access.Audit
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
		{"GET", "/api/v1/challenges", access.RoleViewer, s.listChallenges},
		{"GET", "/api/v1/challenges/{id}", access.RoleViewer, s.getChallenge},
		{"GET", "/api/v1/campaigns", access.RoleViewer, s.listCampaigns},
		{"POST", "/api/v1/campaigns", access.RoleOperator, s.startCampaign},
		{"GET", "/api/v1/campaigns/{id}", access.RoleViewer, s.getCampaign},
		{"GET", "/api/v1/campaigns/{id}/watch", access.RoleViewer, s.watchCampaign},
		{"POST", "/api/v1/campaigns/{id}/stop", access.RoleOperator, s.stopCampaign},
		{"POST", "/api/v1/campaigns/{id}/pause", access.RoleOperator, s.signal(campaign.SignalPause, "paused")},
		{"POST", "/api/v1/campaigns/{id}/resume", access.RoleOperator, s.signal(campaign.SignalResume, "resumed")},
		{"POST", "/api/v1/campaigns/{id}/approve", access.RoleOperator, s.decide(true)},
		{"POST", "/api/v1/campaigns/{id}/reject", access.RoleOperator, s.decide(false)},
		{"POST", "/api/v1/chats", access.RoleOperator, s.createChat},
		{"GET", "/api/v1/chats/{id}", access.RoleViewer, s.getChat},
		{"POST", "/api/v1/chats/{id}/messages", access.RoleOperator, s.sendChat},
		{"GET", "/api/v1/memory/search", access.RoleViewer, s.searchMemory},
		{"GET", "/api/v1/evals", access.RoleViewer, s.listEvals},
		{"GET", "/api/v1/evals/{id}", access.RoleViewer, s.getEval},
		{"GET", "/api/v1/approvals", access.RoleViewer, s.listPendingDecisions},
		{"GET", "/api/v1/portfolios", access.RoleViewer, s.listPortfolios},
		{"POST", "/api/v1/portfolios", access.RoleOperator, s.startPortfolio},
		{"GET", "/api/v1/portfolios/{id}", access.RoleViewer, s.getPortfolio},
		{"POST", "/api/v1/portfolios/{id}/stop", access.RoleOperator, s.stopPortfolio},
		{"POST", "/api/v1/portfolios/{id}/pause", access.RoleOperator, s.pausePortfolio(true)},
		{"POST", "/api/v1/portfolios/{id}/resume", access.RoleOperator, s.pausePortfolio(false)},
		{"POST", "/api/v1/portfolios/{id}/approvals/{approval}/approve", access.RoleOperator, s.decidePortfolio(true)},
		{"POST", "/api/v1/portfolios/{id}/approvals/{approval}/reject", access.RoleOperator, s.decidePortfolio(false)},
		{"GET", "/api/v1/tokens", access.RoleAdmin, s.listTokens},
		{"POST", "/api/v1/tokens", access.RoleAdmin, s.createToken},
		{"DELETE", "/api/v1/tokens/{id}", access.RoleAdmin, s.revokeToken},
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
