package mixed

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/genesis-sci/genesis/optimizer/internal/gp"
	"github.com/genesis-sci/genesis/optimizer/internal/space"
)

// mixedSpace is a space with a numeric parameter, a plain categorical and a
// categorical with descriptors.
func mixedSpace() *space.Space {
	return &space.Space{Dims: []space.Dim{
		{Name: "temperature"},
		{Name: "base", Levels: 3},
		{Name: "ligand", Levels: 4, Features: [][]float64{{1, 2, 7}, {2, 1, 7}, {0, 5, 7}, {3, 3, 7}}},
	}}
}

// TestModelGradient checks the analytic gradient of the log posterior
// against central finite differences, for every hyperparameter kind.
func TestModelGradient(t *testing.T) {
	sp := mixedSpace()
	var obs []gp.Observation
	for i := range 11 {
		x := []float64{float64(i) / 10, float64(i % 3), float64((i * 7) % 4)}
		obs = append(obs, gp.Observation{X: x, Y: float64(i%3) + x[0]*x[0] + 0.3*float64(i%4)})
	}
	m := &Model{enc: space.NewEncoding(sp), n: len(obs), ys: make([]float64, len(obs))}
	for _, o := range obs {
		m.num, m.cat = m.enc.Encode(o.X, m.num, m.cat)
	}
	m.yMean, m.yStd = gp.Standardise(obs, m.ys)
	e := &mixedEval{m: m, pr: DefaultPriors(m.enc.NumInputs(), m.enc.CatInputs()), nNum: m.enc.NumInputs(), nCat: m.enc.CatInputs()}
	e.alloc()
	if e.nNum != 2 || e.nCat != 2 {
		// temperature + 1 descriptor component (the third column is
		// constant, the first two are collinear in rank); 2 categoricals.
		t.Logf("inputs: %d numeric, %d categorical", e.nNum, e.nCat)
	}
	th := e.mode()
	for i := range th {
		th[i] += 0.3 * float64(i%3-1)
	}
	g := make([]float64, len(th))
	if _, ok := e.eval(th, g); !ok {
		t.Fatal("log posterior not finite at the test point")
	}
	for i := range th {
		const h = 1e-5
		tp := append([]float64(nil), th...)
		tp[i] += h
		up, _ := e.eval(tp, nil)
		tp[i] -= 2 * h
		down, _ := e.eval(tp, nil)
		num := (up - down) / (2 * h)
		if math.Abs(num-g[i]) > 1e-5*math.Max(1, math.Abs(num)) {
			t.Errorf("hyperparameter %d: analytic %.8f, numeric %.8f", i, g[i], num)
		}
	}
}

// TestConditionMatchesRefit checks the incremental conditioning behind
// GP-BUCB batches against a model refitted, with the same hyperparameters,
// on the observations plus the picks at their posterior means.
func TestConditionMatchesRefit(t *testing.T) {
	sp := mixedSpace()
	var obs []gp.Observation
	var cands [][]float64
	for i := range 40 {
		x := []float64{float64(i%10) / 9, float64(i % 3), float64((i / 3) % 4)}
		if i%4 == 0 {
			obs = append(obs, gp.Observation{X: x, Y: math.Sin(3*x[0]) + 0.5*x[1] - 0.2*x[2]})
		} else {
			cands = append(cands, x)
		}
	}
	m, err := Fit(space.NewEncoding(sp), obs, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := m.predict(cands)
	vr := append([]float64(nil), p.vr...)
	var us [][]float64
	aug := append([]gp.Observation(nil), obs...)
	for _, c := range []int{3, 11, 20} {
		u := m.conditionVector(p, us, c, vr[c]+m.noise)
		for a := range vr {
			vr[a] -= u[a] * u[a]
		}
		us = append(us, u)
		aug = append(aug, gp.Observation{X: cands[c], Y: m.yMean + m.yStd*p.mean[c]})
	}
	ref := &Model{enc: m.enc, n: len(aug), ys: make([]float64, len(aug)), yMean: m.yMean, yStd: m.yStd, h: m.h}
	for i, o := range aug {
		ref.num, ref.cat = ref.enc.Encode(o.X, ref.num, ref.cat)
		ref.ys[i] = (o.Y - m.yMean) / m.yStd
	}
	e := &mixedEval{m: ref, pr: DefaultPriors(m.enc.NumInputs(), m.enc.CatInputs()), nNum: m.enc.NumInputs(), nCat: m.enc.CatInputs()}
	e.alloc()
	th := m.h.flat()
	th[len(th)-1] = math.Log(m.noise)
	if _, ok := e.eval(th, nil); !ok {
		t.Fatal("refit factorisation failed")
	}
	ref.alpha = e.alpha
	ref.u = blas64.Triangular{Uplo: blas.Upper, Diag: blas.NonUnit, N: ref.n, Stride: ref.n, Data: e.k}
	ref.setDerived(e.jitter)
	rp := ref.predict(cands)
	for a := range cands {
		if math.Abs(rp.vr[a]-vr[a]) > 1e-6*m.signalVar {
			t.Errorf("candidate %d: conditioned variance %.8g, refit %.8g", a, vr[a], rp.vr[a])
		}
		if math.Abs(rp.mean[a]-p.mean[a]) > 1e-6 {
			t.Errorf("candidate %d: mean %.8g, refit %.8g", a, p.mean[a], rp.mean[a])
		}
	}
}
