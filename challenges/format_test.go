package challenges

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A small mixed challenge: a headerless data file (Olympus style) with a
// categorical solvent, two fractions that sum to 1, a temperature, and two
// objectives. Replicates at the first point.
const mixedYAML = `id: mixed-test
title: A mixed test challenge
domain: chemical synthesis
description: A test.
objectives:
  - {name: yield, unit: "%", direction: maximize, weight: 3}
  - {name: cost, direction: minimize, weight: 1}
parameters:
  - {name: solvent, kind: categorical, options: [water, ethanol, dmso]}
  - {name: frac_a, kind: continuous, low: 0, high: 1}
  - {name: frac_b, kind: continuous, low: 0, high: 1}
  - {name: temperature, kind: continuous, low: 20, high: 120, unit: C}
constraints:
  - {kind: sum, parameters: [frac_a, frac_b], value: 1, tolerance: 0.001}
data:
  file: mixed.csv
  columns: [solvent, frac_a, frac_b, temperature, yield, cost]
  source: synthetic
  license: CC0
lab: {kind: gp, noise: replicate, duration_seconds: 1, rationale: smooth response}
simulation: {kind: knn, neighbors: 3, bias: 0.05, noise_sd: 0.1, cost: 0.2, duration_seconds: 1}
budget: {experiments: 10, simulations: 20}
safety:
  - {parameter: temperature, max: 100, when: {solvent: water}, reason: water boils}
scoring: {top_fraction: 0.1}
`

// mixedCSV is generated: yield rises with temperature and frac_a, best in ethanol.
func mixedCSV() string {
	var b strings.Builder
	b.WriteString("water,0.5,0.5,40,46,5.4\nwater,0.5,0.5,40,48,5.6\n")
	solvents := []string{"water", "ethanol", "dmso"}
	for i := range 60 {
		s := solvents[i%3]
		a := float64(i%10) / 10
		temp := 20 + float64((i*7)%100)
		y := 20 + 30*a + 0.3*temp
		if s == "ethanol" {
			y += 10
		}
		cost := 2 + temp/20 + 3*a
		b.WriteString(s + "," + ftoa(a) + "," + ftoa(1-a) + "," + ftoa(temp) + "," + ftoa(y) + "," + ftoa(cost) + "\n")
	}
	return b.String()
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func writeChallenge(t *testing.T, yaml, csv string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mixed.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func loadMixed(t *testing.T) *Challenge {
	t.Helper()
	cat, err := LoadDir(writeChallenge(t, mixedYAML, mixedCSV()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cat.Get("mixed-test")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMixedChallenge(t *testing.T) {
	c := loadMixed(t)
	if c.Finite() || !c.MultiObjective() {
		t.Fatalf("finite %v multi %v", c.Finite(), c.MultiObjective())
	}
	p := c.Pool()
	if p.Rows != 62 || p.Replicated != 1 {
		t.Errorf("rows %d replicated %d, want 62 and 1", p.Rows, p.Replicated)
	}
	if p.PooledSD[0] == 0 {
		t.Error("pooled replicate SD is 0 with a replicated point")
	}
	if got, want := c.EncodedDim(), 3+3; got != want {
		t.Errorf("encoded dim %d, want %d (one-hot solvent)", got, want)
	}
	// Multi-objective score: weights normalise to 0.75/0.25; best yield with lowest cost scores 1.
	sc := c.Scalarizer()
	if math.Abs(sc.Weights[0]-0.75) > 1e-12 {
		t.Errorf("weights %v", sc.Weights)
	}
	best := []float64{p.Low[0] + p.Range[0], p.Low[1]}
	worst := []float64{p.Low[0], p.Low[1] + p.Range[1]}
	if s := c.Score(best); math.Abs(s-1) > 1e-12 {
		t.Errorf("best corner scores %v, want 1", s)
	}
	if s := c.Score(worst); math.Abs(s) > 1e-12 {
		t.Errorf("worst corner scores %v, want 0", s)
	}

	// Constraint: the fractions must sum to 1.
	if _, err := c.ParseMap(map[string]any{"solvent": "water", "frac_a": 0.5, "frac_b": 0.6, "temperature": 50.0}); err == nil || !strings.Contains(err.Error(), "frac_a + frac_b = 1") {
		t.Errorf("constraint not enforced: %v", err)
	}
	// Safety combination: water above 100 °C is refused, ethanol is not.
	hot := Point{0, 0.5, 0.5, 110}
	if err := c.CheckSafety(hot); err == nil || !strings.Contains(err.Error(), "when solvent=water") {
		t.Errorf("water at 110: %v", err)
	}
	hot[0] = 1
	if err := c.CheckSafety(hot); err != nil {
		t.Errorf("ethanol at 110 refused: %v", err)
	}

	// The GP lab answers anywhere in the space, close to the data at measured points.
	for i := 0; i < p.Len(); i += 7 {
		tr, err := c.Truth(p.Points[i])
		if err != nil {
			t.Fatal(err)
		}
		if d := math.Abs(tr[0] - p.Values[i][0]); d > 0.1*p.Range[0] {
			t.Errorf("GP at measured point %s: %.3g vs measured %.3g", c.Format(p.Points[i]), tr[0], p.Values[i][0])
		}
	}
	off := Point{1, 0.25, 0.75, 77.7}
	if _, err := c.Measure(off, "k"); err != nil {
		t.Errorf("emulator lab refused an unmeasured in-bounds point: %v", err)
	}

	// Sampling respects bounds and constraints, is reproducible and distinct.
	pts := c.Sample(300, 7)
	if len(pts) != 300 {
		t.Fatalf("sampled %d points", len(pts))
	}
	again := c.Sample(300, 7)
	seen := map[string]bool{}
	solvents := map[float64]bool{}
	for i, q := range pts {
		if err := c.CheckPoint(q); err != nil {
			t.Fatalf("sampled point %s: %v", c.Format(q), err)
		}
		if c.Key(q) != c.Key(again[i]) {
			t.Fatal("sampling is not reproducible")
		}
		if seen[c.Key(q)] {
			t.Fatal("duplicate sampled point")
		}
		seen[c.Key(q)] = true
		solvents[q[0]] = true
	}
	if len(solvents) != 3 {
		t.Errorf("sampled solvents %v", solvents)
	}

	h, err := c.Holdout(5)
	if err != nil {
		t.Fatal(err)
	}
	if h.R2[0] < 0.8 {
		t.Errorf("GP held-out R² on a smooth response %.2f, want ≥ 0.8", h.R2[0])
	}
	t.Logf("held-out: RMSE %v NRMSE %v R² %v", h.RMSE, h.NRMSE, h.R2)
}

func TestKNNEmulatorReproducesMeasuredPoints(t *testing.T) {
	src := strings.Replace(mixedYAML, "lab: {kind: gp,", "lab: {kind: knn, neighbors: 4,", 1)
	cat, err := LoadDir(writeChallenge(t, src, mixedCSV()))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := cat.Get("mixed-test")
	for i, q := range c.Pool().Points {
		tr, err := c.Truth(q)
		if err != nil {
			t.Fatal(err)
		}
		if tr[0] != c.Pool().Values[i][0] || tr[1] != c.Pool().Values[i][1] {
			t.Fatalf("knn at a measured point: %v, want %v", tr, c.Pool().Values[i])
		}
	}
}

// Each malformed definition gives the specific error, naming file and field.
func TestMalformedDefinitions(t *testing.T) {
	cases := []struct {
		name, old, new string
		csv            string
		want           string
	}{
		{"missing title", "title: A mixed test challenge\n", "", "", "c.yaml: title: is required"},
		{"missing description", "description: A test.\n", "", "", "description: is required"},
		{"missing direction", "{name: cost, direction: minimize, weight: 1}", "{name: cost, weight: 1}", "", `objectives[1].direction: is required: "maximize" or "minimize"`},
		{"bad direction", "direction: maximize, weight: 3", "direction: up, weight: 3", "", `objectives[0].direction: "up" must be`},
		{"bad bounds", "low: 20, high: 120", "low: 120, high: 20", "", "parameters[3]: low (120) must be below high (20)"},
		{"missing bounds", "{name: frac_a, kind: continuous, low: 0, high: 1}", "{name: frac_a, kind: continuous}", "", "parameters[1]: a continuous parameter needs low and high"},
		{"empty categorical", "options: [water, ethanol, dmso]", "options: []", "", "parameters[0].options: a categorical parameter needs at least 2 options (got 0)"},
		{"unknown kind", "kind: categorical", "kind: nominal", "", `parameters[0].kind: "nominal" must be one of`},
		{"unknown column", "{name: temperature, kind: continuous", "{name: temperature, column: temp_c, kind: continuous", "", `parameters[3].column: mixed.csv has no column "temp_c"; columns are: solvent, frac_a`},
		{"unknown objective column", "{name: cost, direction", "{name: cost, column: price, direction", "", `objectives[1].column: mixed.csv has no column "price"`},
		{"unknown field", "scoring: {top_fraction: 0.1}", "scoring: {top_fraction: 0.1}\ncolour: red", "", "field colour not found"},
		{"bad constraint parameter", "parameters: [frac_a, frac_b]", "parameters: [frac_a, frac_c]", "", `constraints[0].parameters: "frac_c" is not a declared parameter`},
		{"safety on unknown parameter", "parameter: temperature, max: 100", "parameter: pressure, max: 100", "", `safety[0].parameter: "pressure" is not a declared parameter`},
		{"safety when bad option", "when: {solvent: water}", "when: {solvent: acetone}", "", `safety[0].when: parameter "solvent": "acetone" is not an option`},
		{"emulator without rationale", ", rationale: smooth response}", "}", "", "lab.rationale: is required for an emulator lab"},
		{"bad lab kind", "lab: {kind: gp", "lab: {kind: neural", "", `lab.kind: "neural" must be`},
		{"missing data file", "file: mixed.csv", "file: nope.csv", "", `data.file: cannot open "nope.csv"`},
		{"data out of bounds", "", "", "water,0.5,0.5,400,31,5\nwater,0.5,0.5,40,33,5\n", "parameters[3]: mixed.csv line 1: parameter \"temperature\": 400 is out of range"},
		{"data breaks constraint", "", "", "water,0.5,0.6,40,31,5\nwater,0.5,0.5,40,33,5\n", "constraints: mixed.csv line 1: constraint frac_a + frac_b = 1"},
		{"data unknown option", "", "", "acetone,0.5,0.5,40,31,5\nwater,0.5,0.5,40,33,5\n", `mixed.csv line 1: parameter "solvent": "acetone" is not an option`},
		{"data not a number", "", "", "water,0.5,0.5,40,n/a,5\nwater,0.5,0.5,40,33,5\n", `objectives[0]: mixed.csv line 1: "n/a" is not a finite number`},
		{"ragged row", "", "", "water,0.5,0.5,40,31\nwater,0.5,0.5,40,33,5\n", "mixed.csv line 1 has 5 fields; the header has 6"},
		{"top fraction", "top_fraction: 0.1", "top_fraction: 0", "", "scoring.top_fraction: 0 must be in (0, 0.5]"},
		{"objective bounds reversed", "direction: maximize, weight: 3", "direction: maximize, weight: 3, bounds: [100, 0]", "", "objectives[0].bounds: is [100 0]; want [low, high] with low < high"},
		{"objective bounds length", "direction: maximize, weight: 3", "direction: maximize, weight: 3, bounds: [0]", "", "objectives[0].bounds: is [0]; want [low, high]"},
		{"family without name", "scoring: {top_fraction: 0.1}", "scoring: {top_fraction: 0.1}\nfamily: {order: 1}", "", `family.name: is ""; want lower-case letters`},
		{"family order", "scoring: {top_fraction: 0.1}", "scoring: {top_fraction: 0.1}\nfamily: {name: pair, order: 0}", "", "family.order: is 0; want the challenge's place"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := mixedYAML
			if tc.old != "" {
				if !strings.Contains(src, tc.old) {
					t.Fatalf("fixture has no %q", tc.old)
				}
				src = strings.Replace(src, tc.old, tc.new, 1)
			}
			csv := tc.csv
			if csv == "" {
				csv = mixedCSV()
			}
			_, err := LoadDir(writeChallenge(t, src, csv))
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("want InvalidError, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not contain %q:\n%v", tc.want, err)
			}
			if !strings.Contains(err.Error(), "c.yaml") {
				t.Errorf("error does not name the file:\n%v", err)
			}
		})
	}
}

func TestHeaderAndSkipRows(t *testing.T) {
	src := strings.Replace(mixedYAML, "  columns: [solvent, frac_a, frac_b, temperature, yield, cost]\n", "  skip_rows: 1\n", 1)
	csv := "solvent,frac_a,frac_b,temperature,yield,cost\nTYPE,DATA,DATA,DATA,DATA,DATA\n" + mixedCSV()
	cat, err := LoadDir(writeChallenge(t, src, csv))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := cat.Get("mixed-test")
	if c.Pool().Rows != 62 {
		t.Errorf("rows %d, want 62", c.Pool().Rows)
	}
	// A BOM before the header is ignored.
	cat, err = LoadDir(writeChallenge(t, src, "\ufeff"+csv))
	if err != nil {
		t.Fatalf("BOM: %v", err)
	}
	if c, _ := cat.Get("mixed-test"); c.Pool().Rows != 62 {
		t.Error("BOM file lost rows")
	}
}

func TestValidatePaths(t *testing.T) {
	dir := writeChallenge(t, mixedYAML, mixedCSV())
	bad := strings.Replace(mixedYAML, "id: mixed-test", "id: crossed-barrel-toughness", 1)
	if err := os.WriteFile(filepath.Join(dir, "clash.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	res := ValidatePaths([]string{dir, filepath.Join(dir, "absent.yaml")})
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	byFile := map[string]Validated{}
	for _, r := range res {
		byFile[filepath.Base(r.File)] = r
	}
	if r := byFile["c.yaml"]; len(r.Problems) != 0 || r.Challenge == nil {
		t.Errorf("c.yaml: %v", r.Problems)
	}
	if r := byFile["clash.yaml"]; len(r.Problems) == 0 || !strings.Contains(r.Problems[0].Msg, "built-in") {
		t.Errorf("clash.yaml: %v", r.Problems)
	}
	if r := byFile["absent.yaml"]; len(r.Problems) == 0 {
		t.Error("absent file validated")
	}
}
