package embedded

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"

	"github.com/genesis-sci/genesis/memory"
)

// The assembly kernel agrees with the portable one, including at the
// extremes of both code ranges.
func TestDotKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, stride := range []int{32, 64, 416, 1536} {
		rows := 37
		codes := make([]int8, rows*stride)
		for i := range codes {
			codes[i] = int8(rng.IntN(255) - 127)
		}
		q := make([]int16, stride)
		top := min(32767, (1<<31-1)/(127*stride))
		for j := range q {
			q[j] = int16(rng.IntN(2*top+1) - top)
		}
		// Row 0 at the positive extreme, row 1 at the negative one.
		for j := range stride {
			q[j] = int16(top)
			codes[j], codes[stride+j] = 127, -127
		}
		got, want := make([]int32, rows), make([]int32, rows)
		dots(codes, q, got)
		dotsGo(codes, q, want)
		if !slices.Equal(got, want) {
			t.Fatalf("stride %d: kernel %v, portable %v", stride, got, want)
		}
		if want[0] != int32(127*top*stride) {
			t.Fatalf("stride %d: extreme row %d, want %d", stride, want[0], 127*top*stride)
		}
	}
}

// clusteredVec draws a vector near one of the centres (cosine ≈ 0.7 to it
// at dimension 384), like embeddings of texts on a few themes.
func clusteredVec(rng *rand.Rand, centres [][]float32, spread float64) []float32 {
	c := centres[rng.IntN(len(centres))]
	v := make([]float32, len(c))
	for i := range v {
		v[i] = c[i] + float32(spread*rng.NormFloat64())
	}
	return v
}

// testData fills a slab with n records: random vectors, or clustered ones
// with near-duplicates (the hard case for pruning: many records score
// almost the same).
func testData(s *slab, n int, clustered bool, rng *rand.Rand) {
	var centres [][]float32
	for range max(1, n/100) {
		c := randomVec(rng, s.dim)
		memory.Normalize(c)
		centres = append(centres, c)
	}
	for i := range n {
		var v []float32
		switch {
		case !clustered:
			v = randomVec(rng, s.dim)
		case i > 0 && i%20 == 0: // a near-duplicate of an earlier record
			v = append([]float32(nil), s.vector(rng.IntN(len(s.recs)))...)
			for j := range v {
				v[j] += float32(0.001 * rng.NormFloat64())
			}
		default:
			v = clusteredVec(rng, centres, 0.033)
		}
		memory.Normalize(v)
		s.put(&memory.Record{ID: fmt.Sprintf("r%07d", i), Text: "x", Kind: memory.Kinds[i%len(memory.Kinds)], Campaign: fmt.Sprintf("c%d", i%50)}, v)
	}
}

// bruteForce is exact search the slow way: score every record, sort.
func bruteForce(s *slab, q []float32, f memory.Filter, k int) []memory.Hit {
	var all []cand
	for i, r := range s.recs {
		if f.Match(r) {
			all = append(all, cand{blas32.Dot(blas32.Vector{N: s.dim, Inc: 1, Data: s.vector(i)}, blas32.Vector{N: s.dim, Inc: 1, Data: q}), i})
		}
	}
	slices.SortFunc(all, func(a, b cand) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return strings.Compare(s.recs[a.slot].ID, s.recs[b.slot].ID)
	})
	if k > 0 && k < len(all) {
		all = all[:k]
	}
	hits := make([]memory.Hit, len(all))
	for i, c := range all {
		hits[i] = memory.Hit{Record: *s.recs[c.slot], Score: c.score}
	}
	return hits
}

// recall is the fraction of want's IDs that got holds.
func recall(got, want []memory.Hit) float64 {
	if len(want) == 0 {
		return 1
	}
	ids := map[string]bool{}
	for _, h := range got {
		ids[h.ID] = true
	}
	n := 0
	for _, h := range want {
		if ids[h.ID] {
			n++
		}
	}
	return float64(n) / float64(len(want))
}

// The two-stage search returns exactly what a full exact scan returns —
// same records, same order, same scores — on random and clustered data,
// with filters (broad and very selective), large k, overwrites and
// deletes; and its re-rank touches only a small part of the store.
func TestSearchIsExact(t *testing.T) {
	const n, dim = 20_000, 384
	for _, clustered := range []bool{false, true} {
		t.Run(fmt.Sprintf("clustered=%v", clustered), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 3))
			s := newSlab(dim)
			testData(s, n, clustered, rng)
			// Overwrite some records with new vectors, delete others.
			for i := 0; i < n; i += 97 {
				r := *s.recs[rng.IntN(len(s.recs))]
				v := randomVec(rng, dim)
				memory.Normalize(v)
				s.put(&r, v)
			}
			for i := 0; i < n; i += 53 {
				s.del(fmt.Sprintf("r%07d", i))
			}
			filters := []memory.Filter{{}, {Kind: memory.KindFinding}, {Campaign: "c7", Kind: memory.KindResult}, {Campaign: "c7", Kind: memory.KindFinding}}
			var scored, queries int
			minRecall := 1.0
			for trial := range 60 {
				var q []float32
				if clustered && trial%2 == 0 { // near a stored record
					q = append([]float32(nil), s.vector(rng.IntN(len(s.recs)))...)
					for j := range q {
						q[j] += float32(0.02 * rng.NormFloat64())
					}
				} else {
					q = randomVec(rng, dim)
				}
				memory.Normalize(q)
				f := filters[trial%len(filters)]
				k := []int{10, 1, 10, 100, 0}[trial%5]
				got, m := s.search(q, f, k)
				want := bruteForce(s, q, f, k)
				minRecall = min(minRecall, recall(got, want))
				if len(got) != len(want) {
					t.Fatalf("trial %d: %d hits, want %d", trial, len(got), len(want))
				}
				for i := range got {
					if got[i].ID != want[i].ID || got[i].Score != want[i].Score {
						t.Fatalf("trial %d (k %d, %+v) hit %d: %s %.7f, exact scan %s %.7f", trial, k, f, i, got[i].ID, got[i].Score, want[i].ID, want[i].Score)
					}
				}
				if k == 10 && f == (memory.Filter{}) {
					scored += m
					queries++
				}
			}
			if minRecall < 0.95 {
				t.Errorf("recall@k %.3f, want ≥ 0.95", minRecall)
			}
			avg := float64(scored) / float64(queries)
			t.Logf("recall %.3f; top 10 unfiltered: %.0f of %d records re-ranked exactly per query", minRecall, avg, len(s.recs))
			if avg > float64(len(s.recs))/20 {
				t.Errorf("the pre-scan pruned too little: %.0f of %d records re-ranked", avg, len(s.recs))
			}
		})
	}
}

// Degenerate vectors: a zero query, zero and identical stored vectors.
func TestSearchDegenerate(t *testing.T) {
	s := newSlab(8)
	one := []float32{1, 0, 0, 0, 0, 0, 0, 0}
	for i := range 30 {
		v := one
		if i%3 == 0 {
			v = make([]float32, 8)
		}
		s.put(&memory.Record{ID: fmt.Sprintf("d%02d", i), Text: "x", Kind: memory.KindChat}, v)
	}
	for _, q := range [][]float32{make([]float32, 8), one, {0, 1, 0, 0, 0, 0, 0, 0}} {
		got, _ := s.search(q, memory.Filter{}, 5)
		want := bruteForce(s, q, memory.Filter{}, 5)
		for i := range want {
			if got[i].ID != want[i].ID || got[i].Score != want[i].Score {
				t.Fatalf("query %v hit %d: %s %v, want %s %v", q, i, got[i].ID, got[i].Score, want[i].ID, want[i].Score)
			}
		}
	}
}
