package challenges

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
)

// maxHoldoutNRMSE bounds every emulator lab's cross-validated error, as a
// fraction of the objective's measured range. TestEmulatorHoldout prints
// each challenge's figure.
const maxHoldoutNRMSE = 0.2

func builtinAll(t *testing.T) []*Challenge {
	t.Helper()
	cat, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return cat.All()
}

func TestBuiltinDefinitionsValidate(t *testing.T) {
	res := ValidateBuiltin()
	for _, r := range res {
		for _, p := range r.Problems {
			t.Errorf("%s", p)
		}
		for _, w := range r.Warnings {
			t.Errorf("%s: %s", r.File, w)
		}
	}
	if len(res) < 20 {
		t.Errorf("%d built-in challenges, want at least 20", len(res))
	}
}

func TestCatalogCoverage(t *testing.T) {
	all := builtinAll(t)
	spaces := map[string]int{}
	dirs := map[string]int{}
	domains := map[string]int{}
	multi, pool, emu := 0, 0, 0
	for _, c := range all {
		kinds := map[bool]int{}
		for _, p := range c.Parameters {
			kinds[p.Kind == Categorical]++
		}
		switch {
		case kinds[true] == 0:
			spaces["numeric"]++
		case kinds[false] == 0:
			spaces["categorical"]++
		default:
			spaces["mixed"]++
		}
		dirs[c.Primary().Direction]++
		domains[c.Domain]++
		if c.MultiObjective() {
			multi++
		}
		if c.Finite() {
			pool++
		} else {
			emu++
		}
	}
	t.Logf("%d challenges; spaces %v; directions %v; %d multi-objective; %d pool, %d emulator labs; domains %v", len(all), spaces, dirs, multi, pool, emu, domains)
	if spaces["numeric"] == 0 || spaces["categorical"] == 0 || spaces["mixed"] == 0 {
		t.Errorf("want numeric, categorical and mixed spaces: %v", spaces)
	}
	if dirs[Maximize] == 0 || dirs[Minimize] == 0 {
		t.Errorf("want both directions: %v", dirs)
	}
	if multi < 3 {
		t.Errorf("%d multi-objective challenges, want ≥ 3", multi)
	}
	if pool == 0 || emu == 0 {
		t.Errorf("want pool and emulator labs: %d, %d", pool, emu)
	}
	if len(domains) < 6 {
		t.Errorf("%d domain areas, want ≥ 6: %v", len(domains), domains)
	}
}

// The top-5 % thresholds published with the PV-Lab data (its README).
func TestThresholdsMatchPublished(t *testing.T) {
	cat, _ := Builtin()
	want := map[string]struct {
		n         int
		threshold float64
	}{
		"crossed-barrel-toughness": {600, 34.47},
		"p3ht-cnt-conductivity":    {178, 696.4},
		"agnp-spectrum-loss":       {164, 0.228},
		"perovskite-stability":     {94, 7.30e4},
		"autoam-print-score":       {100, 0.902},
	}
	for id, w := range want {
		c, err := cat.Get(id)
		if err != nil {
			t.Error(err)
			continue
		}
		if c.Pool().Len() != w.n {
			t.Errorf("%s: pool %d, want %d", id, c.Pool().Len(), w.n)
		}
		got := c.Threshold()
		if math.Abs(got-w.threshold) > 0.0015*math.Abs(w.threshold)+1e-9 {
			t.Errorf("%s: top-5%% threshold %.4g, want %.4g", id, got, w.threshold)
		}
		if n := int(math.Ceil(0.05 * float64(w.n))); len(c.TopSet()) != n {
			t.Errorf("%s: top set %d, want %d", id, len(c.TopSet()), n)
		}
	}
}

// A pool lab returns exactly the measured value (before noise), and its
// noise is the data's own replicate spread.
func TestPoolLabsReproduceData(t *testing.T) {
	for _, c := range builtinAll(t) {
		if !c.Finite() {
			continue
		}
		p := c.Pool()
		for i, q := range p.Points {
			tr, err := c.Truth(q)
			if err != nil {
				t.Fatalf("%s: %v", c.ID, err)
			}
			for k := range tr {
				if tr[k] != p.Values[i][k] {
					t.Fatalf("%s: truth at %s is %v, measured %v", c.ID, c.Format(q), tr, p.Values[i])
				}
			}
		}
		// Noisy measurements scatter around the measured value.
		i := c.TopSet()[0]
		var sum float64
		const n = 200
		for r := range n {
			v, err := c.Measure(p.Points[i], fmt.Sprint("rep", r))
			if err != nil {
				t.Fatal(err)
			}
			sum += v[0]
		}
		if d := math.Abs(sum/n - p.Values[i][0]); d > 0.05*p.Range[0] {
			t.Errorf("%s: mean of %d measurements is %.4g off the measured value", c.ID, n, d)
		}
	}
}

// An emulator lab's error on held-back measured points is reported and bounded.
func TestEmulatorHoldout(t *testing.T) {
	if testing.Short() {
		t.Skip("fits GPs")
	}
	var lines []string
	for _, c := range builtinAll(t) {
		if c.Finite() {
			continue
		}
		h, err := c.Holdout(5)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		for k, o := range c.Objectives {
			lines = append(lines, fmt.Sprintf("%-28s %-4s %-20s n=%-5d RMSE %-10.4g NRMSE %5.1f%%  R² %5.2f", c.ID, c.Lab.Kind, o.Name, c.Pool().Len(), h.RMSE[k], 100*h.NRMSE[k], h.R2[k]))
			if h.NRMSE[k] > maxHoldoutNRMSE || h.R2[k] <= 0 {
				t.Errorf("%s: %s emulator held-out error on %s: NRMSE %.3f (bound %.2f), R² %.2f (must beat the mean)", c.ID, c.Lab.Kind, o.Name, h.NRMSE[k], maxHoldoutNRMSE, h.R2[k])
			}
		}
	}
	sort.Strings(lines)
	t.Logf("emulator held-out error (5-fold):\n%s", strings.Join(lines, "\n"))
}

// Every challenge can be sampled, and every sampled point can be run in
// the lab (unless refused for safety) and simulated; the simulation is
// informative but less faithful than the lab.
func TestSampledPointsRun(t *testing.T) {
	for _, c := range builtinAll(t) {
		pts := c.Sample(40, 1)
		if len(pts) < min(40, c.Pool().Len()) {
			t.Errorf("%s: sampled %d points", c.ID, len(pts))
		}
		for _, q := range pts {
			if err := c.Answers(q); err != nil {
				t.Fatalf("%s: sampled %s: %v", c.ID, c.Format(q), err)
			}
			if _, err := c.Simulate(q, "s"); err != nil {
				t.Fatalf("%s: simulate: %v", c.ID, err)
			}
			if c.CheckSafety(q) != nil {
				continue
			}
			if _, err := c.Measure(q, "m"); err != nil {
				t.Fatalf("%s: measure: %v", c.ID, err)
			}
		}
		if c.Simulation.Cost >= 1 || c.Simulation.NoiseSD <= 0 && c.Simulation.Bias == 0 {
			t.Errorf("%s: the simulation must be cheaper and less faithful than the lab", c.ID)
		}
		// Simulation error against the measured values, vs the lab's noise.
		var se float64
		p := c.Pool()
		step := max(1, p.Len()/200)
		n := 0
		for i := 0; i < p.Len(); i += step {
			s, _ := c.Simulate(p.Points[i], fmt.Sprint(i))
			se += (s[0] - p.Values[i][0]) * (s[0] - p.Values[i][0])
			n++
		}
		simRMSE := math.Sqrt(se / float64(n))
		if simRMSE == 0 || simRMSE > 0.6*p.Range[0] {
			t.Errorf("%s: simulation RMSE %.4g of range %.4g: want biased and noisy but informative", c.ID, simRMSE, p.Range[0])
		}
	}
}

func TestPrimaryDirectionQuirks(t *testing.T) {
	cat, _ := Builtin()
	for id, dir := range map[string]string{"agnp-spectrum-loss": Minimize, "perovskite-stability": Minimize, "crossed-barrel-toughness": Maximize} {
		c, err := cat.Get(id)
		if err != nil {
			t.Error(err)
			continue
		}
		if c.Primary().Direction != dir {
			t.Errorf("%s: direction %s, want %s", id, c.Primary().Direction, dir)
		}
	}
}
