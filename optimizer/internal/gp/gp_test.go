package gp

import (
	"math"
	"testing"

	"github.com/genesis-sci/genesis/optimizer/internal/space"
)

// TestBelieverMatchesRefit checks the incremental kriging-believer variance
// against a GP refitted on the data plus believed points with the same
// hyperparameters.
func TestBelieverMatchesRefit(t *testing.T) {
	f := func(x []float64) float64 { return math.Sin(4*x[0]) + x[1]*x[2] }
	var obs []Observation
	for _, x := range space.SampleCandidates(3, 15, 21) {
		obs = append(obs, Observation{X: x, Y: f(x)})
	}
	cands := space.SampleCandidates(3, 60, 22)
	g, err := Fit(obs)
	if err != nil {
		t.Fatal(err)
	}
	p := g.predict(cands)
	b := newBeliever(g, p, cands)
	picks := []int{5, 17, 40}
	aug := append([]Observation(nil), obs...)
	for _, c := range picks {
		b.condition(c)
		aug = append(aug, Observation{X: cands[c], Y: g.yMean + g.yScale*p.mean[c]})
	}
	// Reference: same hyperparameters, data + believed points.
	ref := &GP{n: len(aug), d: 3, x: make([]float64, len(aug)*3), ys: make([]float64, len(aug)), yMean: g.yMean, yScale: g.yScale}
	for i, o := range aug {
		copy(ref.x[i*3:], o.X)
		ref.ys[i] = (o.Y - g.yMean) / g.yScale
	}
	logLS := make([]float64, 3)
	for j, l := range g.ls {
		logLS[j] = math.Log(l)
	}
	if err := ref.setHyper(logLS, math.Log(g.noiseRatio+g.jitter)); err != nil {
		t.Fatal(err)
	}
	ref.signalVar = g.signalVar
	rp := ref.predict(cands)
	for a := range cands {
		if math.Abs(rp.vr[a]-b.vr[a]) > 1e-6*g.signalVar {
			t.Errorf("candidate %d: believer variance %.8g, refit %.8g", a, b.vr[a], rp.vr[a])
		}
		if math.Abs(rp.mean[a]-p.mean[a]) > 1e-6 {
			t.Errorf("candidate %d: believer mean %.8g, refit %.8g", a, p.mean[a], rp.mean[a])
		}
	}
}

func TestLogEI(t *testing.T) {
	for z := -35.0; z <= 5; z += 0.25 {
		sigma := 0.7
		e := EI(z*sigma, sigma)
		l := LogEI(z*sigma, sigma)
		if e > 0 && math.Abs(l-math.Log(e)) > 2e-3*math.Max(1, math.Abs(l)) {
			t.Errorf("z=%.2f: logEI=%.6f, log(ei)=%.6f", z, l, math.Log(e))
		}
		if math.IsInf(l, 0) || math.IsNaN(l) {
			t.Errorf("z=%.2f: logEI=%v", z, l)
		}
	}
	// Monotone in the mean far in the tail, where ei underflows.
	if !(LogEI(-50, 1) > LogEI(-60, 1)) {
		t.Error("logEI is not monotone in the lower tail")
	}
}
