package challenges

import (
	"fmt"
	"math"
	"sync"

	"github.com/genesis-sci/genesis/tools/optimizer"
)

// emulator predicts every objective at an encoded point.
type emulator interface {
	predict(x []float64) []float64
}

// emulatorOnce builds a challenge's emulator on first use: a GP fit takes
// up to seconds, and most commands never need one.
type emulatorOnce struct {
	once sync.Once
	e    emulator
	err  error
}

func (c *Challenge) emulator() (emulator, error) {
	c.emu.once.Do(func() {
		c.emu.e, c.emu.err = c.fitEmulator(allIndices(c.pool.Len()))
		if c.emu.err != nil {
			c.emu.err = fmt.Errorf("challenge %s: fitting the %s lab emulator: %w", c.ID, c.Lab.Kind, c.emu.err)
		}
	})
	return c.emu.e, c.emu.err
}

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
	// Per objective: root-mean-square error in the objective's units, that
	// error as a fraction of the objective's range, and the coefficient of
	// determination (1 − SSE/SST; 0 is no better than predicting the mean).
	RMSE, NRMSE, R2 []float64
}

// Holdout measures the lab emulator by k-fold cross-validation over the
// measured points (members assigned to folds round-robin in a fixed
// shuffled order, so the result is reproducible). A pool lab returns the
// measured value exactly and has nothing to hold out: it returns nil.
func (c *Challenge) Holdout(folds int) (*Holdout, error) {
	if c.Finite() {
		return nil, nil
	}
	n := c.pool.Len()
	folds = max(2, min(folds, n))
	order := rngFor("holdout", c.ID).Perm(n)
	nobj := len(c.Objectives)
	sse := make([]float64, nobj)
	for f := range folds {
		var train, test []int
		for pos, i := range order {
			if pos%folds == f {
				test = append(test, i)
			} else {
				train = append(train, i)
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
	h := &Holdout{Folds: folds, RMSE: make([]float64, nobj), NRMSE: make([]float64, nobj), R2: make([]float64, nobj)}
	for k := range nobj {
		var m, sst float64
		for i := range n {
			m += c.pool.Values[i][k]
		}
		m /= float64(n)
		for i := range n {
			d := c.pool.Values[i][k] - m
			sst += d * d
		}
		h.RMSE[k] = math.Sqrt(sse[k] / float64(n))
		if c.pool.Range[k] > 0 {
			h.NRMSE[k] = h.RMSE[k] / c.pool.Range[k]
		}
		if sst > 0 {
			h.R2[k] = 1 - sse[k]/sst
		}
	}
	return h, nil
}
