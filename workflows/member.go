package workflows

import (
	"cmp"
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/portfolio"
)

// A campaign in a portfolio asks the Portfolio workflow before every spend
// (a lab batch, a set of simulation jobs, a model call) and waits for the
// grant; after the spend it reports what was really used, and after every
// iteration its progress. Outside a portfolio these calls do nothing.

// Signals between a portfolio and its campaigns.
const (
	SignalPortfolioRequest  = "portfolio-request"
	SignalPortfolioProgress = "portfolio-progress"
	SignalPortfolioDone     = "portfolio-done"
	// SignalPortfolioPause pauses or resumes a portfolio (a PauseRequest):
	// one channel, so pauses and resumes apply in the order sent.
	SignalPortfolioPause = "portfolio-pause"
	SignalGrant          = "grant"
	SignalReplan         = "replan"
	SignalBudget         = "budget"
)

// Done tells the portfolio a campaign ended (returning its last grant).
type Done struct {
	Campaign string             `json:"campaign"`
	Reason   string             `json:"reason"`
	Failed   bool               `json:"failed,omitempty"`
	Release  *portfolio.Release `json:"release,omitempty"`
}

// Report is a campaign's progress (returning its last grant).
type Report struct {
	portfolio.Progress
	Release *portfolio.Release `json:"release,omitempty"`
}

// member is a campaign's side of its portfolio.
type member struct {
	grant   *portfolio.Grant
	waiting int
	replan  string
	// owed is the last grant's release, sent with the next message: the
	// next request, the iteration's report, or the end.
	owed *portfolio.Release
}

// signalHandler applies one value of a signal channel; recv takes the
// value and reports whether one came. One listener takes the campaign's
// signals as they come; settleSignals takes what is left before
// continue-as-new.
type signalHandler struct {
	ch     workflow.ReceiveChannel
	handle func(recv func(valuePtr any) bool)
}

// listen starts the listener for the campaign's signals.
func (cw *campaign) listen() {
	cw.signals = cw.signalHandlers()
	workflow.Go(cw.ctx, func(g workflow.Context) {
		for {
			sel := workflow.NewSelector(g)
			for _, h := range cw.signals {
				sel.AddReceive(h.ch, func(c workflow.ReceiveChannel, _ bool) {
					h.handle(func(v any) bool { c.Receive(g, v); return true })
				})
			}
			sel.Select(g)
		}
	})
}

// settleSignals applies every signal delivered so far. A signal that
// arrives while the listener waits is handed to the listener's selector,
// not left in the channel, and the listener only runs when this coroutine
// blocks: so first yield once (a coroutine that runs after every other one
// has had its turn), then take what is left in the channels.
func (cw *campaign) settleSignals() {
	yielded := false
	workflow.Go(cw.ctx, func(workflow.Context) { yielded = true })
	_ = workflow.Await(cw.ctx, func() bool { return yielded })
	cw.drainSignals()
}

// drainSignals applies every signal waiting in a channel.
func (cw *campaign) drainSignals() {
	for _, h := range cw.signals {
		for got := true; got; {
			h.handle(func(v any) bool { got = h.ch.ReceiveAsync(v); return got })
		}
	}
}

// signalHandlers are the campaign's signals (and a portfolio's, in one).
func (cw *campaign) signalHandlers() []signalHandler {
	on := func(name string, handle func(recv func(any) bool)) signalHandler {
		return signalHandler{workflow.GetSignalChannel(cw.ctx, name), handle}
	}
	hs := []signalHandler{
		on(SignalPause, func(recv func(any) bool) {
			if recv(nil) && !cw.paused {
				cw.paused = true
				cw.event("campaign", "paused", "by a user; it continues when resumed")
			}
		}),
		on(SignalResume, func(recv func(any) bool) {
			if recv(nil) && cw.paused {
				cw.paused = false
				cw.event("campaign", "resumed", "by a user")
			}
		}),
		on(SignalDecision, func(recv func(any) bool) {
			var d Decision
			// A decision names the iteration whose runs were shown; one for
			// runs no longer pending is dropped, so nobody approves runs
			// they did not see.
			if recv(&d) && cw.pending != nil && cw.decision == nil && (d.Iteration == 0 || d.Iteration == cw.pending.Iteration) {
				cw.decision = &d
			}
		}),
		on(SignalStop, func(recv func(any) bool) {
			var reason string
			if recv(&reason) {
				cw.stop = cmp.Or(reason, "stopped by a user")
			}
		}),
	}
	if cw.in.Portfolio == "" {
		return hs
	}
	return append(hs,
		on(SignalGrant, func(recv func(any) bool) {
			var gr portfolio.Grant
			if recv(&gr) && gr.Seq == cw.m.waiting {
				cw.m.grant = &gr
			}
		}),
		on(SignalReplan, func(recv func(any) bool) {
			var why string
			if recv(&why) {
				// The counts restart now, so the portfolio judges the re-plan afresh.
				cw.m.replan = why
				cw.st.Stale, cw.st.Repeats = 0, 0
				cw.event("portfolio", "re-plan", why)
			}
		}),
		on(SignalBudget, func(recv func(any) bool) {
			var a portfolio.Action
			if recv(&a) {
				cw.in.Budget, cw.in.SimBudget, cw.in.TokenBudget = a.Budget.LabRuns, a.Budget.Simulations, a.Budget.Tokens
				cw.event("portfolio", "budget", fmt.Sprintf("%s; now %d lab runs, %d simulations", a.Reason, cw.in.Budget, cw.in.SimBudget))
			}
		}))
}

// acquire asks the portfolio for n units of kind and waits for the grant.
// It returns the grant's number and how many units were granted (n outside
// a portfolio); 0 means none, and a stop while waiting also gives none.
func (cw *campaign) acquire(kind string, n int, points []map[string]any) (int, int) {
	if cw.in.Portfolio == "" || n <= 0 {
		return 0, n
	}
	if cw.stop != "" {
		return 0, 0
	}
	cw.st.GrantSeq++
	seq := cw.st.GrantSeq
	cw.m.waiting, cw.m.grant = seq, nil
	prev := cw.phase
	cw.phase = "waiting for " + kind + " capacity"
	defer func() { cw.phase = prev }()
	req := portfolio.Request{Campaign: cw.id, Seq: seq, Kind: kind, N: n, Points: points, At: workflow.Now(cw.ctx), Release: cw.m.owed}
	cw.m.owed = nil
	if err := workflow.SignalExternalWorkflow(cw.ctx, cw.in.Portfolio, "", SignalPortfolioRequest, req).Get(cw.ctx, nil); err != nil {
		cw.stop = "its portfolio is gone: " + shorten(err.Error(), 120)
		return seq, 0
	}
	_ = workflow.Await(cw.ctx, func() bool { return cw.m.grant != nil || cw.stop != "" })
	g := cw.m.grant
	cw.m.waiting, cw.m.grant = 0, nil
	switch {
	case g == nil:
		return seq, 0
	case g.Stop:
		cw.stop = "portfolio: " + g.Reason
		return seq, 0
	case g.N == 0:
		cw.event("portfolio", "denied", fmt.Sprintf("%d %s: %s", n, kind, g.Reason))
		if kind == portfolio.Lab && strings.HasPrefix(g.Reason, "rejected") {
			cw.st.Stale++
		}
	case g.N < n:
		cw.event("portfolio", "granted", fmt.Sprintf("%d of %d %s", g.N, n, kind))
	}
	return seq, g.N
}

// release records a grant's real use; the portfolio hears of it with the
// campaign's next message, which follows within the same step (the next
// request, the iteration's report, or the end).
func (cw *campaign) release(seq int, spent portfolio.Amount) {
	if cw.in.Portfolio == "" || seq == 0 {
		return
	}
	cw.m.owed = &portfolio.Release{Campaign: cw.id, Seq: seq, Spent: spent}
}

// progress reports the iteration to the portfolio.
func (cw *campaign) progress() {
	if cw.in.Portfolio == "" {
		return
	}
	r := Report{Progress: portfolio.Progress{Campaign: cw.id, Iteration: cw.st.Iteration, Stale: cw.st.Stale, Repeats: cw.st.Repeats}, Release: cw.m.owed}
	cw.m.owed = nil
	if cw.best != nil {
		v := cw.best.Values[0]
		r.Best = &v
	}
	_ = workflow.SignalExternalWorkflow(cw.ctx, cw.in.Portfolio, "", SignalPortfolioProgress, r).Get(cw.ctx, nil)
}

// finished tells the portfolio the campaign ended.
func (cw *campaign) finished(reason string, failed bool) {
	if cw.in.Portfolio == "" {
		return
	}
	d := Done{Campaign: cw.id, Reason: reason, Failed: failed, Release: cw.m.owed}
	cw.m.owed = nil
	_ = workflow.SignalExternalWorkflow(cw.ctx, cw.in.Portfolio, "", SignalPortfolioDone, d).Get(cw.ctx, nil)
}

// labPoints are the settings of the candidates to run, for approval.
func (cw *campaign) labPoints(cands []agents.Candidate) []map[string]any {
	out := make([]map[string]any, len(cands))
	for i, c := range cands {
		out[i] = cw.info.Map(c.Point)
	}
	return out
}

// repeated notes whether the model proposed only points it had proposed
// or measured before (dup: its replies named such points), and remembers
// what it proposed.
func (cw *campaign) repeated(cands []agents.Candidate, dup bool) {
	seen := map[string]bool{}
	for _, k := range cw.st.Proposed {
		seen[k] = true
	}
	for _, e := range cw.st.Experiments {
		seen[cw.info.Key(e.Point)] = true
	}
	fresh, model := false, 0
	for _, c := range cands {
		if c.Source != "model" {
			continue
		}
		model++
		k := cw.info.Key(c.Point)
		if !seen[k] {
			fresh = true
			seen[k] = true
			cw.st.Proposed = append(cw.st.Proposed, k)
		}
	}
	if len(cw.st.Proposed) > 500 {
		cw.st.Proposed = cw.st.Proposed[len(cw.st.Proposed)-500:]
	}
	switch {
	case fresh:
		cw.st.Repeats = 0
	case model > 0 || dup:
		cw.st.Repeats++
		cw.event(agents.Hypothesis, "repeated itself", fmt.Sprintf("it proposed only points proposed or measured before (%d iteration(s) in a row)", cw.st.Repeats))
	}
}
