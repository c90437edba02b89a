package optimizer

import (
	"encoding/csv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// loadCrossedBarrel reads the crossed-barrel pool (Liang et al. 2021): rows
// with identical (n, theta, r, t) are grouped and the toughness is the mean
// of the group's unique values; inputs are min/max normalised per column.
func loadCrossedBarrel(t testing.TB) (xs [][]float64, ys []float64) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "challenges", "data", "pvlab", "crossed_barrel.csv"))
	if err != nil {
		t.Fatalf("crossed-barrel data: %v", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := recs[0]
	want := []string{"n", "theta", "r", "t", "toughness"}
	for i, h := range want {
		if strings.TrimSpace(header[i]) != h {
			t.Fatalf("column %d is %q, want %q", i, header[i], h)
		}
	}
	type group struct {
		x    []float64
		vals []float64
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, rec := range recs[1:] {
		key := strings.Join(rec[:4], ",")
		g := byKey[key]
		if g == nil {
			g = &group{x: make([]float64, 4)}
			for j := range 4 {
				if g.x[j], err = strconv.ParseFloat(strings.TrimSpace(rec[j]), 64); err != nil {
					t.Fatal(err)
				}
			}
			byKey[key] = g
			groups = append(groups, g)
		}
		y, err := strconv.ParseFloat(strings.TrimSpace(rec[4]), 64)
		if err != nil {
			t.Fatal(err)
		}
		dup := false
		for _, v := range g.vals {
			if v == y {
				dup = true
			}
		}
		if !dup {
			g.vals = append(g.vals, y)
		}
	}
	lo := []float64{math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)}
	hi := []float64{math.Inf(-1), math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for _, g := range groups {
		for j, v := range g.x {
			lo[j], hi[j] = math.Min(lo[j], v), math.Max(hi[j], v)
		}
	}
	for _, g := range groups {
		x := make([]float64, 4)
		for j, v := range g.x {
			x[j] = (v - lo[j]) / (hi[j] - lo[j])
		}
		var s float64
		for _, v := range g.vals {
			s += v
		}
		xs = append(xs, x)
		ys = append(ys, s/float64(len(g.vals)))
	}
	return xs, ys
}

// simulatePoolBO runs pool-based sequential optimisation from two random
// initial points and returns, for each budget 1..budget, the fraction of the
// top set found so far.
func simulatePoolBO(t testing.TB, xs [][]float64, ys []float64, top map[int]bool, budget int, seed uint64, opt Options) []float64 {
	rng := rand.New(rand.NewPCG(seed, 42))
	perm := rng.Perm(len(xs))
	var obs []Observation
	var picked []int
	add := func(i int) {
		obs = append(obs, Observation{X: xs[i], Y: ys[i]})
		picked = append(picked, i)
	}
	add(perm[0])
	add(perm[1])
	for len(obs) < budget {
		opt.Seed = seed*1000 + uint64(len(obs))
		s, err := Suggest(obs, xs, 1, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 1 {
			t.Fatalf("got %d suggestions", len(s))
		}
		add(s[0].Index)
	}
	frac := make([]float64, budget)
	found := 0
	for i, p := range picked {
		if top[p] {
			found++
		}
		frac[i] = float64(found) / float64(len(top))
	}
	return frac
}

func TestCrossedBarrelTopFraction(t *testing.T) {
	xs, ys := loadCrossedBarrel(t)
	if len(xs) != 600 {
		t.Fatalf("got %d unique points, want 600", len(xs))
	}
	idx := make([]int, len(ys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ys[idx[a]] > ys[idx[b]] })
	nTop := int(math.Ceil(0.05 * float64(len(ys))))
	top := map[int]bool{}
	for _, i := range idx[:nTop] {
		top[i] = true
	}

	const budget = 50
	seeds := 16
	if testing.Short() || raceEnabled {
		seeds = 8
	}
	// run returns the mean top-set fraction found after each experiment.
	run := func(opt Options) (curve, final []float64) {
		curve = make([]float64, budget)
		for s := range seeds {
			f := simulatePoolBO(t, xs, ys, top, budget, uint64(s+1), opt)
			for i := range f {
				curve[i] += f[i] / float64(seeds)
			}
			final = append(final, f[budget-1])
		}
		return curve, final
	}
	ei, eiFinal := run(Options{})
	rnd, _ := run(Options{Acquisition: "random"})
	randomExpected := float64(budget) / float64(len(xs))
	t.Logf("crossed barrel, %d seeds, 2 random initial points, k=1: top-5%% fraction found", seeds)
	for _, n := range []int{10, 20, 30, 40, 50} {
		t.Logf("  n=%2d  EI %.3f (EF %.1f)  random %.3f (expected %.3f)", n, ei[n-1], ei[n-1]/(float64(n)/float64(len(xs))), rnd[n-1], float64(n)/float64(len(xs)))
	}
	t.Logf("  per-seed EI at n=%d: %.3f", budget, eiFinal)
	if ei[budget-1] < 0.18 {
		t.Errorf("EI top-5%% fraction at n=%d is %.3f, want >= 0.18 (random expects %.3f; Liang et al. 2021 GP-BO ≈ 0.32)", budget, ei[budget-1], randomExpected)
	}
}
