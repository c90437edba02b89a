package challenges

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/internal/peakrss"
)

// bigYAML is a challenge over five continuous parameters with one
// objective; %s is the lab line.
const bigYAML = `id: big-test
title: A large generated challenge
domain: materials
description: A test.
objectives:
  - {name: y, direction: maximize}
parameters:
  - {name: a, kind: continuous, low: 0, high: 1}
  - {name: b, kind: continuous, low: 0, high: 1}
  - {name: c, kind: continuous, low: 0, high: 1}
  - {name: d, kind: continuous, low: 0, high: 1}
  - {name: e, kind: continuous, low: 0, high: 1}
data: {file: big.csv, source: generated, license: CC0}
lab: %s
simulation: {kind: knn, neighbors: 5, bias: 0, noise_sd: 0.05, cost: 0.1, duration_seconds: 1}
budget: {experiments: 20, simulations: 40}
scoring: {top_fraction: 0.05}
`

// writeBig writes a challenge of n generated rows (distinct points) with
// the given lab line and returns its directory.
func writeBig(t testing.TB, n int, lab string) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("a,b,c,d,e,y\n")
	rng := rand.New(rand.NewPCG(20, 20))
	for range n {
		var x [5]float64
		for j := range x {
			x[j] = rng.Float64()
			b.WriteString(strconv.FormatFloat(x[j], 'f', 6, 64) + ",")
		}
		y := math.Sin(6*x[0]) + x[1]*x[2] - (x[3]-0.5)*(x[3]-0.5) + 0.05*rng.NormFloat64()
		b.WriteString(strconv.FormatFloat(y, 'f', 6, 64) + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "big.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.yaml"), []byte(fmt.Sprintf(bigYAML, lab)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A 20,000-row gp challenge once validated OK, then `challenges show` ran
// over a minute at 2 GB and the lab died fitting it. Validation now
// refuses it, naming the size, the bound and the fix, and so does loading
// (the lab refuses it at start); the same data as a knn lab loads, cross-
// validates and answers within a bounded memory.
func TestLargeGPChallengeRefused(t *testing.T) {
	const n = 20_000
	dir := writeBig(t, n, "{kind: gp, noise: fixed, noise_sd: 0.02, duration_seconds: 1, rationale: smooth}")
	base := peakrss.ResetOrSkip(t)
	start := time.Now()
	vs := ValidatePaths([]string{dir})
	took := time.Since(start)
	if len(vs) != 1 {
		t.Fatalf("%d results", len(vs))
	}
	var msg string
	for _, p := range vs[0].Problems {
		if p.Field == "lab.kind" {
			msg = p.String()
		}
	}
	t.Logf("validating %d rows took %v, peak RSS +%d MB: %s", n, took.Round(time.Millisecond), (peakrss.PeakOrSkip(t)-base)>>20, msg)
	for _, want := range []string{"big.yaml", "lab.kind", "20000", strconv.Itoa(MaxGPPoints), "kind: knn", "subsample"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal should say %q: %q (problems %v)", want, msg, vs[0].Problems)
		}
	}
	if vs[0].Challenge != nil {
		t.Error("an oversized gp challenge validated")
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), strconv.Itoa(MaxGPPoints)) {
		t.Errorf("loading it (as the lab does at start) should refuse it: %v", err)
	}

	// At the bound a gp lab still loads.
	small := writeBig(t, MaxGPPoints, "{kind: gp, noise: fixed, noise_sd: 0.02, duration_seconds: 1, rationale: smooth}")
	if vs := ValidatePaths([]string{small}); len(vs[0].Problems) > 0 {
		t.Errorf("%d points should validate: %v", MaxGPPoints, vs[0].Problems)
	}

	// The same data with a knn lab: loads, cross-validates on a bounded
	// sample, measures and simulates.
	knn := writeBig(t, n, "{kind: knn, neighbors: 5, noise: fixed, noise_sd: 0.02, duration_seconds: 1, rationale: dense data}")
	base = peakrss.ResetOrSkip(t)
	start = time.Now()
	cat, err := Open(knn)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cat.Get("big-test")
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Holdout(5)
	if err != nil {
		t.Fatal(err)
	}
	if h.Tested != maxHoldoutTests {
		t.Errorf("holdout predicted %d points, want %d", h.Tested, maxHoldoutTests)
	}
	pt := c.Sample(1, 3)[0]
	if _, err := c.Measure(pt, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Simulate(pt, "k1"); err != nil {
		t.Fatal(err)
	}
	grew := peakrss.PeakOrSkip(t) - base
	t.Logf("knn on %d rows: load + holdout (R² %.2f) + a run + a simulation took %v, peak RSS +%d MB", n, h.R2[0], time.Since(start).Round(time.Millisecond), grew>>20)
	if grew > 512<<20 {
		t.Errorf("knn at %d rows grew the peak RSS by %d MB", n, grew>>20)
	}
}

// More rows than MaxDataRows are refused, whatever the lab.
func TestTooManyRowsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 100,001-row file")
	}
	dir := writeBig(t, MaxDataRows+1, "{kind: knn, neighbors: 5, noise: fixed, noise_sd: 0.02, duration_seconds: 1, rationale: dense}")
	vs := ValidatePaths([]string{dir})
	if len(vs[0].Problems) == 0 || !strings.Contains(vs[0].Problems[0].String(), strconv.Itoa(MaxDataRows)) {
		t.Errorf("want a refusal naming the bound, got %v", vs[0].Problems)
	}
}

// idw's bounded neighbour search picks the same neighbours, in the same
// order, as sorting the whole pool did, so every answer is unchanged.
func TestIDWMatchesFullSort(t *testing.T) {
	c := loadMixed(t)
	p := c.Pool()
	rng := rand.New(rand.NewPCG(1, 1))
	for trial := range 200 {
		x := p.enc[rng.IntN(p.Len())]
		if trial%2 == 0 {
			x = c.Encode(c.Sample(1, uint64(trial))[0])
		}
		k, skip := 1+rng.IntN(8), rng.IntN(p.Len()+1)-1
		got := idw(p, x, k, skip)
		want := idwSorted(p, x, k, skip)
		for o := range got {
			if got[o] != want[o] && !(math.IsNaN(got[o]) && math.IsNaN(want[o])) {
				t.Fatalf("k=%d skip=%d: %v, want %v", k, skip, got, want)
			}
		}
	}
}

// idwSorted is idw as it was: sort every member by distance.
func idwSorted(p *Pool, x []float64, k, skip int) []float64 {
	type nb struct {
		d float64
		i int
	}
	var nbs []nb
	for i := range p.Points {
		if i != skip {
			nbs = append(nbs, nb{dist(x, p.enc[i]), i})
		}
	}
	sort.Slice(nbs, func(a, b int) bool { return nbs[a].d < nbs[b].d || nbs[a].d == nbs[b].d && nbs[a].i < nbs[b].i })
	k = min(k, len(nbs))
	out := make([]float64, len(p.Range))
	if k > 0 && nbs[0].d < 1e-12 {
		copy(out, p.Values[nbs[0].i])
		return out
	}
	var wsum float64
	for _, n := range nbs[:k] {
		w := 1 / (n.d * n.d)
		wsum += w
		for o := range out {
			out[o] += w * p.Values[n.i][o]
		}
	}
	for o := range out {
		out[o] /= wsum
	}
	return out
}
