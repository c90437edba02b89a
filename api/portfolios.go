package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/genesis-sci/genesis/api/waiting"
	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/campaign"
	"github.com/genesis-sci/genesis/workflows/portfolioflow"
)

var (
	portfolioIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,80}$`)
	notSlug            = regexp.MustCompile(`[^a-z0-9]+`)
)

// NewPortfolioID makes a readable, unique portfolio (workflow) ID.
func NewPortfolioID(name string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	slug := strings.Trim(notSlug.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(slug) > 40 {
		slug = slug[:40]
	}
	return fmt.Sprintf("portfolio-%s-%s%x", slug, strings.ToLower(time.Now().UTC().Format("20060102T150405")), b)
}

// startPortfolio takes a portfolio file (YAML or JSON) as the body;
// ?id= names the portfolio (default: from its name).
func (s *Server) startPortfolio(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeErr(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the portfolio file is larger than %d bytes", maxBody))
		return
	case err != nil:
		writeErr(w, http.StatusBadRequest, "malformed_request", err.Error())
		return
	case len(strings.TrimSpace(string(body))) == 0:
		writeErr(w, http.StatusBadRequest, "malformed_request", "the body must be a portfolio file (YAML or JSON); see the README's \"Portfolios\" section")
		return
	}
	spec, err := portfolio.Parse(body, portfolio.Catalog(s.Catalog))
	if err != nil {
		writeErr(w, http.StatusUnprocessableEntity, "invalid_portfolio", err.Error())
		return
	}
	for i := range spec.Campaigns {
		if c := &spec.Campaigns[i]; c.Model == "" {
			c.Model = s.DefaultModel
		}
	}
	id := r.URL.Query().Get("id")
	switch {
	case id == "":
		id = NewPortfolioID(spec.Name)
	case !portfolioIDPattern.MatchString(id):
		writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("id %s must be letters, digits, '.', '_' or '-' (at most 81)", quoteShort(id)))
		return
	default:
		// A finished workflow's ID could be reused: the portfolio would
		// then hide that campaign or chat from every list and query.
		err := s.requireKind(r.Context(), portfolioflow.PortfolioWorkflowName, id)
		var nf *serviceerror.NotFound
		var wk *wrongKind
		switch {
		case errors.As(err, &wk):
			writeErr(w, http.StatusConflict, "id_taken", fmt.Sprintf("id %q already names a %s; pick another id or leave it out", id, kindName(wk.is)))
			return
		case err != nil && !errors.As(err, &nf):
			s.writeTemporalErr(w, r, err, portfolioflow.PortfolioWorkflowName, id, "")
			return
		}
		if why := s.reservedID(id); why != "" {
			writeErr(w, http.StatusUnprocessableEntity, "reserved_id", fmt.Sprintf("id %q %s; pick another id or leave it out", id, why))
			return
		}
	}
	run, err := s.Temporal.ExecuteWorkflow(r.Context(), client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowExecutionErrorWhenAlreadyStarted: true},
		portfolioflow.PortfolioWorkflowName, portfolioflow.PortfolioInput{Spec: *spec})
	if err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			writeErr(w, http.StatusConflict, "already_started", fmt.Sprintf("portfolio %s is already running; pick another id", id))
			return
		}
		writeErr(w, http.StatusServiceUnavailable, "temporal_unavailable", "could not start the portfolio workflow: "+err.Error())
		return
	}
	noteCreated(r, run.GetID(), fmt.Sprintf("%d campaigns", len(spec.Campaigns)))
	writeJSON(w, http.StatusAccepted, map[string]any{"id": run.GetID(), "run_id": run.GetRunID(), "campaigns": len(spec.Campaigns)})
}

// reservedID says why a portfolio may not take id, or "": it has the
// shape of the IDs the API and the portfolio give campaigns and chats, so
// a later campaign could collide with it.
func (s *Server) reservedID(id string) string {
	for _, prefix := range []string{"campaign-", "chat-"} {
		if strings.HasPrefix(id, prefix) {
			return fmt.Sprintf("starts with %q, which campaign and chat IDs use", prefix)
		}
	}
	if s.portfolioChallenge(id) != "" {
		return "has the shape of a portfolio's campaign ID (<portfolio>-NN-<challenge>)"
	}
	return ""
}

func (s *Server) listPortfolios(w http.ResponseWriter, r *http.Request) {
	resp, err := s.Temporal.ListWorkflow(r.Context(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = '%s'", portfolioflow.PortfolioWorkflowName), PageSize: 100})
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, "temporal_unavailable", "listing portfolios: "+err.Error())
		return
	}
	out := []PortfolioSummary{}
	seen := map[string]bool{}
	for _, e := range resp.GetExecutions() {
		cs := summary(e)
		if seen[cs.ID] { // runs continued as new: the newest is listed first
			continue
		}
		seen[cs.ID] = true
		out = append(out, PortfolioSummary{ID: cs.ID, Status: cs.Status, Started: cs.Started, Closed: cs.Closed})
	}
	writeJSON(w, http.StatusOK, map[string]any{"portfolios": out})
}

func (s *Server) portfolioStatus(r *http.Request, id string) (portfolioflow.PortfolioStatus, error) {
	var st portfolioflow.PortfolioStatus
	v, err := s.Temporal.QueryWorkflow(r.Context(), id, "", portfolioflow.QueryPortfolio)
	if err != nil {
		return st, err
	}
	return st, v.Get(&st)
}

func (s *Server) getPortfolio(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !checkID(w, "portfolio", id) {
		return
	}
	st, err := s.portfolioStatus(r, id)
	if err != nil {
		s.writeTemporalErr(w, r, err, portfolioflow.PortfolioWorkflowName, id, fmt.Sprintf("no portfolio %q", id))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) stopPortfolio(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !checkID(w, "portfolio", id) {
		return
	}
	if err := s.signalKind(r, portfolioflow.PortfolioWorkflowName, id, campaign.SignalStop, "stopped through the API"); err != nil {
		s.writeTemporalErr(w, r, err, portfolioflow.PortfolioWorkflowName, id, fmt.Sprintf("no running portfolio %q", id))
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": "stopping"})
}

// signalKind signals workflow id after checking that it is of type kind:
// the campaign routes must not stop or pause a portfolio, nor the
// portfolio routes a campaign (both take the stop signal).
func (s *Server) signalKind(r *http.Request, kind, id, name string, arg any) error {
	if err := s.requireKind(r.Context(), kind, id); err != nil {
		return err
	}
	return s.Temporal.SignalWorkflow(r.Context(), id, "", name, arg)
}

// pausePortfolio pauses the portfolio (nothing more is granted; what runs
// finishes) or resumes it.
func (s *Server) pausePortfolio(pause bool) http.HandlerFunc {
	status := map[bool]string{true: "paused", false: "resumed"}[pause]
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !checkID(w, "portfolio", id) {
			return
		}
		req := portfolioflow.PauseRequest{Pause: pause, By: s.caller(r).By}
		if err := s.signalKind(r, portfolioflow.PortfolioWorkflowName, id, portfolioflow.SignalPause, req); err != nil {
			s.writeTemporalErr(w, r, err, portfolioflow.PortfolioWorkflowName, id, fmt.Sprintf("no running portfolio %q", id))
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": status})
	}
}

// decidePortfolio approves or rejects one pending approval. An escalated
// approval needs an admin's token.
func (s *Server) decidePortfolio(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, aid := r.PathValue("id"), r.PathValue("approval")
		if !checkID(w, "portfolio", id) {
			return
		}
		var body struct {
			Reason string `json:"reason"`
		}
		if !decodeBody(w, r, &body, true, `empty or {"reason": "..."}`) {
			return
		}
		if err := s.requireKind(r.Context(), portfolioflow.PortfolioWorkflowName, id); err != nil {
			s.writeTemporalErr(w, r, err, portfolioflow.PortfolioWorkflowName, id, fmt.Sprintf("no running portfolio %q", id))
			return
		}
		from := s.caller(r)
		d := portfolioflow.PortfolioDecision{Approval: aid, Approve: approve, Reason: body.Reason, Role: from.Role, By: from.By}
		h, err := s.Temporal.UpdateWorkflow(r.Context(), client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: portfolioflow.UpdateDecide,
			Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted})
		var verdict string
		if err == nil {
			err = h.Get(r.Context(), &verdict)
		}
		if err != nil {
			var nf *serviceerror.NotFound
			var se serviceerror.ServiceError
			switch {
			case errors.As(err, &nf):
				writeErr(w, http.StatusNotFound, "not_found", fmt.Sprintf("no running portfolio %q", id))
				return
			case errors.As(err, &se):
				// Temporal itself failed, not the workflow's validator.
				s.writeTemporalErr(w, r, err, portfolioflow.PortfolioWorkflowName, id, fmt.Sprintf("no running portfolio %q", id))
				return
			}
			// The workflow's validator refused it: unknown approval, or escalated.
			status := http.StatusConflict
			if strings.Contains(err.Error(), "only an admin") {
				status = http.StatusForbidden
			}
			writeErr(w, status, "not_decided", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": id, "approval": aid, "status": verdict})
	}
}

// pendingTTL is how long a listing of pending decisions is reused: every
// open page polls it, and each listing queries every running workflow.
const pendingTTL = 2 * time.Second

// listPendingDecisions lists every decision people owe across running
// campaigns and portfolios (one listing at a time, reused for pendingTTL).
func (s *Server) listPendingDecisions(w http.ResponseWriter, r *http.Request) {
	v, err, _ := s.pendingFlight.Do("", func() (any, error) {
		s.cacheMu.Lock()
		if c := s.pending; c != nil && time.Since(c.at) < pendingTTL {
			s.cacheMu.Unlock()
			return c.list, nil
		}
		s.cacheMu.Unlock()
		ds, truncated, err := waiting.ListPendingDecisions(context.WithoutCancel(r.Context()), s.Temporal)
		if err != nil {
			return nil, err
		}
		out := PendingDecisions{Approvals: make([]PendingDecisionItem, len(ds)), Truncated: truncated}
		for i, d := range ds {
			base := fmt.Sprintf("/api/v1/campaigns/%s/", url.PathEscape(d.Campaign))
			if d.Kind == "portfolio" {
				base = fmt.Sprintf("/api/v1/portfolios/%s/approvals/%s/", url.PathEscape(d.Portfolio), url.PathEscape(d.Approval))
			}
			out.Approvals[i] = PendingDecisionItem{PendingDecision: d, Approve: base + "approve", Reject: base + "reject"}
		}
		s.cacheMu.Lock()
		s.pending = &cachedPending{at: time.Now(), list: out}
		s.cacheMu.Unlock()
		return out, nil
	})
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, "temporal_unavailable", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, v)
}

type cachedPending struct {
	at   time.Time
	list PendingDecisions
}
