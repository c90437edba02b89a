// Package search runs the optimiser alone on a challenge, without
// workflows or a lab service (genesis bench search): the fast loop for
// judging search settings, scored with evals/metrics on the same truth as
// genesis eval's campaigns, and the scorer of a reference optimiser's picks.
package search

import (
	"fmt"
	"math"
	"sync"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/evals/metrics"
	"github.com/genesis-sci/genesis/optimizer"
)

// Config is one optimiser configuration for Simulate: the
// optimiser's own settings, the start design and the batch size.
type Config struct {
	Name string
	// Options are passed to the optimiser (Seed is set per call).
	Options optimizer.Options
	// Start is "random" or "maximin"; StartSize the number of start points
	// (0: optimizer.StartSizeFor the challenge and budget).
	Start     string
	StartSize int
	// Batch is the number of experiments chosen together (default 1).
	Batch int
	// Noisy measures with the lab's noise model (deterministic per key)
	// instead of the noise-free pool values of the Liang protocol.
	Noisy bool
	// NoDescriptors hides the challenge's descriptor tables from the
	// optimiser (categoricals through the exchangeable kernel alone).
	NoDescriptors bool
}

// Run is one simulated campaign: per experiment, the truth (pool or
// noise-free emulator value, oriented score) of the measured point.
type Run struct {
	Seed  int
	Trace []metrics.Point
	// Picks are the pool indices measured, in order (pool challenges).
	Picks   []int
	Seconds float64 // optimiser time
	Notes   []string
}

// Gather collects the runs' traces, with their optimiser time and their
// notes (degenerate fits) summed: what a summary of several seeds needs.
func Gather(runs []Run) (traces [][]metrics.Point, seconds float64, notes int) {
	for _, r := range runs {
		traces = append(traces, r.Trace)
		seconds += r.Seconds
		notes += len(r.Notes)
	}
	return traces, seconds, notes
}

// Simulate runs the optimiser alone on a challenge, without
// workflows or a lab service: a pool challenge's candidates are its
// untested pool members, an emulator challenge's a fresh sample of the space
// per round. Trace points are scored on the truth. It is the fast loop for
// judging search settings; genesis eval measures the same through real
// campaigns.
func Simulate(c *challenges.Challenge, cfg Config, budget, seed int, clock func() float64) (Run, error) {
	sim := newSimulation(c, cfg, budget, seed)
	var warm *optimizer.Hyper
	for round := 0; len(sim.run.Trace) < budget; round++ {
		cands, xs := sim.candidates(round)
		if len(xs) == 0 {
			break
		}
		k := min(sim.batch, budget-len(sim.run.Trace))
		if len(sim.obs) < sim.start {
			// Complete the start design before the model takes over.
			k = min(max(k, sim.start-len(sim.obs)), budget-len(sim.run.Trace))
		}
		sim.opt.Seed = uint64(seed)*1_000_003 + uint64(len(sim.obs))
		sim.opt.Warm = warm
		t0 := clock()
		res, err := optimizer.Run(sim.obs, xs, k, sim.opt)
		sim.run.Seconds += clock() - t0
		if err != nil {
			return sim.run, fmt.Errorf("%s seed %d n=%d: %w", c.ID, seed, len(sim.obs), err)
		}
		if res.Note != "" {
			sim.run.Notes = append(sim.run.Notes, res.Note)
		}
		warm = res.Hyper
		if len(res.Suggestions) == 0 {
			break
		}
		for _, s := range res.Suggestions {
			if err := sim.measure(cands[s.Index]); err != nil {
				return sim.run, err
			}
		}
	}
	return sim.run, nil
}

// simulation is one Simulate's state: the optimiser's settings and what
// it has measured so far.
type simulation struct {
	c      *challenges.Challenge
	cfg    Config
	seed   int
	opt    optimizer.Options
	batch  int
	start  int
	encode func(challenges.Point) []float64
	sc     challenges.Scalarizer

	obs      []optimizer.Observation
	measured map[string]bool
	bests    tracker
	run      Run
}

func newSimulation(c *challenges.Challenge, cfg Config, budget, seed int) *simulation {
	s := &simulation{c: c, cfg: cfg, seed: seed, opt: cfg.Options, batch: max(cfg.Batch, 1), start: cfg.StartSize,
		encode: c.SearchPoint, sc: c.Scalarizer(), measured: map[string]bool{}, bests: newTracker(), run: Run{Seed: seed}}
	space := c.SearchSpace()
	if cfg.NoDescriptors {
		for j := range space.Dims {
			space.Dims[j].Features = nil
		}
	}
	if s.opt.Surrogate != optimizer.SurrogateOneHot {
		s.opt.Space = space
	} else {
		s.encode = c.Encode
	}
	if s.start == 0 {
		s.start = optimizer.StartSizeFor(len(c.Parameters), budget)
	}
	s.opt.Start, s.opt.StartSize = cfg.Start, s.start
	return s
}

// candidates are the round's safe, unmeasured points and their encodings:
// from the pool, or a fresh sample of a continuous space.
func (s *simulation) candidates(round int) (cands []challenges.Point, xs [][]float64) {
	var pts []challenges.Point
	if s.c.Finite() {
		pts = s.c.Pool().Points
	} else {
		pts = s.c.Sample(2000, uint64(s.seed)*7919+uint64(round))
	}
	for _, p := range pts {
		if !s.measured[s.c.Key(p)] && s.c.CheckSafety(p) == nil {
			cands = append(cands, p)
			xs = append(xs, s.encode(p))
		}
	}
	return cands, xs
}

// measure measures p (its truth, or with the lab's noise when Noisy), adds
// it to the observations and the trace.
func (s *simulation) measure(p challenges.Point) error {
	c := s.c
	truth, err := c.Truth(p)
	if err != nil {
		return err
	}
	y := truth
	if s.cfg.Noisy {
		if y, err = c.Measure(p, fmt.Sprintf("search/%d/%d", s.seed, len(s.run.Trace))); err != nil {
			return err
		}
	}
	s.measured[c.Key(p)] = true
	if c.Finite() {
		i, _ := c.Pool().Lookup(c, p)
		s.run.Picks = append(s.run.Picks, i)
	}
	yy := c.SearchScore(y)
	if s.opt.Surrogate == optimizer.SurrogateOneHot {
		yy = s.sc.Score(y) // the earlier optimiser, as it was
	}
	s.obs = append(s.obs, optimizer.Observation{X: s.encode(p), Y: yy})
	s.run.Trace = s.bests.add(s.run.Trace, truth, y, s.sc.Score(truth), s.sc.Score(y), c.InTop(p))
	return nil
}

// tracker keeps a run's bests, on the truth and on the measurements, as its
// trace grows.
type tracker struct {
	bestScore, bestMeasuredScore float64
	best, bestMeasured           float64
	topFound                     int
}

func newTracker() tracker {
	return tracker{bestScore: math.Inf(-1), bestMeasuredScore: math.Inf(-1)}
}

// add appends the experiment that measured y where the truth is truth
// (scores ts and ms; top: the point is in the top set).
func (t *tracker) add(trace []metrics.Point, truth, y []float64, ts, ms float64, top bool) []metrics.Point {
	if top {
		t.topFound++
	}
	if ts > t.bestScore {
		t.bestScore, t.best = ts, truth[0]
	}
	if ms > t.bestMeasuredScore {
		t.bestMeasuredScore, t.bestMeasured = ms, y[0]
	}
	return append(trace, metrics.Point{N: len(trace) + 1, Value: y[0], Values: y, Score: ms,
		TrueValue: truth[0], TrueValues: truth, TrueScore: ts, BestTrue: t.best, BestTrueScore: t.bestScore,
		BestMeasured: t.bestMeasured, BestMeasuredScore: t.bestMeasuredScore, TopFound: t.topFound, Cost: float64(len(trace) + 1)})
}

// SimulateSeeds runs seeds 1..seeds, parallel goroutines at a time.
func SimulateSeeds(c *challenges.Challenge, cfg Config, budget, seeds, parallel int, clock func() float64) ([]Run, error) {
	runs := make([]Run, seeds)
	errs := make([]error, seeds)
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for s := range seeds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			runs[s], errs[s] = Simulate(c, cfg, budget, s+1, clock)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return runs, nil
}

// ScorePicks is the trace of a run that measured the given pool members in
// order, scored like Simulate (noise-free pool values): the way runs
// of a reference optimiser outside Genesis are scored.
func ScorePicks(c *challenges.Challenge, picks []int) ([]metrics.Point, error) {
	if !c.Finite() {
		return nil, fmt.Errorf("%s is not a pool challenge", c.ID)
	}
	pool := c.Pool()
	sc := c.Scalarizer()
	var trace []metrics.Point
	seen := map[int]bool{}
	bests := newTracker()
	for _, i := range picks {
		if i < 0 || i >= pool.Len() {
			return nil, fmt.Errorf("%s: pick %d is not a pool index (0..%d)", c.ID, i, pool.Len()-1)
		}
		if seen[i] {
			return nil, fmt.Errorf("%s: pool member %d picked twice", c.ID, i)
		}
		seen[i] = true
		v := pool.Values[i]
		ts := sc.Score(v)
		trace = bests.add(trace, v, v, ts, ts, c.InTop(pool.Points[i]))
	}
	return trace, nil
}
