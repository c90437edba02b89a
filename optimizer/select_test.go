package optimizer

import (
	"math"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/optimizer/internal/mixed"
)

// selectObs measures every option of a 12-option parameter twice (a little
// noise apart) with the response f.
func selectObs(f func(o int) float64) []Observation {
	var obs []Observation
	for rep := range 2 {
		for o := range 12 {
			obs = append(obs, Observation{X: []float64{float64(o)}, Y: f(o) + 0.01*float64((o*7+rep*3)%5-2)})
		}
	}
	return obs
}

// TestDescriptorSelection checks that the evidence keeps descriptors that
// explain the response and drops ones that contradict it, and that
// DescriptorsAlways (the default) never drops them.
func TestDescriptorSelection(t *testing.T) {
	desc := make([][]float64, 12)
	for o := range desc {
		desc[o] = []float64{float64(o)}
	}
	space := &Space{Dims: []Dim{{Name: "ligand", Levels: 12, Features: desc}}}
	smooth := selectObs(func(o int) float64 { return math.Sin(float64(o) / 3) })
	// A response that alternates between neighbours in descriptor space:
	// the descriptors say neighbours are alike, the data say the opposite.
	rough := selectObs(func(o int) float64 { return float64(o%2) * 2 })
	for _, tc := range []struct {
		name        string
		obs         []Observation
		use         string
		wantDropped bool
	}{
		{"smooth, select", smooth, DescriptorsSelect, false},
		{"rough, select", rough, DescriptorsSelect, true},
		{"rough, default", rough, "", false},
		{"rough, always", rough, DescriptorsAlways, false},
	} {
		m, err := fitSurrogate(space, tc.obs, FitOptions{}, Options{Descriptors: tc.use})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if m.DescriptorsDropped != tc.wantDropped {
			t.Errorf("%s: descriptors dropped = %v, want %v", tc.name, m.DescriptorsDropped, tc.wantDropped)
		}
		if ls, _ := m.LengthScales(); tc.wantDropped && len(ls) != 0 {
			t.Errorf("%s: dropped, but the model has %d descriptor inputs", tc.name, len(ls))
		}
	}
	var seen []Observation // every option but the last, which stays a candidate
	for _, ob := range rough {
		if ob.X[0] != 11 {
			seen = append(seen, ob)
		}
	}
	res, err := Run(seen, [][]float64{{10}, {11}}, 1, Options{Space: space, Descriptors: DescriptorsSelect})
	if err != nil {
		t.Fatal(err)
	}
	if !res.DescriptorsDropped {
		t.Errorf("Run does not report the dropped descriptors")
	}
}

// TestDescriptorSelectionKeepsChoiceWhenLong checks that past selectUpTo
// observations a warm start's shape decides the model (no second fit).
func TestDescriptorSelectionKeepsChoiceWhenLong(t *testing.T) {
	desc := make([][]float64, 12)
	for o := range desc {
		desc[o] = []float64{float64(o)}
	}
	space := &Space{Dims: []Dim{{Name: "ligand", Levels: 12, Features: desc}}}
	var obs []Observation
	for i := range selectUpTo + 5 {
		o := i % 12
		obs = append(obs, Observation{X: []float64{float64(o)}, Y: math.Sin(float64(o)/3) + 0.01*float64(i%3)})
	}
	plainWarm := &Hyper{LogCat: []float64{0}, LogSignal: 0, LogNoise: -4}
	m, err := fitSurrogate(space, obs, FitOptions{Warm: plainWarm}, Options{Descriptors: DescriptorsSelect})
	if err != nil {
		t.Fatal(err)
	}
	if !m.DescriptorsDropped {
		t.Errorf("a warm start without descriptor length-scales past %d observations should keep the model without them", selectUpTo)
	}
	descWarm := &Hyper{LogLS: []float64{0}, LogCat: []float64{0}, LogSignal: 0, LogNoise: -4}
	m, err = fitSurrogate(space, obs, FitOptions{Warm: descWarm}, Options{Descriptors: DescriptorsSelect})
	if err != nil {
		t.Fatal(err)
	}
	if m.DescriptorsDropped {
		t.Errorf("a warm start with descriptor length-scales past %d observations should keep the descriptors", selectUpTo)
	}
}

// TestLaplaceEvidenceUninformedHyperparameter checks the property the
// choice rests on: a hyperparameter the data say nothing about costs
// (almost) nothing. A descriptor that is the same for every option cannot
// be told from none; both models' evidence must agree.
func TestLaplaceEvidenceUninformedHyperparameter(t *testing.T) {
	obs := selectObs(func(o int) float64 { return float64(o % 3) })
	flat := make([][]float64, 12)
	informative := make([][]float64, 12)
	for o := range flat {
		flat[o] = []float64{float64(o % 3), 1}
		informative[o] = []float64{float64(o % 3)}
	}
	// Both tables reduce to one component (the constant column is
	// dropped), so the models are the same and so must be the evidence.
	a, err := FitModel(&Space{Dims: []Dim{{Name: "x", Levels: 12, Features: flat}}}, obs, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := FitModel(&Space{Dims: []Dim{{Name: "x", Levels: 12, Features: informative}}}, obs, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ea, eb := mixed.LaplaceEvidence(a, FitOptions{}), mixed.LaplaceEvidence(b, FitOptions{})
	if math.IsInf(ea, 0) || math.Abs(ea-eb) > 1e-6 {
		t.Errorf("evidence %v and %v for the same model", ea, eb)
	}
}

func TestDescriptorsOptionValidated(t *testing.T) {
	_, err := Run([]Observation{{X: []float64{0}, Y: 1}, {X: []float64{1}, Y: 2}}, [][]float64{{0.5}}, 1, Options{Descriptors: "sometimes"})
	if err == nil || !strings.Contains(err.Error(), `unknown descriptor use "sometimes"`) {
		t.Errorf("err = %v, want unknown descriptor use", err)
	}
}
