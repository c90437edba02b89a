// Package metrics scores a run's trace the way the field does, as pure
// functions of the trace (no workflows, no I/O), so the campaign reports
// (package evals) and the optimiser-alone benchmark (evals/search) score
// alike.
//
// Metrics follow Liang et al., npj Comput. Mater. 7, 188 (2021): the top
// set is the ceil(5 %·N) best measured points; Top%(n) is the fraction of it
// found after n experiments; random search finds n/N of it in expectation;
// the enhancement factor EF(n) = Top%(n) / (n/N); the acceleration factor
// AF(t) = n_random(t) / n_method(t), the ratio of experiments needed to
// reach Top% t. Continuous (emulator) challenges have no finite pool: for
// them a point "is in the top set" when its noise-free value beats the
// measured data's top-5 % threshold, and the report adds normalised
// best-so-far and regret against the dataset's best. Best and regret are
// computed on the truth of the measured points, not on their noisy
// measurements (see Point).
package metrics

import (
	"math"
	"sort"
)

// Point is one experiment of a run's trace. A lab measurement is the
// truth of the point plus noise, so the best of a run's measurements is
// biased upwards (the winner's curse): a noisy pool lab reports bests
// above anything in the pool. Runs are therefore scored on the truth of
// the points they measured — the pool value for a pool lab, the
// emulator's noise-free prediction for an emulator lab — and the
// measurement is kept beside it.
type Point struct {
	// N is the experiment's number, from 1.
	N int `json:"n"`
	// Round is the lab round the experiment ran in, from 1: experiments of
	// one round were chosen together and ran at once (0 in runs recorded
	// before rounds were).
	Round int `json:"round,omitempty"`
	// Point is the design point measured (parameter name → value).
	Point map[string]any `json:"point,omitempty"`
	// Value is the measured primary objective; Values every objective;
	// Score the challenge's oriented (higher is better) score of them.
	Value  float64   `json:"value"`
	Values []float64 `json:"values,omitempty"`
	Score  float64   `json:"score"`
	// TrueValue, TrueValues and TrueScore are the same for the truth of
	// the point. TrueValues is empty in a run recorded before runs were
	// scored on the truth (see Run.ScoredOn).
	TrueValue  float64   `json:"true_value"`
	TrueValues []float64 `json:"true_values,omitempty"`
	TrueScore  float64   `json:"true_score"`
	// BestTrue is the true primary value of the best point so far by true
	// score, and BestTrueScore that score: what best and regret report.
	BestTrue      float64 `json:"best_true"`
	BestTrueScore float64 `json:"best_true_score"`
	// BestMeasured is the best measured primary value so far (by measured
	// score) and BestMeasuredScore its score: what a campaign reports.
	BestMeasured      float64 `json:"best_measured"`
	BestMeasuredScore float64 `json:"best_measured_score"`
	// TopFound is how many distinct top-set members were found so far
	// (pool challenges) or how many experiments so far reached the top-5 %
	// threshold by their noise-free value (emulator challenges).
	TopFound int `json:"top_found"`
	// Cost is the total cost so far in lab-run units: lab experiments plus
	// simulations × the challenge's simulation cost.
	Cost float64 `json:"cost"`
}

// TopFrac is Top%(n): the fraction of the top set found after n
// experiments (the last trace point at or before n; 0 before the first).
// Traces shorter than n hold their last value.
func TopFrac(trace []Point, n, topSize int) float64 {
	if topSize <= 0 {
		return 0
	}
	found := 0
	for _, p := range trace {
		if p.N > n {
			break
		}
		found = p.TopFound
	}
	return math.Min(1, float64(found)/float64(topSize))
}

// TopFracRounds is Top% after r lab rounds: per batch rather than per
// experiment, what a campaign's wall-clock time goes by.
func TopFracRounds(trace []Point, r, topSize int) float64 {
	if topSize <= 0 {
		return 0
	}
	found := 0
	for _, p := range trace {
		if p.Round > r || p.Round == 0 {
			break
		}
		found = p.TopFound
	}
	return math.Min(1, float64(found)/float64(topSize))
}

// RandomTopFrac is random search's expected Top%(n) on a pool of N: n/N.
func RandomTopFrac(n, poolSize int) float64 {
	if poolSize <= 0 {
		return 0
	}
	return math.Min(1, float64(n)/float64(poolSize))
}

// EF is the enhancement factor at n: mean Top%(n) over runs divided by
// random's expected n/N.
func EF(traces [][]Point, n, topSize, poolSize int) float64 {
	r := RandomTopFrac(n, poolSize)
	if r == 0 || len(traces) == 0 {
		return math.NaN()
	}
	return MeanTopFrac(traces, n, topSize) / r
}

// MeanTopFrac averages Top%(n) over runs.
func MeanTopFrac(traces [][]Point, n, topSize int) float64 {
	if len(traces) == 0 {
		return math.NaN()
	}
	var s float64
	for _, t := range traces {
		s += TopFrac(t, n, topSize)
	}
	return s / float64(len(traces))
}

// NToReach is the number of experiments after which the mean Top% over
// runs first reaches t (checked at every n up to maxN), or NaN if it never
// does.
func NToReach(traces [][]Point, t float64, topSize, maxN int) float64 {
	for n := 1; n <= maxN; n++ {
		if MeanTopFrac(traces, n, topSize) >= t-1e-12 {
			return float64(n)
		}
	}
	return math.NaN()
}

// AF is the acceleration factor at Top% t: random's expected number of
// experiments to reach t (t·N) over the method's (from its mean Top%
// curve). NaN when the method does not reach t within maxN.
func AF(traces [][]Point, t float64, topSize, poolSize, maxN int) float64 {
	n := NToReach(traces, t, topSize, maxN)
	if math.IsNaN(n) || n == 0 {
		return math.NaN()
	}
	return t * float64(poolSize) / n
}

// FirstTop is the experiment number of a run's first top-set hit, or NaN.
func FirstTop(trace []Point) float64 {
	for _, p := range trace {
		if p.TopFound > 0 {
			return float64(p.N)
		}
	}
	return math.NaN()
}

// BestAt is the best true score after n experiments (−Inf before the first).
func BestAt(trace []Point, n int) float64 {
	return bestAt(trace, n, func(p Point) float64 { return p.BestTrueScore })
}

// BestMeasuredAt is the best measured score after n experiments (−Inf
// before the first).
func BestMeasuredAt(trace []Point, n int) float64 {
	return bestAt(trace, n, func(p Point) float64 { return p.BestMeasuredScore })
}

func bestAt(trace []Point, n int, score func(Point) float64) float64 {
	best := math.Inf(-1)
	for _, p := range trace {
		if p.N > n {
			break
		}
		best = score(p)
	}
	return best
}

// Regret is the normalised simple regret after n experiments: how far the
// best true score so far is below the dataset's best, as a fraction of the
// measured scores' range (0 = found the best; never negative on a pool
// lab; can be negative on an emulator lab whose noise-free landscape
// beats every measured point).
func Regret(trace []Point, n int, bestScore, scoreRange float64) float64 {
	return regret(BestAt(trace, n), bestScore, scoreRange)
}

// RegretMeasured is Regret on the best measured score: noise makes it
// optimistic, and on a noisy pool lab it can be negative.
func RegretMeasured(trace []Point, n int, bestScore, scoreRange float64) float64 {
	return regret(BestMeasuredAt(trace, n), bestScore, scoreRange)
}

func regret(b, bestScore, scoreRange float64) float64 {
	if math.IsInf(b, -1) || scoreRange <= 0 {
		return 1
	}
	return (bestScore - b) / scoreRange
}

// Median of xs ignoring NaNs (NaN when none are left).
func Median(xs []float64) float64 { return Quantile(xs, 0.5) }

// Quantile is the q-quantile of xs by linear interpolation, ignoring NaNs.
func Quantile(xs []float64, q float64) float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	pos := q * float64(len(v)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return v[lo] + (v[hi]-v[lo])*(pos-float64(lo))
}

// Hypervolume is the area (2 objectives) or volume (3) dominated by the
// points and bounded by the reference point, all in a maximise-everything
// frame (orient minimised objectives first). Points not dominating the
// reference contribute nothing. It returns NaN for other dimensions.
func Hypervolume(points [][]float64, ref []float64) float64 {
	d := len(ref)
	var ps [][]float64
	for _, p := range points {
		if len(p) != d {
			return math.NaN()
		}
		ok := true
		for k := range d {
			ok = ok && p[k] > ref[k]
		}
		if ok {
			ps = append(ps, p)
		}
	}
	switch d {
	case 2:
		return hv2(ps, ref)
	case 3:
		// Slice along the third objective: between consecutive levels the
		// dominated region is the 2-D hypervolume of points at or above it.
		sort.Slice(ps, func(a, b int) bool { return ps[a][2] > ps[b][2] })
		var vol float64
		for i := range ps {
			next := ref[2]
			if i+1 < len(ps) {
				next = ps[i+1][2]
			}
			if h := ps[i][2] - next; h > 0 {
				vol += h * hv2(ps[:i+1], ref[:2])
			}
		}
		return vol
	}
	return math.NaN()
}

// hv2 is the 2-D dominated area above ref (maximisation).
func hv2(ps [][]float64, ref []float64) float64 {
	pts := make([][2]float64, 0, len(ps))
	for _, p := range ps {
		if p[0] > ref[0] && p[1] > ref[1] {
			pts = append(pts, [2]float64{p[0], p[1]})
		}
	}
	sort.Slice(pts, func(a, b int) bool { return pts[a][0] > pts[b][0] })
	var area float64
	y := ref[1]
	for _, p := range pts {
		if p[1] > y {
			area += (p[0] - ref[0]) * (p[1] - y)
			y = p[1]
		}
	}
	return area
}
