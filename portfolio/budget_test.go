package portfolio

import (
	"testing"

	"github.com/genesis-sci/genesis/challenges"
)

// A campaign's budget goes into the ledger and comes back unchanged; the
// ledger's own dimensions (node-hours, cost) are not the campaign's.
func TestAmountOfBudget(t *testing.T) {
	b := challenges.Budget{Experiments: 12, Simulations: 4, Tokens: 5000}
	a := AmountOf(b)
	if a != (Amount{LabRuns: 12, Simulations: 4, Tokens: 5000}) {
		t.Errorf("AmountOf(%+v) = %+v", b, a)
	}
	a.NodeHours, a.Cost = 3, 7
	if got := a.Budget(); got != b {
		t.Errorf("Budget() = %+v, want %+v", got, b)
	}
}
