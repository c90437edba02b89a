package api

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

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
