package embedded

import (
	"math"
	"slices"

	"github.com/genesis-sci/genesis/memory"
)

// slab holds the records in slot order with their vectors twice: exactly
// (unit float32 vectors, vecs[i*dim:(i+1)*dim] belongs to recs[i]) and as
// int8 codes for the search pre-scan (codes[i*stride:(i+1)*stride], zero
// padded to a multiple of 32 for the kernel), where
//
//	vecs[i] = scales[i]·codes[i] + e,  with ‖e‖ ≤ errs[i].
//
// index maps ID → slot. Deleting moves the last slot into the hole.
type slab struct {
	dim, stride int
	recs        []*memory.Record
	vecs        []float32
	codes       []int8
	scales      []float32
	errs        []float32
	index       map[string]int
}

func newSlab(dim int) *slab {
	return &slab{dim: dim, stride: (dim + 31) &^ 31, index: map[string]int{}}
}

// reserve makes room for n more records.
func (s *slab) reserve(n int) {
	s.recs = slices.Grow(s.recs, n)
	s.vecs = slices.Grow(s.vecs, n*s.dim)
	s.codes = slices.Grow(s.codes, n*s.stride)
	s.scales = slices.Grow(s.scales, n)
	s.errs = slices.Grow(s.errs, n)
}

// put stores r with its vector, which the caller has L2-normalised. The
// record is kept without its vector: the slab holds it, and a second copy
// would double the memory of a large store.
func (s *slab) put(r *memory.Record, unit []float32) {
	cp := *r
	cp.Vector = nil
	i, ok := s.index[r.ID]
	if !ok {
		i = len(s.recs)
		s.index[r.ID] = i
		s.recs = append(s.recs, nil)
		s.vecs = append(s.vecs, make([]float32, s.dim)...)
		s.codes = append(s.codes, make([]int8, s.stride)...)
		s.scales = append(s.scales, 0)
		s.errs = append(s.errs, 0)
	}
	s.recs[i] = &cp
	v := s.vecs[i*s.dim : (i+1)*s.dim]
	copy(v, unit)
	s.scales[i], s.errs[i] = quantize(v, s.codes[i*s.stride:(i+1)*s.stride])
}

// del removes a record by moving the last slot into its place.
func (s *slab) del(id string) {
	i, ok := s.index[id]
	if !ok {
		return
	}
	last := len(s.recs) - 1
	if i != last {
		s.recs[i] = s.recs[last]
		copy(s.vecs[i*s.dim:(i+1)*s.dim], s.vecs[last*s.dim:])
		copy(s.codes[i*s.stride:(i+1)*s.stride], s.codes[last*s.stride:])
		s.scales[i], s.errs[i] = s.scales[last], s.errs[last]
		s.index[s.recs[i].ID] = i
	}
	s.recs[last] = nil
	s.recs = s.recs[:last]
	s.vecs = s.vecs[:last*s.dim]
	s.codes = s.codes[:last*s.stride]
	s.scales = s.scales[:last]
	s.errs = s.errs[:last]
	delete(s.index, id)
}

// vector returns slot i's unit vector (not a copy).
func (s *slab) vector(i int) []float32 { return s.vecs[i*s.dim : (i+1)*s.dim] }

// quantize writes v's int8 codes (round(v/scale), scale = max|v|/127) to
// codes and returns the scale and an upper bound on ‖v - scale·codes‖.
func quantize(v []float32, codes []int8) (scale, errBound float32) {
	m := maxAbs(v)
	if m == 0 {
		clear(codes)
		return 0, 0
	}
	scale, inv := m/127, 127/m
	var e2 float64
	for j, x := range v {
		c := math.RoundToEven(float64(x * inv)) // |c| ≤ 127: x*inv is within rounding of 127
		codes[j] = int8(c)
		d := float64(x) - float64(scale)*c
		e2 += d * d
	}
	return scale, roundUp(math.Sqrt(e2))
}

// quantizeQuery writes q's int16 codes to qc (len(qc) is the slab stride,
// the padding stays zero) and returns their scale t and an upper bound on
// ‖q - t·qc‖. The codes are capped so that a dot product with int8 codes
// can never overflow int32.
func quantizeQuery(q []float32, qc []int16) (t, errBound float32) {
	m := maxAbs(q)
	clear(qc)
	if m == 0 {
		return 0, 0
	}
	top := float64(min(math.MaxInt16, math.MaxInt32/(127*len(qc))))
	t = m / float32(top)
	var e2 float64
	for j, x := range q {
		c := max(-top, min(top, math.Round(float64(x/t))))
		qc[j] = int16(c)
		d := float64(x) - float64(t)*c
		e2 += d * d
	}
	return t, roundUp(math.Sqrt(e2))
}

// roundUp converts to float32 rounding up, so a bound stays a bound.
func roundUp(x float64) float32 {
	f := float32(x)
	if float64(f) < x {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// maxAbs is the largest magnitude in v (a plain comparison: five times
// faster than the max builtin, which orders NaNs and signed zeros).
func maxAbs(v []float32) float32 {
	var m float32
	for _, x := range v {
		if a := math.Float32frombits(math.Float32bits(x) &^ (1 << 31)); a > m {
			m = a
		}
	}
	return m
}
