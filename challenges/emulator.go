package challenges

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/genesis-sci/genesis/optimizer"
)

// Bounds on what a challenge's lab may hold, so that loading one and
// serving its runs stay within a known memory and time (see README.md,
// "Size limits"). A GP fit keeps a few n×n matrices and factors them
// O(n³) times a hundred: measured on a 2-core machine (d = 5, one
// objective) 0.5 s and 6 MB at 300 points, 4 s and 28 MB at 600, 18 s
// and 79 MB at 1,000; a 20,000-point fit would need about 30 GB and
// days, and took the lab down. knn and pool labs cost O(n) per run.
const (
	// MaxGPPoints is the most distinct measured points a gp lab fits.
	MaxGPPoints = 600
	// MaxDataRows is the most data rows any challenge may have.
	MaxDataRows = 100_000
	// maxHoldoutTests bounds the points Holdout predicts, so that
	// cross-validating a large knn lab takes seconds, not minutes.
	maxHoldoutTests = 2000
)

// gpSizeProblem refuses a gp lab whose data is too large to fit within
// the bounds above, saying what to do instead.
func (c *Challenge) gpSizeProblem(file string) []Problem {
	n := c.pool.Len()
	if c.Lab.Kind != LabGP || n <= MaxGPPoints {
		return nil
	}
	f := float64(n) / MaxGPPoints
	return []Problem{{File: file, Field: "lab.kind", Msg: fmt.Sprintf(
		"gp fits its emulator to at most %d distinct measured points, and %s has %d (in %d rows): a fit costs O(n²) memory and O(n³) time (about 30 MB and 4 s per objective at %d points; here about %.0f GB and %.0f hours), too much for the lab to hold or wait for. Use lab.kind: knn, which serves any size (up to %d rows), or subsample the data to at most %d points",
		MaxGPPoints, c.Data.File, n, c.pool.Rows, MaxGPPoints, 30e-3*f*f, 4*f*f*f/3600, MaxDataRows, MaxGPPoints)}}
}

// emulator predicts every objective at an encoded point.
type emulator interface {
	predict(x []float64) []float64
}

// emulatorOnce builds a challenge's emulator on first use: a GP fit takes
// up to seconds, and most commands never need one.
type emulatorOnce struct {
	once  sync.Once
	e     emulator
	err   error
	ready atomic.Bool // once has run
}

func (c *Challenge) emulator() (emulator, error) {
	c.emu.once.Do(func() {
		c.emu.e, c.emu.err = c.fitEmulator(allIndices(c.pool.Len()))
		if c.emu.err != nil {
			c.emu.err = fmt.Errorf("challenge %s: fitting the %s lab emulator: %w", c.ID, c.Lab.Kind, c.emu.err)
		}
		c.emu.ready.Store(true)
	})
	return c.emu.e, c.emu.err
}

// PrepareEmulator fits the lab's emulator now rather than on the first
// run (a no-op for a pool lab or once fitted): the lab service does it at
// start, so no run waits on a fit and one that fails refuses the start.
func (c *Challenge) PrepareEmulator() error {
	if c.Finite() {
		return nil
	}
	_, err := c.emulator()
	return err
}

// EmulatorReady reports whether a run would find the lab model ready
// (always, for a pool lab).
func (c *Challenge) EmulatorReady() bool { return c.Finite() || c.emu.ready.Load() }

func allIndices(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// fitEmulator fits the lab's emulator to the pool members in train.
func (c *Challenge) fitEmulator(train []int) (emulator, error) {
	sub := c.pool.subset(train)
	switch c.Lab.Kind {
	case LabKNN:
		k := c.Lab.Neighbors
		if k <= 0 {
			k = 5
		}
		return knnEmulator{pool: sub, k: k}, nil
	case LabGP:
		g := gpEmulator{gps: make([]*optimizer.GP, len(c.Objectives))}
		for k := range c.Objectives {
			obs := make([]optimizer.Observation, sub.Len())
			for i := range obs {
				obs[i] = optimizer.Observation{X: sub.enc[i], Y: sub.Values[i][k]}
			}
			gp, err := optimizer.Fit(obs)
			if err != nil {
				return nil, fmt.Errorf("objective %s: %w", c.Objectives[k].Name, err)
			}
			g.gps[k] = gp
		}
		return g, nil
	}
	return nil, fmt.Errorf("lab kind %q has no emulator", c.Lab.Kind)
}

// subset is a pool restricted to some members (for held-out validation).
func (p *Pool) subset(idx []int) *Pool {
	if len(idx) == p.Len() {
		return p
	}
	s := &Pool{PooledSD: p.PooledSD, Low: p.Low, Range: p.Range}
	for _, i := range idx {
		s.Points = append(s.Points, p.Points[i])
		s.Values = append(s.Values, p.Values[i])
		s.SD = append(s.SD, p.SD[i])
		s.enc = append(s.enc, p.enc[i])
	}
	return s
}

type knnEmulator struct {
	pool *Pool
	k    int
}

func (e knnEmulator) predict(x []float64) []float64 { return idw(e.pool, x, e.k, -1) }

type gpEmulator struct{ gps []*optimizer.GP }

func (e gpEmulator) predict(x []float64) []float64 {
	out := make([]float64, len(e.gps))
	for k, g := range e.gps {
		out[k], _ = g.Predict(x)
	}
	return out
}

// Holdout is the cross-validated error of a lab emulator on measured points
// it was not fitted to.
type Holdout struct {
	Folds int
	// Tested is how many measured points were predicted (all of them up
	// to maxHoldoutTests).
	Tested int
	// Per objective: root-mean-square error in the objective's units, that
	// error as a fraction of the objective's range, and the coefficient of
	// determination (1 − SSE/SST; 0 is no better than predicting the mean).
	RMSE, NRMSE, R2 []float64
}

// Holdout measures the lab emulator by k-fold cross-validation over the
// measured points (members assigned to folds round-robin in a fixed
// shuffled order, so the result is reproducible). Each fold's emulator is
// fitted to every point outside the fold; past maxHoldoutTests points only
// the first maxHoldoutTests of the order are predicted, which bounds the
// time on a large pool. A pool lab returns the measured value exactly and
// has nothing to hold out: it returns nil.
func (c *Challenge) Holdout(folds int) (*Holdout, error) {
	if c.Finite() {
		return nil, nil
	}
	n := c.pool.Len()
	folds = max(2, min(folds, n))
	order := rngFor("holdout", c.ID).Perm(n)
	tested := order[:min(n, maxHoldoutTests)]
	nobj := len(c.Objectives)
	sse := make([]float64, nobj)
	for f := range folds {
		var train, test []int
		for pos, i := range order {
			switch {
			case pos%folds != f:
				train = append(train, i)
			case pos < len(tested):
				test = append(test, i)
			}
		}
		e, err := c.fitEmulator(train)
		if err != nil {
			return nil, err
		}
		for _, i := range test {
			pred := e.predict(c.pool.enc[i])
			for k := range nobj {
				d := pred[k] - c.pool.Values[i][k]
				sse[k] += d * d
			}
		}
	}
	h := &Holdout{Folds: folds, Tested: len(tested), RMSE: make([]float64, nobj), NRMSE: make([]float64, nobj), R2: make([]float64, nobj)}
	nt := float64(len(tested))
	for k := range nobj {
		var m, sst float64
		for _, i := range tested {
			m += c.pool.Values[i][k]
		}
		m /= nt
		for _, i := range tested {
			d := c.pool.Values[i][k] - m
			sst += d * d
		}
		h.RMSE[k] = math.Sqrt(sse[k] / nt)
		if c.pool.Range[k] > 0 {
			h.NRMSE[k] = h.RMSE[k] / c.pool.Range[k]
		}
		if sst > 0 {
			h.R2[k] = 1 - sse[k]/sst
		}
	}
	return h, nil
}
