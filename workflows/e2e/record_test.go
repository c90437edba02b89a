package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// TestRecordHistory writes a real campaign's history for the replay test in
// package workflows. Run it after a deliberate workflow change that is
// guarded by workflow.GetVersion:
//
//	GENESIS_RECORD_HISTORY=$PWD/workflows/testdata/campaign-history.json go test ./workflows/e2e -run RecordHistory
func TestRecordHistory(t *testing.T) {
	out := os.Getenv("GENESIS_RECORD_HISTORY")
	if out == "" {
		t.Skip("set GENESIS_RECORD_HISTORY=FILE to record a history")
	}
	e := newEnv(t)
	e.worker(t, team(0), openMemory(t, e.dir))
	c := e.ts.GetDefaultClient()
	runCampaign(t, c, "campaign-recorded", campaign.CampaignInput{Challenge: challenges.DefaultID, Model: "scripted", Budget: challenges.Budget{Experiments: 6}, Seed: 2}, 2*time.Minute)
	ctx := context.Background()
	it := c.GetWorkflowHistory(ctx, "campaign-recorded", "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events to %s", len(h.Events), out)
}
