package campaignflow

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/internal/clip"
	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// A campaign in a portfolio asks the Portfolio workflow before every spend
// (a lab batch, a set of simulation jobs, a model call) and waits for the
// grant; after the spend it reports what was really used, and after every
// iteration its progress. Outside a portfolio these calls do nothing.

// portfolioSide is what a campaign keeps of its side of the protocol.
type portfolioSide struct {
	grant   *portfolio.Grant
	waiting int
	replan  string
	// owed is the last grant's release, sent with the next message: the
	// next request, the iteration's report, or the end.
	owed *portfolio.Release
}

// acquire asks the portfolio for n units of kind and waits for the grant.
// It returns the grant's number and how many units were granted (n outside
// a portfolio); 0 means none, and a stop while waiting also gives none.
func (cw *campaignRun) acquire(kind string, n int, points []map[string]any) (int, int) {
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
	if err := workflow.SignalExternalWorkflow(cw.ctx, cw.in.Portfolio, "", campaign.SignalPortfolioRequest, req).Get(cw.ctx, nil); err != nil {
		cw.stop = "its portfolio is gone: " + clip.Clip(err.Error(), 120)
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
func (cw *campaignRun) release(seq int, spent portfolio.Amount) {
	if cw.in.Portfolio == "" || seq == 0 {
		return
	}
	cw.m.owed = &portfolio.Release{Campaign: cw.id, Seq: seq, Spent: spent}
}

// progress reports the iteration to the portfolio.
func (cw *campaignRun) progress() {
	if cw.in.Portfolio == "" {
		return
	}
	r := campaign.Report{Progress: portfolio.Progress{Campaign: cw.id, Iteration: cw.st.Iteration, Stale: cw.st.Stale, Repeats: cw.st.Repeats}, Release: cw.m.owed}
	cw.m.owed = nil
	if cw.best != nil {
		v := cw.best.Values[0]
		r.Best = &v
	}
	_ = workflow.SignalExternalWorkflow(cw.ctx, cw.in.Portfolio, "", campaign.SignalPortfolioProgress, r).Get(cw.ctx, nil)
}

// finished tells the portfolio the campaign ended.
func (cw *campaignRun) finished(reason string, failed bool) {
	if cw.in.Portfolio == "" {
		return
	}
	d := campaign.Done{Campaign: cw.id, Reason: reason, Failed: failed, Release: cw.m.owed}
	cw.m.owed = nil
	_ = workflow.SignalExternalWorkflow(cw.ctx, cw.in.Portfolio, "", campaign.SignalPortfolioDone, d).Get(cw.ctx, nil)
}

// labPoints are the settings of the candidates to run, for approval.
func (cw *campaignRun) labPoints(cands []agents.Candidate) []map[string]any {
	out := make([]map[string]any, len(cands))
	for i, c := range cands {
		out[i] = cw.info.Map(c.Point)
	}
	return out
}
