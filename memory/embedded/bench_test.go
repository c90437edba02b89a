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

// BenchmarkSearch reports search latency percentiles at 10k and 100k
// records of dimension 384 (top 10; no filter and a kind filter; random
// and clustered vectors), with recall@10 against a full exact scan
// (measured on the first 20 queries) and how many records the re-rank
// scored exactly per query.
//
//	go test ./memory/embedded -run '^$' -bench Search -benchtime 200x
func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, data := range []string{"random", "clustered"} {
			rng := rand.New(rand.NewPCG(1, 2))
			s := newSlab(384)
			testData(s, n, data == "clustered", rng)
			for _, filtered := range []bool{false, true} {
				name := fmt.Sprintf("n=%d/%s", n, data)
				f := memory.Filter{}
				if filtered {
					name += "/kind-filter"
					f.Kind = memory.KindFinding
				}
				b.Run(name, func(b *testing.B) {
					st := &Store{slab: s}
					lat := make([]time.Duration, b.N)
					var checks [][]float32 // the first queries, checked after timing
					b.ResetTimer()
					for i := range b.N {
						q := randomVec(rng, 384)
						if data == "clustered" { // near a stored record
							q = clusteredVec(rng, [][]float32{s.vector(rng.IntN(n))}, 0.02)
						}
						if i < 20 {
							checks = append(checks, q)
						}
						t0 := time.Now()
						_, err := st.Search(context.Background(), q, f, 10)
						lat[i] = time.Since(t0)
						if err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					var rec float64
					var scored int
					for _, q := range checks {
						memory.Normalize(q)
						hits, m := s.search(q, f, 10)
						rec += recall(hits, bruteForce(s, q, f, 10))
						scored += m
					}
					sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
					b.ReportMetric(float64(lat[b.N/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[min(b.N-1, b.N*99/100)].Microseconds())/1000, "p99-ms")
					b.ReportMetric(rec/float64(len(checks)), "recall@10")
					b.ReportMetric(float64(scored)/float64(len(checks)), "reranked/op")
				})
			}
		}
	}
}

// BenchmarkUpsert is the durable write throughput: batches of 100 records
// of dimension 384, each batch appended and fsynced, compactions included.
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

// BenchmarkOpen reports how long opening a store of 100k records of
// dimension 384 takes: from the log alone (a store written before
// snapshots, about 400 MB of JSON), from a snapshot (a store closed
// cleanly), and from a snapshot plus the longest log tail that writes leave
// before compacting (half the snapshot's size: the worst case after a
// crash); and how long a compaction takes (writes wait for it, and Close
// runs one when the log holds more than a few hundred records).
//
//	go test ./memory/embedded -run '^$' -bench Open -benchtime 3x
func BenchmarkOpen(b *testing.B) {
	const n, dim = 100_000, 384
	dir := b.TempDir()
	defer setCompaction(1<<62, 1<<62)()
	s, err := Open(dir, dim, "bench")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	write := func(s *Store, from, to int) {
		for lo := from; lo < to; lo += 1000 {
			batch := make([]memory.Record, 1000)
			for j := range batch {
				batch[j] = memory.Record{ID: fmt.Sprintf("r%d", lo+j), Text: "a finding about thick walls and the toughness of crossed barrels", Kind: memory.KindFinding, Campaign: "c1", Vector: randomVec(rng, dim)}
			}
			if err := s.Upsert(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	write(s, 0, n)
	s.Close()
	open := func(b *testing.B) {
		for range b.N {
			s, err := Open(dir, dim, "bench")
			if err != nil {
				b.Fatal(err)
			}
			if len(s.recs) != n {
				b.Fatalf("%d records, want %d", len(s.recs), n)
			}
			s.Close()
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "open-ms")
	}
	b.Run("log", open)
	// Compact, then rewrite records until the log is half the snapshot.
	setCompaction(1<<62, 0)
	s, err = Open(dir, dim, "bench")
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	b.Run("snapshot", open)
	setCompaction(1<<62, 1<<62)
	s, err = Open(dir, dim, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("compact", func(b *testing.B) {
		for range b.N {
			s.wmu.Lock()
			err := s.compact()
			s.wmu.Unlock()
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "compact-ms")
		b.ReportMetric(float64(s.snapSize)/1e6, "snapshot-MB")
	})
	for i := 0; s.logSize-s.hdrSize < s.snapSize/2; i += 1000 {
		write(s, i, i+1000)
	}
	s.Close()
	b.Run("snapshot+tail", open)
}

// setCompaction sets the compaction thresholds and returns a function
// restoring them.
func setCompaction(writes, closing int64) (restore func()) {
	w, c := compactMinBytes, closeMinBytes
	compactMinBytes, closeMinBytes = writes, closing
	return func() { compactMinBytes, closeMinBytes = w, c }
}
