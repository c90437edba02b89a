package hpc

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Benchmarks of the executors with a trivial job (`true`):
//
//	go test ./tools/hpc -run '^$' -bench . -benchtime 10x
//
// The Slurm ones need the cluster from deploy/slurm/install.sh.
func benchBackends(b *testing.B) []backend {
	bs := []backend{localBackend()}
	if sbatchPresent() {
		sb := backend{name: "slurm", poll: 20 * time.Millisecond, open: func(t *testing.T, root string) Executor {
			s, err := NewSlurm(context.Background(), root)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}}
		bs = append(bs, sb)
	}
	return bs
}

// BenchmarkTrivialJob is submit-to-result latency of one trivial job.
func BenchmarkTrivialJob(b *testing.B) {
	for _, be := range benchBackends(b) {
		b.Run(be.name, func(b *testing.B) {
			ex := be.open(&testing.T{}, b.TempDir())
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				j, err := ex.Submit(ctx, JobSpec{Name: fmt.Sprintf("trivial-%d", i), Command: []string{"true"}, CPUs: 1, MemoryMB: 32})
				if err != nil {
					b.Fatal(err)
				}
				if j, err = Wait(ctx, ex, j.ID, be.poll, nil); err != nil || j.State != Completed {
					b.Fatalf("%+v %v", j, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/job")
		})
	}
}

// BenchmarkHundredJobs submits 100 short jobs at once and waits for all.
func BenchmarkHundredJobs(b *testing.B) {
	for _, be := range benchBackends(b) {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			for n := range b.N {
				ex := be.open(&testing.T{}, b.TempDir())
				var wg sync.WaitGroup
				for i := range 100 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						j, err := ex.Submit(ctx, JobSpec{Name: fmt.Sprintf("short-%d-%d", n, i), Command: []string{"sh", "-c", "sleep 0.1"}, CPUs: 1, MemoryMB: 32})
						if err != nil {
							b.Error(err)
							return
						}
						if j, err = Wait(ctx, ex, j.ID, be.poll*5, nil); err != nil || j.State != Completed {
							b.Errorf("%+v %v", j, err)
						}
					}()
				}
				wg.Wait()
			}
			b.ReportMetric(100*float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}
