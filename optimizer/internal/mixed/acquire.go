package mixed

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/genesis-sci/genesis/optimizer/internal/gp"
	"github.com/genesis-sci/genesis/optimizer/internal/space"
)

// Acquisition is how candidates are ranked: expected improvement with
// jitter Xi (q-EI over Samples quasi-random draws for a batch) or, with UCB,
// the upper confidence bound mean + Kappa·sd (GP-BUCB for a batch).
type Acquisition struct {
	UCB       bool
	Kappa, Xi float64
	Samples   int
}

// Choose ranks the candidate points pts by the acquisition and returns up
// to k of them, best first (Index into pts). less breaks ties.
func (m *Model) Choose(pts [][]float64, k int, o Acquisition, less func(a, b int) bool, seed uint64) []gp.Pick {
	b := m.newBatch(pts, k, o, seed)
	var out []gp.Pick
	for len(out) < k {
		c, val := b.next(less)
		if c < 0 {
			break
		}
		b.take(c)
		out = append(out, gp.Pick{Index: c, Mean: m.yMean + m.yStd*b.p.mean[c], SD: m.yStd * math.Sqrt(b.p.vr[c]), Acquisition: val})
		if len(out) == k {
			break
		}
		b.condition(c)
	}
	return out
}

// batch is Choose's state as it picks one candidate after another.
type batch struct {
	m     *Model
	o     Acquisition
	pts   [][]float64
	p     *posterior
	best  float64     // the incumbent
	vr    []float64   // the candidates' variances given the picks so far
	taken []bool      // picked, or at a picked point
	us    [][]float64 // one conditioning vector per pick
	picks int

	// q-EI state: z are the standard normal samples (per sample, per
	// pick); for every candidate and sample, the shift of its conditional
	// mean given the earlier picks' sampled values; for every sample, the
	// best of the incumbent and the picks' sampled values.
	z     [][]float64
	shift [][]float64
	level []float64
}

func (m *Model) newBatch(pts [][]float64, k int, o Acquisition, seed uint64) *batch {
	p := m.predict(pts)
	b := &batch{m: m, o: o, pts: pts, p: p, best: m.incumbent(), vr: append([]float64(nil), p.vr...), taken: make([]bool, len(pts))}
	if !o.UCB && k > 1 {
		b.z = normalSamples(o.Samples, k, seed)
		b.shift = make([][]float64, len(pts))
		for a := range b.shift {
			b.shift[a] = make([]float64, o.Samples)
		}
		b.level = make([]float64, o.Samples)
		for s := range b.level {
			b.level[s] = b.best
		}
	}
	return b
}

// next is the untaken candidate with the best acquisition (less breaks
// ties) and its acquisition value in units of Y; -1 when none is left.
func (b *batch) next(less func(a, b int) bool) (int, float64) {
	bestA, bestScore, bestVal := -1, math.Inf(-1), 0.0
	for a := range b.pts {
		if b.taken[a] {
			continue
		}
		score, val := b.score(a)
		if bestA < 0 || score > bestScore || (score == bestScore && less(a, bestA)) {
			bestA, bestScore, bestVal = a, score, val
		}
	}
	return bestA, bestVal
}

// score is candidate a's acquisition given the picks so far, as ranked
// (log EI for EI) and in units of Y.
func (b *batch) score(a int) (score, val float64) {
	m, o, p := b.m, b.o, b.p
	sd := math.Sqrt(b.vr[a])
	switch {
	case o.UCB:
		score = p.mean[a] + o.Kappa*sd
		return score, m.yMean + m.yStd*score
	case b.picks == 0:
		imp := p.mean[a] - b.best - o.Xi
		return gp.LogEI(imp, sd), gp.EI(imp, sd) * m.yStd
	}
	// log of the mean over samples of EI given each sample's level: the
	// batch's expected gain from adding a.
	mx := math.Inf(-1)
	lv := make([]float64, len(b.level))
	for s, l := range b.level {
		lv[s] = gp.LogEI(p.mean[a]+b.shift[a][s]-l-o.Xi, sd)
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
	return score, math.Exp(score) * m.yStd
}

// take marks c and every candidate at the same point as taken.
func (b *batch) take(c int) {
	b.taken[c] = true
	for a := range b.pts {
		if !b.taken[a] && space.Same(b.pts[a], b.pts[c]) {
			b.taken[a] = true
		}
	}
}

// condition updates the candidates' variances (and the q-EI samples) for
// the pick c: UCB (GP-BUCB) on a noisy observation of it, q-EI on its
// latent value.
func (b *batch) condition(c int) {
	extra := 0.0
	if b.o.UCB {
		extra = b.m.noise
	}
	u := b.m.conditionVector(b.p, b.us, c, b.vr[c]+extra)
	if b.z != nil {
		j := b.picks
		for s := range b.level {
			// The pick's sampled value: its conditional mean given the
			// earlier picks plus its own conditional sd times z.
			f := b.p.mean[c] + b.shift[c][s] + math.Sqrt(b.vr[c])*b.z[s][j]
			b.level[s] = math.Max(b.level[s], f)
		}
		for a := range b.pts {
			for s := range b.level {
				b.shift[a][s] += u[a] * b.z[s][j]
			}
		}
	}
	for a := range b.pts {
		b.vr[a] = math.Max(b.vr[a]-u[a]*u[a], 0)
	}
	b.us = append(b.us, u)
	b.picks++
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
		if o.UCB {
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
