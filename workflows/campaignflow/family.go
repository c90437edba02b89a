package campaignflow

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/internal/clip"
	"github.com/genesis-sci/genesis/workflows/activities"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// recallFamily gives a campaign in a family its siblings' measurements, once,
// when it starts (not after continuing as new: they are in its state).
func (cw *campaignRun) recallFamily() error {
	if cw.info.Family == "" || cw.in.NoTransfer || cw.st.Transfer != nil {
		return nil
	}
	if workflow.GetVersion(cw.ctx, "family-transfer", workflow.DefaultVersion, 1) != 1 {
		return nil
	}
	actx := workflow.WithActivityOptions(cw.ctx, workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 5}})
	var rec activities.FamilyRecall
	if err := workflow.ExecuteActivity(actx, activities.RecallFamilyName, activities.FamilyRecallInput{Challenge: cw.info.ID, MemoryScope: cw.in.MemoryScope}).Get(cw.ctx, &rec); err != nil {
		// campaign.Transfer is a head start, not a requirement: say so and go on
		// cold.
		cw.event("campaign", "no transfer", "reading the siblings' results failed: "+clip.Clip(err.Error(), 160))
		cw.st.Transfer = &campaign.Transfer{Family: cw.info.Family}
		return nil
	}
	t := &campaign.Transfer{Family: cw.info.Family, From: map[string]int{}, Points: len(rec.Points), Skipped: rec.Skipped}
	for _, p := range rec.Points {
		t.From[p.Challenge]++
		t.Records = append(t.Records, p.Record)
	}
	cw.st.Transfer, cw.st.Related = t, rec.Points
	if len(rec.Points) == 0 {
		cw.event("campaign", "no transfer", fmt.Sprintf("family %s: memory holds no results of %s yet", cw.info.Family, strings.Join(cw.info.Siblings, ", ")))
		return nil
	}
	var from []string
	for _, sib := range cw.info.Siblings {
		if n := t.From[sib]; n > 0 {
			from = append(from, fmt.Sprintf("%s (%d)", sib, n))
		}
	}
	detail := fmt.Sprintf("family %s: the optimiser starts from %d measurements of %s", cw.info.Family, len(rec.Points), strings.Join(from, ", "))
	if rec.Skipped > 0 {
		detail += fmt.Sprintf("; %d did not fit this challenge's space", rec.Skipped)
	}
	cw.event("campaign", "transfer", detail)
	return nil
}
