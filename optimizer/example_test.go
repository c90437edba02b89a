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
}
