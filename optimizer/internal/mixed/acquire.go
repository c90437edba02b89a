package mixed

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/genesis-sci/genesis/optimizer/internal/gp"
	"github.com/genesis-sci/genesis/optimizer/internal/space"
)

// Acquisition is how candidates are ranked: Kind gp.gp.AcqEI (expected
// improvement with jitter Xi; q-EI over Samples quasi-random draws for a
// batch) or gp.gp.AcqUCB (mean + Kappa·sd; GP-BUCB for a batch).
type Acquisition struct {
	Kind      string
	Kappa, Xi float64
	Samples   int
}

// Choose ranks the candidate points pts by the acquisition and returns up
// to k of them, best first (Index into pts). less breaks ties.
func (m *Model) Choose(pts [][]float64, k int, o Acquisition, less func(a, b int) bool, seed uint64) []gp.Pick {
	p := m.predict(pts)
	nc := len(pts)
	best := m.incumbent()
	vr := append([]float64(nil), p.vr...)
	taken := make([]bool, nc)
	var us [][]float64 // one conditioning vector per pick
	var picks []int
	var out []gp.Pick

	// q-EI state: for every candidate and sample, the shift of its
	// conditional mean given the earlier picks' sampled values; for every
	// sample, the best of the incumbent and the picks' sampled values.
	var z [][]float64
	var shift [][]float64
	var level []float64
	if o.Kind == gp.AcqEI && k > 1 {
		z = normalSamples(o.Samples, k, seed)
		shift = make([][]float64, nc)
		for a := range shift {
			shift[a] = make([]float64, o.Samples)
		}
		level = make([]float64, o.Samples)
		for s := range level {
			level[s] = best
		}
	}

	for len(out) < k {
		bestA, bestScore, bestVal := -1, math.Inf(-1), 0.0
		for a := range nc {
			if taken[a] {
				continue
			}
			sd := math.Sqrt(vr[a])
			var score, val float64
			switch {
			case o.Kind == gp.AcqUCB:
				score = p.mean[a] + o.Kappa*sd
				val = m.yMean + m.yStd*score
			case len(picks) == 0:
				imp := p.mean[a] - best - o.Xi
				score = gp.LogEI(imp, sd)
				val = gp.EI(imp, sd) * m.yStd
			default:
				// log of the mean over samples of EI given each sample's
				// level: the batch's expected gain from adding a.
				mx := math.Inf(-1)
				lv := make([]float64, len(level))
				for s, l := range level {
					lv[s] = gp.LogEI(p.mean[a]+shift[a][s]-l-o.Xi, sd)
					mx = math.Max(mx, lv[s])
				}
				if math.IsInf(mx, -1) {
					score = mx
				} else {
					var sum float64
					for _, v := range lv {
						sum += math.Exp(v - mx)
					}
					score = mx + math.Log(sum/float64(len(lv)))
				}
				val = math.Exp(score) * m.yStd
			}
			if bestA < 0 || score > bestScore || (score == bestScore && less(a, bestA)) {
				bestA, bestScore, bestVal = a, score, val
			}
		}
		if bestA < 0 {
			break
		}
		c := bestA
		taken[c] = true
		for a := range nc {
			if !taken[a] && space.Same(pts[a], pts[c]) {
				taken[a] = true
			}
		}
		out = append(out, gp.Pick{Index: c, Mean: m.yMean + m.yStd*p.mean[c], SD: m.yStd * math.Sqrt(p.vr[c]), Acquisition: bestVal})
		if len(out) == k {
			break
		}
		// Condition on the pick: UCB (GP-BUCB) on a noisy observation of
		// it, q-EI on its latent value.
		extra := 0.0
		if o.Kind == gp.AcqUCB {
			extra = m.noise
		}
		u := m.conditionVector(p, us, c, vr[c]+extra)
		if z != nil {
			j := len(picks)
			for s := range level {
				// The pick's sampled value: its conditional mean given the
				// earlier picks plus its own conditional sd times z.
				f := p.mean[c] + shift[c][s] + math.Sqrt(vr[c])*z[s][j]
				level[s] = math.Max(level[s], f)
			}
			for a := range nc {
				for s := range level {
					shift[a][s] += u[a] * z[s][j]
				}
			}
		}
		for a := range nc {
			vr[a] = math.Max(vr[a]-u[a]*u[a], 0)
		}
		us = append(us, u)
		picks = append(picks, c)
	}
	return out
}

// conditionVector is cov(·, c | observations, earlier picks) / √den for
// every candidate: the Cholesky column that conditioning on a value at c
// (with variance den) adds.
func (m *Model) conditionVector(p *posterior, us [][]float64, c int, den float64) []float64 {
	nc := p.m
	u := make([]float64, nc)
	if !(den > 1e-12*m.signalVar) {
		return u
	}
	for i := range m.n {
		vic := p.v[i*nc+c]
		if vic == 0 {
			continue
		}
		row := p.v[i*nc : (i+1)*nc]
		for a := range nc {
			u[a] -= vic * row[a]
		}
	}
	sd := math.Sqrt(den)
	for a := range nc {
		cov := m.signalVar*m.corr(p.in, a, p.in, c) + u[a]
		for _, prev := range us {
			cov -= prev[a] * prev[c]
		}
		u[a] = cov / sd
	}
	return u
}

// Related marks the first n observations as related tasks' (see
// optimizer.Options.Related), so the incumbent is the best of this task's
// own. With none of its own, the incumbent is the best mean this task is
// predicted to reach at xs, where the siblings measured.
func (m *Model) Related(n int, xs [][]float64) {
	m.firstOwn = n
	if n < m.n {
		return
	}
	p := m.predict(xs)
	m.noOwnBest = math.Inf(-1)
	for _, v := range p.mean {
		m.noOwnBest = math.Max(m.noOwnBest, v)
	}
}

// Appraise is the posterior mean and latent sd at xs, in units of Y, and
// the expected improvement there (jitter xi, standardised) over the
// incumbent.
func (m *Model) Appraise(xs [][]float64, xi float64) (mean, sd, ei []float64) {
	p := m.predict(xs)
	best := m.incumbent()
	mean, sd, ei = make([]float64, len(xs)), make([]float64, len(xs)), make([]float64, len(xs))
	for i := range xs {
		s := math.Sqrt(p.vr[i])
		mean[i], sd[i] = m.yMean+m.yStd*p.mean[i], m.yStd*s
		ei[i] = m.yStd * gp.EI(p.mean[i]-best-xi, s)
	}
	return mean, sd, ei
}

// incumbent is the best posterior mean at the observed points
// (standardised): with noise, the best measurement overstates what was
// found.
func (m *Model) incumbent() float64 {
	if m.firstOwn >= m.n {
		return m.noOwnBest
	}
	best := math.Inf(-1)
	for i, y := range m.ys[m.firstOwn:] {
		best = math.Max(best, y-m.noise*m.alpha[m.firstOwn+i])
	}
	return best
}

// normalSamples returns n × q standard normal draws, reproducible from the
// seed, antithetic in pairs (each draw's negation is also used) so the
// sample mean is exactly zero.
func normalSamples(n, q int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 0xda942042e4dd58b5))
	out := make([][]float64, n)
	for s := 0; s < n; s += 2 {
		out[s] = make([]float64, q)
		for j := range q {
			out[s][j] = rng.NormFloat64()
		}
		if s+1 < n {
			out[s+1] = make([]float64, q)
			for j := range q {
				out[s+1][j] = -out[s][j]
			}
		}
	}
	return out
}

// fullPredict bounds the work (n² · candidates multiply-adds) of computing
// every candidate's exact posterior variance; above it the acquisition is
// maximised over a shortlist (see Shortlist).
const fullPredict = 2e7

// Shortlisted reports whether predicting at n candidates would cost too
// much (see fullPredict), so the acquisition should be maximised over a
// Shortlist of them.
func (m *Model) Shortlisted(n int) bool {
	return float64(m.n)*float64(m.n)*float64(n) > fullPredict
}

// Shortlist returns the candidates worth an exact posterior variance, in
// decreasing order of an upper bound on their acquisition. The mean costs
// O(n) per candidate, but the exact variance O(n²). The variance given all
// observations is at most the variance given the single most correlated
// one, so each candidate's acquisition has a cheap upper bound; candidates
// are evaluated exactly in that order until the best exact value beats
// every remaining bound and at least want are in. For one point this finds
// exactly the maximiser; a batch is chosen among the shortlist.
func (m *Model) Shortlist(pts [][]float64, want int, o Acquisition) []int {
	n, nc := m.n, len(pts)
	in := m.inputs(pts)
	train := kernelInputs{num: m.num, cat: m.cat}
	best := m.incumbent()
	score := func(mu, sd float64) float64 {
		if o.Kind == gp.AcqUCB {
			return mu + o.Kappa*sd
		}
		return gp.LogEI(mu-best-o.Xi, sd)
	}
	mean := make([]float64, nc)
	ub := make([]float64, nc)
	kii := m.signalVar + m.noise
	for c := range nc {
		var mu, kmax float64
		for i := range n {
			kv := m.signalVar * m.corr(train, i, in, c)
			mu += kv * m.alpha[i]
			kmax = math.Max(kmax, kv*kv)
		}
		mean[c] = mu
		ub[c] = score(mu, math.Sqrt(math.Max(m.signalVar-kmax/kii, 0)))
	}
	order := make([]int, nc)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ub[order[a]] > ub[order[b]] })
	const block = 32
	var out []int
	bestExact := math.Inf(-1)
	for s := 0; s < nc; s += block {
		if len(out) >= want && ub[order[s]] < bestExact {
			break
		}
		idx := order[s:min(s+block, nc)]
		sub := make([][]float64, len(idx))
		for j, c := range idx {
			sub[j] = pts[c]
		}
		p := m.predict(sub)
		for j, c := range idx {
			bestExact = math.Max(bestExact, score(mean[c], math.Sqrt(p.vr[j])))
			out = append(out, c)
		}
	}
	return out
}
