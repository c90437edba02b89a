package space

import "math/rand/v2"

// SampleCandidates returns n points in [0,1]^d drawn by Latin hypercube
// sampling: along every coordinate each of the n equal-width strata holds
// exactly one point, at a uniform position within it. The result depends only
// on (d, n, seed). It returns nil when d < 1 or n < 1.
//
// Use it to apply Suggest to continuous spaces: sample a few hundred to a few
// thousand candidates (more for higher d), suggest, then map the chosen
// points back to the real parameter ranges.
func SampleCandidates(d, n int, seed uint64) [][]float64 {
	if d < 1 || n < 1 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x5851f42d4c957f2d))
	flat := make([]float64, n*d)
	out := make([][]float64, n)
	for i := range out {
		out[i] = flat[i*d : (i+1)*d : (i+1)*d]
	}
	for j := range d {
		perm := rng.Perm(n)
		for i := range n {
			out[i][j] = (float64(perm[i]) + rng.Float64()) / float64(n)
		}
	}
	return out
}
