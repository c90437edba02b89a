package challenges

import (
	"math"

	"github.com/genesis-sci/genesis/optimizer"
)

// SearchSpace describes the design space to the optimiser: numeric
// parameters (continuous, integer, discrete) as coordinates in [0,1], and
// categorical parameters as options, with their descriptor tables where the
// challenge ships them.
func (c *Challenge) SearchSpace() *optimizer.Space {
	s := &optimizer.Space{Dims: make([]optimizer.Dim, len(c.Parameters))}
	for i, prm := range c.Parameters {
		d := optimizer.Dim{Name: prm.Name}
		if prm.Kind == Categorical {
			d.Levels = len(prm.Options)
			if prm.Descriptors != nil && len(prm.Descriptors.Table) == d.Levels {
				d.Features = prm.Descriptors.Table
			}
		}
		s.Dims[i] = d
	}
	return s
}

// SearchPoint maps a point to the optimiser's coordinates (see SearchSpace):
// numeric values scaled to [0,1] by the parameter's bounds, categorical
// values as their option index.
func (c *Challenge) SearchPoint(p Point) []float64 {
	out := make([]float64, len(c.Parameters))
	for i, prm := range c.Parameters {
		if prm.Kind == Categorical {
			out[i] = p[i]
			continue
		}
		lo, hi := prm.bounds()
		if hi > lo {
			out[i] = min(max((p[i]-lo)/(hi-lo), 0), 1)
		}
	}
	return out
}

// warpEps keeps the logit warp finite at the bounds: values within this
// share of the range of a bound (or beyond it, a measurement's noise) are
// treated as that close.
const warpEps = 0.005

// SearchScore is the score the optimiser models for a measurement: the
// challenge's score (Score), or, for a single objective with Bounds, its
// logit-warped value, which spreads out the crowded ends of a bounded scale
// (yields near 0 or 100 %). The warp is monotone, so the best point is the
// same either way.
func (c *Challenge) SearchScore(values []float64) float64 {
	s := c.Score(values)
	o := c.Primary()
	if c.MultiObjective() || len(o.Bounds) != 2 || len(values) == 0 {
		return s
	}
	lo, hi := o.Bounds[0], o.Bounds[1]
	u := (values[0] - lo) / (hi - lo)
	u = min(max(u, warpEps), 1-warpEps)
	w := math.Log(u / (1 - u))
	if o.Direction == Minimize {
		w = -w
	}
	return w
}

// UnwarpScore maps a SearchScore back to the primary objective's units.
func (c *Challenge) UnwarpScore(w float64) float64 {
	o := c.Primary()
	if c.MultiObjective() || len(o.Bounds) != 2 {
		if o.Direction == Minimize && !c.MultiObjective() {
			return -w
		}
		return w
	}
	if o.Direction == Minimize {
		w = -w
	}
	lo, hi := o.Bounds[0], o.Bounds[1]
	return lo + (hi-lo)/(1+math.Exp(-w))
}
