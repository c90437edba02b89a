// Package campaignflow is the Campaign workflow: the discovery loop of
// DESIGN.md (planner → hypothesis → simulation-operator → lab-operator →
// analyst), repeated until the budget is spent, the campaign converges or
// a human stops it, or the classical strategies' loop (bo, random). The
// loop is deterministic workflow code; every model call and every tool
// call is an activity (package activities). Large things (transcripts,
// datasets, memory) stay in stores and travel as references.
//
// One file per concern: this one is the loop; iterate.go an agent
// iteration's steps, turn.go one agent's turn, classical.go the classical
// strategies, runs.go the simulation and lab runs, signals.go and
// approvals.go what people send it, continueasnew.go how a long campaign
// goes on in a new run, portfolioside.go its side of the portfolio
// protocol, state.go its status and result, report.go the report. Its
// input, state and messages are package campaign's.
package campaignflow

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/internal/clip"
	"github.com/genesis-sci/genesis/workflows/activities"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

const (
	maxToolCalls = 1 // information tool calls per agent turn (small models spend most of their time here)
	maxRepairs   = 2 // re-asks after an invalid reply, then fall back
	// maxProseRepairs is the re-asks after a reply rejected only for its
	// texts (wording copied from the prompt's example, or template debris
	// such as `{{#1}}}`): a small model seldom does better, and every
	// role's fallback is sound.
	maxProseRepairs = 1
	maxEvents       = 200
)

type campaignRun struct {
	paused   bool
	pending  *campaign.Pending
	decision *campaign.Decision
	ctx      workflow.Context
	in       campaign.CampaignInput
	info     activities.ChallengeInfo
	id       string
	st       *campaign.CampaignState
	phase    string
	stop     string
	done     bool
	best     *campaign.Experiment
	reason   string
	bestView *campaign.Best
	m        portfolioSide
	signals  []signalHandler
	// lastProblem is the last invalid reply's problem in the current turn.
	lastProblem string
	// loop is the agent loop's version (see loopVersion), once asked.
	loop      workflow.Version
	loopAsked bool
}

// CampaignWorkflow runs one discovery campaign.
func CampaignWorkflow(ctx workflow.Context, in campaign.CampaignInput) (*campaign.CampaignResult, error) {
	cw := &campaignRun{ctx: ctx, in: in, id: workflow.GetInfo(ctx).WorkflowExecution.ID, phase: "starting"}
	res, err := cw.run()
	switch {
	case in.Portfolio == "" || workflow.IsContinueAsNewError(err):
	case err != nil:
		cw.finished("failed: "+clip.Clip(err.Error(), 200), true)
	default:
		cw.finished(res.StopReason, false)
	}
	return res, err
}

// run is the campaign: set up (or resume), then iterate until a stop
// reason, pausing when asked and continuing as new when the history grows
// long; then the report.
func (cw *campaignRun) run() (*campaign.CampaignResult, error) {
	if err := cw.setUp(); err != nil {
		return nil, err
	}
	for {
		if r := cw.shouldStop(); r != "" {
			cw.reason = r
			break
		}
		// A paused campaign waits here, before it may continue as new: the
		// pause is not part of the state carried to the next run.
		if cw.paused {
			if err := cw.waitWhilePaused(); err != nil {
				return nil, err
			}
			continue
		}
		if cw.historyLong() {
			if next, ok := cw.handOver(); ok {
				return nil, workflow.NewContinueAsNewError(cw.ctx, CampaignWorkflow, next)
			}
			continue
		}
		cw.st.Iteration++
		iterate := cw.iterate
		if campaign.Classical(cw.in.Strategy) {
			iterate = cw.iterateClassical
		}
		if err := iterate(); err != nil {
			return nil, err
		}
		cw.progress()
	}
	return cw.finish(), nil
}

// setUp takes the state carried over (or starts afresh), answers queries
// and listens for signals, loads the challenge, checks the input, and
// takes what the campaign's family measured.
func (cw *campaignRun) setUp() error {
	ctx, in := cw.ctx, cw.in
	if in.Resume != nil {
		cw.st = in.Resume
		cw.in.Resume = nil
	} else {
		cw.st = &campaign.CampaignState{Fallbacks: map[string]int{}}
	}
	if cw.st.Fallbacks == nil {
		cw.st.Fallbacks = map[string]int{}
	}
	if err := workflow.SetQueryHandler(ctx, campaign.QueryStatus, cw.status); err != nil {
		return err
	}
	cw.m.replan, cw.st.Replan = cw.st.Replan, ""
	cw.listen()
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3, NonRetryableErrorTypes: []string{activities.ErrUnknownChallenge}}})
	if err := workflow.ExecuteLocalActivity(lctx, activities.LoadChallengeName, in.Challenge).Get(ctx, &cw.info); err != nil {
		return err
	}
	cw.applyDefaults()
	if err := cw.checkInput(); err != nil {
		return err
	}
	cw.recomputeBest()
	if cw.st.Iteration == 0 {
		detail := fmt.Sprintf("%s with %s, budget %d lab experiments", cw.info.ID, cw.in.Model, cw.in.Budget.Experiments)
		if cw.in.StartedBy != "" {
			detail += "; started by " + clip.Clip(cw.in.StartedBy, 120)
		}
		cw.event("campaign", "started", detail)
	}
	if err := cw.recallFamily(); err != nil {
		return err
	}
	if cw.st.Started.IsZero() {
		cw.st.Started = workflow.Now(ctx)
	}
	return nil
}

// checkInput refuses, not retried, an input the workflow cannot run.
func (cw *campaignRun) checkInput() error {
	if !slices.Contains(campaign.Strategies, cw.in.Strategy) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown strategy %q; want one of %s", cw.in.Strategy, strings.Join(campaign.Strategies, ", ")), "BadInput", nil)
	}
	if err := cw.in.ValidateSearch(); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "BadInput", nil)
	}
	// Inputs out of range are refused at the edge (Validate); one that got
	// here anyway fails now, not later (a budget of 2^63-1 overflowed the
	// iteration limit). Histories recorded before the check replay as
	// they ran: it asks its version only when it fails.
	if err := cw.in.ValidateBounds(); err != nil && workflow.GetVersion(cw.ctx, inputBoundsChange, workflow.DefaultVersion, 1) == 1 {
		return temporal.NewNonRetryableApplicationError(err.Error(), "BadInput", nil)
	}
	return nil
}

// waitWhilePaused waits until the campaign is resumed or stopped.
func (cw *campaignRun) waitWhilePaused() error {
	cw.phase = "paused"
	t0 := workflow.Now(cw.ctx)
	if err := workflow.Await(cw.ctx, func() bool { return !cw.paused || cw.stop != "" }); err != nil {
		return err
	}
	cw.st.Time.Wait += cw.since(t0)
	return nil
}

// finish writes the report (unless the input says not to) and returns
// the campaign's result.
func (cw *campaignRun) finish() *campaign.CampaignResult {
	cw.phase = "reporting"
	cw.event("campaign", "stopping", cw.reason)
	cw.st.Time.Wall = cw.since(cw.st.Started)
	res := cw.result()
	actx := workflow.WithActivityOptions(cw.ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 5}})
	var report string
	if !cw.in.NoReport {
		if err := workflow.ExecuteActivity(actx, WriteReportName, ReportInput{Result: *res, State: *cw.st, Challenge: cw.info.ID}).Get(cw.ctx, &report); err != nil {
			workflow.GetLogger(cw.ctx).Error("report failed", "error", err)
		}
	}
	res.Report = report
	cw.done = true
	cw.phase = "done"
	cw.event("campaign", "done", cw.reason)
	return res
}

func (cw *campaignRun) applyDefaults() { cw.in.ApplyDefaults(cw.info.Budget) }

func (cw *campaignRun) shouldStop() string {
	switch {
	case cw.stop != "":
		return cw.stop
	case len(cw.st.Experiments) >= cw.in.Budget.Experiments:
		return fmt.Sprintf("experiment budget spent (%d)", cw.in.Budget.Experiments)
	case cw.in.Budget.Tokens > 0 && cw.st.Tokens >= cw.in.Budget.Tokens:
		return fmt.Sprintf("token budget spent (%d of %d)", cw.st.Tokens, cw.in.Budget.Tokens)
	case cw.info.Finite && len(cw.st.Experiments) >= cw.info.PoolSize:
		return "every candidate has been measured"
	case cw.in.Patience > 0 && cw.st.Stale >= cw.in.Patience:
		return fmt.Sprintf("converged: no improvement in %d iterations", cw.st.Stale)
	case cw.st.Iteration >= 3*cw.in.Budget.Experiments+10:
		return "iteration limit reached"
	}
	return ""
}

func (cw *campaignRun) event(agent, action, detail string) {
	cw.st.Seq++
	cw.st.Events = append(cw.st.Events, campaign.Event{Seq: cw.st.Seq, Time: workflow.Now(cw.ctx), Iteration: cw.st.Iteration, Agent: agent, Action: action, Detail: detail})
	if len(cw.st.Events) > maxEvents {
		cw.st.Events = cw.st.Events[len(cw.st.Events)-maxEvents:]
	}
}

// score orients a measurement so that higher is better: the challenge's
// scalarised score when it has several objectives, the primary value
// (negated when minimising) otherwise.
func (cw *campaignRun) score(values []float64) float64 {
	return cw.info.Merit(values)
}

func (cw *campaignRun) recomputeBest() {
	cw.best = nil
	for i := range cw.st.Experiments {
		e := &cw.st.Experiments[i]
		if len(e.Values) == 0 {
			continue
		}
		if cw.best == nil || cw.score(e.Values) > cw.score(cw.best.Values) {
			cw.best = e
		}
	}
	cw.bestView = nil
	if cw.best != nil {
		cw.bestView = &campaign.Best{Point: cw.info.Map(cw.best.Point), Value: cw.best.Values[0], RunID: cw.best.Ref, Iteration: cw.best.Iteration}
	}
}

// since is the seconds from t to now, in workflow time.
func (cw *campaignRun) since(t time.Time) float64 { return workflow.Now(cw.ctx).Sub(t).Seconds() }

func (cw *campaignRun) fallback(role, why string) {
	cw.st.Fallbacks[role]++
	cw.event(role, "fell back", why)
}

func (cw *campaignRun) bestString() string {
	if cw.best == nil {
		return "none yet"
	}
	return fmt.Sprintf("%.4g", cw.best.Values[0])
}

// Register registers the Campaign workflow under its name.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(CampaignWorkflow, workflow.RegisterOptions{Name: campaign.CampaignWorkflowName})
}

// inputBoundsChange is the workflow.GetVersion change that added the
// campaign's own check of its input's bounds.
const inputBoundsChange = "input-bounds"
