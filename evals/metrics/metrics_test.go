package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

func trace(tops ...int) []Point {
	t := make([]Point, len(tops))
	for i, f := range tops {
		t[i] = Point{N: i + 1, TopFound: f, BestTrueScore: float64(i)}
	}
	return t
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestTopFracEFAF(t *testing.T) {
	// Pool of 100, top set of 5. Run A finds top members at experiments 2 and 4; run B at 3.
	a := trace(0, 1, 1, 2, 2)
	b := trace(0, 0, 1, 1, 1)
	if got := TopFrac(a, 4, 5); !near(got, 0.4) {
		t.Errorf("TopFrac(a,4) = %v, want 0.4", got)
	}
	if got := TopFrac(a, 0, 5); got != 0 {
		t.Errorf("TopFrac before any experiment = %v", got)
	}
	if got := TopFrac(b, 50, 5); !near(got, 0.2) {
		t.Errorf("a finished trace holds its last value: %v", got)
	}
	traces := [][]Point{a, b}
	// Mean Top%(4) = (0.4+0.2)/2 = 0.3; random 4/100 = 0.04; EF = 7.5.
	if got := EF(traces, 4, 5, 100); !near(got, 7.5) {
		t.Errorf("EF = %v, want 7.5", got)
	}
	// Mean Top% reaches 0.3 first at n=4 (n=3: (0.2+0.2)/2 = 0.2); random needs 0.3·100 = 30; AF = 7.5.
	if got := AF(traces, 0.3, 5, 100, 5); !near(got, 7.5) {
		t.Errorf("AF = %v, want 7.5", got)
	}
	if got := AF(traces, 0.9, 5, 100, 5); !math.IsNaN(got) {
		t.Errorf("AF for an unreached level = %v, want NaN", got)
	}
	if FirstTop(a) != 2 || FirstTop(b) != 3 || !math.IsNaN(FirstTop(trace(0, 0))) {
		t.Errorf("FirstTop: %v %v", FirstTop(a), FirstTop(b))
	}
	if got := Regret(a, 3, 10, 20); !near(got, (10-2.0)/20) {
		t.Errorf("Regret = %v", got)
	}
	if Median([]float64{3, math.NaN(), 1, 2}) != 2 || Quantile([]float64{0, 10}, 0.95) != 9.5 {
		t.Error("Median/Quantile")
	}
}

// Random search has EF ≈ 1 and AF ≈ 1 over many seeds.
func TestRandomIsOne(t *testing.T) {
	const poolN, top, budget, runs = 200, 10, 60, 4000
	rng := rand.New(rand.NewPCG(1, 2))
	var traces [][]Point
	for range runs {
		perm := rng.Perm(poolN)
		tr := make([]Point, budget)
		found := 0
		for i := range budget {
			if perm[i] < top {
				found++
			}
			tr[i] = Point{N: i + 1, TopFound: found}
		}
		traces = append(traces, tr)
	}
	for _, n := range []int{10, 30, 60} {
		if ef := EF(traces, n, top, poolN); math.Abs(ef-1) > 0.05 {
			t.Errorf("random EF(%d) = %.3f, want ≈ 1", n, ef)
		}
	}
	if af := AF(traces, 0.25, top, poolN, budget); math.Abs(af-1) > 0.1 {
		t.Errorf("random AF(0.25) = %.3f, want ≈ 1", af)
	}
}

func TestHypervolume(t *testing.T) {
	// Two points (3,1) and (1,3) over ref (0,0): 3 + 3 − 1 = 5.
	if got := Hypervolume([][]float64{{3, 1}, {1, 3}, {0.5, 0.5}}, []float64{0, 0}); !near(got, 5) {
		t.Errorf("2-D HV = %v, want 5", got)
	}
	// One box 2×2×2 and one 1×1×4 over the origin: 8 + 4 − 2 (overlap 1×1×2) = 10.
	if got := Hypervolume([][]float64{{2, 2, 2}, {1, 1, 4}}, []float64{0, 0, 0}); !near(got, 10) {
		t.Errorf("3-D HV = %v, want 10", got)
	}
	if got := Hypervolume([][]float64{{-1, 5}}, []float64{0, 0}); got != 0 {
		t.Errorf("a point not dominating the reference adds %v", got)
	}
	if !math.IsNaN(Hypervolume([][]float64{{1, 1, 1, 1}}, []float64{0, 0, 0, 0})) {
		t.Error("4-D HV should be NaN")
	}
}
