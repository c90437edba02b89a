// Package mixed is the optimiser's default surrogate: a Gaussian process
// over a mixed design space (numeric parameters, categorical ones through an
// exchangeable kernel and their descriptor components), its maximum
// a-posteriori hyperparameter fit, and the acquisitions ranked with it
// (expected improvement and q-EI, UCB and GP-BUCB). Package optimizer
// chooses when to use it and exposes Model, FitModel, Hyper and Priors; this
// package is internal so that the rest of its names stay free to change.
package mixed

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/optimize"

	"github.com/genesis-sci/genesis/optimizer/internal/gp"
	"github.com/genesis-sci/genesis/optimizer/internal/space"
)

// Model is the mixed-space Gaussian-process surrogate Suggest uses by
// default. Its kernel is a product over the parameters,
//
//	k(x, x') = σ² · M₅⸝₂(r) · exp(−Σ_c [x_c ≠ x'_c] / ℓ_c),
//	r² = Σ_i ((x_i − x'_i) / ℓ_i)²,
//
// where i runs over the numeric parameters and the descriptor components of
// categorical ones (see Space), and c over the categorical parameters: a
// Matérn-5/2 ARD kernel where distances mean something and an exchangeable
// kernel, one length-scale per categorical parameter, where they do not.
// A short ℓ_c says that parameter's options behave differently; a long one
// that it hardly matters.
//
// Hyperparameters (length-scales, signal variance σ², noise variance) are
// maximum a-posteriori under log-normal priors (see Priors), found by
// L-BFGS from several starts. With the priors a fit is sane from two
// points on: the length-scales stay near what the prior expects until the
// data say otherwise, rather than collapsing onto the few points seen. The
// targets are standardised (zero mean, unit variance) first. Everything is
// deterministic.
type Model struct {
	enc   *space.Encoding
	n     int
	num   []float64 // n × nNum kernel inputs
	cat   []int32   // n × nCat option indices
	ys    []float64 // standardised targets
	yMean float64
	yStd  float64

	h         Hyper
	invLS     []float64
	invCat    []float64
	signalVar float64
	noise     float64 // noise variance + jitter, standardised units
	logPost   float64
	u         blas64.Triangular
	alpha     []float64
	// firstOwn is the index of the first observation of this task (the
	// ones before are related tasks'; see Options.Related), and noOwnBest
	// the incumbent while this task has none.
	firstOwn  int
	noOwnBest float64
	// Note is non-empty when the fit fell back to the priors' modes because
	// no start gave a finite posterior.
	Note string
	// DescriptorsDropped says this model leaves its space's descriptor
	// tables out (package optimizer's Options.Descriptors chose so).
	DescriptorsDropped bool
}

// Hyper are a Model's hyperparameters, all as natural logarithms.
type Hyper struct {
	// LogLS are the numeric inputs' length-scales (numeric parameters, then
	// descriptor components), LogCat the categorical parameters'.
	LogLS     []float64 `json:"log_ls,omitempty"`
	LogCat    []float64 `json:"log_cat,omitempty"`
	LogSignal float64   `json:"log_signal"`
	LogNoise  float64   `json:"log_noise"`
}

func (h Hyper) flat() []float64 {
	out := append(append([]float64(nil), h.LogLS...), h.LogCat...)
	return append(out, h.LogSignal, h.LogNoise)
}

func hyperFrom(t []float64, nNum, nCat int) Hyper {
	return Hyper{
		LogLS:     append([]float64(nil), t[:nNum]...),
		LogCat:    append([]float64(nil), t[nNum:nNum+nCat]...),
		LogSignal: t[nNum+nCat],
		LogNoise:  t[nNum+nCat+1],
	}
}

// Priors are log-normal priors on the hyperparameters (each log θ ~
// N(mu, sigma²)) and the box each is held in.
//
// Length-scale medians grow with √d, as BoTorch's dimension-scaled prior
// does (Hvarfner et al. 2024: otherwise functions look rougher as
// dimensions are added), but from shorter bases: 0.2 for a numeric
// parameter and 0.55 for a descriptor component, where BoTorch's is 4.
// Campaigns here have two to twenty points in two to ten dimensions, too
// few for the data to pull a length-scale down from 4 (a GP fitted to four
// points of a linear trend over a descriptor called it noise). The two
// bases were chosen on the dev pools: measured responses to process
// parameters (compositions, geometries) change over a fifth of a range, and
// a shorter prior found 2–3× more of the top set on the continuous pools;
// descriptor components summarise many properties and vary smoothly, and
// the longer prior did better on every categorical pool with descriptors.
// The signal-variance prior is centred on 5 times the standardised
// targets' variance, as BoTorch's earlier Gamma(2, 0.15) outputscale prior
// (mean 13) leaned high: the few points seen rarely span the function's
// whole range. The noise prior is BoTorch's.
type Priors struct {
	LS, Desc, Cat, Signal, Noise prior
}

type prior struct{ Mu, Sigma, Lo, Hi float64 }

func (p prior) logDensity(t float64) (v, grad float64) {
	z := (t - p.Mu) / p.Sigma
	return -0.5 * z * z, -z / p.Sigma
}

// DefaultPriors returns the priors for a kernel with nNum numeric inputs and
// nCat categorical ones.
func DefaultPriors(nNum, nCat int) Priors {
	d := float64(max(nNum+nCat, 1))
	ls := prior{Mu: math.Log(0.2) + 0.5*math.Log(d), Sigma: 1, Lo: math.Log(0.01), Hi: math.Log(100)}
	desc := prior{Mu: math.Log(0.55) + 0.5*math.Log(d), Sigma: 1, Lo: math.Log(0.01), Hi: math.Log(100)}
	// exp(−1/ℓ) is the correlation of two points that differ only in this
	// categorical parameter; the prior's median gives 0.5 per parameter,
	// shared out so that points differing in every categorical keep ~0.3.
	cat := prior{Mu: math.Log(1/math.Log(2)) + 0.5*math.Log(max(float64(nCat), 1)), Sigma: 1.5, Lo: math.Log(0.05), Hi: math.Log(100)}
	return Priors{
		LS:     ls,
		Desc:   desc,
		Cat:    cat,
		Signal: prior{Mu: math.Log(5), Sigma: 1.5, Lo: math.Log(1e-3), Hi: math.Log(1000)},
		Noise:  prior{Mu: -4, Sigma: 1, Lo: math.Log(1e-6), Hi: math.Log(10)},
	}
}

// FitOptions tune FitModel.
type FitOptions struct {
	// Priors override DefaultPriors (nil: the defaults).
	Priors *Priors
	// Warm is a starting point, e.g. the hyperparameters of the previous
	// fit of a growing data set (ignored when it does not match the
	// space). From warmFrom observations on, a warm fit is one short
	// L-BFGS run from it.
	Warm *Hyper
	// Starts is the number of L-BFGS runs of a cold fit (0: 3: the priors'
	// modes and the best points of a small grid). With Warm and Starts > 1
	// the warm start is one of them.
	Starts int
	// Iterations caps each run's major iterations (0: 60 cold, 15 warm).
	Iterations int
	// Subset caps the observations the hyperparameters are fitted on (0:
	// 150; negative: all of them).
	Subset int
}

// Large data sets: hyperparameters are fitted on a subset of at most
// fitSubset observations (the best quarter of it by value, the rest spread
// evenly over the rest in the order measured), and the posterior then uses
// every observation. Each likelihood evaluation costs O(n³), and the
// hyperparameters of a GP over a few dimensions are pinned down well by a
// couple of hundred points; the posterior is what needs them all. With a
// warm start (the previous call's hyperparameters, from at least warmFrom
// observations) the fit makes one short run from it instead of several.
const (
	fitSubset      = 150
	warmFrom       = 30
	warmIterations = 15
	coldIterations = 60
)

// Fit fits the surrogate to observations already checked against the
// encoded space (package optimizer's FitModel checks them).
func Fit(enc *space.Encoding, obs []gp.Observation, fo FitOptions) (*Model, error) {
	n := len(obs)
	m := &Model{enc: enc, n: n, ys: make([]float64, n)}
	for _, o := range obs {
		m.num, m.cat = enc.Encode(o.X, m.num, m.cat)
	}
	m.yMean, m.yStd = gp.Standardise(obs, m.ys)

	nNum, nCat := enc.NumInputs(), enc.CatInputs()
	pr := fo.priors(nNum, nCat)
	warm := fo.Warm
	if warm != nil && (len(warm.LogLS) != nNum || len(warm.LogCat) != nCat) {
		warm = nil
	}
	fitOn := fo.fitOn(m)
	ev := &mixedEval{m: fitOn, pr: pr, nNum: nNum, nCat: nCat}
	ev.alloc()
	mode := ev.mode()
	best, bestLP := mode, math.Inf(-1)
	if lp, ok := ev.eval(mode, nil); ok {
		bestLP = lp
	}
	switch {
	case n >= warmFrom && warm != nil && fo.Starts <= 1:
		t, lp := ev.localSearch(ev.clamp(warm.flat()), cmpOr(fo.Iterations, warmIterations))
		if lp > bestLP {
			best, bestLP = t, lp
		}
	case n >= 2:
		for _, s := range ev.starts(fo) {
			t, lp := ev.localSearch(s, cmpOr(fo.Iterations, coldIterations))
			if lp > bestLP {
				best, bestLP = t, lp
			}
		}
	case warm != nil:
		best = ev.clamp(warm.flat())
	}
	if math.IsInf(bestLP, -1) {
		// No start could be factorised: keep the priors' modes with
		// whatever jitter makes them work, and say so.
		m.Note = "surrogate fit degenerate: no hyperparameters gave a finite likelihood; using the priors' modes"
		best = mode
	}
	full := ev
	if fitOn != m {
		full = &mixedEval{m: m, pr: pr, nNum: nNum, nCat: nCat}
		full.alloc()
	}
	if _, ok := full.eval(best, nil); !ok {
		return nil, fmt.Errorf("optimizer: covariance matrix is not positive definite even with jitter (n=%d)", n)
	}
	m.h = hyperFrom(best, nNum, nCat)
	m.logPost = full.lp
	m.alpha = append([]float64(nil), full.alpha...)
	m.u = blas64.Triangular{Uplo: blas.Upper, Diag: blas.NonUnit, N: n, Stride: n, Data: append([]float64(nil), full.k...)}
	m.setDerived(full.jitter)
	return m, nil
}

// priors are the options' priors, or the defaults for the kernel.
func (fo FitOptions) priors(nNum, nCat int) Priors {
	if fo.Priors != nil {
		return *fo.Priors
	}
	return DefaultPriors(nNum, nCat)
}

// fitOn is the data the hyperparameters are fitted (and judged) on: all
// of m's, or the subset FitOptions.Subset asks for.
func (fo FitOptions) fitOn(m *Model) *Model {
	if sub := cmpOr(fo.Subset, fitSubset); fo.Subset >= 0 && m.n > sub {
		return m.subset(fitSubsetIndices(m.ys, sub))
	}
	return m
}

// subset is the model's data restricted to some observations, with the
// same standardisation.
func (m *Model) subset(idx []int) *Model {
	nNum, nCat := m.enc.NumInputs(), m.enc.CatInputs()
	s := &Model{enc: m.enc, n: len(idx), yMean: m.yMean, yStd: m.yStd}
	for _, i := range idx {
		s.num = append(s.num, m.num[i*nNum:(i+1)*nNum]...)
		s.cat = append(s.cat, m.cat[i*nCat:(i+1)*nCat]...)
		s.ys = append(s.ys, m.ys[i])
	}
	return s
}

// fitSubsetIndices picks size of the observations for the hyperparameter
// fit: the best quarter by value, then the others evenly spaced in the
// order they were measured. Deterministic.
func fitSubsetIndices(ys []float64, size int) []int {
	n := len(ys)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ys[order[a]] > ys[order[b]] })
	take := make([]bool, n)
	nTop := size / 4
	for _, i := range order[:nTop] {
		take[i] = true
	}
	rest := size - nTop
	var others []int
	for i := range n {
		if !take[i] {
			others = append(others, i)
		}
	}
	for j := range rest {
		take[others[j*len(others)/rest]] = true
	}
	var out []int
	for i := range n {
		if take[i] {
			out = append(out, i)
		}
	}
	return out
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func (m *Model) setDerived(jitter float64) {
	m.invLS = make([]float64, len(m.h.LogLS))
	for i, l := range m.h.LogLS {
		m.invLS[i] = math.Exp(-l)
	}
	m.invCat = make([]float64, len(m.h.LogCat))
	for c, l := range m.h.LogCat {
		m.invCat[c] = math.Exp(-l)
	}
	m.signalVar = math.Exp(m.h.LogSignal)
	m.noise = math.Exp(m.h.LogNoise) + jitter
}

// Hyper returns the fitted hyperparameters (a copy), e.g. to warm-start the
// next fit.
func (m *Model) Hyper() Hyper {
	return hyperFrom(m.h.flat(), len(m.h.LogLS), len(m.h.LogCat))
}

// LengthScales returns the fitted length-scales of the numeric inputs
// (numeric parameters, then descriptor components) and of the categorical
// parameters.
func (m *Model) LengthScales() (numeric, categorical []float64) {
	for _, l := range m.h.LogLS {
		numeric = append(numeric, math.Exp(l))
	}
	for _, l := range m.h.LogCat {
		categorical = append(categorical, math.Exp(l))
	}
	return numeric, categorical
}

// NoiseSD is the fitted observation-noise standard deviation in units of Y.
func (m *Model) NoiseSD() float64 { return math.Sqrt(m.noise) * m.yStd }

// SignalSD is the fitted signal standard deviation in units of Y.
func (m *Model) SignalSD() float64 { return math.Sqrt(m.signalVar) * m.yStd }

// LogPosterior is the maximised log marginal likelihood plus log prior.
func (m *Model) LogPosterior() float64 { return m.logPost }

// Predict returns the posterior mean and latent standard deviation at
// points of the space, in units of Y.
func (m *Model) Predict(xs [][]float64) (means, sds []float64, err error) {
	for i, x := range xs {
		if err := m.enc.Space().CheckPoint(x, fmt.Sprintf("point %d", i)); err != nil {
			return nil, nil, err
		}
	}
	p := m.predict(xs)
	means = make([]float64, len(xs))
	sds = make([]float64, len(xs))
	for i := range xs {
		means[i] = m.yMean + m.yStd*p.mean[i]
		sds[i] = m.yStd * math.Sqrt(p.vr[i])
	}
	return means, sds, nil
}

// posterior holds standardised predictions at m points plus what is needed
// for cross-covariances (batch selection).
type posterior struct {
	m    int
	mean []float64 // standardised posterior mean
	vr   []float64 // standardised latent posterior variance
	// v is n×m, column i = U⁻ᵀ k(X, x_i) (stored row-major n rows × m cols).
	v []float64
	// in are the points' kernel inputs.
	in kernelInputs
}

// kernelInputs encodes points for the kernel.
type kernelInputs struct {
	num []float64
	cat []int32
}

func (m *Model) inputs(xs [][]float64) kernelInputs {
	var in kernelInputs
	for _, x := range xs {
		in.num, in.cat = m.enc.Encode(x, in.num, in.cat)
	}
	return in
}

// corr is the kernel's correlation (without σ²) between input a of ia and
// input b of ib.
func (m *Model) corr(ia kernelInputs, a int, ib kernelInputs, b int) float64 {
	nNum, nCat := len(m.invLS), len(m.invCat)
	var r2 float64
	xa, xb := ia.num[a*nNum:(a+1)*nNum], ib.num[b*nNum:(b+1)*nNum]
	for j, il := range m.invLS {
		t := (xa[j] - xb[j]) * il
		r2 += t * t
	}
	var cs float64
	ca, cb := ia.cat[a*nCat:(a+1)*nCat], ib.cat[b*nCat:(b+1)*nCat]
	for c, il := range m.invCat {
		if ca[c] != cb[c] {
			cs += il
		}
	}
	return gp.Matern52(math.Sqrt(r2)) * math.Exp(-cs)
}

func (m *Model) predict(xs [][]float64) *posterior {
	n, k := m.n, len(xs)
	in := m.inputs(xs)
	train := kernelInputs{num: m.num, cat: m.cat}
	p := &posterior{m: k, mean: make([]float64, k), vr: make([]float64, k), v: make([]float64, n*k), in: in}
	for i := range n {
		row := p.v[i*k : (i+1)*k]
		for c := range k {
			row[c] = m.signalVar * m.corr(train, i, in, c)
		}
	}
	gp.Condition(p.v, n, k, m.alpha, m.u, m.signalVar, p.mean, p.vr)
	for c := range k {
		if p.vr[c] < 0 || math.IsNaN(p.vr[c]) {
			p.vr[c] = 0
		}
	}
	return p
}

// mixedEval computes the log posterior of the hyperparameters and its
// gradient with reusable buffers.
type mixedEval struct {
	m          *Model
	pr         Priors
	nNum, nCat int
	k          []float64 // n×n: upper triangle factorised, lower keeps the kernel
	sig        []float64 // n×n (upper): signal part σ²·M·C
	dm         []float64 // n×n (upper): σ²·C·(5/3)(1+s)e^{−s}, the Matérn length-scale factor
	inv        []float64
	alpha      []float64
	lp         float64
	jitter     float64
}

func (e *mixedEval) alloc() {
	n := e.m.n
	e.k = make([]float64, n*n)
	e.sig = make([]float64, n*n)
	e.dm = make([]float64, n*n)
	e.alpha = make([]float64, n)
}

func (e *mixedEval) prior(i int) prior {
	switch {
	case i < e.m.enc.Plain():
		return e.pr.LS
	case i < e.nNum:
		return e.pr.Desc
	case i < e.nNum+e.nCat:
		return e.pr.Cat
	case i == e.nNum+e.nCat:
		return e.pr.Signal
	default:
		return e.pr.Noise
	}
}

func (e *mixedEval) dim() int { return e.nNum + e.nCat + 2 }

// mode is the priors' modes, clamped to their boxes.
func (e *mixedEval) mode() []float64 {
	t := make([]float64, e.dim())
	for i := range t {
		t[i] = e.prior(i).Mu
	}
	return e.clamp(t)
}

func (e *mixedEval) clamp(t []float64) []float64 {
	for i := range t {
		p := e.prior(i)
		t[i] = math.Min(math.Max(t[i], p.Lo), p.Hi)
	}
	return t
}

// starts are the L-BFGS starting points: a warm start when given, the
// priors' modes, then the best of a small deterministic grid of shared
// length-scales and noise levels that is unlike the starts so far.
func (e *mixedEval) starts(fo FitOptions) [][]float64 {
	var out [][]float64
	if w := fo.Warm; w != nil && len(w.LogLS) == e.nNum && len(w.LogCat) == e.nCat {
		out = append(out, e.clamp(w.flat()))
		if fo.Starts == 1 {
			return out
		}
	}
	out = append(out, e.mode())
	want := cmpOr(fo.Starts, 3)
	type cand struct {
		t  []float64
		lp float64
	}
	var grid []cand
	for _, lsShift := range []float64{-2.5, -1.2, 1} {
		for _, noise := range []float64{math.Log(1e-4), math.Log(0.05), math.Log(0.3)} {
			t := e.mode()
			for i := range e.nNum + e.nCat {
				t[i] += lsShift
			}
			t[e.nNum+e.nCat+1] = noise
			t = e.clamp(t)
			if lp, ok := e.eval(t, nil); ok {
				grid = append(grid, cand{t, lp})
			}
		}
	}
	sort.SliceStable(grid, func(a, b int) bool { return grid[a].lp > grid[b].lp })
	for _, g := range grid {
		if len(out) >= want {
			break
		}
		out = append(out, g.t)
	}
	return out
}

// eval computes the log posterior at t (and its gradient into grad, when
// not nil). It reports false when the covariance cannot be factorised.
func (e *mixedEval) eval(t []float64, grad []float64) (float64, bool) {
	h := e.hyper(t)
	e.kernel(h)
	if !e.factor(h) {
		return math.Inf(-1), false
	}
	lp, ok := e.logPosterior(t)
	if !ok {
		return math.Inf(-1), false
	}
	e.lp = lp
	if grad == nil {
		return lp, true
	}
	if !e.gradient(t, h, grad) {
		return math.Inf(-1), false
	}
	return lp, true
}

// evalHyper are the hyperparameters t stands for, in natural units.
type evalHyper struct {
	invLS, invCat []float64 // inverse length-scales
	s2, noise     float64   // signal and noise variances
}

func (e *mixedEval) hyper(t []float64) evalHyper {
	nNum, nCat := e.nNum, e.nCat
	h := evalHyper{invLS: make([]float64, nNum), invCat: make([]float64, nCat)}
	for i := range nNum {
		h.invLS[i] = math.Exp(-t[i])
	}
	for c := range nCat {
		h.invCat[c] = math.Exp(-t[nNum+c])
	}
	h.s2 = math.Exp(t[nNum+nCat])
	h.noise = math.Exp(t[nNum+nCat+1])
	return h
}

// kernel fills the off-diagonal kernel (k, both triangles), its signal part
// (sig) and the Matérn length-scale factor (dm) the gradient needs.
func (e *mixedEval) kernel(h evalHyper) {
	m := e.m
	n, nNum, nCat := m.n, e.nNum, e.nCat
	for a := range n {
		xa := m.num[a*nNum : (a+1)*nNum]
		ca := m.cat[a*nCat : (a+1)*nCat]
		for b := a + 1; b < n; b++ {
			xb := m.num[b*nNum : (b+1)*nNum]
			cb := m.cat[b*nCat : (b+1)*nCat]
			var r2 float64
			for j, il := range h.invLS {
				d := (xa[j] - xb[j]) * il
				r2 += d * d
			}
			var cs float64
			for c, il := range h.invCat {
				if ca[c] != cb[c] {
					cs += il
				}
			}
			s := gp.Sqrt5 * math.Sqrt(r2)
			ex := math.Exp(-s)
			cf := h.s2 * math.Exp(-cs)
			kv := cf * (1 + s + s*s/3) * ex
			e.k[a*n+b] = kv
			e.k[b*n+a] = kv
			e.sig[a*n+b] = kv
			e.dm[a*n+b] = cf * (5.0 / 3.0) * (1 + s) * ex
		}
	}
}

// factor puts the diagonal in and factorises k in place (upper Cholesky),
// adding jitter (recorded in e.jitter) until it succeeds; then solves for
// alpha. It fails after eight tries.
func (e *mixedEval) factor(h evalHyper) bool {
	n := e.m.n
	e.jitter = 0
	for try := 0; ; try++ {
		for a := range n {
			e.k[a*n+a] = h.s2 + h.noise + e.jitter
		}
		if try > 0 {
			for a := range n {
				for b := a + 1; b < n; b++ {
					e.k[a*n+b] = e.k[b*n+a]
				}
			}
		}
		if _, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: n, Data: e.k}); ok {
			break
		}
		if try == 8 {
			return false
		}
		e.jitter = h.s2 * 1e-8 * math.Pow(10, float64(try))
	}
	copy(e.alpha, e.m.ys)
	u := blas64.Triangular{Uplo: blas.Upper, Diag: blas.NonUnit, N: n, Stride: n, Data: e.k}
	lapack64.Potrs(u, blas64.General{Rows: n, Cols: 1, Stride: 1, Data: e.alpha})
	return true
}

// logPosterior is the log marginal likelihood from the factorised kernel
// plus the log priors of t.
func (e *mixedEval) logPosterior(t []float64) (float64, bool) {
	m, n := e.m, e.m.n
	var yAy, logDet float64
	for i := range n {
		yAy += m.ys[i] * e.alpha[i]
		logDet += 2 * math.Log(e.k[i*n+i])
	}
	lp := -0.5*yAy - 0.5*logDet - 0.5*float64(n)*math.Log(2*math.Pi)
	for i, ti := range t {
		v, _ := e.prior(i).logDensity(ti)
		lp += v
	}
	if math.IsNaN(lp) || math.IsInf(lp, 0) {
		return 0, false
	}
	return lp, true
}

// gradient writes ½ tr((ααᵀ − K⁻¹) ∂K/∂θ) + ∂ log prior/∂θ into grad.
func (e *mixedEval) gradient(t []float64, h evalHyper, grad []float64) bool {
	m := e.m
	n, nNum, nCat := m.n, e.nNum, e.nCat
	var ok bool
	if e.inv, ok = gp.Inverse(e.inv, e.k, n); !ok {
		return false
	}
	for i := range grad {
		grad[i] = 0
	}
	gls := grad[:nNum]
	gcat := grad[nNum : nNum+nCat]
	var gsig float64
	for a := range n {
		xa := m.num[a*nNum : (a+1)*nNum]
		ca := m.cat[a*nCat : (a+1)*nCat]
		aa := e.alpha[a]
		for b := a + 1; b < n; b++ {
			// Off-diagonal pairs count twice, times the trace's ½.
			w := aa*e.alpha[b] - e.inv[a*n+b]
			xb := m.num[b*nNum : (b+1)*nNum]
			cb := m.cat[b*nCat : (b+1)*nCat]
			f := w * e.dm[a*n+b]
			for j, il := range h.invLS {
				d := (xa[j] - xb[j]) * il
				gls[j] += f * d * d
			}
			ws := w * e.sig[a*n+b]
			gsig += ws
			for c, il := range h.invCat {
				if ca[c] != cb[c] {
					gcat[c] += ws * il
				}
			}
		}
	}
	var diag float64
	for a := range n {
		diag += e.alpha[a]*e.alpha[a] - e.inv[a*n+a]
	}
	grad[nNum+nCat] = gsig + 0.5*h.s2*diag
	grad[nNum+nCat+1] = 0.5 * h.noise * diag
	for i, ti := range t {
		_, g := e.prior(i).logDensity(ti)
		grad[i] += g
	}
	return true
}

// localSearch maximises the log posterior by L-BFGS from t0, each
// hyperparameter mapped into its box by a logistic transform. It returns
// the best point evaluated.
func (e *mixedEval) localSearch(t0 []float64, iters int) ([]float64, float64) {
	startLP := math.Inf(-1)
	if lp, ok := e.eval(t0, nil); ok {
		startLP = lp
	}
	box := make([]gp.Box, e.dim())
	for i := range box {
		p := e.prior(i)
		box[i] = gp.Box{Lo: p.Lo, Hi: p.Hi}
	}
	settings := &optimize.Settings{
		MajorIterations:   iters,
		GradientThreshold: 1e-4,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-3, Iterations: 3},
	}
	return gp.MaximiseBoxed(e.eval, box, t0, startLP, settings)
}
