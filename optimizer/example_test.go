package optimizer_test

import (
	"fmt"

	"github.com/genesis-sci/genesis/optimizer"
)

// Suggest a batch of 3 experiments in a continuous 2-D space: sample
// candidates, rank them, and map the chosen points back to real units.
func ExampleSuggest() {
	// Temperature 20–80 °C and time 1–10 h, normalised to [0,1].
	obs := []optimizer.Observation{
		{X: []float64{0.1, 0.2}, Y: 0.31},
		{X: []float64{0.5, 0.5}, Y: 0.62},
		{X: []float64{0.9, 0.3}, Y: 0.40},
		{X: []float64{0.4, 0.9}, Y: 0.55},
	}
	cands := optimizer.SampleCandidates(2, 500, 1)
	sugg, err := optimizer.Suggest(obs, cands, 3, optimizer.Options{Seed: 1})
	if err != nil {
		panic(err)
	}
	for _, s := range sugg {
		x := cands[s.Index]
		fmt.Printf("T=%.0f °C t=%.1f h  predicted %.2f ± %.2f  EI %.3g\n",
			20+60*x[0], 1+9*x[1], s.Mean, s.SD, s.Acquisition)
	}
	// Output:
	// T=54 °C t=7.1 h  predicted 0.59 ± 0.10  EI 0.0241
	// T=51 °C t=3.3 h  predicted 0.56 ± 0.11  EI 0.0162
	// T=45 °C t=6.0 h  predicted 0.59 ± 0.07  EI 0.0126
}

// Run over a measured pool with a categorical parameter: the first
// experiments come from the start design, then the surrogate ranks the
// untested pool. A categorical value is the option's index.
func ExampleRun() {
	ligands := []string{"XPhos", "SPhos", "PPh3"}
	space := &optimizer.Space{Dims: []optimizer.Dim{
		{Name: "ligand", Levels: len(ligands)},
		{Name: "temperature"}, // numeric, scaled to [0,1]
	}}
	var pool [][]float64
	for l := range ligands {
		for _, t := range []float64{0, 0.25, 0.5, 0.75, 1} {
			pool = append(pool, []float64{float64(l), t})
		}
	}
	yield := func(x []float64) float64 { return []float64{0.6, 0.5, 0.2}[int(x[0])] + 0.3*x[1] }

	var obs []optimizer.Observation
	for round := 1; round <= 3; round++ {
		res, err := optimizer.Run(obs, pool, 2, optimizer.Options{Space: space, Seed: 7, StartSize: 2})
		if err != nil {
			panic(err)
		}
		fmt.Printf("round %d (%s):", round, res.Phase)
		for _, s := range res.Suggestions {
			x := pool[s.Index]
			fmt.Printf(" %s at %.2f", ligands[int(x[0])], x[1])
			obs = append(obs, optimizer.Observation{X: x, Y: yield(x)})
		}
		fmt.Println()
	}
	// Output:
	// round 1 (start): SPhos at 0.50 XPhos at 0.50
	// round 2 (model): XPhos at 0.25 XPhos at 0.75
	// round 3 (model): XPhos at 1.00 PPh3 at 1.00
}
