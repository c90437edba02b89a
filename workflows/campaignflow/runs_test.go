package campaignflow

import (
	"testing"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/workflows/activities"
)

// The ledger's rule that the README states against a standalone campaign's:
// a run lost to an instrument fault took the instrument and is charged; a
// run the lab refused never started and is free; a run whose activity
// failed may have run and is charged.
func TestFaultedRunsAreChargedRefusedAreNot(t *testing.T) {
	spent := labSpend([]agents.Result{
		{Source: "lab", Ref: "run-1", Values: []float64{1}},
		{Source: "lab", Ref: "run-2", Note: "run run-2 failed: instrument fault (pipette clogged)"},
		{Source: "lab", Note: activities.RefusedNote + "safety limit on \"ratio\""},
		{Source: "lab", Note: "lab error: deadline exceeded"},
	})
	if spent.LabRuns != 3 {
		t.Errorf("charged %d lab runs, want 3 (measured, faulted, failed activity; not the refused one)", spent.LabRuns)
	}
}
