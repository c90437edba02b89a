package search

import (
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/optimizer"
)

// defaultChallenge is the catalog's default challenge, a pool one.
func defaultChallenge(t *testing.T) *challenges.Challenge {
	t.Helper()
	cat, err := challenges.Builtin()
	if err == nil {
		var c *challenges.Challenge
		if c, err = cat.Get(challenges.DefaultID); err == nil {
			return c
		}
	}
	t.Fatal(err)
	return nil
}

// ScorePicks scores picks the way Simulate scores its own: the top set's
// members count as found, bests never fall, and the measured bests equal the
// true ones (pool values carry no noise).
func TestScorePicks(t *testing.T) {
	c := defaultChallenge(t)
	top := c.TopSet()
	worst := top[len(top)-1]
	var other int
	for other = range c.Pool().Len() {
		if !c.InTop(c.Pool().Points[other]) {
			break
		}
	}
	trace, err := ScorePicks(c, []int{other, top[0], worst})
	if err != nil {
		t.Fatal(err)
	}
	if len(trace) != 3 {
		t.Fatalf("%d points, want 3", len(trace))
	}
	if got := []int{trace[0].TopFound, trace[1].TopFound, trace[2].TopFound}; got[0] != 0 || got[1] != 1 || got[2] != 2 {
		t.Errorf("top found %v, want [0 1 2]", got)
	}
	best := c.Pool().Values[top[0]][0]
	for i, p := range trace {
		if p.N != i+1 || p.Cost != float64(i+1) {
			t.Errorf("point %d: N %d cost %g", i, p.N, p.Cost)
		}
		if p.BestMeasured != p.BestTrue || p.BestMeasuredScore != p.BestTrueScore {
			t.Errorf("point %d: measured best %g (%g) differs from true best %g (%g)", i, p.BestMeasured, p.BestMeasuredScore, p.BestTrue, p.BestTrueScore)
		}
	}
	if trace[1].BestTrue != best || trace[2].BestTrue != best {
		t.Errorf("best after the pool's best: %g, %g; want %g throughout", trace[1].BestTrue, trace[2].BestTrue, best)
	}
	for _, tc := range []struct {
		picks []int
		want  string
	}{{[]int{-1}, "not a pool index"}, {[]int{c.Pool().Len()}, "not a pool index"}, {[]int{3, 3}, "picked twice"}} {
		if _, err := ScorePicks(c, tc.picks); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("picks %v: %v, want an error saying %q", tc.picks, err, tc.want)
		}
	}
}

// Simulate is reproducible from its seed, measures each point once, and
// keeps its trace consistent with its picks.
func TestSimulateReproducible(t *testing.T) {
	c := defaultChallenge(t)
	cfg := Config{Name: "bo", Options: optimizer.Options{Acquisition: optimizer.AcqEI}, Batch: 2}
	clock := func() float64 { return 0 }
	a, err := Simulate(c, cfg, 8, 3, clock)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Simulate(c, cfg, 8, 3, clock)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Trace) != 8 || len(a.Picks) != 8 {
		t.Fatalf("%d trace points and %d picks, want 8 each", len(a.Trace), len(a.Picks))
	}
	seen := map[int]bool{}
	for i, p := range a.Picks {
		if seen[p] {
			t.Errorf("pool member %d measured twice", p)
		}
		seen[p] = true
		if p != b.Picks[i] {
			t.Errorf("pick %d: %d then %d with the same seed", i, p, b.Picks[i])
		}
	}
	again, err := ScorePicks(c, a.Picks)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		if again[i].BestTrue != a.Trace[i].BestTrue || again[i].TopFound != a.Trace[i].TopFound {
			t.Errorf("point %d: Simulate's trace (best %g, top %d) differs from its picks scored (best %g, top %d)",
				i, a.Trace[i].BestTrue, a.Trace[i].TopFound, again[i].BestTrue, again[i].TopFound)
		}
	}
}
