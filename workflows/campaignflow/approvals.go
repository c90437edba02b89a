package campaignflow

import (
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/internal/clip"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// approved asks for approval of the chosen lab runs when the campaign
// requires it, and waits for the decision (or a stop). why is how the runs
// were chosen; the rationale shown adds the hypotheses they test.
func (cw *campaignRun) approved(cands []agents.Candidate, picks []int, why string) bool {
	if !cw.in.RequireApproval || len(picks) == 0 {
		return true
	}
	p := &campaign.Pending{Iteration: cw.st.Iteration}
	var hyps []string
	for _, k := range picks {
		p.Points = append(p.Points, cw.info.Map(cands[k].Point))
		if h := cands[k].Hypothesis; h != "" && !slices.Contains(hyps, h) {
			hyps = append(hyps, h)
		}
	}
	p.Rationale = strings.TrimRight(why, ". ")
	if len(hyps) > 0 {
		p.Rationale += ". Testing: " + clip.Clip(strings.Join(hyps, " / "), 300)
	}
	cw.pending, cw.decision = p, nil
	cw.phase = "awaiting approval"
	cw.event(agents.LabOperator, "awaiting approval", fmt.Sprintf("%d lab run(s): approve or reject in the UI or API", len(picks)))
	t0 := workflow.Now(cw.ctx)
	_ = workflow.Await(cw.ctx, func() bool { return cw.decision != nil || cw.stop != "" })
	cw.st.Time.Wait += cw.since(t0)
	d := cw.decision
	cw.pending, cw.decision = nil, nil
	switch {
	case d == nil:
		return false
	case d.Approve:
		cw.event(agents.LabOperator, "approved", strings.TrimSpace(d.By+" "+d.Reason))
		return true
	default:
		cw.event(agents.LabOperator, "rejected", strings.TrimSpace(d.By+" "+d.Reason))
		cw.st.Stale++
		return false
	}
}
