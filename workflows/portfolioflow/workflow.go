// Package portfolioflow is the Portfolio workflow: it runs one Campaign
// child workflow per challenge of a portfolio and schedules their
// capacity, budgets and approvals. Package portfolio holds the rules (a
// pure, deterministic scheduler); this is the plumbing. Campaigns ask by
// signal and are answered by signal (campaign/portfolioside.go is their
// side), so the portfolio can continue as new while they run.
package portfolioflow

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/internal/clip"
	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// Names of the Portfolio workflow, its query and update.
const (
	PortfolioWorkflowName = "Portfolio"
	QueryPortfolio        = "portfolio"
	// UpdateDecide approves or rejects a pending approval (a PortfolioDecision).
	UpdateDecide = "decide"
	// SignalPause pauses or resumes a portfolio (a PauseRequest): one
	// channel, so pauses and resumes apply in the order sent.
	SignalPause = "portfolio-pause"
)

// PortfolioInput starts a portfolio: a validated spec (portfolio.Parse).
type PortfolioInput struct {
	Spec portfolio.Spec `json:"spec"`
	// HPC names the executor for every campaign's simulations ("" for the worker's default).
	HPC string `json:"hpc,omitempty"`
	// MaxHistory continues the portfolio as new once its history has this
	// many events (0: when the server suggests it).
	MaxHistory int `json:"max_history,omitempty"`
	// Resume carries the schedule across continue-as-new (the campaigns
	// are running already), with the signals that arrived but were not
	// handled yet.
	Resume  *portfolio.Scheduler `json:"resume,omitempty"`
	Carried []Inbound            `json:"carried,omitempty"`
}

// Inbound is one signal to the portfolio (kept as data so signals received
// while it continues as new are handled by the next run).
type Inbound struct {
	Name    string             `json:"name"`
	Request *portfolio.Request `json:"request,omitempty"`
	Report  *campaign.Report   `json:"report,omitempty"`
	Done    *campaign.Done     `json:"done,omitempty"`
	Stop    string             `json:"stop,omitempty"`
	Pause   *PauseRequest      `json:"pause,omitempty"`
}

// PauseRequest pauses (Pause) or resumes the portfolio, on behalf of By.
type PauseRequest struct {
	Pause bool   `json:"pause"`
	By    string `json:"by"`
}

// PortfolioDecision is a person's answer to a pending approval.
type PortfolioDecision struct {
	Approval string `json:"approval"`
	Approve  bool   `json:"approve"`
	By       string `json:"by"`
	// Role is the decider's role; an escalated approval needs an admin.
	Role   string `json:"role"`
	Reason string `json:"reason,omitempty"`
}

// PortfolioCampaign is one campaign's line of the portfolio status.
type PortfolioCampaign struct {
	portfolio.Entry
	// Waiting says what the campaign waits for, and on whom.
	Waiting string `json:"waiting,omitempty"`
}

// PortfolioStatus is what the portfolio query returns (and the workflow's result).
type PortfolioStatus struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Done     bool   `json:"done"`
	Stopping string `json:"stopping,omitempty"`
	// Paused says who paused the portfolio (nothing is granted until it resumes).
	Paused    string               `json:"paused,omitempty"`
	Campaigns []PortfolioCampaign  `json:"campaigns"`
	Capacity  portfolio.Capacity   `json:"capacity"`
	InUse     portfolio.Capacity   `json:"in_use"`
	Budget    portfolio.Amount     `json:"budget"`
	Spent     portfolio.Amount     `json:"spent"`
	Reserved  portfolio.Amount     `json:"reserved"`
	Pool      portfolio.Amount     `json:"pool"`
	Pending   []portfolio.Approval `json:"pending"`
	Log       []portfolio.Record   `json:"log"`
	// Reallocations lists every reallocation with its reason.
	Reallocations []portfolio.Record       `json:"reallocations"`
	Grants        int                      `json:"grants"`
	Approval      portfolio.ApprovalPolicy `json:"approval"`
	Stall         portfolio.StallPolicy    `json:"stall"`
}

type portfolioRun struct {
	ctx      workflow.Context
	id       string
	in       PortfolioInput
	s        *portfolio.Scheduler
	stopping string
	// inflight counts signals sent and not yet delivered: the portfolio
	// continues as new only with none, since a signal sent in the run's
	// last task would be lost.
	inflight int
}

// CampaignID is the workflow ID of a portfolio's i-th campaign.
func CampaignID(portfolioID string, i int, challenge string) string {
	return fmt.Sprintf("%s-%02d-%s", portfolioID, i+1, challenge)
}

// PortfolioWorkflow runs one Campaign child workflow per challenge of the
// portfolio and schedules their capacity, budgets and approvals (package
// portfolio holds the rules; this is the plumbing). Campaigns ask by
// signal and are answered by signal, so the portfolio can continue as new
// while they run.
func PortfolioWorkflow(ctx workflow.Context, in PortfolioInput) (*PortfolioStatus, error) {
	p := &portfolioRun{ctx: ctx, id: workflow.GetInfo(ctx).WorkflowExecution.ID, in: in}
	resumed := in.Resume != nil
	if resumed {
		p.s, p.in.Resume = in.Resume, nil
	} else {
		if len(in.Spec.Campaigns) == 0 || in.Spec.Reallocate == nil {
			return nil, temporal.NewNonRetryableApplicationError("the portfolio spec is not validated: parse it with portfolio.Parse", "BadInput", nil)
		}
		ids := make([]string, len(in.Spec.Campaigns))
		for i, c := range in.Spec.Campaigns {
			ids[i] = CampaignID(p.id, i, c.Challenge)
		}
		p.s = portfolio.New(in.Spec, ids)
	}
	if err := workflow.SetQueryHandler(ctx, QueryPortfolio, func() (PortfolioStatus, error) { return p.status(), nil }); err != nil {
		return nil, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecide, p.decide, workflow.UpdateHandlerOptions{Validator: p.validateDecision}); err != nil {
		return nil, err
	}
	chans := p.channels()
	for _, msg := range in.Carried {
		p.handle(msg)
	}
	p.in.Carried = nil
	lctx, stopListening := workflow.WithCancel(ctx)
	listening := true
	workflow.Go(lctx, func(g workflow.Context) {
		defer func() { listening = false }()
		for g.Err() == nil {
			sel := workflow.NewSelector(g)
			for _, c := range chans {
				sel.AddReceive(c.ch, func(ch workflow.ReceiveChannel, _ bool) { p.handle(c.receive(g, false)) })
			}
			sel.AddReceive(g.Done(), func(workflow.ReceiveChannel, bool) {})
			sel.Select(g)
		}
	})
	if !resumed {
		if err := p.startCampaigns(); err != nil {
			return nil, err
		}
	}
	for _, a := range p.s.Pending {
		p.watchApproval(a)
	}
	for _, e := range p.s.Campaigns {
		p.watchDeadline(e)
	}

	longHistory := func() bool {
		info := workflow.GetInfo(ctx)
		return info.GetContinueAsNewSuggested() || (in.MaxHistory > 0 && info.GetCurrentHistoryLength() >= in.MaxHistory)
	}
	_ = workflow.Await(ctx, func() bool { return p.allDone() || longHistory() })
	if !p.allDone() {
		// Stop taking signals (a signal handed to the listener before it
		// stopped is still handled), let every signal sent be delivered,
		// and carry what arrived meanwhile to the next run.
		stopListening()
		_ = workflow.Await(ctx, func() bool { return !listening && p.inflight == 0 && workflow.AllHandlersFinished(ctx) })
		next := p.in
		for _, c := range chans {
			for c.ch.Len() > 0 {
				next.Carried = append(next.Carried, c.receive(ctx, true))
			}
		}
		next.Resume = p.s
		return nil, workflow.NewContinueAsNewError(ctx, PortfolioWorkflow, next)
	}
	st := p.status()
	return &st, nil
}

type signalChan struct {
	name string
	ch   workflow.ReceiveChannel
}

// receive takes one signal off the channel (without blocking when async).
func (c signalChan) receive(ctx workflow.Context, async bool) Inbound {
	in := Inbound{Name: c.name}
	var v any
	switch c.name {
	case campaign.SignalPortfolioRequest:
		in.Request = &portfolio.Request{}
		v = in.Request
	case campaign.SignalPortfolioProgress:
		in.Report = &campaign.Report{}
		v = in.Report
	case campaign.SignalPortfolioDone:
		in.Done = &campaign.Done{}
		v = in.Done
	case SignalPause:
		in.Pause = &PauseRequest{}
		v = in.Pause
	default:
		v = &in.Stop
	}
	if async {
		c.ch.ReceiveAsync(v)
	} else {
		c.ch.Receive(ctx, v)
	}
	return in
}

// channels are the portfolio's signal channels.
func (p *portfolioRun) channels() []signalChan {
	var out []signalChan
	for _, name := range []string{campaign.SignalPortfolioRequest, campaign.SignalPortfolioProgress, campaign.SignalPortfolioDone, campaign.SignalStop, SignalPause} {
		out = append(out, signalChan{name: name, ch: workflow.GetSignalChannel(p.ctx, name)})
	}
	return out
}

// handle acts on one signal.
func (p *portfolioRun) handle(in Inbound) {
	now := workflow.Now(p.ctx)
	switch {
	case in.Request != nil:
		grants, ap := p.s.Submit(*in.Request, now)
		p.send(grants, nil)
		if ap != nil {
			p.watchApproval(*ap)
		}
	case in.Report != nil:
		p.release(in.Report.Release)
		p.send(nil, p.s.Report(in.Report.Progress, now))
	case in.Done != nil:
		p.release(in.Done.Release)
		p.finish(in.Done.Campaign, in.Done.Reason, !in.Done.Failed)
	case in.Pause != nil:
		by := cmp.Or(in.Pause.By, "a user")
		if in.Pause.Pause {
			p.s.Pause(by, now)
		} else {
			p.send(p.s.Resume(by, now), nil)
		}
	case in.Name == campaign.SignalStop:
		p.stop(cmp.Or(in.Stop, "stopped by a user"))
	}
}

func (p *portfolioRun) startCampaigns() error {
	spec := p.s.Spec
	for i, c := range spec.Campaigns {
		e := p.s.Campaigns[i]
		in := campaign.CampaignInput{Challenge: c.Challenge, Model: c.Model, Budget: c.Budget.Budget(),
			Seed: c.Seed, MaxBatch: c.MaxBatch, Patience: -1, HPC: p.in.HPC, Strategy: c.Strategy, Portfolio: p.id,
			Acquisition: c.Acquisition, Init: c.Init, Batch: c.Batch}
		cctx := workflow.WithChildOptions(p.ctx, workflow.ChildWorkflowOptions{WorkflowID: e.ID,
			// The portfolio may continue as new; its campaigns run on.
			ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON})
		f := workflow.ExecuteChildWorkflow(cctx, campaign.CampaignWorkflowName, in)
		if err := f.GetChildWorkflowExecution().Get(p.ctx, nil); err != nil {
			p.finish(e.ID, "could not start: "+clip.Clip(err.Error(), 200), false)
			continue
		}
		id := e.ID
		workflow.Go(p.ctx, func(g workflow.Context) {
			var res campaign.CampaignResult
			err := f.Get(g, &res)
			switch {
			case err == nil:
				p.finish(id, res.StopReason, true)
			case !errors.Is(err, workflow.ErrCanceled):
				p.finish(id, "failed: "+clip.Clip(err.Error(), 200), false)
			}
		})
	}
	return nil
}

// release returns a grant and passes on what it frees.
func (p *portfolioRun) release(r *portfolio.Release) {
	if r != nil {
		p.send(p.s.Release(r.Campaign, r.Seq, r.Spent, workflow.Now(p.ctx)), nil)
	}
}

// finish records a campaign's end and passes on what it frees.
func (p *portfolioRun) finish(id, reason string, graceful bool) {
	grants, _, acts := p.s.Finish(id, reason, graceful, workflow.Now(p.ctx))
	p.send(grants, acts)
}

// send delivers grants and actions to campaigns. A campaign that cannot be
// reached has ended: it is finished (charging what it held).
func (p *portfolioRun) send(grants []portfolio.Grant, acts []portfolio.Action) {
	deliver := func(id, name string, arg any) {
		f := workflow.SignalExternalWorkflow(p.ctx, id, "", name, arg)
		p.inflight++
		workflow.Go(p.ctx, func(g workflow.Context) {
			err := f.Get(g, nil)
			p.inflight--
			if err != nil {
				p.finish(id, "unreachable: "+clip.Clip(err.Error(), 120), false)
			}
		})
	}
	for _, g := range grants {
		deliver(g.Campaign, campaign.SignalGrant, g)
	}
	for _, a := range acts {
		switch a.Kind {
		case portfolio.Replan:
			deliver(a.Campaign, campaign.SignalReplan, a.Reason)
		case portfolio.Stop:
			deliver(a.Campaign, campaign.SignalStop, a.Reason)
		default:
			deliver(a.Campaign, campaign.SignalBudget, a)
		}
	}
}

// watchApproval applies the approval's timeout (and escalation) unless a
// person decides first.
func (p *portfolioRun) watchApproval(a portfolio.Approval) {
	workflow.Go(p.ctx, func(g workflow.Context) {
		pending := func() bool {
			return slices.ContainsFunc(p.s.Pending, func(x portfolio.Approval) bool { return x.ID == a.ID })
		}
		for {
			wait := a.Deadline.Sub(workflow.Now(g))
			if wait > 0 {
				if ok, err := workflow.AwaitWithTimeout(g, wait, func() bool { return !pending() }); ok || err != nil {
					return
				}
			}
			grants, esc := p.s.Timeout(a.ID, workflow.Now(g))
			p.send(grants, nil)
			if esc == nil {
				return
			}
			a = *esc
		}
	})
}

// watchDeadline stops a campaign at its deadline.
func (p *portfolioRun) watchDeadline(e *portfolio.Entry) {
	if e.Deadline == nil || e.Done {
		return
	}
	id, at := e.ID, *e.Deadline
	workflow.Go(p.ctx, func(g workflow.Context) {
		if wait := at.Sub(workflow.Now(g)); wait > 0 {
			if ok, err := workflow.AwaitWithTimeout(g, wait, func() bool { return p.s.Entry(id).Done }); ok || err != nil {
				return
			}
		}
		if !p.s.Entry(id).Done {
			p.send(nil, []portfolio.Action{{Campaign: id, Kind: portfolio.Stop, Reason: "its deadline " + at.UTC().Format(time.RFC3339) + " was reached"}})
		}
	})
}

func (p *portfolioRun) stop(reason string) {
	if p.stopping != "" {
		return
	}
	p.stopping = reason
	var acts []portfolio.Action
	for _, e := range p.s.Campaigns {
		if !e.Done {
			acts = append(acts, portfolio.Action{Campaign: e.ID, Kind: portfolio.Stop, Reason: "the portfolio was stopped: " + reason})
		}
	}
	p.send(nil, acts)
}

func (p *portfolioRun) allDone() bool {
	for _, e := range p.s.Campaigns {
		if !e.Done {
			return false
		}
	}
	return true
}

func (p *portfolioRun) validateDecision(_ workflow.Context, d PortfolioDecision) error {
	i := slices.IndexFunc(p.s.Pending, func(a portfolio.Approval) bool { return a.ID == d.Approval })
	switch {
	case i < 0:
		return fmt.Errorf("no approval %q is waiting (decided, timed out or never asked); see the portfolio's pending list", d.Approval)
	case p.s.Pending[i].Role == "admin" && d.Role != "admin":
		return fmt.Errorf("approval %s was escalated: only an admin may decide it now", d.Approval)
	}
	return nil
}

func (p *portfolioRun) decide(ctx workflow.Context, d PortfolioDecision) (string, error) {
	grants, err := p.s.Decide(d.Approval, d.Approve, d.By, d.Reason, workflow.Now(ctx))
	if err != nil {
		return "", err
	}
	p.send(grants, nil)
	return map[bool]string{true: "approved", false: "rejected"}[d.Approve], nil
}

func (p *portfolioRun) status() PortfolioStatus {
	s := p.s
	spent, reserved := s.Totals()
	st := PortfolioStatus{ID: p.id, Name: s.Spec.Name, Done: p.allDone(), Stopping: p.stopping, Paused: s.Paused, Capacity: s.Spec.Capacity, InUse: s.InUse,
		Budget: s.Spec.Budget, Spent: spent, Reserved: reserved, Pool: s.Pool, Pending: s.Pending, Log: s.Log, Reallocations: s.Reallocations, Grants: s.Grants,
		Approval: s.Spec.Approval, Stall: s.Spec.Stall}
	for _, e := range s.Campaigns {
		st.Campaigns = append(st.Campaigns, PortfolioCampaign{Entry: *e, Waiting: s.Waiting(e.ID)})
	}
	return st
}

// Register registers the Portfolio workflow under its name.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(PortfolioWorkflow, workflow.RegisterOptions{Name: PortfolioWorkflowName})
}
