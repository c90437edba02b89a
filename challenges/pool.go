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
	// MedianSD[k] is the median replicate SD, and NoiseCV[k] the median
	// coefficient of variation (SD / mean) over groups with replicates when
	// every value of objective k is positive (else 0). A point measured
	// once gets CV × its value as noise when NoiseCV > 0 (measurement error
	// that scales with the signal, as in most of these datasets), else
	// MedianSD: heavy-tailed replicate spreads of a few points must not
	// drown the small values.
	MedianSD, NoiseCV []float64
	// Low[k] and Range[k] are the minimum and max−min of objective k's pool values.
	Low, Range []float64
	// Rows is the number of raw data rows; Replicated the number of points
	// measured more than once.
	Rows, Replicated int

	index map[string]int
	enc   [][]float64
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

// Encoded returns pool member i encoded (see Challenge.Encode).
func (p *Pool) Encoded(i int) []float64 { return p.enc[i] }

// TopSet returns the indices of the ceil(frac·N) best pool members by
// score, best first. It is computed once, when the challenge loads; the
// caller gets its own copy.
func (c *Challenge) TopSet() []int { return append([]int(nil), c.top...) }

// rankTop computes the top set (see TopSet).
func (c *Challenge) rankTop() []int {
	p := c.pool
	idx := make([]int, p.Len())
	scores := make([]float64, p.Len())
	for i := range idx {
		idx[i] = i
		scores[i] = c.Score(p.Values[i])
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	frac := c.Scoring.TopFraction
	if frac <= 0 {
		frac = 0.05
	}
	n := int(math.Ceil(frac*float64(len(idx)) - 1e-9))
	return idx[:max(n, 1)]
}

// BestValue is the best primary pool value (for a multi-objective
// challenge, the primary value of the best-scoring pool member).
func (c *Challenge) BestValue() float64 {
	return c.pool.Values[c.top[0]][0]
}

// Threshold is the score of the worst member of the top set: a point
// scoring at least this is in the top fraction of the measured data. For a
// single objective it is the primary value (oriented back to its units).
func (c *Challenge) Threshold() float64 {
	v := c.pool.Values[c.top[len(c.top)-1]]
	if !c.MultiObjective() {
		return v[0]
	}
	return c.Score(v)
}

// column finds a data column by name.
func column(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	return -1
}

// readPool parses the data file into a pool. Every problem it finds is
// returned as a Problem naming the field or the line at fault.
func (c *Challenge) readPool(file string, r io.Reader) (*Pool, []Problem) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1
	header, ps := c.poolHeader(file, cr)
	if ps != nil {
		return nil, ps
	}
	pcols, ocols, ps := c.poolColumns(file, header)
	if len(ps) > 0 {
		return nil, ps
	}
	rows, ps := c.readRows(file, cr, len(header), pcols, ocols)
	if len(ps) > 0 {
		return nil, ps
	}
	if len(rows.order) == 0 {
		return nil, oneProblem(file, "data.file", "%s has no data rows", c.Data.File)
	}
	return c.poolOf(rows), nil
}

// oneProblem is one Problem in a slice, the shape readPool's steps return.
func oneProblem(file, field, format string, args ...any) []Problem {
	return []Problem{{File: file, Field: field, Msg: fmt.Sprintf(format, args...)}}
}

// poolHeader returns the data's column names: the definition's data.columns,
// else the file's first row, without a byte-order mark or padding.
func (c *Challenge) poolHeader(file string, cr *csv.Reader) ([]string, []Problem) {
	header := c.Data.Columns
	if len(header) == 0 {
		h, err := cr.Read()
		if err != nil {
			return nil, oneProblem(file, "data.file", "%s: reading the header row: %v", c.Data.File, err)
		}
		header = h
	}
	header = append([]string(nil), header...)
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	return header, nil
}

// poolColumns finds each parameter's and each objective's column (its
// `column`, else its name).
func (c *Challenge) poolColumns(file string, header []string) (pcols, ocols []int, ps []Problem) {
	find := func(kind string, i int, col, name string) int {
		field := fmt.Sprintf("%s[%d].column", kind, i)
		if col == "" {
			col, field = name, fmt.Sprintf("%s[%d].name", kind, i)
		}
		j := column(header, col)
		if j < 0 {
			ps = append(ps, oneProblem(file, field, "%s has no column %q; columns are: %s", c.Data.File, col, strings.Join(header, ", "))...)
		}
		return j
	}
	pcols = make([]int, len(c.Parameters))
	for i, prm := range c.Parameters {
		pcols[i] = find("parameters", i, prm.Column, prm.Name)
	}
	ocols = make([]int, len(c.Objectives))
	for k, o := range c.Objectives {
		ocols[k] = find("objectives", k, o.Column, o.Name)
	}
	return pcols, ocols, ps
}

// rowGroups holds the data rows grouped by design point, in the order each
// point first appears.
type rowGroups struct {
	byKey map[string]*rowGroup
	order []string
	rows  int // valid data rows read
}

type rowGroup struct {
	pt   Point
	vals [][]float64 // per objective, all measured values
}

func (g *rowGroups) add(key string, pt Point, vals []float64) {
	r := g.byKey[key]
	if r == nil {
		r = &rowGroup{pt: pt, vals: make([][]float64, len(vals))}
		g.byKey[key] = r
		g.order = append(g.order, key)
	}
	for k, v := range vals {
		r.vals[k] = append(r.vals[k], v)
	}
	g.rows++
}

// readRows reads the data rows after the header and the skipped rows,
// stopping at the row limit or after ten problems.
func (c *Challenge) readRows(file string, cr *csv.Reader, width int, pcols, ocols []int) (*rowGroups, []Problem) {
	g := &rowGroups{byKey: map[string]*rowGroup{}}
	line := 1
	if len(c.Data.Columns) > 0 {
		line = 0
	}
	for range c.Data.SkipRows {
		line++
		if _, err := cr.Read(); err != nil {
			return nil, oneProblem(file, "data.skip_rows", "%s: cannot skip %d rows: %v", c.Data.File, c.Data.SkipRows, err)
		}
	}
	const maxProblems = 10
	var ps []Problem
	for {
		line++
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		at := fmt.Sprintf("%s line %d", c.Data.File, line)
		if err != nil {
			return nil, oneProblem(file, "data.file", "%s: %v", at, err)
		}
		if len(rec) != width {
			ps = append(ps, oneProblem(file, "data.file", "%s has %d fields; the header has %d", at, len(rec), width)...)
		} else if pt, vals, rps := c.parseRow(file, at, rec, pcols, ocols); len(rps) > 0 {
			ps = append(ps, rps...)
		} else {
			g.add(c.Key(pt), pt, vals)
		}
		if g.rows > MaxDataRows {
			ps = append(ps, oneProblem(file, "data.file", "%s has more than %d data rows, the most a challenge may hold (every lab run and dataset query reads them all): subsample it", c.Data.File, MaxDataRows)...)
			break
		}
		if len(ps) >= maxProblems {
			ps = append(ps, oneProblem(file, "data.file", "stopped after %d problems", maxProblems)...)
			break
		}
	}
	return g, ps
}

// parseRow reads one data row's design point and objective values; the
// constraints are checked only on a point whose parameters all parsed.
func (c *Challenge) parseRow(file, at string, rec []string, pcols, ocols []int) (Point, []float64, []Problem) {
	var ps []Problem
	pt := make(Point, len(c.Parameters))
	for i, prm := range c.Parameters {
		v, err := prm.parse(strings.TrimSpace(rec[pcols[i]]))
		if err != nil {
			ps = append(ps, oneProblem(file, fmt.Sprintf("parameters[%d]", i), "%s: %v", at, err)...)
		}
		pt[i] = v
	}
	if len(ps) == 0 {
		for _, k := range c.Constraints {
			if err := c.checkConstraint(k, pt); err != nil {
				ps = append(ps, oneProblem(file, "constraints", "%s: %v", at, err)...)
			}
		}
	}
	vals := make([]float64, len(c.Objectives))
	for k, o := range c.Objectives {
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[ocols[k]]), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			ps = append(ps, oneProblem(file, fmt.Sprintf("objectives[%d]", k), "%s: %q is not a finite number (objective %q)", at, rec[ocols[k]], o.Name)...)
		}
		vals[k] = v
	}
	return pt, vals, ps
}

// poolOf turns grouped rows into the pool: each point's value is the mean
// of its group's unique measurements, and the replicates give the noise.
func (c *Challenge) poolOf(g *rowGroups) *Pool {
	nobj := len(c.Objectives)
	p := &Pool{Rows: g.rows, index: map[string]int{}, PooledSD: make([]float64, nobj), Low: make([]float64, nobj), Range: make([]float64, nobj),
		MedianSD: make([]float64, nobj), NoiseCV: make([]float64, nobj)}
	sumVar := make([]float64, nobj)
	nVar := make([]int, nobj)
	sds := make([][]float64, nobj)
	cvs := make([][]float64, nobj)
	for _, key := range g.order {
		r := g.byKey[key]
		vals := make([]float64, nobj)
		sd := make([]float64, nobj)
		for k := range nobj {
			vals[k] = mean(unique(r.vals[k]))
			if len(r.vals[k]) > 1 {
				sd[k] = stddev(r.vals[k])
				sumVar[k] += sd[k] * sd[k]
				nVar[k]++
				sds[k] = append(sds[k], sd[k])
				if m := mean(r.vals[k]); m > 0 {
					cvs[k] = append(cvs[k], sd[k]/m)
				}
			}
		}
		if len(r.vals[0]) > 1 {
			p.Replicated++
		}
		p.index[key] = len(p.Points)
		p.Points = append(p.Points, r.pt)
		p.Values = append(p.Values, vals)
		p.SD = append(p.SD, sd)
		p.enc = append(p.enc, c.Encode(r.pt))
	}
	for k := range nobj {
		if nVar[k] > 0 {
			p.PooledSD[k] = math.Sqrt(sumVar[k] / float64(nVar[k]))
			p.MedianSD[k] = medianOf(sds[k])
		}
		positive := true
		for _, v := range p.Values {
			positive = positive && v[k] > 0
		}
		if positive && len(cvs[k]) > 0 {
			p.NoiseCV[k] = medianOf(cvs[k])
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range p.Values {
			lo, hi = math.Min(lo, v[k]), math.Max(hi, v[k])
		}
		p.Low[k], p.Range[k] = lo, hi-lo
	}
	return p
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

// Answers reports whether the lab can run p: it must lie in the design
// space and, for a pool lab, be a measured point. Safety is checked
// separately (CheckSafety) because a refusal is not a malformed request.
func (c *Challenge) Answers(p Point) error {
	if err := c.CheckPoint(p); err != nil {
		return err
	}
	if c.Finite() {
		if _, ok := c.pool.Lookup(c, p); !ok {
			return fmt.Errorf("%w of challenge %s: %s", ErrNotInPool, c.ID, c.Format(p))
		}
	}
	return nil
}

// Measure is the lab model: the true value (Truth) plus measurement noise.
// The key makes the noise reproducible: the same key gives the same answer.
func (c *Challenge) Measure(pt Point, key string) ([]float64, error) {
	truth, err := c.Truth(pt)
	if err != nil {
		return nil, err
	}
	rng := rngFor("lab", c.ID, key)
	i, inPool := c.pool.Lookup(c, pt)
	out := make([]float64, len(c.Objectives))
	for k := range c.Objectives {
		var sd float64
		switch c.Lab.Noise {
		case NoiseReplicate:
			switch {
			case inPool && c.pool.SD[i][k] > 0:
				sd = c.pool.SD[i][k]
			case c.pool.NoiseCV[k] > 0:
				sd = c.pool.NoiseCV[k] * math.Abs(truth[k])
			default:
				sd = c.pool.MedianSD[k]
			}
		default:
			sd = c.Lab.NoiseSD * c.pool.Range[k]
		}
		out[k] = truth[k] + sd*rng.NormFloat64()
	}
	return out, nil
}

// Truth is the lab's noise-free answer at p: the pool value for a pool
// lab, the emulator's prediction otherwise (which is the measured value at
// a measured point for knn, and the GP's smoothed value there for gp).
func (c *Challenge) Truth(p Point) ([]float64, error) {
	if err := c.Answers(p); err != nil {
		return nil, err
	}
	if c.Finite() {
		i, _ := c.pool.Lookup(c, p)
		return append([]float64(nil), c.pool.Values[i]...), nil
	}
	e, err := c.emulator()
	if err != nil {
		return nil, err
	}
	return e.predict(c.Encode(p)), nil
}

// Simulate is the simulation model: a leave-one-out nearest-neighbour
// estimate from the other measured points, shifted by a bias and blurred by
// noise. It never sees the point's own measurement.
func (c *Challenge) Simulate(pt Point, key string) ([]float64, error) {
	if err := c.CheckPoint(pt); err != nil {
		return nil, err
	}
	self, inPool := c.pool.Lookup(c, pt)
	skip := -1
	if inPool && c.pool.Len() > 1 {
		skip = self
	}
	k := c.Simulation.Neighbors
	if k <= 0 {
		k = 5
	}
	est := idw(c.pool, c.Encode(pt), k, skip)
	rng := rngFor("sim", c.ID, key)
	out := make([]float64, len(c.Objectives))
	for o := range c.Objectives {
		r := c.pool.Range[o]
		out[o] = est[o] + c.Simulation.Bias*r + c.Simulation.NoiseSD*r*rng.NormFloat64()
	}
	return out, nil
}

// idw is the inverse-distance-weighted mean of the k nearest pool members
// to x (in encoded space), leaving out member skip (−1 for none). An exact
// match returns that member's value.
func idw(p *Pool, x []float64, k, skip int) []float64 {
	type nb struct {
		d float64
		i int
	}
	less := func(a, b nb) bool { return a.d < b.d || a.d == b.d && a.i < b.i }
	// The k nearest, kept sorted: O(n·k) without allocating per member,
	// the same neighbours in the same order as sorting the whole pool.
	k = min(k, p.Len())
	nbs := make([]nb, 0, k+1)
	for i := range p.Points {
		if i == skip {
			continue
		}
		c := nb{dist(x, p.enc[i]), i}
		if len(nbs) == k && (k == 0 || !less(c, nbs[k-1])) {
			continue
		}
		j := sort.Search(len(nbs), func(j int) bool { return less(c, nbs[j]) })
		nbs = append(nbs, nb{})
		copy(nbs[j+1:], nbs[j:])
		nbs[j] = c
		if len(nbs) > k {
			nbs = nbs[:k]
		}
	}
	nobj := len(p.Range)
	out := make([]float64, nobj)
	if len(nbs) > 0 && nbs[0].d < 1e-12 {
		copy(out, p.Values[nbs[0].i])
		return out
	}
	var wsum float64
	for _, n := range nbs {
		w := 1 / (n.d * n.d)
		wsum += w
		for o := range nobj {
			out[o] += w * p.Values[n.i][o]
		}
	}
	for o := range out {
		out[o] /= wsum
	}
	return out
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

func medianOf(xs []float64) float64 {
	v := append([]float64(nil), xs...)
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
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

// InTop reports whether p reaches the top set: for a pool lab, whether it
// is a member; for an emulator lab, whether its true (noise-free) score is
// at least that of the worst top-set member of the measured data.
func (c *Challenge) InTop(p Point) bool {
	if c.Finite() {
		i, ok := c.pool.Lookup(c, p)
		return ok && c.inTop[i]
	}
	tr, err := c.Truth(p)
	if err != nil {
		return false
	}
	return c.Score(tr) >= c.Score(c.pool.Values[c.top[len(c.top)-1]])
}
