package challenges

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Numbers that are not finite, and budgets and durations beyond their
// bounds, are refused at load with the field named: NaN passed every
// comparison before, and infinity every upper bound.
func TestValidateRefusesNonFiniteAndHugeNumbers(t *testing.T) {
	dir := t.TempDir()
	bad := `id: numbers
title: Numbers
domain: materials
description: y
objectives: [{name: y, direction: maximize, weight: .nan}]
parameters:
  - {name: a, kind: continuous, low: -.inf, high: .inf}
  - {name: b, kind: discrete, values: [1, .nan]}
  - {name: c, kind: continuous, low: 0, high: 1}
safety: [{parameter: c, max: .nan, reason: r}]
data: {file: missing.csv, source: s, license: l}
lab: {kind: pool, noise: fixed, noise_sd: .nan, duration_seconds: 1e300}
simulation: {kind: knn, cost: .nan, bias: .inf}
budget: {experiments: 9223372036854775807, simulations: 1000000, tokens: 9000000000000}
scoring: {top_fraction: .nan}
`
	if err := os.WriteFile(filepath.Join(dir, "numbers.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDir(dir)
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("want InvalidError, got %v", err)
	}
	for _, want := range []string{"objectives[0].weight: is NaN", "parameters[0].low: is -Inf", "parameters[0].high: is +Inf", "parameters[1].values: is NaN",
		"safety[0].max: is NaN", "lab.noise_sd: is NaN", "lab.duration_seconds: is 1e+300; want 0 to 604800 seconds", "simulation.cost: is NaN",
		"simulation.bias: is +Inf", "scoring.top_fraction: is NaN", "budget.experiments: 9223372036854775807 must be 1 to 1000",
		"budget.simulations: 1000000 must be 0 to 2000", "budget.tokens: 9000000000000 must be 0 (no token budget) to 1000000000"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
