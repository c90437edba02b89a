package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/memory"
)

func randomVec(rng *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// fill puts n random records straight into memory (no log), for search benchmarks.
func fill(s *Store, n int, rng *rand.Rand) {
	kinds := memory.Kinds
	for i := range n {
		s.put(&memory.Record{ID: fmt.Sprintf("r%07d", i), Text: "x", Kind: kinds[i%len(kinds)], Campaign: fmt.Sprintf("c%d", i%50), Vector: randomVec(rng, s.dim)})
	}
}

// BenchmarkSearch reports search latency percentiles at 10k and 100k
// records of dimension 384 (top 10, no filter and with a kind filter).
//
//	go test ./memory/embedded -run '^$' -bench Search -benchtime 200x
func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, filtered := range []bool{false, true} {
			name := fmt.Sprintf("n=%d", n)
			if filtered {
				name += "/kind-filter"
			}
			b.Run(name, func(b *testing.B) {
				s, err := Open(b.TempDir(), 384, "bench")
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				rng := rand.New(rand.NewPCG(1, 2))
				fill(s, n, rng)
				f := memory.Filter{}
				if filtered {
					f.Kind = memory.KindFinding
				}
				lat := make([]time.Duration, b.N)
				b.ResetTimer()
				for i := range b.N {
					q := randomVec(rng, 384)
					t0 := time.Now()
					if _, err := s.Search(context.Background(), q, f, 10); err != nil {
						b.Fatal(err)
					}
					lat[i] = time.Since(t0)
				}
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(lat[b.N/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[min(b.N-1, b.N*99/100)].Microseconds())/1000, "p99-ms")
			})
		}
	}
}

// BenchmarkUpsert is the durable write throughput: batches of 100 records
// of dimension 384, each batch appended and fsynced.
func BenchmarkUpsert(b *testing.B) {
	s, err := Open(b.TempDir(), 384, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	batch := make([]memory.Record, 100)
	b.ResetTimer()
	for i := range b.N {
		for j := range batch {
			batch[j] = memory.Record{ID: fmt.Sprintf("u%d-%d", i, j), Text: "a finding about thick walls", Kind: memory.KindFinding, Vector: randomVec(rng, 384)}
		}
		if err := s.Upsert(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "records/s")
}
