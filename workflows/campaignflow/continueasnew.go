package campaignflow

import (
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/workflows/campaign"
)

// A campaign's history grows with every activity; before it grows too
// long (the server's suggestion, or the input's MaxHistory) the campaign
// continues as new, carrying its whole state (campaign.CampaignState is small by
// design) in the next run's input.

// historyLong reports whether the campaign should continue as new.
func (cw *campaignRun) historyLong() bool {
	info := workflow.GetInfo(cw.ctx)
	return info.GetContinueAsNewSuggested() || (cw.in.MaxHistory > 0 && info.GetCurrentHistoryLength() >= cw.in.MaxHistory)
}

// handOver readies the next run's input once every handler has finished.
// Signals delivered in this task that the listener has not taken yet
// would end with this run: they are taken now, and when one stops or
// pauses the campaign, it does so here rather than continue (ok is false).
func (cw *campaignRun) handOver() (next campaign.CampaignInput, ok bool) {
	_ = workflow.Await(cw.ctx, func() bool { return workflow.AllHandlersFinished(cw.ctx) })
	cw.settleSignals()
	if cw.stop != "" || cw.paused {
		return next, false
	}
	next = cw.in
	cw.st.Replan = cw.m.replan
	next.Resume = cw.st
	return next, true
}
