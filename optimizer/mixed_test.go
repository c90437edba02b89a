package optimizer

import (
	"math"
	"strings"
	"testing"
)

// mixedSpace is a space with a numeric parameter, a plain categorical and a
// categorical with descriptors.
func mixedSpace() *Space {
	return &Space{Dims: []Dim{
		{Name: "temperature"},
		{Name: "base", Levels: 3},
		{Name: "ligand", Levels: 4, Features: [][]float64{{1, 2, 7}, {2, 1, 7}, {0, 5, 7}, {3, 3, 7}}},
	}}
}

// TestModelLearnsCategoricals: with two categorical parameters whose effects
// add up, a model fitted on the grid less one combination per option of the
// first ranks the unseen combinations by their true values.
func TestModelLearnsCategoricals(t *testing.T) {
	a := []float64{0, 3, 1, 2}
	b := []float64{0, 1.5, 0.5}
	space := &Space{Dims: []Dim{{Name: "a", Levels: 4}, {Name: "b", Levels: 3}}}
	var obs []Observation
	var unseen [][]float64
	for i := range 4 {
		for j := range 3 {
			x := []float64{float64(i), float64(j)}
			if j != (i*2)%3 {
				obs = append(obs, Observation{X: x, Y: a[i] + b[j]})
			} else {
				unseen = append(unseen, x)
			}
		}
	}
	m, err := FitModel(space, obs, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	means, _, err := m.Predict(unseen)
	if err != nil {
		t.Fatal(err)
	}
	// Count correctly ordered pairs of unseen points.
	good, total := 0, 0
	for p := range unseen {
		for q := p + 1; q < len(unseen); q++ {
			tp := a[int(unseen[p][0])] + b[int(unseen[p][1])]
			tq := a[int(unseen[q][0])] + b[int(unseen[q][1])]
			if tp == tq {
				continue
			}
			total++
			if (means[p] > means[q]) == (tp > tq) {
				good++
			}
		}
	}
	if float64(good) < 0.8*float64(total) {
		t.Errorf("only %d of %d pairs of unseen combinations ordered correctly (means %v)", good, total, means)
	}
}

// TestDescriptorsShareInformation: options close in descriptor space are
// predicted alike, so what was measured on one option informs its
// neighbours; without descriptors every unseen option looks the same.
func TestDescriptorsShareInformation(t *testing.T) {
	desc := [][]float64{{0}, {0.1}, {0.2}, {0.8}, {0.9}, {1.0}}
	f := func(o int) float64 { return 10 * desc[o][0] }
	obs := []Observation{{X: []float64{0}, Y: f(0)}, {X: []float64{2}, Y: f(2)}, {X: []float64{3}, Y: f(3)}, {X: []float64{5}, Y: f(5)}}
	with, err := FitModel(&Space{Dims: []Dim{{Name: "ligand", Levels: 6, Features: desc}}}, obs, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, _, _ := with.Predict([][]float64{{1}, {4}})
	if !(m[1] > m[0]+3) {
		t.Errorf("with descriptors, option 4 (near the high options) is predicted %.3g and option 1 (near the low ones) %.3g: want option 4 well above", m[1], m[0])
	}
	without, err := FitModel(&Space{Dims: []Dim{{Name: "ligand", Levels: 6}}}, obs, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, _, _ = without.Predict([][]float64{{1}, {4}})
	if math.Abs(m[1]-m[0]) > 1e-9 {
		t.Errorf("without descriptors unseen options differ: %v", m)
	}
}

// TestQEISpreadsTheBatch: with two peaks of equal promise, a batch of two
// by q-EI takes one point at each, where ranking by single-point EI would
// take the two best points of the same peak.
func TestQEISpreadsTheBatch(t *testing.T) {
	f := func(x float64) float64 { return math.Exp(-60*(x-0.25)*(x-0.25)) + math.Exp(-60*(x-0.75)*(x-0.75)) }
	var obs []Observation
	for _, x := range []float64{0, 0.1, 0.4, 0.5, 0.6, 0.9, 1} {
		obs = append(obs, Observation{X: []float64{x}, Y: f(x)})
	}
	var cands [][]float64
	for i := range 101 {
		cands = append(cands, []float64{float64(i) / 100})
	}
	s, err := Suggest(obs, cands, 2, Options{Acquisition: AcqEI, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	x0, x1 := cands[s[0].Index][0], cands[s[1].Index][0]
	if (x0 < 0.5) == (x1 < 0.5) {
		t.Errorf("q-EI batch %v, %v: both on one peak, want one at each", x0, x1)
	}
	if !(s[1].Acquisition > 0 && s[1].Acquisition <= s[0].Acquisition*1.05) {
		t.Errorf("acquisition values %v, %v: want the second positive and not above the first", s[0].Acquisition, s[1].Acquisition)
	}
}

// TestMaximinStart: the start design covers a categorical parameter's
// options evenly and spreads numeric ones, reproducibly per seed.
func TestMaximinStart(t *testing.T) {
	space := &Space{Dims: []Dim{{Name: "x"}, {Name: "solvent", Levels: 4}}}
	var cands [][]float64
	for i := range 11 {
		for o := range 4 {
			cands = append(cands, []float64{float64(i) / 10, float64(o)})
		}
	}
	r, err := Run(nil, cands, 4, Options{Space: space, Start: StartMaximin, StartSize: 4, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if r.Phase != PhaseStart || len(r.Suggestions) != 4 {
		t.Fatalf("phase %q, %d suggestions; want the start design's 4", r.Phase, len(r.Suggestions))
	}
	seen := map[float64]bool{}
	var xs []float64
	for _, s := range r.Suggestions {
		seen[cands[s.Index][1]] = true
		xs = append(xs, cands[s.Index][0])
	}
	if len(seen) != 4 {
		t.Errorf("start design uses options %v: want all 4 once", seen)
	}
	lo, hi := 1.0, 0.0
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	if hi-lo < 0.5 {
		t.Errorf("start design's x values %v span %.2f: want them spread", xs, hi-lo)
	}
	again, _ := Run(nil, cands, 4, Options{Space: space, Start: StartMaximin, StartSize: 4, Seed: 5})
	for i := range again.Suggestions {
		if again.Suggestions[i] != r.Suggestions[i] {
			t.Fatal("start design differs between calls with the same seed")
		}
	}
	// k-medoids (the default) keeps the options covered but moves each
	// point to the middle of what it stands for, away from the extremes.
	md, err := Run(nil, cands, 4, Options{Space: space, StartSize: 4, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	opts := map[float64]bool{}
	for _, s := range md.Suggestions {
		opts[cands[s.Index][1]] = true
		if x := cands[s.Index][0]; x != 0.5 {
			t.Errorf("medoid at x = %v, want the middle 0.5", x)
		}
	}
	if len(opts) != 4 {
		t.Errorf("medoids use options %v: want all 4", opts)
	}
	// Past the start size the model takes over and reports its fit.
	var obs []Observation
	for _, s := range r.Suggestions {
		obs = append(obs, Observation{X: cands[s.Index], Y: cands[s.Index][0] + cands[s.Index][1]})
	}
	m, err := Run(obs, cands, 2, Options{Space: space, StartSize: 4, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if m.Phase != PhaseModel || m.Hyper == nil || len(m.Suggestions) != 2 {
		t.Errorf("after the start: phase %q, hyper %v, %d suggestions", m.Phase, m.Hyper, len(m.Suggestions))
	}
	// A warm start from that fit gives a valid suggestion too.
	w, err := Run(obs, cands, 1, Options{Space: space, StartSize: 4, Seed: 5, Warm: m.Hyper})
	if err != nil || len(w.Suggestions) != 1 {
		t.Errorf("warm start: %v, %v", w, err)
	}
}

func TestSpaceBadInput(t *testing.T) {
	tests := []struct {
		name  string
		space *Space
		obs   []Observation
		cands [][]float64
		want  string
	}{
		{"no dims", &Space{}, nil, [][]float64{{0}}, "no dimensions"},
		{"rows", &Space{Dims: []Dim{{Name: "l", Levels: 3, Features: [][]float64{{1}, {2}}}}}, nil, [][]float64{{0}}, "3 options but 2 descriptor rows"},
		{"ragged", &Space{Dims: []Dim{{Name: "l", Levels: 2, Features: [][]float64{{1, 2}, {2}}}}}, nil, [][]float64{{0}}, "descriptor row 1 has 1 values, want 2"},
		{"nan", &Space{Dims: []Dim{{Name: "l", Levels: 2, Features: [][]float64{{1}, {math.NaN()}}}}}, nil, [][]float64{{0}}, "descriptor 0 of option 1 is NaN"},
		{"numeric features", &Space{Dims: []Dim{{Name: "x", Features: [][]float64{{1}}}}}, nil, [][]float64{{0}}, "numeric but has descriptor"},
		{"bad option", &Space{Dims: []Dim{{Name: "l", Levels: 2}}}, nil, [][]float64{{2}}, "not an option index of l (0..1)"},
		{"fractional option", &Space{Dims: []Dim{{Name: "l", Levels: 3}}}, nil, [][]float64{{0.5}}, "not an option index"},
		{"obs option", &Space{Dims: []Dim{{Name: "l", Levels: 2}}}, []Observation{{X: []float64{-1}, Y: 1}}, [][]float64{{1}}, "observation 0: X[0] = -1"},
		{"numeric range", &Space{Dims: []Dim{{Name: "x"}}}, nil, [][]float64{{3}}, "outside [0,1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(tc.obs, tc.cands, 1, Options{Space: tc.space})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := Run(nil, [][]float64{{0}}, 1, Options{Surrogate: "forest"}); err == nil || !strings.Contains(err.Error(), "unknown surrogate") {
		t.Errorf("unknown surrogate: %v", err)
	}
	if _, err := Run(nil, [][]float64{{0}}, 1, Options{Start: "sobol"}); err == nil || !strings.Contains(err.Error(), "unknown start design") {
		t.Errorf("unknown start: %v", err)
	}
}

// TestModelDegenerate: data a fit cannot learn from still gives finite,
// usable predictions and suggestions.
func TestModelDegenerate(t *testing.T) {
	space := &Space{Dims: []Dim{{Name: "x"}, {Name: "c", Levels: 2}}}
	tests := []struct {
		name string
		obs  []Observation
	}{
		{"single", []Observation{{X: []float64{0.5, 0}, Y: 3}}},
		{"constant-y", []Observation{{X: []float64{0.1, 0}, Y: 2}, {X: []float64{0.5, 1}, Y: 2}, {X: []float64{0.9, 0}, Y: 2}}},
		{"duplicate-x", []Observation{{X: []float64{0.3, 1}, Y: 1}, {X: []float64{0.3, 1}, Y: 1.5}, {X: []float64{0.3, 1}, Y: 0.5}}},
		{"huge-y", []Observation{{X: []float64{0.1, 0}, Y: 1e12}, {X: []float64{0.6, 1}, Y: 3e12}, {X: []float64{0.9, 0}, Y: -1e12}}},
	}
	cands := [][]float64{{0, 0}, {0.2, 1}, {0.4, 0}, {0.6, 0}, {1, 1}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := FitModel(space, tc.obs, FitOptions{})
			if err != nil {
				t.Fatal(err)
			}
			mu, sd, _ := m.Predict([][]float64{{0.95, 1}})
			if math.IsNaN(mu[0]) || math.IsInf(mu[0], 0) || !(sd[0] > 0) || math.IsInf(sd[0], 0) {
				t.Errorf("prediction away from the data (%v, %v): want finite mean and positive sd", mu, sd)
			}
			for _, acq := range []string{AcqEI, AcqUCB} {
				r, err := Run(tc.obs, cands, 3, Options{Space: space, Acquisition: acq, StartSize: 1})
				if err != nil || len(r.Suggestions) != 3 {
					t.Errorf("%s: %v, %v", acq, r, err)
				}
			}
		})
	}
}

// TestRelatedTaskTransfers: a sibling task that agrees with this one leads
// the first suggestion to its optimum before anything is measured here,
// and the model learns how far the tasks agree.
func TestRelatedTaskTransfers(t *testing.T) {
	space := &Space{Dims: []Dim{{Name: "x"}, {Name: "ligand", Levels: 4}}}
	var cands [][]float64
	for i := range 21 {
		for o := range 4 {
			cands = append(cands, []float64{float64(i) / 20, float64(o)})
		}
	}
	f := func(x []float64) float64 { return -(x[0]-0.7)*(x[0]-0.7)*4 + []float64{0, 1, 0.2, 0.5}[int(x[1])] }
	var related []Observation
	for i, c := range cands {
		if i%3 == 0 {
			related = append(related, Observation{X: c, Y: 10 + f(c)}) // same shape, another offset
		}
	}
	r, err := Run(nil, cands, 1, Options{Space: space, Related: related, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Phase != PhaseModel || len(r.Suggestions) != 1 {
		t.Fatalf("phase %q, %d suggestions: want the model's choice at once", r.Phase, len(r.Suggestions))
	}
	x := cands[r.Suggestions[0].Index]
	if x[1] != 1 || math.Abs(x[0]-0.7) > 0.15 {
		t.Errorf("first suggestion %v: want the sibling's optimum, ligand 1 near x = 0.7", x)
	}
	// Without the sibling, the first point is the start design's.
	cold, _ := Run(nil, cands, 1, Options{Space: space, Seed: 1})
	if cold.Phase != PhaseStart {
		t.Errorf("without related data the phase is %q, want start", cold.Phase)
	}
	// The task correlation is learned: a sibling that agrees gets a long
	// task length-scale (high correlation) once this task has data too.
	var own []Observation
	for _, i := range []int{5, 30, 58, 77} {
		own = append(own, Observation{X: cands[i], Y: f(cands[i])})
	}
	agree, _ := Run(own, cands, 1, Options{Space: space, Related: related, Seed: 1})
	var anti []Observation
	for _, o := range related {
		anti = append(anti, Observation{X: o.X, Y: -o.Y})
	}
	disagree, _ := Run(own, cands, 1, Options{Space: space, Related: anti, Seed: 1})
	rho := func(h *Hyper) float64 { return math.Exp(-math.Exp(-h.LogCat[len(h.LogCat)-1])) }
	if !(rho(agree.Hyper) > rho(disagree.Hyper)+0.2) {
		t.Errorf("task correlation %.2f with an agreeing sibling, %.2f with an opposite one: want the first clearly higher", rho(agree.Hyper), rho(disagree.Hyper))
	}
	if _, err := Run(nil, cands, 1, Options{Space: space, Related: []Observation{{X: []float64{0.5, 7}, Y: 1}}}); err == nil || !strings.Contains(err.Error(), "related observation 0") {
		t.Errorf("bad related point: %v", err)
	}
}

// Appraise judges any point as Run judges its candidates: the EI it gives
// the optimiser's own first pick matches the pick's, a point next to the
// worst observation scores below it, and bad input is refused.
func TestAppraise(t *testing.T) {
	space := mixedSpace()
	var obs []Observation
	var cands [][]float64
	for i := range 40 {
		x := []float64{float64(i%10) / 9, float64(i % 3), float64((i / 3) % 4)}
		if i%4 == 0 {
			obs = append(obs, Observation{X: x, Y: math.Sin(3*x[0]) + 0.5*x[1] - 0.2*x[2]})
		} else {
			cands = append(cands, x)
		}
	}
	r, err := Run(obs, cands, 1, Options{Space: space, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	pick := cands[r.Suggestions[0].Index]
	worst := obs[0]
	for _, o := range obs {
		if o.Y < worst.Y {
			worst = o
		}
	}
	near := append([]float64(nil), worst.X...)
	near[0] = math.Min(1, near[0]+0.05)
	a, err := Appraise(obs, [][]float64{pick, near}, Options{Space: space})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(a[0].EI-r.Suggestions[0].Acquisition) > 1e-9*(1+a[0].EI) || math.Abs(a[0].Mean-r.Suggestions[0].Mean) > 1e-9*(1+math.Abs(a[0].Mean)) {
		t.Errorf("appraisal of the optimiser's pick %+v, its suggestion %+v", a[0], r.Suggestions[0])
	}
	if !(a[1].EI < a[0].EI) {
		t.Errorf("a point by the worst observation has EI %.3g, the optimiser's pick %.3g", a[1].EI, a[0].EI)
	}
	if _, err := Appraise(nil, [][]float64{pick}, Options{Space: space}); err == nil {
		t.Error("appraised points with nothing observed")
	}
	if _, err := Appraise(obs, [][]float64{{0.5, 7, 0}}, Options{Space: space}); err == nil || !strings.Contains(err.Error(), "point 0") {
		t.Errorf("a bad point: %v", err)
	}
}
