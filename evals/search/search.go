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

// Simulate runs the optimiser alone on a challenge, without
// workflows or a lab service: a pool challenge's candidates are its
// untested pool members, an emulator challenge's a fresh sample of the space
// per round. Trace points are scored on the truth. It is the fast loop for
// judging search settings; genesis eval measures the same through real
// campaigns.
func Simulate(c *challenges.Challenge, cfg Config, budget, seed int, clock func() float64) (Run, error) {
	run := Run{Seed: seed}
	space := c.SearchSpace()
	if cfg.NoDescriptors {
		for j := range space.Dims {
			space.Dims[j].Features = nil
		}
	}
	opt := cfg.Options
	if opt.Surrogate != optimizer.SurrogateOneHot {
		opt.Space = space
	}
	batch := max(cfg.Batch, 1)
	start := cfg.StartSize
	if start == 0 {
		start = optimizer.StartSizeFor(len(c.Parameters), budget)
	}
	opt.Start, opt.StartSize = cfg.Start, start
	encode := c.SearchPoint
	if opt.Surrogate == optimizer.SurrogateOneHot {
		encode = c.Encode
	}
	var obs []optimizer.Observation
	measured := map[string]bool{}
	sc := c.Scalarizer()
	bestScore, bestMeasuredScore := math.Inf(-1), math.Inf(-1)
	var best, bestMeasured float64
	topFound := 0
	var warm *optimizer.Hyper
	for round := 0; len(run.Trace) < budget; round++ {
		var pts []challenges.Point
		if c.Finite() {
			pts = c.Pool().Points
		} else {
			pts = c.Sample(2000, uint64(seed)*7919+uint64(round))
		}
		var cands []challenges.Point
		var xs [][]float64
		for _, p := range pts {
			if !measured[c.Key(p)] && c.CheckSafety(p) == nil {
				cands = append(cands, p)
				xs = append(xs, encode(p))
			}
		}
		if len(xs) == 0 {
			break
		}
		k := min(batch, budget-len(run.Trace))
		if len(obs) < start {
			// Complete the start design before the model takes over.
			k = min(max(k, start-len(obs)), budget-len(run.Trace))
		}
		opt.Seed = uint64(seed)*1_000_003 + uint64(len(obs))
		opt.Warm = warm
		t0 := clock()
		res, err := optimizer.Run(obs, xs, k, opt)
		run.Seconds += clock() - t0
		if err != nil {
			return run, fmt.Errorf("%s seed %d n=%d: %w", c.ID, seed, len(obs), err)
		}
		if res.Note != "" {
			run.Notes = append(run.Notes, res.Note)
		}
		warm = res.Hyper
		if len(res.Suggestions) == 0 {
			break
		}
		for _, s := range res.Suggestions {
			p := cands[s.Index]
			truth, err := c.Truth(p)
			if err != nil {
				return run, err
			}
			y := truth
			if cfg.Noisy {
				if y, err = c.Measure(p, fmt.Sprintf("search/%d/%d", seed, len(run.Trace))); err != nil {
					return run, err
				}
			}
			measured[c.Key(p)] = true
			if c.Finite() {
				i, _ := c.Pool().Lookup(c, p)
				run.Picks = append(run.Picks, i)
			}
			yy := c.SearchScore(y)
			if opt.Surrogate == optimizer.SurrogateOneHot {
				yy = sc.Score(y) // the earlier optimiser, as it was
			}
			obs = append(obs, optimizer.Observation{X: encode(p), Y: yy})
			ts, ms := sc.Score(truth), sc.Score(y)
			if c.InTop(p) {
				topFound++
			}
			if ts > bestScore {
				bestScore, best = ts, truth[0]
			}
			if ms > bestMeasuredScore {
				bestMeasuredScore, bestMeasured = ms, y[0]
			}
			run.Trace = append(run.Trace, metrics.Point{N: len(run.Trace) + 1, Value: y[0], Values: y, Score: ms,
				TrueValue: truth[0], TrueValues: truth, TrueScore: ts, BestTrue: best, BestTrueScore: bestScore,
				BestMeasured: bestMeasured, BestMeasuredScore: bestMeasuredScore, TopFound: topFound, Cost: float64(len(run.Trace) + 1)})
		}
	}
	return run, nil
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
	bestScore, best, topFound := math.Inf(-1), 0.0, 0
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
		if c.InTop(pool.Points[i]) {
			topFound++
		}
		if ts > bestScore {
			bestScore, best = ts, v[0]
		}
		trace = append(trace, metrics.Point{N: len(trace) + 1, Value: v[0], Values: v, Score: ts, TrueValue: v[0], TrueValues: v, TrueScore: ts,
			BestTrue: best, BestTrueScore: bestScore, BestMeasured: best, BestMeasuredScore: bestScore, TopFound: topFound, Cost: float64(len(trace) + 1)})
	}
	return trace, nil
}
