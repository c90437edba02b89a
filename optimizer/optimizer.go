// Package optimizer is Genesis's Bayesian-optimisation suggester: the
// floor the agent team must never fall below.
//
// The surrogate (Model) is a Gaussian process over a mixed design space
// (Space): numeric parameters scaled to [0,1], categorical parameters as
// options, placed in a descriptor space where the challenge ships one
// (physical-organic or computed properties per option, reduced to a few
// principal components). Its kernel multiplies a Matérn-5/2 ARD kernel over
// the numeric inputs by an exchangeable kernel per categorical parameter.
// Hyperparameters are maximum a posteriori under log-normal priors, so fits
// are sane from two points on. Suggestions come from a space-filling start
// design (k-medoids seeded by maximin, categorical options covered evenly) until StartSize
// observations, then from expected improvement (q-EI for batches) or UCB
// (GP-BUCB for batches) over a finite candidate set: the untested pool, or
// a sample of a continuous space (SampleCandidates).
//
// GP and Fit are the earlier surrogate (one-hot categoricals, no priors);
// the challenges' lab emulators are built with it, and Surrogate "onehot"
// keeps it as the baseline benchmarks compare against.
//
// Objectives are oriented so that higher is better. Everything is
// deterministic given Options.Seed: no global random source, map iteration
// or wall clock affects the result.
//
// The numerics live in internal packages, one per idea: internal/space (the
// design space without a model: encoding, descriptor components, samples,
// start designs), internal/gp (the earlier GP, the Matérn kernel and closed-
// form EI) and internal/mixed (the mixed-space Model, its fit and its
// acquisitions). This package decides which to use when (start design,
// surrogate, acquisition, related tasks), validates every input, and is the
// only public face: Space, Model, GP and the rest are its names.
//
// It is a top-level package, not one of tools/, because it is a numerics
// library that every layer uses: the challenges' lab emulators (data), the
// portfolio's routine regions (policy), the campaign's bo strategy and guard
// (workflows), the optimizer_suggest tool and the search benchmarks (evals).
// Under tools/ it made the data layer import the tool layer. It imports
// nothing of Genesis.
package optimizer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/genesis-sci/genesis/optimizer/internal/gp"
	"github.com/genesis-sci/genesis/optimizer/internal/mixed"
	"github.com/genesis-sci/genesis/optimizer/internal/space"
)

// Observation is a measured point: X normalised to [0,1]^d (or a point of
// Options.Space), Y oriented so that higher is better.
type Observation = gp.Observation

// Space describes a mixed design space to the surrogate, one Dim per
// parameter: a point is one float64 per Dim, a numeric coordinate
// normalised to [0,1] or the index of a categorical option. Categorical
// parameters get an exchangeable kernel with a length-scale each and, with a
// descriptor table (Dim.Features), a place in a feature space where similar
// options are near each other.
type Space = space.Space

// Dim is one parameter of a Space: Levels options (0: numeric) and
// optional descriptor Features, one row per option.
type Dim = space.Dim

// GP is the earlier surrogate (numeric inputs, one-hot categoricals, no
// priors), which the challenges' lab emulators are built with.
type GP = gp.GP

// Fit fits a GP to observations in [0,1]^d.
func Fit(obs []Observation) (*GP, error) { return gp.Fit(obs) }

// NumericSpace is the space of d numeric parameters (what Suggest assumes
// when Options.Space is nil).
func NumericSpace(d int) *Space { return space.NumericSpace(d) }

// SampleCandidates returns n points in [0,1]^d by Latin hypercube sampling,
// depending only on (d, n, seed): candidates for Suggest in a continuous
// space. It returns nil when d < 1 or n < 1.
func SampleCandidates(d, n int, seed uint64) [][]float64 { return space.SampleCandidates(d, n, seed) }

// DescriptorComponents returns the descriptor components the surrogate uses
// for categorical dimension j (one row per option, each value in [0,1]), or
// nil when it has none: for reference optimisers that should see the same
// features.
func DescriptorComponents(s *Space, j int) [][]float64 { return space.DescriptorComponents(s, j) }

// Model is the mixed-space Gaussian-process surrogate Suggest uses by
// default (see the package documentation).
type Model = mixed.Model

// Hyper are a Model's hyperparameters, all as natural logarithms.
type Hyper = mixed.Hyper

// Priors are log-normal priors on a Model's hyperparameters and the box
// each is held in.
type Priors = mixed.Priors

// FitOptions tune FitModel.
type FitOptions = mixed.FitOptions

// DefaultPriors returns the priors for a kernel with nNum numeric inputs
// (numeric parameters and descriptor components) and nCat categorical ones.
func DefaultPriors(nNum, nCat int) Priors { return mixed.DefaultPriors(nNum, nCat) }

// FitModel fits the mixed-space surrogate to observations whose X are
// points of sp (see Space).
func FitModel(sp *Space, obs []Observation, fo FitOptions) (*Model, error) {
	if err := sp.Validate(); err != nil {
		return nil, err
	}
	if len(obs) == 0 {
		return nil, errors.New("optimizer: FitModel needs at least one observation")
	}
	for i, o := range obs {
		if err := sp.CheckPoint(o.X, fmt.Sprintf("observation %d", i)); err != nil {
			return nil, err
		}
		if math.IsNaN(o.Y) || math.IsInf(o.Y, 0) {
			return nil, fmt.Errorf("optimizer: observation %d: Y is %v, want a finite number", i, o.Y)
		}
	}
	return mixed.Fit(space.NewEncoding(sp), obs, fo)
}

// picks are candidate indices as suggestions without a model's view.
func picks(idx []int) []Suggestion {
	out := make([]Suggestion, len(idx))
	for j, i := range idx {
		out[j] = Suggestion{Index: i}
	}
	return out
}

// xsOf are the observations' points.
func xsOf(obs []Observation) [][]float64 {
	xs := make([][]float64, len(obs))
	for i, o := range obs {
		xs[i] = o.X
	}
	return xs
}

// Options configure Suggest. The zero value means expected improvement with
// the default jitter.
type Options struct {
	// Acquisition is "ei" (expected improvement, the default), "ucb"
	// (upper confidence bound mean + Kappa·sd) or "random" (seeded uniform
	// choice among unobserved candidates; no model is fitted).
	Acquisition string
	// Kappa is the UCB exploration weight; 0 means the default 2.
	Kappa float64
	// Xi is the EI jitter in units of standardised Y; 0 means the default
	// 0.01. Use a tiny positive value for (almost) no jitter.
	Xi float64
	// Seed drives all randomness: the random strategy, the start design,
	// the q-EI samples and tie breaks between equally good candidates.
	Seed uint64
	// Space describes the candidates' dimensions (numeric or categorical,
	// with optional descriptors); nil means every dimension is numeric.
	Space *Space
	// Surrogate is "gp" (the default: the mixed-space Model) or "onehot"
	// (the earlier GP without priors, categoricals one-hot, 2 random start
	// points; kept as the baseline benchmarks compare against).
	Surrogate string
	// Start is the start design: "medoids" (the default: k-medoids of the
	// candidates, started from maximin so categorical options are covered
	// evenly), "maximin" (each point as far as possible from the
	// observations and earlier picks, categorical options counted as a
	// whole unit apart) or "random".
	Start string
	// StartSize is how many observations the start design provides before
	// the surrogate takes over (0: 2). See StartSizeFor.
	StartSize int
	// Warm warm-starts the surrogate's fit, e.g. with the previous call's
	// Result.Hyper; it is ignored when it does not fit the space.
	Warm *Hyper
	// Samples is the number of quasi-random samples q-EI averages over
	// (0: 128).
	Samples int
	// Priors override the surrogate's default hyperparameter priors
	// (DefaultPriors for the space); nil keeps the defaults.
	Priors func(nNum, nCat int) Priors
	// FitSubset caps the observations the surrogate's hyperparameters are
	// fitted on (0: 150; negative: all; see FitOptions.Subset).
	FitSubset int
	// Related are observations of related tasks (a sibling challenge of
	// the same family), as points of this space with Y scored the same
	// way. The surrogate then learns this task and theirs together: an
	// extra categorical "task" dimension whose length-scale is the
	// correlation between them, so a sibling's data count for as much as
	// the two agree. With related data there is no start design: the
	// model chooses from the first experiment.
	Related []Observation
	// Descriptors is how the surrogate uses the space's descriptor tables:
	// DescriptorsAlways (the default, "") or DescriptorsSelect (with them
	// or without, whichever the data support; see fitSurrogate).
	Descriptors string
}

// Surrogates and start designs.
const (
	SurrogateGP     = "gp"
	SurrogateOneHot = "onehot"
	StartMaximin    = "maximin"
	StartMedoids    = "medoids"
	StartRandom     = "random"
)

// Suggestion is one proposed candidate.
type Suggestion struct {
	// Index is the position in the candidates slice passed to Suggest.
	Index int
	// Mean and SD are the GP posterior mean and latent standard deviation at
	// the candidate, in units of Y, given the real observations only (not the
	// batch's believed points). They are 0 when no model was fitted.
	Mean, SD float64
	// Acquisition is the acquisition value when the candidate was chosen
	// (for batch members after the first, conditioned on the earlier
	// members). EI and UCB are in units of Y; 0 when no model was fitted.
	Acquisition float64
}

// Acquisition names.
const (
	AcqEI     = "ei"
	AcqUCB    = "ucb"
	AcqRandom = "random"
)

const (
	defaultKappa = 2.0
	defaultXi    = 0.01
)

// Suggest returns up to k distinct candidate indices, best first. It is
// Run without the details.
func Suggest(obs []Observation, candidates [][]float64, k int, opt Options) ([]Suggestion, error) {
	r, err := Run(obs, candidates, k, opt)
	if err != nil {
		return nil, err
	}
	return r.Suggestions, nil
}

// Result is what Run chose and how.
type Result struct {
	Suggestions []Suggestion
	// Phase is how the suggestions were chosen: "start" (the space-filling
	// or random start design, before StartSize observations), "random"
	// (Acquisition random) or "model" (the surrogate and the acquisition).
	Phase string
	// Hyper are the fitted hyperparameters of the mixed surrogate (Phase
	// "model"), to warm-start the next call.
	Hyper *Hyper
	// Note reports a degenerate fit that fell back to the priors.
	Note string
	// DescriptorsDropped says the surrogate left the space's descriptor
	// tables out: the data supported the model without them better (see
	// Options.Descriptors).
	DescriptorsDropped bool
}

// Phases of Result.
const (
	PhaseStart  = "start"
	PhaseRandom = "random"
	PhaseModel  = "model"
)

// Run returns up to k distinct candidate indices, best first, with how they
// were chosen.
//
// Candidates whose X equals an observed X are never suggested, and no two
// suggestions share the same X. Fewer than k suggestions (possibly none)
// come back when fewer unobserved distinct candidates remain.
//
// While there are fewer than StartSize observations (default 2), the
// suggestions are the start design (Start: medoids, maximin or random). After that
// the surrogate (Options.Surrogate) is fitted and candidates are ranked by
// the acquisition. A batch (k > 1) is chosen greedily: with EI, each next
// point maximises the expected improvement of the whole batch so far
// (q-EI), its expectation over the earlier points' joint posterior taken
// with fixed quasi-random samples and the last point's part in closed form;
// with UCB, by GP-BUCB (the kriging believer: the variance shrinks around
// earlier picks, the mean stays).
func Run(obs []Observation, candidates [][]float64, k int, opt Options) (*Result, error) {
	o, err := normaliseOptions(opt)
	if err != nil {
		return nil, err
	}
	if k < 1 {
		return nil, fmt.Errorf("optimizer: k must be at least 1, got %d", k)
	}
	if len(candidates) == 0 {
		return nil, errors.New("optimizer: no candidates")
	}
	if o.surrogate == SurrogateOneHot {
		return runOneHot(obs, candidates, k, opt, o)
	}
	space := opt.Space
	if space == nil {
		space = NumericSpace(len(candidates[0]))
	}
	if err := checkInputs(space, obs, candidates, opt.Related); err != nil {
		return nil, err
	}
	avail := unobserved(obs, candidates)
	prio := priorities(opt.Seed, len(candidates))
	switch {
	case o.acq == AcqRandom:
		return &Result{Phase: PhaseRandom, Suggestions: randomPicks(avail, candidates, prio, k)}, nil
	case len(obs) < o.startSize && len(opt.Related) == 0:
		return &Result{Phase: PhaseStart, Suggestions: startDesign(o.start, space, obs, candidates, avail, prio, k)}, nil
	}
	res := &Result{Phase: PhaseModel}
	if len(avail) == 0 {
		return res, nil
	}
	if err := res.rank(space, obs, candidates, avail, prio, k, opt, o); err != nil {
		return nil, err
	}
	return res, nil
}

// runOneHot is Run with the one-hot surrogate, which has its own start.
func runOneHot(obs []Observation, candidates [][]float64, k int, opt Options, o opts) (*Result, error) {
	if opt.Space != nil {
		return nil, errors.New("optimizer: the one-hot surrogate takes numeric points only (no Space)")
	}
	if o.start != StartRandom || o.startSize != 2 {
		return nil, errors.New("optimizer: the one-hot surrogate has only its own start (2 random points)")
	}
	s, err := suggestLegacy(obs, candidates, k, opt.Seed, o)
	if err != nil {
		return nil, err
	}
	phase := PhaseModel
	if o.acq == AcqRandom {
		phase = PhaseRandom
	} else if len(obs) < 2 {
		phase = PhaseStart
	}
	return &Result{Suggestions: s, Phase: phase}, nil
}

// checkInputs checks the space and that every candidate and observation
// (this task's and the related tasks') lies in it with a finite Y.
func checkInputs(space *Space, obs []Observation, candidates [][]float64, related []Observation) error {
	if err := space.Validate(); err != nil {
		return err
	}
	for i, c := range candidates {
		if err := space.CheckPoint(c, fmt.Sprintf("candidate %d", i)); err != nil {
			return err
		}
	}
	for _, set := range []struct {
		what string
		obs  []Observation
	}{{"observation", obs}, {"related observation", related}} {
		for i, ob := range set.obs {
			if err := space.CheckPoint(ob.X, fmt.Sprintf("%s %d", set.what, i)); err != nil {
				return err
			}
			if math.IsNaN(ob.Y) || math.IsInf(ob.Y, 0) {
				return fmt.Errorf("optimizer: %s %d: Y is %v, want a finite number", set.what, i, ob.Y)
			}
		}
	}
	return nil
}

// priorities are seeded tie-break ranks of the candidates (lower is
// preferred), so equal scores are broken the same way for the same seed.
func priorities(seed uint64, n int) []int {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	prio := make([]int, n)
	for r, i := range rng.Perm(n) {
		prio[i] = r
	}
	return prio
}

// startDesign picks the start design's points among the available
// candidates.
func startDesign(start string, sp *Space, obs []Observation, candidates [][]float64, avail, prio []int, k int) []Suggestion {
	switch start {
	case StartRandom:
		return randomPicks(avail, candidates, prio, k)
	case StartMedoids:
		return picks(space.Medoids(sp, xsOf(obs), candidates, avail, prio, k))
	default:
		return picks(space.Maximin(sp, xsOf(obs), candidates, avail, prio, k))
	}
}

// rank fits the surrogate and fills res with the acquisition's best k of
// the available candidates (a shortlist of them when predicting at all
// would cost too much).
func (res *Result) rank(space *Space, obs []Observation, candidates [][]float64, avail, prio []int, k int, opt Options, o opts) error {
	m, ext, err := fitFor(space, obs, opt)
	if err != nil {
		return err
	}
	h := m.Hyper()
	res.Hyper, res.Note, res.DescriptorsDropped = &h, m.Note, m.DescriptorsDropped
	extPoints := func(idx []int) [][]float64 {
		pts := pointsOf(candidates, idx)
		for i := range pts {
			pts[i] = ext(pts[i])
		}
		return pts
	}
	acq := mixed.Acquisition{UCB: o.acq == AcqUCB, Kappa: o.kappa, Xi: o.xi, Samples: o.samples}
	if m.Shortlisted(len(avail)) {
		sl := m.Shortlist(extPoints(avail), max(64, 8*k), acq)
		for j, a := range sl {
			sl[j] = avail[a]
		}
		avail = sl
	}
	pts := extPoints(avail)
	chosen := m.Choose(pts, k, acq, func(a, b int) bool { return prio[avail[a]] < prio[avail[b]] }, opt.Seed)
	for _, pk := range chosen {
		pk.Index = avail[pk.Index]
		res.Suggestions = append(res.Suggestions, Suggestion(pk))
	}
	return nil
}

func pointsOf(candidates [][]float64, idx []int) [][]float64 {
	pts := make([][]float64, len(idx))
	for a, i := range idx {
		pts[a] = candidates[i]
	}
	return pts
}

// fitFor fits the surrogate to the observations (and the related tasks'
// when there are any) and returns it with the map from a point of the
// space to the model's inputs (the task dimension appended with related
// data).
func fitFor(sp *Space, obs []Observation, opt Options) (*Model, func([]float64) []float64, error) {
	fitSpace, fitObs, ext := sp, obs, func(x []float64) []float64 { return x }
	if len(opt.Related) > 0 {
		// Related observations first, this task's after: the model's own
		// observations are those from firstOwn on.
		fitSpace = &Space{Dims: append(append([]Dim(nil), sp.Dims...), Dim{Name: "task", Levels: 2})}
		ext = func(x []float64) []float64 { return append(append(make([]float64, 0, len(x)+1), x...), 0) }
		fitObs = make([]Observation, 0, len(opt.Related)+len(obs))
		for _, r := range opt.Related {
			fitObs = append(fitObs, Observation{X: append(append(make([]float64, 0, len(r.X)+1), r.X...), 1), Y: r.Y})
		}
		for _, ob := range obs {
			fitObs = append(fitObs, Observation{X: ext(ob.X), Y: ob.Y})
		}
	}
	m, err := fitSurrogate(fitSpace, fitObs, FitOptions{Warm: opt.Warm, Subset: opt.FitSubset}, opt)
	if err != nil {
		return nil, nil, err
	}
	if len(opt.Related) > 0 {
		xs := make([][]float64, len(opt.Related))
		for i, r := range opt.Related {
			xs[i] = ext(r.X)
		}
		m.Related(len(opt.Related), xs)
	}
	return m, ext, nil
}

// Appraisal is the surrogate's view of one point: its posterior mean and
// latent standard deviation, and its expected improvement over the best
// so far, all in units of Y.
type Appraisal struct {
	Mean, SD, EI float64
}

// Appraise fits the surrogate as Run does (Options: Space, Related, Warm,
// Priors, Xi) and returns its view of each point. It needs at least one
// observation (or related data): with none there is nothing to judge by.
func Appraise(obs []Observation, points [][]float64, opt Options) ([]Appraisal, error) {
	o, err := normaliseOptions(opt)
	if err != nil {
		return nil, err
	}
	space := opt.Space
	if space == nil {
		if len(points) == 0 {
			return nil, nil
		}
		space = NumericSpace(len(points[0]))
	}
	if err := space.Validate(); err != nil {
		return nil, err
	}
	if len(obs)+len(opt.Related) == 0 {
		return nil, errors.New("optimizer: nothing observed to appraise points by")
	}
	for i, p := range points {
		if err := space.CheckPoint(p, fmt.Sprintf("point %d", i)); err != nil {
			return nil, err
		}
	}
	for i, ob := range append(append([]Observation(nil), obs...), opt.Related...) {
		if err := space.CheckPoint(ob.X, fmt.Sprintf("observation %d", i)); err != nil {
			return nil, err
		}
		if math.IsNaN(ob.Y) || math.IsInf(ob.Y, 0) {
			return nil, fmt.Errorf("optimizer: observation %d: Y is %v, want a finite number", i, ob.Y)
		}
	}
	m, ext, err := fitFor(space, obs, opt)
	if err != nil {
		return nil, err
	}
	xs := make([][]float64, len(points))
	for i, p := range points {
		xs[i] = ext(p)
	}
	mean, sd, ei := m.Appraise(xs, o.xi)
	out := make([]Appraisal, len(points))
	for i := range points {
		out[i] = Appraisal{Mean: mean[i], SD: sd[i], EI: ei[i]}
	}
	return out, nil
}

// unobserved lists the candidates whose X no observation has.
func unobserved(obs []Observation, candidates [][]float64) []int {
	avail := make([]int, 0, len(candidates))
	for i, c := range candidates {
		seen := false
		for _, o := range obs {
			if space.Same(c, o.X) {
				seen = true
				break
			}
		}
		if !seen {
			avail = append(avail, i)
		}
	}
	return avail
}

// randomPicks is a seeded uniform sample of distinct available candidates.
func randomPicks(avail []int, candidates [][]float64, prio []int, k int) []Suggestion {
	order := append([]int(nil), avail...)
	sortByPrio(order, prio)
	var out []Suggestion
	for _, i := range order {
		if len(out) == k {
			break
		}
		dup := false
		for _, s := range out {
			dup = dup || space.Same(candidates[i], candidates[s.Index])
		}
		if !dup {
			out = append(out, Suggestion{Index: i})
		}
	}
	return out
}

// suggestLegacy is Suggest with the one-hot surrogate (SurrogateOneHot):
// the optimiser as it was before the mixed-space model, kept unchanged as
// the baseline benchmarks compare against.
//
// It returns up to k distinct candidate indices, best first.
//
// Candidates whose X equals an observed X (within 1e-9 per coordinate) are
// never suggested, and no two suggestions share the same X. Fewer than k
// suggestions (possibly none) are returned when fewer unobserved distinct
// candidates remain.
//
// With at least 2 observations a GP is fitted (see Fit) and candidates are
// ranked by the acquisition. A batch (k>1) is built greedily with the
// kriging believer: after each pick the GP is conditioned on its own
// posterior mean at the picked point (which leaves the mean unchanged and
// shrinks the variance nearby), and the EI incumbent is updated with the
// believed value.
//
// With fewer than 2 observations, or with Acquisition "random", Suggest
// returns a seeded uniform random sample of the unobserved candidates and
// Mean, SD and Acquisition are 0.
func suggestLegacy(obs []Observation, candidates [][]float64, k int, seed uint64, o opts) ([]Suggestion, error) {
	d := len(candidates[0])
	if d == 0 {
		return nil, errors.New("optimizer: candidate 0 has dimension 0")
	}
	for i, c := range candidates {
		if err := gp.CheckPoint(c, d, fmt.Sprintf("candidate %d", i)); err != nil {
			return nil, err
		}
	}
	if _, err := gp.CheckObservations(obs, d); err != nil {
		return nil, err
	}
	avail := unobserved(obs, candidates)
	prio := priorities(seed, len(candidates))
	if o.acq == AcqRandom || len(obs) < 2 {
		out := randomPicks(avail, candidates, prio, k)
		if out == nil {
			out = []Suggestion{}
		}
		return out, nil
	}
	if len(avail) == 0 {
		return []Suggestion{}, nil
	}
	g, err := gp.Fit(obs)
	if err != nil {
		return nil, err
	}
	ps := g.Batch(pointsOf(candidates, avail), avail, prio, k, o.acq == AcqUCB, o.kappa, o.xi)
	out := make([]Suggestion, len(ps))
	for i, p := range ps {
		out[i] = Suggestion(p)
	}
	return out, nil
}

// opts are Options with defaults applied.
type opts struct {
	acq       string
	kappa, xi float64
	surrogate string
	start     string
	startSize int
	samples   int
}

func normaliseOptions(opt Options) (opts, error) {
	o := opts{acq: strings.ToLower(strings.TrimSpace(opt.Acquisition)), kappa: opt.Kappa, xi: opt.Xi,
		surrogate: strings.ToLower(strings.TrimSpace(opt.Surrogate)), start: strings.ToLower(strings.TrimSpace(opt.Start)),
		startSize: opt.StartSize, samples: opt.Samples}
	switch o.acq {
	case "":
		o.acq = AcqEI
	case AcqEI, AcqUCB, AcqRandom:
	default:
		return o, fmt.Errorf("optimizer: unknown acquisition %q (want %q, %q or %q)", opt.Acquisition, AcqEI, AcqUCB, AcqRandom)
	}
	switch o.surrogate {
	case "":
		o.surrogate = SurrogateGP
	case SurrogateGP, SurrogateOneHot:
	default:
		return o, fmt.Errorf("optimizer: unknown surrogate %q (want %q or %q)", opt.Surrogate, SurrogateGP, SurrogateOneHot)
	}
	switch opt.Descriptors {
	case "", DescriptorsSelect, DescriptorsAlways:
	default:
		return o, fmt.Errorf("optimizer: unknown descriptor use %q (want %q or %q)", opt.Descriptors, DescriptorsAlways, DescriptorsSelect)
	}
	switch o.start {
	case "":
		o.start = StartMedoids
		if o.surrogate == SurrogateOneHot {
			o.start = StartRandom
		}
	case StartMaximin, StartMedoids, StartRandom:
	default:
		return o, fmt.Errorf("optimizer: unknown start design %q (want %q, %q or %q)", opt.Start, StartMedoids, StartMaximin, StartRandom)
	}
	if o.startSize < 0 || o.samples < 0 {
		return o, fmt.Errorf("optimizer: StartSize and Samples must not be negative (got %d, %d)", opt.StartSize, opt.Samples)
	}
	if o.startSize == 0 {
		o.startSize = 2
	}
	if o.samples == 0 {
		o.samples = 128
	}
	if math.IsNaN(o.kappa) || math.IsInf(o.kappa, 0) || o.kappa < 0 {
		return o, fmt.Errorf("optimizer: Kappa must be a finite non-negative number, got %v", opt.Kappa)
	}
	if math.IsNaN(o.xi) || math.IsInf(o.xi, 0) || o.xi < 0 {
		return o, fmt.Errorf("optimizer: Xi must be a finite non-negative number, got %v", opt.Xi)
	}
	if o.kappa == 0 {
		o.kappa = defaultKappa
	}
	if o.xi == 0 {
		o.xi = defaultXi
	}
	return o, nil
}

// sortByPrio sorts indices by ascending priority (insertion-free: priorities
// are a permutation, so a counting placement suffices).
func sortByPrio(idx, prio []int) {
	pos := make([]int, len(prio))
	for i := range pos {
		pos[i] = -1
	}
	for _, i := range idx {
		pos[prio[i]] = i
	}
	w := 0
	for _, i := range pos {
		if i >= 0 {
			idx[w] = i
			w++
		}
	}
}
