package portfolio

import (
	"encoding/json"
	"strings"
	"testing"
)

// Numbers that are not finite or beyond their bounds are refused with the
// field named: lab_cost 1e308 made the ledger +Inf (and the workflow failed
// to encode it), .nan passed every check.
func TestParseRefusesNonFiniteAndHugeNumbers(t *testing.T) {
	_, err := Parse([]byte(`
name: numbers
model: "ollama:../../etc"
capacity: {lab: 1000000}
budget: {cost: .inf, node_hours: .nan, lab_runs: 9223372036854775807}
token_reserve: 99999999999
approval: {max_auto_cost: .nan, timeout: 100000h}
stall: {patience: 1000000}
campaigns:
  - {challenge: a, lab_cost: 1e308, max_batch: 1000, budget: {lab_runs: 9223372036854775807, tokens: 9000000000000}}
  - {challenge: b, lab_cost: .nan, model: "none:x", routine: {x: {max: .nan}}}
  - {challenge: c, lab_cost: -.inf, budget: {cost: 1e300, simulations: 1000000}}
`), cat)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"model: model \"ollama:../../etc\": the name must start with a letter or digit",
		"capacity.lab: is 1000000; want 1 to 1000",
		"budget.cost: is +Inf; want a finite number", "budget.node_hours: is NaN; want a finite number", "budget.lab_runs: is 9223372036854775807; at most 100000",
		"token_reserve: is 99999999999; want 0 (the default) to 10000000",
		"approval.max_auto_cost: is NaN", "approval.timeout: is longer than 8760h0m0s", "stall: patience and repeats are at most 1000",
		"campaigns[0].lab_cost: is 1e+308; want 0 to 1e+06", "campaigns[0].max_batch: is 1000; want 1 to 64",
		"campaigns[0].budget.lab_runs: is 9223372036854775807; at most 1000", "campaigns[0].budget.tokens: is 9000000000000; at most 1000000000",
		"campaigns[1].lab_cost: is NaN", "campaigns[1].model: model \"none:x\": unknown provider", "campaigns[1].routine.x: has a bound that is not a finite number",
		"campaigns[2].lab_cost: is -Inf", "campaigns[2].budget.cost: is 1e+300; at most 1000000000000", "campaigns[2].budget.simulations: is 1000000; at most 2000",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// A spec at its bounds passes, and its ledger stays a number JSON carries.
func TestParseAtTheBounds(t *testing.T) {
	s := mustParse(t, `
name: big
capacity: {lab: 1000, hpc: 1000, model: 1000}
budget: {cost: 1e12, node_hours: 1e6}
campaigns:
  - {challenge: a, lab_cost: 1e6, max_batch: 64, budget: {lab_runs: 1000, simulations: 2000, tokens: 1000000000, cost: 1e12}}
`)
	sched := New(*s, []string{"c0"})
	if _, err := json.Marshal(sched); err != nil {
		t.Fatalf("the scheduler does not encode: %v", err)
	}
}
