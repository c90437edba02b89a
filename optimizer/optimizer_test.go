package optimizer

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func grid2D(m int) [][]float64 {
	var out [][]float64
	for i := range m {
		for j := range m {
			out = append(out, []float64{float64(i) / float64(m-1), float64(j) / float64(m-1)})
		}
	}
	return out
}

func observe(f func([]float64) float64, xs [][]float64) []Observation {
	obs := make([]Observation, len(xs))
	for i, x := range xs {
		obs[i] = Observation{X: x, Y: f(x)}
	}
	return obs
}

func TestGPInterpolates1D(t *testing.T) {
	tests := []struct {
		name string
		f    func(float64) float64
	}{
		{"sine", func(x float64) float64 { return math.Sin(2 * math.Pi * x) }},
		{"quadratic-offset", func(x float64) float64 { return 100 + 30*(x-0.3)*(x-0.3) }},
		{"bump", func(x float64) float64 { return 5 * math.Exp(-20*(x-0.25)*(x-0.25)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// 10 training points in [0, 0.6]; [0.6, 1] is unexplored.
			var obs []Observation
			for i := range 10 {
				x := 0.6 * float64(i) / 9
				obs = append(obs, Observation{X: []float64{x}, Y: tc.f(x)})
			}
			g, err := Fit(obs)
			if err != nil {
				t.Fatal(err)
			}
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, o := range obs {
				lo, hi = math.Min(lo, o.Y), math.Max(hi, o.Y)
			}
			rng := hi - lo
			var maxTrainSD float64
			for _, o := range obs {
				m, sd := g.Predict(o.X)
				if math.Abs(m-o.Y) > 0.02*rng {
					t.Errorf("mean at training x=%.3f is %.4f, want %.4f", o.X[0], m, o.Y)
				}
				if sd > 0.05*rng {
					t.Errorf("sd at training x=%.3f is %.4f, want small (range %.3f)", o.X[0], sd, rng)
				}
				maxTrainSD = math.Max(maxTrainSD, sd)
			}
			// Between training points the mean still tracks the function.
			for x := 0.0; x <= 0.6; x += 0.6 / 37 {
				if m, _ := g.Predict([]float64{x}); math.Abs(m-tc.f(x)) > 0.05*rng {
					t.Errorf("mean at x=%.3f is %.4f, want ≈ %.4f", x, m, tc.f(x))
				}
			}
			// Away from the data the uncertainty grows.
			_, sdNear := g.Predict([]float64{0.65})
			_, sdFar := g.Predict([]float64{1})
			if !(sdFar > sdNear && sdNear > maxTrainSD && sdFar > 10*maxTrainSD) {
				t.Errorf("sd does not grow away from data: train max %.4g, 0.65 %.4g, 1.0 %.4g", maxTrainSD, sdNear, sdFar)
			}
			// Predict and PredictMany agree.
			pts := [][]float64{{0.1}, {0.5}, {0.9}}
			ms, sds := g.PredictMany(pts)
			for i, p := range pts {
				m, sd := g.Predict(p)
				if math.Abs(m-ms[i]) > 1e-9*(1+math.Abs(m)) || math.Abs(sd-sds[i]) > 1e-9*(1+sd) {
					t.Errorf("Predict(%v)=(%v,%v) but PredictMany gives (%v,%v)", p, m, sd, ms[i], sds[i])
				}
			}
			if m, sd := g.Predict([]float64{0.1, 0.2}); !math.IsNaN(m) || !math.IsNaN(sd) {
				t.Errorf("Predict with wrong dimension = (%v, %v), want NaN", m, sd)
			}
		})
	}
}

func TestGPNoisyData(t *testing.T) {
	// Replicates with noise: the nugget must absorb them rather than fail.
	var obs []Observation
	for i := range 30 {
		x := float64(i%10) / 9
		noise := 0.1 * math.Sin(float64(i)*12.9898)
		obs = append(obs, Observation{X: []float64{x}, Y: x*x + noise})
	}
	g, err := Fit(obs)
	if err != nil {
		t.Fatal(err)
	}
	if g.NoiseSD() < 0.02 || g.NoiseSD() > 0.3 {
		t.Errorf("noise sd %.4f, want ≈ 0.07", g.NoiseSD())
	}
	if m, _ := g.Predict([]float64{0.5}); math.Abs(m-0.25) > 0.1 {
		t.Errorf("mean at 0.5 is %.3f, want ≈ 0.25", m)
	}
}

// A smooth bowl: the model fitted to twelve points puts its maximum near
// the optimum, and a few suggestions reach it, whatever the acquisition.
func TestSuggestFindsOptimum(t *testing.T) {
	peak := []float64{0.3, 0.7}
	f := func(x []float64) float64 {
		dx, dy := x[0]-peak[0], x[1]-peak[1]
		return -(dx*dx + 2*dy*dy)
	}
	cands := grid2D(31) // the peak is a grid point
	init := observe(f, SampleCandidates(2, 12, 3))
	m, err := FitModel(NumericSpace(2), init, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	means, _, err := m.Predict(cands)
	if err != nil {
		t.Fatal(err)
	}
	top := 0
	for i := range means {
		if means[i] > means[top] {
			top = i
		}
	}
	if d := math.Hypot(cands[top][0]-peak[0], cands[top][1]-peak[1]); d > 0.1 {
		t.Errorf("the posterior mean peaks at %v, %.3f from the optimum %v", cands[top], d, peak)
	}
	tests := []struct {
		acq  string
		seed uint64
	}{
		{"ei", 1}, {"", 2}, {"ucb", 3}, {"EI", 4},
	}
	for _, tc := range tests {
		t.Run(tc.acq, func(t *testing.T) {
			obs := append([]Observation(nil), init...)
			for i := range 8 {
				s, err := Suggest(obs, cands, 1, Options{Acquisition: tc.acq, Seed: tc.seed + uint64(i)})
				if err != nil {
					t.Fatal(err)
				}
				if s[0].Acquisition <= 0 || s[0].SD <= 0 {
					t.Errorf("suggestion %+v: want positive acquisition and sd", s[0])
				}
				obs = append(obs, Observation{X: cands[s[0].Index], Y: f(cands[s[0].Index])})
			}
			best := math.Inf(-1)
			for _, o := range obs[len(init):] {
				best = math.Max(best, o.Y)
			}
			if best < -0.002 {
				t.Errorf("best of 8 suggestions %.4f, want the optimum (0) or a neighbour", best)
			}
		})
	}
}

func TestSuggestSequentialConverges(t *testing.T) {
	// A multimodal 2-D function; 25 EI steps must get close to the global max.
	f := func(x []float64) float64 {
		return math.Exp(-30*((x[0]-0.8)*(x[0]-0.8)+(x[1]-0.2)*(x[1]-0.2))) +
			0.6*math.Exp(-20*((x[0]-0.2)*(x[0]-0.2)+(x[1]-0.7)*(x[1]-0.7)))
	}
	cands := grid2D(25)
	obs := observe(f, [][]float64{cands[0], cands[len(cands)-1]})
	for i := range 25 {
		s, err := Suggest(obs, cands, 1, Options{Seed: uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		obs = append(obs, Observation{X: cands[s[0].Index], Y: f(cands[s[0].Index])})
	}
	best := math.Inf(-1)
	for _, o := range obs {
		best = math.Max(best, o.Y)
	}
	if best < 0.95 {
		t.Errorf("best after 27 evaluations is %.3f, want ≥ 0.95 (global max 1)", best)
	}
}

func TestSuggestNeverRepeatsObserved(t *testing.T) {
	f := func(x []float64) float64 { return math.Sin(3*x[0]) + x[1] }
	cands := grid2D(6)                                                  // 36 points
	cands = append(cands, []float64{0.45, 0.45}, []float64{0.45, 0.45}) // a duplicated candidate
	tests := []struct {
		name string
		nObs int
		opt  Options
	}{
		{"ei", 10, Options{}},
		{"ucb", 10, Options{Acquisition: "ucb"}},
		{"random", 10, Options{Acquisition: "random"}},
		{"one-observation", 1, Options{}},
		{"no-observations", 0, Options{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var obs []Observation
			observed := map[int]bool{}
			for i := 0; len(obs) < tc.nObs; i += 3 {
				obs = append(obs, Observation{X: append([]float64(nil), cands[i]...), Y: f(cands[i])})
				observed[i] = true
			}
			s, err := Suggest(obs, cands, len(cands), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			// 36 grid points + 1 distinct extra point, minus the observed ones.
			if want := 37 - tc.nObs; len(s) != want {
				t.Errorf("got %d suggestions, want %d", len(s), want)
			}
			seen := map[int]bool{}
			for _, sg := range s {
				if observed[sg.Index] {
					t.Errorf("suggested observed candidate %d %v", sg.Index, cands[sg.Index])
				}
				if seen[sg.Index] {
					t.Errorf("suggested candidate %d twice", sg.Index)
				}
				seen[sg.Index] = true
			}
			if seen[36] && seen[37] {
				t.Error("suggested both copies of a duplicated candidate")
			}
		})
	}
	t.Run("all-observed", func(t *testing.T) {
		obs := observe(f, cands)
		s, err := Suggest(obs, cands, 3, Options{})
		if err != nil || len(s) != 0 {
			t.Errorf("got %v, %v; want no suggestions and no error", s, err)
		}
	})
}

func TestSuggestBatch(t *testing.T) {
	f := func(x []float64) float64 { return -math.Abs(x[0]-0.5) - math.Abs(x[1]-0.5) }
	cands := grid2D(21)
	obs := observe(f, SampleCandidates(2, 8, 11))
	for _, acq := range []string{"ei", "ucb"} {
		one, err := Suggest(obs, cands, 1, Options{Acquisition: acq})
		if err != nil {
			t.Fatal(err)
		}
		batch, err := Suggest(obs, cands, 5, Options{Acquisition: acq})
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) != 5 || batch[0] != one[0] {
			t.Fatalf("%s: batch %+v does not start with the single suggestion %+v", acq, batch, one)
		}
		// Conditioning only shrinks variances and raises the incumbent, so the
		// acquisition at selection time cannot increase along the batch.
		for i := 1; i < len(batch); i++ {
			if batch[i].Acquisition > batch[i-1].Acquisition+1e-12 {
				t.Errorf("%s: acquisition increases along the batch: %+v", acq, batch)
			}
		}
	}
}

func TestSuggestDeterministic(t *testing.T) {
	f := func(x []float64) float64 { return math.Cos(5*x[0]) * x[1] }
	cands := SampleCandidates(2, 200, 5)
	obs := observe(f, SampleCandidates(2, 15, 6))
	for _, opt := range []Options{{Seed: 9}, {Acquisition: "ucb", Seed: 9}, {Acquisition: "random", Seed: 9}} {
		a, err := Suggest(obs, cands, 4, opt)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			b, _ := Suggest(obs, cands, 4, opt)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%+v: results differ between calls: %v vs %v", opt, a, b)
			}
		}
	}
	r1, _ := Suggest(obs, cands, 4, Options{Acquisition: "random", Seed: 1})
	r2, _ := Suggest(obs, cands, 4, Options{Acquisition: "random", Seed: 2})
	if reflect.DeepEqual(r1, r2) {
		t.Error("random suggestions do not depend on the seed")
	}
	// Ties: a flat objective leaves the choice to the seed.
	flat := observe(func([]float64) float64 { return 1 }, [][]float64{{0, 0}, {1, 1}})
	t1, _ := Suggest(flat, [][]float64{{0, 1}, {1, 0}}, 1, Options{Seed: 1})
	t1b, _ := Suggest(flat, [][]float64{{0, 1}, {1, 0}}, 1, Options{Seed: 1})
	if t1[0] != t1b[0] {
		t.Error("tie break is not deterministic")
	}
}

func TestSuggestBadInput(t *testing.T) {
	ok := []Observation{{X: []float64{0.1, 0.2}, Y: 1}, {X: []float64{0.5, 0.5}, Y: 2}}
	cands := [][]float64{{0.3, 0.3}, {0.9, 0.1}}
	tests := []struct {
		name  string
		obs   []Observation
		cands [][]float64
		k     int
		opt   Options
		want  string
	}{
		{"k-zero", ok, cands, 0, Options{}, "k must be at least 1"},
		{"no-candidates", ok, nil, 1, Options{}, "no candidates"},
		{"zero-dim-candidate", ok, [][]float64{{}}, 1, Options{}, "no dimensions"},
		{"candidate-dims", ok, [][]float64{{0.1, 0.1}, {0.1}}, 1, Options{}, "candidate 1 has dimension 1, want 2"},
		{"obs-dims", []Observation{{X: []float64{0.1}, Y: 1}}, cands, 1, Options{}, "observation 0 has dimension 1, want 2"},
		{"nan-x", []Observation{{X: []float64{math.NaN(), 0}, Y: 1}}, cands, 1, Options{}, "finite"},
		{"inf-y", append(ok, Observation{X: []float64{0.7, 0.7}, Y: math.Inf(1)}), cands, 1, Options{}, "observation 2: Y"},
		{"nan-candidate", ok, [][]float64{{0.1, math.NaN()}}, 1, Options{}, "candidate 0: X[1]"},
		{"unnormalised", ok, [][]float64{{0.1, 175}}, 1, Options{}, "outside [0,1]"},
		{"acquisition", ok, cands, 1, Options{Acquisition: "pi"}, "unknown acquisition"},
		{"kappa", ok, cands, 1, Options{Acquisition: "ucb", Kappa: -1}, "Kappa"},
		{"xi", ok, cands, 1, Options{Xi: math.NaN()}, "Xi"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Suggest(tc.obs, tc.cands, tc.k, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := Fit(nil); err == nil {
		t.Error("Fit(nil) succeeded")
	}
	if _, err := Fit([]Observation{{X: []float64{0.1}, Y: 1}, {X: []float64{0.1, 0.2}, Y: 1}}); err == nil {
		t.Error("Fit with mixed dimensions succeeded")
	}
}

func TestFitDegenerate(t *testing.T) {
	tests := []struct {
		name string
		obs  []Observation
	}{
		{"single", []Observation{{X: []float64{0.5}, Y: 3}}},
		{"constant-y", []Observation{{X: []float64{0.1}, Y: 2}, {X: []float64{0.5}, Y: 2}, {X: []float64{0.9}, Y: 2}}},
		{"duplicate-x", []Observation{{X: []float64{0.3}, Y: 1}, {X: []float64{0.3}, Y: 1.5}, {X: []float64{0.3}, Y: 0.5}}},
		{"huge-y", []Observation{{X: []float64{0.1}, Y: 1e12}, {X: []float64{0.6}, Y: 3e12}, {X: []float64{0.9}, Y: -1e12}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Fit(tc.obs)
			if err != nil {
				t.Fatal(err)
			}
			m, sd := g.Predict([]float64{0.95})
			if math.IsNaN(m) || math.IsInf(m, 0) || math.IsNaN(sd) || math.IsInf(sd, 0) || !(sd > 0) {
				t.Errorf("prediction away from the data (%v, %v): want finite mean and positive sd", m, sd)
			}
			if _, err := Suggest(tc.obs, [][]float64{{0}, {0.2}, {0.4}, {0.6}, {1}}, 2, Options{}); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestSampleCandidates(t *testing.T) {
	for _, tc := range []struct{ d, n int }{{1, 1}, {3, 10}, {4, 600}} {
		xs := SampleCandidates(tc.d, tc.n, 7)
		if len(xs) != tc.n {
			t.Fatalf("got %d points, want %d", len(xs), tc.n)
		}
		for j := range tc.d {
			strata := make([]bool, tc.n)
			for _, x := range xs {
				if len(x) != tc.d || x[j] < 0 || x[j] >= 1 {
					t.Fatalf("bad point %v", x)
				}
				s := int(x[j] * float64(tc.n))
				if strata[s] {
					t.Fatalf("d=%d n=%d: stratum %d of coordinate %d used twice", tc.d, tc.n, s, j)
				}
				strata[s] = true
			}
		}
		if !reflect.DeepEqual(xs, SampleCandidates(tc.d, tc.n, 7)) {
			t.Error("not deterministic")
		}
	}
	if SampleCandidates(0, 5, 1) != nil || SampleCandidates(2, 0, 1) != nil {
		t.Error("want nil for d<1 or n<1")
	}
}
