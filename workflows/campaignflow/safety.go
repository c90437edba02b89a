package campaignflow

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/internal/clip"
	"github.com/genesis-sci/genesis/workflows/activities"
)

// Candidates the lab would refuse are dropped before anyone picks among
// them: a model (or text it read) cannot spend a campaign's lab runs, and
// the lab's patience, on points outside the challenge's safety limits. The
// lab still refuses them on its own; this is the campaign's first line.

// safeCandidatesChange is the workflow.GetVersion change that added the
// filter.
const safeCandidatesChange = "safe-candidates"

// dropUnsafe removes the candidates the lab would refuse, with an event
// that says how many and why.
func (cw *campaignRun) dropUnsafe(role string, cands []agents.Candidate) ([]agents.Candidate, error) {
	if len(cands) == 0 {
		return cands, nil
	}
	pts := make([]challenges.Point, len(cands))
	for i, c := range cands {
		pts[i] = c.Point
	}
	lctx := workflow.WithLocalActivityOptions(cw.ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3, NonRetryableErrorTypes: []string{activities.ErrUnknownChallenge}}})
	var why []string
	if err := workflow.ExecuteLocalActivity(lctx, activities.SafetyCheckName, activities.SafetyInput{Challenge: cw.info.ID, Points: pts}).Get(cw.ctx, &why); err != nil {
		return nil, fmt.Errorf("safety check: %w", err)
	}
	var keep []agents.Candidate
	first := ""
	for i, c := range cands {
		if i < len(why) && why[i] != "" {
			if first == "" {
				first = why[i]
			}
			continue
		}
		keep = append(keep, c)
	}
	if n := len(cands) - len(keep); n > 0 {
		cw.st.Unsafe += n
		cw.event(role, "dropped unsafe", fmt.Sprintf("%d candidate(s) the lab would refuse, before any pick: %s", n, clip.Clip(first, 200)))
	}
	return keep, nil
}
