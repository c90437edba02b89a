package challenges

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// Sample draws up to n distinct points of the design space, reproducibly
// for a given seed. For a pool lab they are pool members (all of them when
// n ≥ N, in a shuffled order); otherwise they are uniform within the
// bounds, with integer and discrete values on their grids, categoricals
// uniform over their options and each sum constraint met by drawing its
// parameters uniformly on the constrained simplex (points breaking a bound
// are redrawn). Fewer than n come back only when the space has fewer
// distinct points or the constraints are very tight.
func (c *Challenge) Sample(n int, seed uint64) []Point {
	rng := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	if c.Finite() {
		perm := rng.Perm(c.pool.Len())
		out := make([]Point, 0, min(n, len(perm)))
		for _, i := range perm[:min(n, len(perm))] {
			out = append(out, append(Point(nil), c.pool.Points[i]...))
		}
		return out
	}
	inSum := make([]bool, len(c.Parameters))
	for _, k := range c.Constraints {
		for _, name := range k.Parameters {
			inSum[c.ParamIndex(name)] = true
		}
	}
	seen := map[string]bool{}
	out := make([]Point, 0, n)
	for tries := 0; len(out) < n && tries < 50*n+1000; tries++ {
		p := make(Point, len(c.Parameters))
		for i, prm := range c.Parameters {
			if inSum[i] && (prm.Kind == Continuous) {
				continue
			}
			p[i] = prm.draw(rng)
		}
		for _, k := range c.Constraints {
			c.drawSimplex(k, p, rng)
		}
		if c.CheckPoint(p) != nil {
			continue
		}
		key := c.Key(p)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, p)
	}
	return out
}

// draw picks a uniform value of a parameter.
func (p Parameter) draw(rng *rand.Rand) float64 {
	switch p.Kind {
	case Categorical:
		return float64(rng.IntN(len(p.Options)))
	case Discrete:
		return p.Values[rng.IntN(len(p.Values))]
	case Integer:
		lo, hi := math.Ceil(*p.Low), math.Floor(*p.High)
		return lo + float64(rng.IntN(int(hi-lo)+1))
	default:
		return roundSig(*p.Low + rng.Float64()*(*p.High-*p.Low))
	}
}

// drawSimplex sets the continuous parameters of a sum constraint so that
// they sum to its value: the part above their lower bounds is split by a
// uniform draw from the simplex (normalised exponentials).
func (c *Challenge) drawSimplex(k Constraint, p Point, rng *rand.Rand) {
	if k.Kind != ConstraintSum {
		return
	}
	var idx []int
	rest := k.Value
	for _, name := range k.Parameters {
		i := c.ParamIndex(name)
		if c.Parameters[i].Kind == Continuous {
			idx = append(idx, i)
			rest -= *c.Parameters[i].Low
		} else {
			rest -= p[i]
		}
	}
	if len(idx) == 0 || rest < 0 {
		return
	}
	w := make([]float64, len(idx))
	var sum float64
	for j := range w {
		w[j] = rng.ExpFloat64()
		sum += w[j]
	}
	for j, i := range idx {
		p[i] = *c.Parameters[i].Low + rest*w[j]/sum
	}
}

// roundSig rounds to 6 significant digits, so that sampled values print
// and serialise compactly and reproduce exactly.
func roundSig(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return f
}
