package space

import "math"

// SameTol is the largest per-coordinate difference under which two points
// are the same point.
const SameTol = 1e-9

// Same reports whether a and b are the same point (within SameTol per
// coordinate).
func Same(a, b []float64) bool {
	for j := range a {
		if math.Abs(a[j]-b[j]) > SameTol {
			return false
		}
	}
	return true
}

// startDistance is the start design's squared distance between two points:
// numeric coordinates by their squared difference in [0,1], a differing
// categorical option as a whole unit.
func startDistance(s *Space, a, b []float64) float64 {
	var d float64
	for j, v := range a {
		if s.Categorical(j) {
			if v != b[j] {
				d++
			}
			continue
		}
		d += (v - b[j]) * (v - b[j])
	}
	return d
}

// Maximin chooses up to k available candidates (indices into candidates)
// greedily, each as far as
// possible from the observations and the earlier picks (the first, with
// nothing observed, by the seeded order), so the start covers every
// categorical parameter's options as evenly as the pool allows. Ties go by
// the seeded order.
func Maximin(s *Space, observed, candidates [][]float64, avail, prio []int, k int) []int {
	minD := make([]float64, len(avail))
	for a := range minD {
		minD[a] = math.Inf(1)
	}
	taken := make([]bool, len(avail))
	update := func(x []float64) {
		for a, i := range avail {
			if d := startDistance(s, candidates[i], x); d < minD[a] {
				minD[a] = d
			}
		}
	}
	for _, x := range observed {
		update(x)
	}
	var out []int
	for len(out) < k {
		bestA := -1
		for a, i := range avail {
			if taken[a] || minD[a] <= SameTol*SameTol {
				continue
			}
			if bestA < 0 || minD[a] > minD[bestA] || (minD[a] == minD[bestA] && prio[i] < prio[avail[bestA]]) {
				bestA = a
			}
		}
		if bestA < 0 {
			break
		}
		taken[bestA] = true
		out = append(out, avail[bestA])
		update(candidates[avail[bestA]])
	}
	return out
}

// Medoids refines a maximin start into k-medoids of the candidates: each
// start point becomes the member of its cluster (the candidates nearer to
// it than to any other start point or observation) with the least total
// distance to the rest. Maximin alone pushes points to the edges of the
// space, where numeric parameters are at their extremes and the response
// is rarely typical; medoids sit inside the regions they stand for, and
// keep maximin's spread over categorical options. A few rounds of
// assignment and update, deterministic.
func Medoids(s *Space, observed, candidates [][]float64, avail, prio []int, k int) []int {
	cur := Maximin(s, observed, candidates, avail, prio, k) // candidate indices of the medoids
	if len(cur) == 0 {
		return cur
	}
	dist := func(a, b []float64) float64 { return math.Sqrt(startDistance(s, a, b)) }
	for range 10 {
		// Assign every available candidate to its nearest centre; an
		// observation counts as a fixed centre whose cluster is left alone.
		members := make([][]int, len(cur))
		for _, i := range avail {
			best, bestD := -1, math.Inf(1)
			for j, c := range cur {
				if d := dist(candidates[i], candidates[c]); d < bestD || (d == bestD && best >= 0 && prio[c] < prio[cur[best]]) {
					best, bestD = j, d
				}
			}
			for _, x := range observed {
				if d := dist(candidates[i], x); d < bestD {
					best, bestD = -1, d
				}
			}
			if best >= 0 {
				members[best] = append(members[best], i)
			}
		}
		changed := false
		for j, ms := range members {
			if len(ms) == 0 {
				continue
			}
			best, bestSum := cur[j], math.Inf(1)
			for _, i := range ms {
				var sum float64
				for _, o := range ms {
					sum += dist(candidates[i], candidates[o])
				}
				if sum < bestSum || (sum == bestSum && prio[i] < prio[best]) {
					best, bestSum = i, sum
				}
			}
			dup := false
			for jj, c := range cur {
				dup = dup || (jj != j && Same(candidates[c], candidates[best]))
			}
			if best != cur[j] && !dup {
				cur[j], changed = best, true
			}
		}
		if !changed {
			break
		}
	}
	return cur
}
