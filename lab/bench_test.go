package lab_test

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/tools/labclient"
)

// BenchmarkSubmit50Clients measures POST /runs over a real loopback HTTP
// connection with 50 concurrent clients (bearer auth on, SQLite in WAL
// mode on disk, the scheduler dispatching in the background). It reports
// requests per second and the p50/p99 latency of a submit.
//
//	go test ./lab -run '^$' -bench Submit50Clients -benchtime 4000x
func BenchmarkSubmit50Clients(b *testing.B) {
	const clients = 50
	cat, err := labCatalog()
	if err != nil {
		b.Fatal(err)
	}
	s, err := lab.New(lab.Config{Catalog: cat, DBPath: filepath.Join(b.TempDir(), "lab.db"), TimeScale: 0.0001,
		Token: "bench", Logger: slog.New(slog.DiscardHandler),
		Instruments: []lab.Instrument{{Name: "r1", Capacity: 4, Challenges: cat.IDs()}, {Name: "r2", Capacity: 4, Challenges: cat.IDs()}}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	srv := &http.Server{Handler: s.Handler()}
	ln, err := netListen()
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	c := labclient.New("http://"+ln.Addr().String(), &http.Client{Transport: tr, Timeout: 30 * time.Second}).WithToken("bench")
	ch, _ := cat.Get(cb)
	pts := ch.Pool().Points

	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				_, err := c.Submit(b.Context(), labclient.SubmitRequest{Challenge: cb, Parameters: ch.Map(pts[i%len(pts)]),
					IdempotencyKey: fmt.Sprintf("bench-%d", i), Requester: "bench"})
				lat[i] = time.Since(t0)
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[b.N/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(b.N-1, b.N*99/100)].Microseconds())/1000, "p99-ms")
}

func labCatalog() (*challenges.Catalog, error) { return challenges.Open("testdata/challenges") }

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
