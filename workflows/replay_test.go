package workflows

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/workflows/campaign"
	"github.com/genesis-sci/genesis/workflows/campaignflow"
)

// A history recorded from a real campaign must replay against the current
// workflow code: a change that breaks determinism fails here before it can
// break running campaigns. Re-record (see workflows/e2e/record_test.go) only
// after guarding the change with workflow.GetVersion.
func TestReplayRecordedCampaign(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(campaignflow.CampaignWorkflow, workflow.RegisterOptions{Name: campaign.CampaignWorkflowName})
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/campaign-history.json"); err != nil {
		t.Fatal(err)
	}
}
