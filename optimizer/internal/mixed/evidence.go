package mixed

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// LaplaceEvidence approximates the log marginal likelihood of a fitted
// model's kernel family, its hyperparameters integrated out, by Laplace's
// method around the maximum a-posteriori point θ̂:
//
//	log p(y) ≈ log p(y|θ̂) + log p(θ̂) + (k/2)·log 2π − ½·log det H,
//
// H the Hessian of the negative log posterior (by finite differences of
// the analytic gradient). A hyperparameter the data say nothing about
// costs nothing (its curvature is the prior's, which cancels its prior
// density); one the data pin down costs the prior mass it gives up. That is
// what makes the comparison fair at two to twenty points, where most
// length-scales are still at their priors: the log posterior alone would
// penalise every uninformed extra length-scale by about a nat, and
// descriptors would lose on every pool before the data could speak.
func LaplaceEvidence(m *Model, fo FitOptions) float64 {
	nNum, nCat := m.enc.NumInputs(), m.enc.CatInputs()
	ev := &mixedEval{m: fo.fitOn(m), pr: fo.priors(nNum, nCat), nNum: nNum, nCat: nCat}
	ev.alloc()
	k := ev.dim()
	t := m.h.flat()
	g0 := make([]float64, k)
	lp, ok := ev.eval(t, g0)
	if !ok {
		return math.Inf(-1)
	}
	const step = 1e-4
	h := mat.NewSymDense(k, nil)
	g := make([]float64, k)
	rows := make([][]float64, k)
	for i := range k {
		ti := t[i]
		t[i] = ti + step
		if _, ok := ev.eval(t, g); !ok {
			return math.Inf(-1)
		}
		t[i] = ti
		rows[i] = make([]float64, k)
		for j := range k {
			rows[i][j] = -(g[j] - g0[j]) / step
		}
	}
	for i := range k {
		for j := i; j < k; j++ {
			h.SetSym(i, j, 0.5*(rows[i][j]+rows[j][i]))
		}
	}
	var chol mat.Cholesky
	logDet := 0.0
	if chol.Factorize(h) {
		logDet = chol.LogDet()
	} else {
		// Not positive definite (a hyperparameter held at its box, or a
		// flat direction): each direction's own curvature, never less
		// than its prior's.
		for i := range k {
			p := ev.prior(i)
			logDet += math.Log(math.Max(h.At(i, i), 1/(p.Sigma*p.Sigma)))
		}
	}
	return lp - priorNormaliser(ev) + 0.5*float64(k)*math.Log(2*math.Pi) - 0.5*logDet
}

// priorNormaliser is Σ log(σ√2π) over the hyperparameters' priors: what
// turns the unnormalised log prior densities in a log posterior into
// normalised ones.
func priorNormaliser(e *mixedEval) float64 {
	var s float64
	for i := range e.dim() {
		s += math.Log(e.prior(i).Sigma * math.Sqrt(2*math.Pi))
	}
	return s
}
