// Package gp is Gaussian-process regression with a Matérn-5/2 ARD kernel:
// the earlier surrogate of package optimizer (numeric inputs, categoricals
// one-hot, maximum marginal likelihood; GP and Fit), which the challenges'
// lab emulators are built with and the "onehot" baseline runs with its
// kriging-believer batches (Batch), and the pieces the mixed-space
// surrogate shares with it: the kernel (Matern52), the bounded
// reparameterisation of hyperparameters, and expected improvement in closed
// form. It is internal to the optimizer, which exposes GP, Fit and
// Observation.
package gp

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/optimize"

	"github.com/genesis-sci/genesis/optimizer/internal/space"
)

// Hyperparameter bounds. Inputs live in [0,1]^d, so length-scales are in
// units of the whole range of a coordinate; a length-scale at the upper bound
// makes that coordinate practically irrelevant (automatic relevance
// determination). The noise ratio is noise variance / signal variance.
const (
	minLengthScale = 0.02
	maxLengthScale = 20
	minNoiseRatio  = 1e-6
	maxNoiseRatio  = 10
)

var (
	logMinLS    = math.Log(minLengthScale)
	logMaxLS    = math.Log(maxLengthScale)
	logMinNoise = math.Log(minNoiseRatio)
	logMaxNoise = math.Log(maxNoiseRatio)
)

// Isotropic grid used to seed the ARD optimisation.
var (
	gridLengthScales = []float64{0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 4}
	gridNoiseRatios  = []float64{1e-4, 1e-2, 0.1, 0.5}
)

const (
	// Sqrt5 is √5, the Matérn-5/2 kernel's scale.
	Sqrt5 = 2.23606797749978969640917366873127623544061835961152572427089
	// lbfgsIterations caps the major iterations of each L-BFGS run.
	lbfgsIterations = 40
	// lbfgsStarts is the number of L-BFGS runs, each from a grid point.
	lbfgsStarts = 2
	// noiseSplit separates low- and high-noise grid starts.
	noiseSplit = 0.05
)

// GP is a fitted Gaussian-process regression model: a constant-mean,
// Matérn-5/2 ARD kernel GP on standardised Y with a Gaussian noise nugget.
// Hyperparameters (one length-scale per input dimension, signal variance and
// noise variance) maximise the log marginal likelihood. The signal variance is
// profiled out in closed form; length-scales and noise are found by an
// isotropic grid search followed by bounded L-BFGS over the ARD
// length-scales and the noise ratio. Fitting is deterministic.
//
// A GP is immutable after Fit and safe for concurrent use by Predict.
type GP struct {
	n, d   int
	x      []float64 // n×d inputs, row-major
	ys     []float64 // standardised targets
	yMean  float64
	yScale float64

	ls         []float64 // length-scales
	invLS      []float64
	noiseRatio float64 // noise variance / signal variance
	signalVar  float64 // in standardised units
	logML      float64
	jitter     float64 // extra diagonal added to make the factorisation succeed

	u     blas64.Triangular // Cholesky factor of C = R + (noiseRatio+jitter)·I = UᵀU
	alpha []float64         // C⁻¹ ys
}

// Fit fits a GP to the observations (see GP). It needs at least one
// observation; with one, hyperparameters stay at a neutral default
// (length-scales 0.4, noise ratio 0.01) since nothing can be learned.
//
// Each likelihood evaluation costs O(n³); a fit takes about 1 ms at n=20 and
// 10–25 ms at n=100 (d=4), and grows cubically beyond that (≈2 s at n=600).
func Fit(obs []Observation) (*GP, error) {
	d, err := CheckObservations(obs, -1)
	if err != nil {
		return nil, err
	}
	if len(obs) == 0 {
		return nil, errors.New("optimizer: Fit needs at least one observation")
	}
	return fit(obs, d)
}

func fit(obs []Observation, d int) (*GP, error) {
	n := len(obs)
	g := &GP{n: n, d: d, x: make([]float64, n*d), ys: make([]float64, n)}
	for i, o := range obs {
		copy(g.x[i*d:(i+1)*d], o.X)
	}
	g.yMean, g.yScale = Standardise(obs, g.ys)

	logLS := make([]float64, d)
	logNoise := math.Log(1e-2)
	for j := range logLS {
		logLS[j] = math.Log(0.4)
	}
	if n >= 2 {
		logLS, logNoise = optimiseHyper(g.x, g.ys, n, d)
	}
	if err := g.setHyper(logLS, logNoise); err != nil {
		return nil, err
	}
	return g, nil
}

// setHyper factorises the covariance for the given hyperparameters, adding
// jitter if needed.
func (g *GP) setHyper(logLS []float64, logNoise float64) error {
	n, d := g.n, g.d
	g.ls = make([]float64, d)
	g.invLS = make([]float64, d)
	for j := range logLS {
		g.ls[j] = math.Exp(logLS[j])
		g.invLS[j] = 1 / g.ls[j]
	}
	g.noiseRatio = math.Exp(logNoise)
	ev := newEvaluator(g.x, g.ys, n, d)
	lml, ok, jitter := ev.factor(logLS, logNoise, false)
	if !ok {
		return fmt.Errorf("optimizer: covariance matrix is not positive definite even with jitter (n=%d)", n)
	}
	g.logML = lml
	g.jitter = jitter
	g.signalVar = ev.s2
	if ev.flat {
		// All standardised targets are 0 (one observation or constant Y):
		// the profiled signal variance collapses to 0, which would claim
		// certainty everywhere. Use the prior variance of the standardised
		// scale instead.
		g.signalVar = 1
	}
	g.u = ev.chol()
	g.alpha = ev.alpha
	return nil
}

// LengthScales returns the fitted ARD length-scales (in units of the
// normalised [0,1] inputs).
func (g *GP) LengthScales() []float64 { return append([]float64(nil), g.ls...) }

// SignalSD is the fitted signal standard deviation in units of Y.
func (g *GP) SignalSD() float64 { return math.Sqrt(g.signalVar) * g.yScale }

// NoiseSD is the fitted observation-noise standard deviation in units of Y.
func (g *GP) NoiseSD() float64 {
	return math.Sqrt(g.signalVar*(g.noiseRatio+g.jitter)) * g.yScale
}

// LogMarginalLikelihood is the maximised log marginal likelihood of the
// standardised targets.
func (g *GP) LogMarginalLikelihood() float64 { return g.logML }

// Len is the number of training observations.
func (g *GP) Len() int { return g.n }

// Dim is the input dimension.
func (g *GP) Dim() int { return g.d }

// Predict returns the posterior mean and standard deviation of the latent
// function (without observation noise) at x, in units of Y. It returns NaN,
// NaN if len(x) differs from the training dimension.
func (g *GP) Predict(x []float64) (mean, sd float64) {
	if len(x) != g.d {
		return math.NaN(), math.NaN()
	}
	m, s := g.PredictMany([][]float64{x})
	return m[0], s[0]
}

// PredictMany is the batched form of Predict; it is much faster than calling
// Predict in a loop. Points of the wrong dimension get NaN.
func (g *GP) PredictMany(xs [][]float64) (means, sds []float64) {
	p := g.predict(xs)
	means = make([]float64, len(xs))
	sds = make([]float64, len(xs))
	for i := range xs {
		if len(xs[i]) != g.d {
			means[i], sds[i] = math.NaN(), math.NaN()
			continue
		}
		means[i] = g.yMean + g.yScale*p.mean[i]
		sds[i] = g.yScale * math.Sqrt(p.vr[i])
	}
	return means, sds
}

// posterior holds standardised predictions at m points plus what is needed
// for cross-covariances (batch selection).
type posterior struct {
	m    int
	mean []float64 // standardised posterior mean
	vr   []float64 // standardised latent posterior variance
	// v is n×m, column i = U⁻ᵀ r(X, x_i) (stored row-major n rows × m cols).
	v []float64
}

func (g *GP) predict(xs [][]float64) *posterior {
	n, d, m := g.n, g.d, len(xs)
	p := &posterior{m: m, mean: make([]float64, m), vr: make([]float64, m), v: make([]float64, n*m)}
	// Cross-correlations R* (n×m).
	scaled := make([]float64, d)
	for c, x := range xs {
		if len(x) != d {
			continue
		}
		for j := range d {
			scaled[j] = x[j] * g.invLS[j]
		}
		for i := range n {
			xi := g.x[i*d : (i+1)*d]
			var r2 float64
			for j := range d {
				t := xi[j]*g.invLS[j] - scaled[j]
				r2 += t * t
			}
			p.v[i*m+c] = Matern52(math.Sqrt(r2))
		}
	}
	Condition(p.v, n, m, g.alpha, g.u, 1, p.mean, p.vr)
	for c := range m {
		v := p.vr[c] * g.signalVar
		if v < 0 || math.IsNaN(v) {
			v = 0
		}
		p.vr[c] = v
	}
	return p
}

// Condition turns the prior covariances v (n×m, row-major) of n training
// points with m points into the posterior at the m points, given alpha =
// K⁻¹y and the upper Cholesky factor u of K (K = uᵀu): it adds αᵀv to mean,
// sets vr to prior − ‖u⁻ᵀv‖² per point (not clamped), and leaves u⁻ᵀv in v
// for cross-covariances.
func Condition(v []float64, n, m int, alpha []float64, u blas64.Triangular, prior float64, mean, vr []float64) {
	for i := range n {
		a := alpha[i]
		row := v[i*m : (i+1)*m]
		for c := range m {
			mean[c] += a * row[c]
		}
	}
	if m > 0 {
		blas64.Trsm(blas.Left, blas.Trans, 1, u, blas64.General{Rows: n, Cols: m, Stride: m, Data: v})
	}
	for c := range m {
		vr[c] = prior
	}
	for i := range n {
		row := v[i*m : (i+1)*m]
		for c := range m {
			vr[c] -= row[c] * row[c]
		}
	}
}

// corr is the Matérn-5/2 correlation between two points under the fitted
// length-scales.
func (g *GP) corr(a, b []float64) float64 {
	var r2 float64
	for j := range a {
		t := (a[j] - b[j]) * g.invLS[j]
		r2 += t * t
	}
	return Matern52(math.Sqrt(r2))
}

// Inverse writes K⁻¹ (its upper triangle) into inv, given the upper
// Cholesky factor of K in k (n×n, row-major); it allocates inv when nil and
// reports false when K is singular.
func Inverse(inv, k []float64, n int) ([]float64, bool) {
	if inv == nil {
		inv = make([]float64, n*n)
	}
	for a := range n {
		copy(inv[a*n+a:(a+1)*n], k[a*n+a:(a+1)*n])
	}
	_, ok := lapack64.Potri(blas64.Triangular{Uplo: blas.Upper, Diag: blas.NonUnit, N: n, Stride: n, Data: inv})
	return inv, ok
}

// Standardise writes the observations' Y to ys as z-scores and returns the
// mean and standard deviation used. With one observation or constant Y
// there is no spread to standardise by: the magnitude of Y (or 1) is the
// scale instead.
func Standardise(obs []Observation, ys []float64) (mean, sd float64) {
	n := len(obs)
	for _, o := range obs {
		mean += o.Y
	}
	mean /= float64(n)
	var ss float64
	for _, o := range obs {
		ss += (o.Y - mean) * (o.Y - mean)
	}
	sd = 1
	if n > 1 {
		sd = math.Sqrt(ss / float64(n-1))
	}
	if !(sd > 0) || math.IsInf(sd, 0) {
		sd = math.Abs(mean)
		if !(sd > 0) || math.IsInf(sd, 0) {
			sd = 1
		}
	}
	for i, o := range obs {
		ys[i] = (o.Y - mean) / sd
	}
	return mean, sd
}

// Matern52 is the Matérn-5/2 correlation at scaled distance r.
func Matern52(r float64) float64 {
	s := Sqrt5 * r
	return (1 + s + s*s/3) * math.Exp(-s)
}

// evaluator computes the profiled log marginal likelihood and its gradient
// with reusable buffers. It calls LAPACK (gonum's lapack64) directly rather
// than mat.Cholesky, which would also estimate the condition number on every
// factorisation — a third of the cost at n=100.
type evaluator struct {
	x      []float64
	ys     []float64
	n, d   int
	scaled []float64 // n×d inputs divided by length-scales
	k      []float64 // n×n: upper triangle factorised in place, lower keeps R
	dfac   []float64 // n×n (upper) common gradient factor (5/3)(1+√5r)e^{-√5r}
	inv    []float64 // n×n (upper) C⁻¹
	alpha  []float64 // C⁻¹ ys
	s2     float64   // profiled signal variance
	flat   bool      // targets carry no variation (s2 is meaningless)
}

func newEvaluator(x, ys []float64, n, d int) *evaluator {
	return &evaluator{x: x, ys: ys, n: n, d: d,
		scaled: make([]float64, n*d),
		k:      make([]float64, n*n),
		dfac:   make([]float64, n*n),
		alpha:  make([]float64, n),
	}
}

// chol returns the Cholesky factor U (C = UᵀU) held in the upper triangle of k.
func (e *evaluator) chol() blas64.Triangular {
	return blas64.Triangular{Uplo: blas.Upper, Diag: blas.NonUnit, N: e.n, Stride: e.n, Data: e.k}
}

// factor builds and factorises C for the hyperparameters and returns the
// profiled log marginal likelihood. With grad it also fills dfac. If C is
// not numerically positive definite, growing jitter is added to the diagonal.
func (e *evaluator) factor(logLS []float64, logNoise float64, grad bool) (lml float64, ok bool, jitter float64) {
	n, d := e.n, e.d
	for j := range d {
		inv := math.Exp(-logLS[j])
		for i := range n {
			e.scaled[i*d+j] = e.x[i*d+j] * inv
		}
	}
	noise := math.Exp(logNoise)
	for a := range n {
		xa := e.scaled[a*d : (a+1)*d]
		for b := a + 1; b < n; b++ {
			xb := e.scaled[b*d : (b+1)*d]
			var r2 float64
			for j := range d {
				t := xa[j] - xb[j]
				r2 += t * t
			}
			s := Sqrt5 * math.Sqrt(r2)
			ex := math.Exp(-s)
			kv := (1 + s + s*s/3) * ex
			e.k[a*n+b] = kv
			e.k[b*n+a] = kv
			if grad {
				e.dfac[a*n+b] = (5.0 / 3.0) * (1 + s) * ex
			}
		}
	}
	u := e.chol()
	for try := 0; ; try++ {
		for a := range n {
			e.k[a*n+a] = 1 + noise + jitter
		}
		if try > 0 {
			// Restore the upper triangle from the untouched lower one.
			for a := range n {
				for b := a + 1; b < n; b++ {
					e.k[a*n+b] = e.k[b*n+a]
				}
			}
		}
		if _, ok = lapack64.Potrf(blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: n, Data: e.k}); ok {
			break
		}
		if try == 8 {
			return math.Inf(-1), false, jitter
		}
		jitter = 1e-8 * math.Pow(10, float64(try))
	}
	copy(e.alpha, e.ys)
	lapack64.Potrs(u, blas64.General{Rows: n, Cols: 1, Stride: 1, Data: e.alpha})
	var yAy, logDet float64
	for i := range n {
		yAy += e.ys[i] * e.alpha[i]
		logDet += 2 * math.Log(e.k[i*n+i])
	}
	e.flat = !(yAy > 1e-12)
	if e.flat {
		yAy = 1e-12
	}
	e.s2 = yAy / float64(n)
	lml = -0.5*float64(n)*math.Log(e.s2) - 0.5*logDet - 0.5*float64(n)*(1+math.Log(2*math.Pi))
	if math.IsNaN(lml) || math.IsInf(lml, 0) {
		return math.Inf(-1), false, jitter
	}
	return lml, true, jitter
}

// gradient of the profiled lml with respect to (logLS..., logNoise), valid
// after factor(..., true) succeeded.
func (e *evaluator) gradient(logNoise float64, out []float64) bool {
	n, d := e.n, e.d
	var ok bool
	if e.inv, ok = Inverse(e.inv, e.k, n); !ok {
		return false
	}
	inv, alpha := e.inv, e.alpha
	w := 1 / e.s2
	for j := range out {
		out[j] = 0
	}
	grad := out[:d]
	for a := range n {
		xa := e.scaled[a*d : (a+1)*d]
		aa := alpha[a] * w
		for b := a + 1; b < n; b++ {
			// W_ab = α_a α_b / s² − C⁻¹_ab; off-diagonal pairs counted twice,
			// times the ½ of the trace formula.
			f := (aa*alpha[b] - inv[a*n+b]) * e.dfac[a*n+b]
			xb := e.scaled[b*d : (b+1)*d]
			for j := range d {
				t := xa[j] - xb[j]
				grad[j] += f * t * t
			}
		}
	}
	var aa, tr float64
	for a := range n {
		aa += alpha[a] * alpha[a]
		tr += inv[a*n+a]
	}
	out[d] = 0.5 * math.Exp(logNoise) * (aa*w - tr)
	return true
}

// Bounded reparameterisation: θ = lo + (hi−lo)·σ(u).
func sigmoid(u float64) float64 { return 1 / (1 + math.Exp(-u)) }

func toBounded(u, lo, hi float64) float64 { return lo + (hi-lo)*sigmoid(u) }

func fromBounded(t, lo, hi float64) float64 {
	p := (t - lo) / (hi - lo)
	p = math.Min(math.Max(p, 1e-6), 1-1e-6)
	return math.Log(p / (1 - p))
}

// optimiseHyper maximises the profiled log marginal likelihood over log
// length-scales and log noise ratio.
func optimiseHyper(x, ys []float64, n, d int) ([]float64, float64) {
	grid := gridSearch(newEvaluator(x, ys, n, d), d)
	bestLS := make([]float64, d)
	for j := range bestLS {
		bestLS[j] = math.Log(0.4)
	}
	bestNoise := math.Log(1e-2)
	if len(grid) == 0 {
		return bestLS, bestNoise
	}
	bestNoise, bestLML := grid[0].noise, grid[0].lml
	for j := range bestLS {
		bestLS[j] = grid[0].ls
	}
	starts := lbfgsStartsFrom(grid)

	// The starts are independent and run concurrently, each with its own
	// buffers; the winner is chosen in start order, so the result does not
	// depend on scheduling.
	type result struct {
		ls    []float64
		noise float64
		lml   float64
	}
	results := make([]result, len(starts))
	var wg sync.WaitGroup
	for i, s := range starts {
		run := func() {
			ls, nz, lml := localSearch(x, ys, n, d, s.ls, s.noise)
			results[i] = result{ls, nz, lml}
		}
		if i == len(starts)-1 {
			run()
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); run() }()
	}
	wg.Wait()
	for _, r := range results {
		if r.lml > bestLML {
			bestLS, bestNoise, bestLML = r.ls, r.noise, r.lml
		}
	}
	return bestLS, bestNoise
}

// gridPoint is an isotropic hyperparameter setting (log length-scale, log
// noise ratio) and its log marginal likelihood.
type gridPoint struct {
	ls, noise, lml float64
}

// gridSearch evaluates the isotropic grid, best first; settings whose
// kernel cannot be factorised are left out.
func gridSearch(e *evaluator, d int) []gridPoint {
	var grid []gridPoint
	logLS := make([]float64, d)
	for _, l := range gridLengthScales {
		for j := range logLS {
			logLS[j] = math.Log(l)
		}
		for _, nz := range gridNoiseRatios {
			lml, ok, _ := e.factor(logLS, math.Log(nz), false)
			if ok {
				grid = append(grid, gridPoint{math.Log(l), math.Log(nz), lml})
			}
		}
	}
	sort.SliceStable(grid, func(a, b int) bool { return grid[a].lml > grid[b].lml })
	return grid
}

// lbfgsStartsFrom picks the L-BFGS starts from the ranked grid: the best
// point, then the best one on the other side of the main ambiguity of small
// data sets — explaining variation as signal (low noise) or as noise — then
// further points with distinct length-scales.
func lbfgsStartsFrom(grid []gridPoint) []gridPoint {
	starts := []gridPoint{grid[0]}
	lowNoise := grid[0].noise <= math.Log(noiseSplit)
	for _, c := range grid[1:] {
		if len(starts) >= lbfgsStarts {
			break
		}
		if (c.noise <= math.Log(noiseSplit)) != lowNoise {
			starts = append(starts, c)
			break
		}
	}
	for _, c := range grid[1:] {
		if len(starts) >= lbfgsStarts {
			break
		}
		dup := false
		for _, s := range starts {
			dup = dup || s.ls == c.ls
		}
		if !dup {
			starts = append(starts, c)
		}
	}
	return starts
}

// localSearch maximises the profiled log marginal likelihood by L-BFGS from
// an isotropic start, over length-scales and noise mapped into their bounds
// by a logistic transform. It returns the best point evaluated.
func localSearch(x, ys []float64, n, d int, startLS, startNoise float64) (bestLS []float64, bestNoise, bestLML float64) {
	e := newEvaluator(x, ys, n, d)
	start := make([]float64, d+1) // log length-scales, then the log noise ratio
	box := make([]Box, d+1)
	for j := range d {
		start[j], box[j] = startLS, Box{logMinLS, logMaxLS}
	}
	start[d], box[d] = startNoise, Box{logMinNoise, logMaxNoise}
	bestLML = math.Inf(-1)
	if lml, ok, _ := e.factor(start[:d], start[d], false); ok {
		bestLML = lml
	}
	lml := func(t, grad []float64) (float64, bool) {
		v, ok, _ := e.factor(t[:d], t[d], true)
		if !ok || !e.gradient(t[d], grad) {
			return 0, false
		}
		return v, true
	}
	settings := &optimize.Settings{
		MajorIterations:   lbfgsIterations,
		GradientThreshold: 1e-4,
		// Stop once two iterations gain less than 0.01 nats.
		Converger: &optimize.FunctionConverge{Absolute: 1e-2, Iterations: 2},
	}
	best, bestLML := MaximiseBoxed(lml, box, start, bestLML, settings)
	return best[:d], best[d], bestLML
}

// Box is the interval a bounded parameter lives in.
type Box struct{ Lo, Hi float64 }

// MaximiseBoxed maximises f over the boxes by L-BFGS on the logistic
// reparameterisation t = lo + (hi−lo)·σ(u), starting from start (inside
// the boxes) whose value is startF (−Inf when not finite). f returns its
// value at t and writes its gradient into grad, or false where it is not
// finite. It returns the best point evaluated and its value: L-BFGS errors
// (a line search that cannot improve) are not fatal.
func MaximiseBoxed(f func(t, grad []float64) (float64, bool), box []Box, start []float64, startF float64, settings *optimize.Settings) ([]float64, float64) {
	dim := len(box)
	best, bestF := append([]float64(nil), start...), startF
	t := make([]float64, dim)
	g := make([]float64, dim)
	// Cache of the last evaluation so Func and Grad share one factorisation.
	lastU := make([]float64, dim)
	lastValid := false
	var lastF float64
	lastGrad := make([]float64, dim)
	eval := func(u []float64) {
		if lastValid && slices.Equal(u, lastU) {
			return
		}
		copy(lastU, u)
		lastValid = true
		for i, b := range box {
			t[i] = toBounded(u[i], b.Lo, b.Hi)
		}
		v, ok := f(t, g)
		if !ok {
			lastF = math.Inf(1)
			for i := range lastGrad {
				lastGrad[i] = 0
			}
			return
		}
		lastF = -v
		if v > bestF {
			bestF = v
			copy(best, t)
		}
		// Chain rule through the bounded transform; negate for minimisation.
		for i, b := range box {
			s := sigmoid(u[i])
			lastGrad[i] = -g[i] * (b.Hi - b.Lo) * s * (1 - s)
		}
	}
	problem := optimize.Problem{
		Func: func(u []float64) float64 { eval(u); return lastF },
		Grad: func(gr, u []float64) { eval(u); copy(gr, lastGrad) },
	}
	u0 := make([]float64, dim)
	for i, b := range box {
		u0[i] = fromBounded(start[i], b.Lo, b.Hi)
	}
	_, _ = optimize.Minimize(problem, u0, settings, &optimize.LBFGS{})
	return best, bestF
}

// Observation is a measured point: X normalised to [0,1]^d, Y oriented so
// that higher is better.
type Observation struct {
	X []float64
	Y float64
}

// believer tracks the posterior variance at the candidates as the GP is
// conditioned on believed observations at chosen candidates (kriging
// believer). Conditioning on y = posterior mean leaves the mean unchanged,
// so only variances need updating: after choosing p,
//
//	var'(x) = var(x) − cov(x,p)² / (var(p) + noise),
//
// with cov(x,p) itself updated through the earlier picks (an incremental
// Cholesky of the believed points' covariance). Each pick costs O(n·m).
type believer struct {
	g   *GP
	p   *posterior
	pts [][]float64
	vr  []float64   // current latent variance, standardised units
	us  [][]float64 // one update vector per pick
}

func newBeliever(g *GP, p *posterior, pts [][]float64) *believer {
	vr := make([]float64, len(p.vr))
	copy(vr, p.vr)
	return &believer{g: g, p: p, pts: pts, vr: vr}
}

func (b *believer) condition(c int) {
	g, p, m := b.g, b.p, b.p.m
	u := make([]float64, m)
	for i := range g.n {
		vic := p.v[i*m+c]
		row := p.v[i*m : (i+1)*m]
		for a := range m {
			u[a] -= vic * row[a]
		}
	}
	for a := range m {
		cov := g.signalVar * (g.corr(b.pts[a], b.pts[c]) + u[a])
		for _, prev := range b.us {
			cov -= prev[a] * prev[c]
		}
		u[a] = cov
	}
	noiseVar := g.signalVar * (g.noiseRatio + g.jitter)
	den := math.Sqrt(b.vr[c] + noiseVar)
	if den > 0 {
		for a := range m {
			u[a] /= den
			b.vr[a] = math.Max(b.vr[a]-u[a]*u[a], 0)
		}
	}
	b.us = append(b.us, u)
}

// CheckObservations checks dimensions and finiteness. With d < 0 the
// dimension is taken from the first observation. It returns the dimension.
func CheckObservations(obs []Observation, d int) (int, error) {
	for i, o := range obs {
		if d < 0 {
			d = len(o.X)
			if d == 0 {
				return 0, errors.New("optimizer: observation 0 has dimension 0")
			}
		}
		if err := CheckPoint(o.X, d, fmt.Sprintf("observation %d", i)); err != nil {
			return 0, err
		}
		if math.IsNaN(o.Y) || math.IsInf(o.Y, 0) {
			return 0, fmt.Errorf("optimizer: observation %d: Y is %v, want a finite number", i, o.Y)
		}
	}
	return d, nil
}

// rangeTol is how far outside [0,1] a coordinate may be.
const rangeTol = 1e-6

// CheckPoint checks that x has dimension d and finite coordinates in [0,1].
func CheckPoint(x []float64, d int, what string) error {
	if len(x) != d {
		return fmt.Errorf("optimizer: %s has dimension %d, want %d", what, len(x), d)
	}
	for j, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("optimizer: %s: X[%d] is %v, want a finite number", what, j, v)
		}
		if v < -rangeTol || v > 1+rangeTol {
			return fmt.Errorf("optimizer: %s: X[%d] = %v is outside [0,1]; normalise inputs first", what, j, v)
		}
	}
	return nil
}

// Pick is one point Batch chose: Index is the candidate's, Mean and SD the
// posterior at it in units of Y, Acquisition the value it was chosen with.
type Pick struct {
	Index       int
	Mean, SD    float64
	Acquisition float64
}

// Batch ranks the points by the acquisition (expected improvement with
// jitter xi, or with ucb the upper confidence bound with weight kappa) and builds a batch of up to k greedily with the
// kriging believer: after each pick the GP is conditioned on its own
// posterior mean there, which leaves the mean unchanged and shrinks the
// variance nearby, and the EI incumbent is updated with the believed value.
// avail maps a point to its candidate index; prio breaks ties (lower first).
func (g *GP) Batch(pts [][]float64, avail, prio []int, k int, ucb bool, kappa, xi float64) []Pick {
	p := g.predict(pts)
	m := len(pts)
	best := math.Inf(-1)
	for _, y := range g.ys {
		best = math.Max(best, y)
	}
	b := newBeliever(g, p, pts)
	taken := make([]bool, m)
	out := make([]Pick, 0, min(k, m))
	for len(out) < k {
		bestA, bestScore, bestAcq := -1, math.Inf(-1), 0.0
		for a := range m {
			if taken[a] {
				continue
			}
			sd := math.Sqrt(b.vr[a])
			var score, val float64
			if !ucb {
				imp := p.mean[a] - best - xi
				score = LogEI(imp, sd)
				val = EI(imp, sd) * g.yScale
			} else {
				score = p.mean[a] + kappa*sd
				val = g.yMean + g.yScale*score
			}
			if bestA < 0 || score > bestScore || (score == bestScore && prio[avail[a]] < prio[avail[bestA]]) {
				bestA, bestScore, bestAcq = a, score, val
			}
		}
		if bestA < 0 {
			break
		}
		taken[bestA] = true
		// Exclude every remaining candidate at the same X.
		for a := range m {
			if !taken[a] && space.Same(pts[a], pts[bestA]) {
				taken[a] = true
			}
		}
		out = append(out, Pick{
			Index:       avail[bestA],
			Mean:        g.yMean + g.yScale*p.mean[bestA],
			SD:          g.yScale * math.Sqrt(p.vr[bestA]),
			Acquisition: bestAcq,
		})
		if len(out) == k {
			break
		}
		best = math.Max(best, p.mean[bestA])
		b.condition(bestA)
	}
	return out
}

// EI is the expected improvement for improvement imp = μ − best − ξ and
// posterior sd sigma (standardised units).
func EI(imp, sigma float64) float64 {
	if sigma <= 0 {
		return math.Max(imp, 0)
	}
	z := imp / sigma
	return sigma * (z*normCDF(z) + normPDF(z))
}

// LogEI is log(EI(imp, sigma)), accurate far into the lower tail where ei
// underflows, so that candidates remain rankable.
func LogEI(imp, sigma float64) float64 {
	if sigma <= 0 {
		if imp > 0 {
			return math.Log(imp)
		}
		return math.Inf(-1)
	}
	z := imp / sigma
	if z > -6 {
		return math.Log(sigma) + math.Log(z*normCDF(z)+normPDF(z))
	}
	// z·Φ(z) + φ(z) = φ(z)/z² · (1 − 3/z² + 15/z⁴ − …) as z → −∞.
	z2 := z * z
	return math.Log(sigma) - 0.5*z2 - 0.5*math.Log(2*math.Pi) - math.Log(z2) + math.Log1p(-3/z2+15/(z2*z2))
}

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

func normPDF(z float64) float64 { return math.Exp(-0.5*z*z) / math.Sqrt(2*math.Pi) }
