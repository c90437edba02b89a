package optimizer

import (
	"fmt"
	"math"
	"testing"
)

// benchProblem is a smooth 4-D test function on LHS designs.
func benchProblem(n, m int) ([]Observation, [][]float64) {
	f := func(x []float64) float64 {
		return math.Sin(3*x[0])*math.Cos(2*x[1]) + x[2]*x[2] - 0.5*x[3] + 0.05*math.Sin(40*x[0]*x[3])
	}
	obs := observe(f, SampleCandidates(4, n, 1))
	return obs, SampleCandidates(4, m, 2)
}

func BenchmarkSuggest(b *testing.B) {
	for _, n := range []int{20, 50, 100} {
		obs, cands := benchProblem(n, 600)
		b.Run(fmt.Sprintf("obs=%d/cands=600/k=4", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Suggest(obs, cands, 4, Options{Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFit(b *testing.B) {
	for _, n := range []int{20, 50, 100} {
		obs, _ := benchProblem(n, 1)
		b.Run(fmt.Sprintf("obs=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Fit(obs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSuggestScaling is one suggestion at growing numbers of
// observations: a 4-D function, 2,000 candidates (a pool or a sample of a
// continuous space), one core. Issue 16's target: under 1 s at 1,000.
func BenchmarkSuggestScaling(b *testing.B) {
	for _, n := range []int{50, 300, 1000} {
		obs, cands := benchProblem(n, 2000)
		b.Run(fmt.Sprintf("obs=%d/cands=2000/k=1/cold", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Suggest(obs, cands, 1, Options{Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
		// As in a campaign: warm-started from the fit one observation
		// earlier (carried in the campaign's state).
		prev, err := Run(obs[:n-1], cands, 1, Options{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("obs=%d/cands=2000/k=1/warm", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Suggest(obs, cands, 1, Options{Seed: 1, Warm: prev.Hyper}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
