// Package space is the optimiser's view of a design space without a model:
// numeric and categorical dimensions, descriptor tables reduced to a few
// principal components, the encoding the kernel sees, Latin hypercube
// samples of a continuous space, and the model-free start designs (maximin,
// k-medoids) that choose the first experiments. Package optimizer exposes
// Space, Dim and the functions a user calls; this package is internal so
// that its other names stay free to change.
package space

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Space describes a mixed design space to the surrogate, one Dim per
// parameter. A point in such a space is one float64 per Dim: a numeric
// coordinate normalised to [0,1], or the index of a categorical option.
//
// Categorical dimensions are what one-hot encodings get wrong: one-hot puts
// every pair of options at the same distance, so nothing learned about one
// ligand says anything about another. The surrogate instead gives each
// categorical parameter an exchangeable kernel with its own length-scale
// and, where the challenge ships a descriptor table (physical-organic or
// computed properties of each option), places the options in a feature
// space so that similar molecules are near each other.
type Space struct {
	Dims []Dim
}

// Dim is one parameter of a Space.
type Dim struct {
	// Name is used in error messages only.
	Name string
	// Levels is the number of options of a categorical parameter; 0 means
	// a numeric parameter (continuous, integer or discrete, scaled to [0,1]).
	Levels int
	// Features optionally places a categorical parameter's options in a
	// descriptor space: one row per option, all rows the same length, every
	// value finite. They are standardised and, when there are many, reduced
	// to a few principal components before they enter the kernel.
	Features [][]float64
}

// NumericSpace is the space of d numeric parameters (what Suggest assumes
// when Options.Space is nil).
func NumericSpace(d int) *Space {
	s := &Space{Dims: make([]Dim, d)}
	for j := range s.Dims {
		s.Dims[j].Name = fmt.Sprintf("x%d", j)
	}
	return s
}

// Categorical reports whether dimension j is categorical.
func (s *Space) Categorical(j int) bool { return s.Dims[j].Levels > 0 }

// Validate checks the space's own definition.
func (s *Space) Validate() error {
	if s == nil || len(s.Dims) == 0 {
		return errors.New("optimizer: the space has no dimensions")
	}
	for j, d := range s.Dims {
		if d.Levels < 0 {
			return fmt.Errorf("optimizer: dimension %d (%s) has %d levels", j, d.Name, d.Levels)
		}
		if d.Features == nil {
			continue
		}
		if d.Levels == 0 {
			return fmt.Errorf("optimizer: dimension %d (%s) is numeric but has descriptor features", j, d.Name)
		}
		if len(d.Features) != d.Levels {
			return fmt.Errorf("optimizer: dimension %d (%s) has %d options but %d descriptor rows", j, d.Name, d.Levels, len(d.Features))
		}
		w := len(d.Features[0])
		for o, row := range d.Features {
			if len(row) != w || w == 0 {
				return fmt.Errorf("optimizer: dimension %d (%s): descriptor row %d has %d values, want %d (and at least 1)", j, d.Name, o, len(row), w)
			}
			for k, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("optimizer: dimension %d (%s): descriptor %d of option %d is %v, want a finite number", j, d.Name, k, o, v)
				}
			}
		}
	}
	return nil
}

// CheckPoint validates a point of the space; what names it in the error.
func (s *Space) CheckPoint(x []float64, what string) error {
	if len(x) != len(s.Dims) {
		return fmt.Errorf("optimizer: %s has dimension %d, want %d", what, len(x), len(s.Dims))
	}
	for j, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("optimizer: %s: X[%d] is %v, want a finite number", what, j, v)
		}
		if l := s.Dims[j].Levels; l > 0 {
			if v != math.Trunc(v) || v < 0 || int(v) >= l {
				return fmt.Errorf("optimizer: %s: X[%d] = %v is not an option index of %s (0..%d)", what, j, v, s.Dims[j].Name, l-1)
			}
			continue
		}
		if v < -rangeTol || v > 1+rangeTol {
			return fmt.Errorf("optimizer: %s: X[%d] = %v is outside [0,1]; normalise inputs first", what, j, v)
		}
	}
	return nil
}

// maxComponents caps the principal components a descriptor table keeps, and
// componentVariance is the share of the variance at which it may stop
// earlier. A handful of smooth directions is what a GP can learn from ten or
// twenty experiments; more only adds length-scales to fit.
// rangeTol is how far outside [0,1] a numeric coordinate may be.
const rangeTol = 1e-6

const (
	maxComponents     = 3
	componentVariance = 0.9
)

// Encoding is how the kernel sees a Space: a few numeric inputs in [0,1]
// (numeric parameters, then the descriptor components of categorical ones)
// and the categorical option indices (every categorical parameter, with
// descriptors or without: the exchangeable part lets the data overrule
// descriptors that do not matter).
type Encoding struct {
	space  *Space
	plain  []int         // the numeric space dimensions, the first numeric inputs
	comp   [][][]float64 // per space dimension with features: per option, its components in [0,1]
	catDim []int         // categorical input c is space dimension catDim[c]
	nNum   int           // numeric inputs: plain ones, then descriptor components
}

// NewEncoding is the encoding of s.
func NewEncoding(s *Space) *Encoding {
	e := &Encoding{space: s, comp: make([][][]float64, len(s.Dims))}
	for j, d := range s.Dims {
		if d.Levels == 0 {
			e.plain = append(e.plain, j)
		}
	}
	e.nNum = len(e.plain)
	for j, d := range s.Dims {
		if d.Levels == 0 {
			continue
		}
		e.catDim = append(e.catDim, j)
		if d.Features != nil {
			e.comp[j] = components(d.Features)
			e.nNum += len(e.comp[j][0])
		}
	}
	return e
}

// Space is the encoded space.
func (e *Encoding) Space() *Space { return e.space }

// NumInputs is the number of numeric inputs: the numeric parameters, then
// the descriptor components.
func (e *Encoding) NumInputs() int { return e.nNum }

// Plain is the number of numeric parameters, the first numeric inputs.
func (e *Encoding) Plain() int { return len(e.plain) }

// CatInputs is the number of categorical inputs, one per categorical
// parameter.
func (e *Encoding) CatInputs() int { return len(e.catDim) }

// Encode maps a point to the kernel's numeric inputs and categorical
// indices, appending to num and cat.
func (e *Encoding) Encode(x []float64, num []float64, cat []int32) ([]float64, []int32) {
	for _, j := range e.plain {
		num = append(num, x[j])
	}
	for _, j := range e.catDim {
		o := int(x[j])
		if c := e.comp[j]; c != nil {
			num = append(num, c[o]...)
		}
		cat = append(cat, int32(o))
	}
	return num, cat
}

// components standardises a descriptor table (columns to zero mean and unit
// variance over the options; constant columns dropped), projects it onto
// its leading principal components (at most maxComponents, fewer when they
// already explain componentVariance of the variance) and scales each
// component to [0,1] over the options, so that the kernel's length-scale
// priors mean the same for descriptors as for numeric parameters. Options
// with identical descriptors stay identical; the exchangeable categorical
// part of the kernel can still tell them apart. Deterministic: the sign of
// each component is fixed so that its largest loading is positive.
func components(table [][]float64) [][]float64 {
	m := len(table)
	z := standardised(table)
	if z == nil || m < 2 {
		out := make([][]float64, m)
		for o := range out {
			out[o] = []float64{0}
		}
		return out
	}
	proj := principal(z)
	if len(proj) == 0 || len(proj[0]) == 0 {
		// The factorisation failed (it does not for finite tables): fall
		// back to the first standardised column.
		proj = make([][]float64, m)
		for o := range proj {
			proj[o] = []float64{z.At(o, 0)}
		}
	}
	for p := range len(proj[0]) {
		lo, hi := math.Inf(1), math.Inf(-1)
		for o := range m {
			lo, hi = math.Min(lo, proj[o][p]), math.Max(hi, proj[o][p])
		}
		for o := range m {
			v := 0.0
			if hi > lo {
				v = (proj[o][p] - lo) / (hi - lo)
			}
			proj[o][p] = v
		}
	}
	return proj
}

// standardised is the table's non-constant columns scaled to zero mean and
// unit variance over the options; nil when every column is constant.
func standardised(table [][]float64) *mat.Dense {
	m, w := len(table), len(table[0])
	var cols []int
	mean := make([]float64, w)
	sd := make([]float64, w)
	for k := range w {
		for _, row := range table {
			mean[k] += row[k]
		}
		mean[k] /= float64(m)
		for _, row := range table {
			sd[k] += (row[k] - mean[k]) * (row[k] - mean[k])
		}
		sd[k] = math.Sqrt(sd[k] / float64(m))
		if sd[k] > 1e-12*math.Max(1, math.Abs(mean[k])) {
			cols = append(cols, k)
		}
	}
	if len(cols) == 0 {
		return nil
	}
	z := mat.NewDense(m, len(cols), nil)
	for o, row := range table {
		for c, k := range cols {
			z.Set(o, c, (row[k]-mean[k])/sd[k])
		}
	}
	return z
}

// principal projects the rows of z onto its leading principal components
// (see components), each component's sign fixed so that its largest
// loading is positive; nil when the factorisation fails.
func principal(z *mat.Dense) [][]float64 {
	m, nc := z.Dims()
	var svd mat.SVD
	if !svd.Factorize(z, mat.SVDThin) {
		return nil
	}
	vals := svd.Values(nil)
	var total float64
	for _, v := range vals {
		total += v * v
	}
	var v mat.Dense
	svd.VTo(&v)
	keep, acc := 0, 0.0
	for keep < len(vals) && keep < maxComponents && (keep == 0 || acc < componentVariance*total) {
		if vals[keep] <= 1e-9*vals[0] {
			break
		}
		acc += vals[keep] * vals[keep]
		keep++
	}
	proj := make([][]float64, m)
	for o := range proj {
		proj[o] = make([]float64, keep)
	}
	for p := range keep {
		big, sign := 0.0, 1.0
		for c := range nc {
			if l := v.At(c, p); math.Abs(l) > big {
				big, sign = math.Abs(l), math.Copysign(1, l)
			}
		}
		for o := range m {
			var s float64
			for c := range nc {
				s += z.At(o, c) * v.At(c, p)
			}
			proj[o][p] = sign * s
		}
	}
	return proj
}

// DescriptorComponents returns the descriptor components the surrogate uses
// for categorical dimension j (one row per option, each value in [0,1]), or
// nil when the dimension has no descriptors: for reference optimisers that
// should see the same features.
func DescriptorComponents(s *Space, j int) [][]float64 {
	if j < 0 || j >= len(s.Dims) || s.Dims[j].Features == nil {
		return nil
	}
	return components(s.Dims[j].Features)
}
