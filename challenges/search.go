package challenges

import "github.com/genesis-sci/genesis/tools/optimizer"

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
