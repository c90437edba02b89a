package challenges

import (
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// Pool is the set of measured design points behind a challenge. Following
// Liang et al. (2021), rows with identical parameters are grouped and each
// objective's pool value is the mean of the group's unique measured values;
// the spread of the replicates gives the lab's measurement noise.
type Pool struct {
	Points []Point
	// Values[i][k] is objective k's pool value at Points[i].
	Values [][]float64
	// SD[i][k] is the replicate standard deviation (0 when there is one row).
	SD [][]float64
	// PooledSD[k] is the root-mean-square replicate SD over groups with replicates.
	PooledSD []float64
	// Range[k] is max-min of objective k's pool values.
	Range []float64
	// Rows is the number of raw data rows.
	Rows int

	index map[string]int
	norm  [][]float64
}

// ErrNotInPool is returned when a pool lab is asked for a point it never measured.
var ErrNotInPool = errors.New("point is not in the measured pool")

// Len is the number of pool members.
func (p *Pool) Len() int { return len(p.Points) }

// Lookup returns the index of a point in the pool.
func (p *Pool) Lookup(c *Challenge, pt Point) (int, bool) {
	i, ok := p.index[c.Key(pt)]
	return i, ok
}

// Normalized returns pool member i mapped into [0,1]^d.
func (p *Pool) Normalized(i int) []float64 { return p.norm[i] }

// TopSet returns the indices of the ceil(frac·N) best pool members by the
// primary objective, best first.
func (c *Challenge) TopSet() []int {
	p := c.pool
	idx := make([]int, p.Len())
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		return c.Score(p.Values[idx[a]]) > c.Score(p.Values[idx[b]])
	})
	frac := c.Scoring.TopFraction
	if frac <= 0 {
		frac = 0.05
	}
	n := int(math.Ceil(frac * float64(len(idx))))
	return idx[:n]
}

// BestValue is the best primary pool value.
func (c *Challenge) BestValue() float64 {
	return c.pool.Values[c.TopSet()[0]][0]
}

// readPool parses a CSV with a header row into a pool.
func (c *Challenge) readPool(r io.Reader) (*Pool, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("data file %s: reading header: %w", c.Data.File, err)
	}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	col := func(name string) (int, error) {
		for i, h := range header {
			if h == name {
				return i, nil
			}
		}
		return -1, fmt.Errorf("data file %s has no column %q (columns: %s)", c.Data.File, name, strings.Join(header, ", "))
	}
	pcols := make([]int, len(c.Parameters))
	for i, prm := range c.Parameters {
		name := prm.Column
		if name == "" {
			name = prm.Name
		}
		if pcols[i], err = col(name); err != nil {
			return nil, err
		}
	}
	ocols := make([]int, len(c.Objectives))
	for k, o := range c.Objectives {
		name := o.Column
		if name == "" {
			name = o.Name
		}
		if ocols[k], err = col(name); err != nil {
			return nil, err
		}
	}

	type group struct {
		pt   Point
		vals [][]float64 // per objective, all measured values
	}
	groups := map[string]*group{}
	var order []string
	rows := 0
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("data file %s line %d: %w", c.Data.File, line, err)
		}
		rows++
		pt := make(Point, len(c.Parameters))
		for i, prm := range c.Parameters {
			v, err := prm.parse(strings.TrimSpace(rec[pcols[i]]))
			if err != nil {
				return nil, fmt.Errorf("data file %s line %d: %w", c.Data.File, line, err)
			}
			pt[i] = v
		}
		key := c.Key(pt)
		g := groups[key]
		if g == nil {
			g = &group{pt: pt, vals: make([][]float64, len(c.Objectives))}
			groups[key] = g
			order = append(order, key)
		}
		for k := range c.Objectives {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[ocols[k]]), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("data file %s line %d: objective %q: %q is not a finite number", c.Data.File, line, c.Objectives[k].Name, rec[ocols[k]])
			}
			g.vals[k] = append(g.vals[k], v)
		}
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("data file %s has no data rows", c.Data.File)
	}
	nobj := len(c.Objectives)
	p := &Pool{Rows: rows, index: map[string]int{}, PooledSD: make([]float64, nobj), Range: make([]float64, nobj)}
	sumVar := make([]float64, nobj)
	nVar := make([]int, nobj)
	for _, key := range order {
		g := groups[key]
		vals := make([]float64, nobj)
		sds := make([]float64, nobj)
		for k := range nobj {
			vals[k] = mean(unique(g.vals[k]))
			if len(g.vals[k]) > 1 {
				sds[k] = stddev(g.vals[k])
				sumVar[k] += sds[k] * sds[k]
				nVar[k]++
			}
		}
		p.index[key] = len(p.Points)
		p.Points = append(p.Points, g.pt)
		p.Values = append(p.Values, vals)
		p.SD = append(p.SD, sds)
		p.norm = append(p.norm, c.Normalize(g.pt))
	}
	for k := range nobj {
		if nVar[k] > 0 {
			p.PooledSD[k] = math.Sqrt(sumVar[k] / float64(nVar[k]))
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range p.Values {
			lo, hi = math.Min(lo, v[k]), math.Max(hi, v[k])
		}
		p.Range[k] = hi - lo
	}
	return p, nil
}

// rngFor returns a random source that depends only on the key, so the same
// request (for example a retried lab run with the same idempotency key)
// always gets the same answer.
func rngFor(parts ...string) *rand.Rand {
	h := fnv.New64a()
	for _, s := range parts {
		_, _ = io.WriteString(h, s)
		_, _ = h.Write([]byte{0})
	}
	s := h.Sum64()
	return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
}

// Measure is the lab model: the measured pool value plus measurement noise.
// The key makes the noise reproducible.
func (c *Challenge) Measure(pt Point, key string) ([]float64, error) {
	if err := c.CheckPoint(pt); err != nil {
		return nil, err
	}
	i, ok := c.pool.Lookup(c, pt)
	if !ok {
		return nil, fmt.Errorf("%w of challenge %s: %s", ErrNotInPool, c.ID, c.Format(pt))
	}
	rng := rngFor("lab", c.ID, key)
	out := make([]float64, len(c.Objectives))
	for k := range c.Objectives {
		sd := c.Lab.NoiseSD
		if c.Lab.Noise == "replicate" {
			sd = c.pool.SD[i][k]
			if sd == 0 {
				sd = c.pool.PooledSD[k]
			}
		}
		out[k] = c.pool.Values[i][k] + sd*rng.NormFloat64()
	}
	return out, nil
}

// Simulate is the simulation model: a leave-one-out nearest-neighbour
// estimate from the other measured points, shifted by a bias and blurred by
// noise. It never sees the point's own measurement.
func (c *Challenge) Simulate(pt Point, key string) ([]float64, error) {
	if err := c.CheckPoint(pt); err != nil {
		return nil, err
	}
	x := c.Normalize(pt)
	self, inPool := c.pool.Lookup(c, pt)
	type nb struct {
		d float64
		i int
	}
	nbs := make([]nb, 0, c.pool.Len())
	for i := range c.pool.Points {
		if inPool && i == self && c.pool.Len() > 1 {
			continue
		}
		nbs = append(nbs, nb{dist(x, c.pool.norm[i]), i})
	}
	sort.Slice(nbs, func(a, b int) bool { return nbs[a].d < nbs[b].d || nbs[a].d == nbs[b].d && nbs[a].i < nbs[b].i })
	k := c.Simulation.Neighbors
	if k <= 0 {
		k = 5
	}
	k = min(k, len(nbs))
	rng := rngFor("sim", c.ID, key)
	out := make([]float64, len(c.Objectives))
	for o := range c.Objectives {
		var wsum, vsum float64
		for _, n := range nbs[:k] {
			w := 1 / (n.d + 1e-6)
			wsum += w
			vsum += w * c.pool.Values[n.i][o]
		}
		r := c.pool.Range[o]
		out[o] = vsum/wsum + c.Simulation.Bias*r + c.Simulation.NoiseSD*r*rng.NormFloat64()
	}
	return out, nil
}

func dist(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return math.Sqrt(s)
}

func unique(xs []float64) []float64 {
	seen := map[float64]bool{}
	var out []float64
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func stddev(xs []float64) float64 {
	m := mean(xs)
	var s float64
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(xs)-1))
}
