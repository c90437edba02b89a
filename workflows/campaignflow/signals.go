package campaignflow

import (
	"cmp"
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// signalHandler applies one value of a signal channel; recv takes the
// value and reports whether one came. One listener takes the campaign's
// signals as they come; settleSignals takes what is left before
// continue-as-new.
type signalHandler struct {
	ch     workflow.ReceiveChannel
	handle func(recv func(valuePtr any) bool)
}

// listen starts the listener for the campaign's signals.
func (cw *campaignRun) listen() {
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
func (cw *campaignRun) settleSignals() {
	yielded := false
	workflow.Go(cw.ctx, func(workflow.Context) { yielded = true })
	_ = workflow.Await(cw.ctx, func() bool { return yielded })
	cw.drainSignals()
}

// drainSignals applies every signal waiting in a channel.
func (cw *campaignRun) drainSignals() {
	for _, h := range cw.signals {
		for got := true; got; {
			h.handle(func(v any) bool { got = h.ch.ReceiveAsync(v); return got })
		}
	}
}

// signalHandlers are the campaign's signals (and a portfolio's, in one).
func (cw *campaignRun) signalHandlers() []signalHandler {
	on := func(name string, handle func(recv func(any) bool)) signalHandler {
		return signalHandler{workflow.GetSignalChannel(cw.ctx, name), handle}
	}
	hs := []signalHandler{
		on(campaign.SignalPause, func(recv func(any) bool) {
			if recv(nil) && !cw.paused {
				cw.paused = true
				cw.event("campaign", "paused", "by a user; it continues when resumed")
			}
		}),
		on(campaign.SignalResume, func(recv func(any) bool) {
			if recv(nil) && cw.paused {
				cw.paused = false
				cw.event("campaign", "resumed", "by a user")
			}
		}),
		on(campaign.SignalDecision, func(recv func(any) bool) {
			var d campaign.Decision
			// A decision names the iteration whose runs were shown; one for
			// runs no longer pending is dropped, so nobody approves runs
			// they did not see.
			if recv(&d) && cw.pending != nil && cw.decision == nil && (d.Iteration == 0 || d.Iteration == cw.pending.Iteration) {
				cw.decision = &d
			}
		}),
		on(campaign.SignalStop, func(recv func(any) bool) {
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
		on(campaign.SignalGrant, func(recv func(any) bool) {
			var gr portfolio.Grant
			if recv(&gr) && gr.Seq == cw.m.waiting {
				cw.m.grant = &gr
			}
		}),
		on(campaign.SignalReplan, func(recv func(any) bool) {
			var why string
			if recv(&why) {
				// The counts restart now, so the portfolio judges the re-plan afresh.
				cw.m.replan = why
				cw.st.Stale, cw.st.Repeats = 0, 0
				cw.event("portfolio", "re-plan", why)
			}
		}),
		on(campaign.SignalBudget, func(recv func(any) bool) {
			var a portfolio.Action
			if recv(&a) {
				cw.in.Budget = a.Budget.Budget()
				cw.event("portfolio", "budget", fmt.Sprintf("%s; now %d lab runs, %d simulations", a.Reason, cw.in.Budget.Experiments, cw.in.Budget.Simulations))
			}
		}))
}
