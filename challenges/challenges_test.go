package challenges

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltinCrossedBarrel(t *testing.T) {
	cat, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	c, err := cat.Get(DefaultID)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Pool()
	if p.Len() != 600 || p.Rows != 1800 {
		t.Fatalf("pool: %d points from %d rows, want 600 from 1800", p.Len(), p.Rows)
	}
	top := c.TopSet()
	if len(top) != 30 {
		t.Fatalf("top set %d, want 30", len(top))
	}
	// Liang et al.: top-5 % threshold ≥ 34.47, best 46.71.
	if thr := p.Values[top[len(top)-1]][0]; math.Abs(thr-34.47) > 0.01 {
		t.Errorf("top-5%% threshold %.3f, want 34.47", thr)
	}
	if b := c.BestValue(); math.Abs(b-46.71) > 0.01 {
		t.Errorf("best %.3f, want 46.71", b)
	}
}

func TestMeasureAndSimulate(t *testing.T) {
	cat, _ := Builtin()
	c, _ := cat.Get(DefaultID)
	pt := c.Pool().Points[c.TopSet()[0]]
	a, err := c.Measure(pt, "k1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Measure(pt, "k1")
	if a[0] != b[0] {
		t.Errorf("same key gave %v then %v", a, b)
	}
	d, _ := c.Measure(pt, "k2")
	if a[0] == d[0] {
		t.Errorf("different keys gave the same noisy value %v", a)
	}
	if math.Abs(a[0]-c.BestValue()) > 5*c.Pool().SD[c.TopSet()[0]][0]+1e-9 {
		t.Errorf("measurement %v too far from pool value %v", a[0], c.BestValue())
	}
	off := Point{7, 0, 1.5, 0.7}
	if _, err := c.Measure(off, "x"); err == nil {
		t.Error("n=7 is not in the design space, want an error")
	}
	// Simulation is correlated with the truth but not equal to it.
	var se, n float64
	for i, q := range c.Pool().Points {
		s, err := c.Simulate(q, "s")
		if err != nil {
			t.Fatal(err)
		}
		se += (s[0] - c.Pool().Values[i][0]) * (s[0] - c.Pool().Values[i][0])
		n++
	}
	rmse := math.Sqrt(se / n)
	if rmse < 0.5 || rmse > 0.5*c.Pool().Range[0] {
		t.Errorf("simulation RMSE %.2f: want a biased, noisy but informative estimate", rmse)
	}
}

func TestParseMap(t *testing.T) {
	cat, _ := Builtin()
	c, _ := cat.Get(DefaultID)
	p, err := c.ParseMap(map[string]any{"n": 8.0, "theta": "25", "r": 2.0, "t": 1.05})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Format(p); got != "n=8 theta=25 r=2 t=1.05" {
		t.Errorf("format %q", got)
	}
	_, err = c.ParseMap(map[string]any{"n": 9.0, "r": 2.0, "t": 1.05, "zeta": 1.0})
	for _, want := range []string{`"n": 9 is not allowed`, `missing parameter "theta"`, `unknown parameter "zeta"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	bad := `id: Bad_ID
title: ""
domain: x
description: y
objectives: [{name: y, direction: up}]
parameters:
  - {name: a, kind: continuous, low: 2, high: 1}
  - {name: b, kind: weird}
data: {file: missing.csv, source: s, license: l}
lab: {kind: pool, noise: replicate}
simulation: {kind: knn, cost: 0}
budget: {experiments: 0}
scoring: {top_fraction: 0.05}
`
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDir(dir)
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("want InvalidError, got %v", err)
	}
	for _, want := range []string{"bad.yaml: id:", "title: is required", "objectives[0].direction", "parameters[0]: low (2) must be below high (1)", "parameters[1].kind", "simulation.cost", "budget.experiments"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestUnknownChallenge(t *testing.T) {
	cat, _ := Builtin()
	_, err := cat.Get("nope")
	if err == nil || !strings.Contains(err.Error(), DefaultID) {
		t.Fatalf("want an error listing known challenges, got %v", err)
	}
}

// A bounded objective is modelled through a logit warp: monotone, so the
// order of measurements is kept, finite at and beyond the bounds, and
// undone by UnwarpScore; without bounds the search score is the score.
func TestSearchScoreWarp(t *testing.T) {
	c := &Challenge{Objectives: []Objective{{Name: "yield", Direction: Maximize, Bounds: []float64{0, 100}}}}
	prev := math.Inf(-1)
	for _, y := range []float64{-3, 0, 0.4, 10, 50, 90, 99.6, 100, 104} {
		w := c.SearchScore([]float64{y})
		if math.IsInf(w, 0) || math.IsNaN(w) || w < prev {
			t.Errorf("yield %v warps to %v after %v: want finite and non-decreasing", y, w, prev)
		}
		prev = w
		if y > 1 && y < 99 {
			if back := c.UnwarpScore(w); math.Abs(back-y) > 1e-9 {
				t.Errorf("yield %v: unwarped %v", y, back)
			}
		}
	}
	if w := c.SearchScore([]float64{50}); math.Abs(w) > 1e-12 {
		t.Errorf("the middle of the range warps to %v, want 0", w)
	}
	m := &Challenge{Objectives: []Objective{{Name: "loss", Direction: Minimize, Bounds: []float64{0, 1}}}}
	if !(m.SearchScore([]float64{0.1}) > m.SearchScore([]float64{0.9})) || math.Abs(m.UnwarpScore(m.SearchScore([]float64{0.3}))-0.3) > 1e-9 {
		t.Error("a minimised bounded objective is not oriented or unwarped right")
	}
	plain := &Challenge{Objectives: []Objective{{Name: "x", Direction: Minimize}}}
	if plain.SearchScore([]float64{4}) != -4 || plain.UnwarpScore(-4) != 4 {
		t.Error("without bounds the search score is the oriented score")
	}
}
