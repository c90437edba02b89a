package embedded

import (
	"container/heap"
	"math"
	"runtime"
	"sort"
	"sync"

	"gonum.org/v1/gonum/blas/blas32"

	"github.com/genesis-sci/genesis/memory"
)

// search returns the k records passing f with the highest cosine
// similarity to the unit vector q, best first, ties by ID: exactly what a
// float32 scan of every record would return, at a quarter of its memory
// traffic. It runs in two stages.
//
// The pre-scan scores every record approximately from the int8 codes (an
// assembly kernel on amd64): a = scales[i]·t·(codes[i]·qc), with the query
// quantised as q ≈ t·qc. Quantisation bounds the error: for record i with
// unit vector x,
//
//	|x·q - a| ≤ errs[i]·‖q‖ + (‖x‖ + errs[i])·‖q - t·qc‖
//
// which, as ‖x‖, ‖q‖ ≤ 1, is at most errs[i]·(1+qerr) + qerr, plus a slack
// for float32 rounding. The k best matching records by approximate score,
// scored exactly, give θ, the lowest of their exact scores: the k-th best
// exact score is at least θ. The re-rank then scores exactly only the
// matching records whose a plus bound reaches θ — every other record
// scores below θ and cannot be in the top k — which is a few dozen records
// on random and on clustered data alike (many identical vectors would all
// be re-scored: still exact, at the cost of a full scan). search also
// returns how many records it scored exactly.
func (s *slab) search(q []float32, f memory.Filter, k int) ([]memory.Hit, int) {
	n := len(s.recs)
	if n == 0 {
		return nil, 0
	}
	if k <= 0 || k > n {
		k = n
	}
	buf := bufPool.Get().(*scanBuf)
	defer bufPool.Put(buf)
	buf.grow(n, s.stride)
	t, qerr := quantizeQuery(q, buf.qc)
	approx := s.prescan(buf, t)
	slack := float32(s.dim+16) / (1 << 22)
	exact := func(i int) float32 {
		return blas32.Dot(blas32.Vector{N: s.dim, Inc: 1, Data: s.vector(i)}, blas32.Vector{N: s.dim, Inc: 1, Data: q})
	}

	// θ from the k best matching records by approximate score.
	h := topK{recs: s.recs, c: buf.heap[:0]}
	for i, a := range approx {
		// Most records lose to the current k-th best on score alone;
		// reject them before touching the record (a cache miss each).
		if len(h.c) == k && a < h.c[0].score {
			continue
		}
		if f.Match(s.recs[i]) {
			h.offer(cand{a, i}, k)
		}
	}
	theta := float32(math.Inf(-1))
	if len(h.c) == k {
		theta = float32(math.Inf(1))
		for _, c := range h.c {
			theta = min(theta, exact(c.slot))
		}
	}

	// Re-rank every record the bound cannot rule out.
	h.c = h.c[:0]
	scored := 0
	for i, a := range approx {
		if a+s.errs[i]*(1+qerr)+qerr+slack < theta || !f.Match(s.recs[i]) {
			continue
		}
		scored++
		h.offer(cand{exact(i), i}, k)
	}
	sort.Slice(h.c, func(i, j int) bool { return h.better(h.c[i], h.c[j]) })
	hits := make([]memory.Hit, len(h.c))
	for i, c := range h.c {
		hits[i] = memory.Hit{Record: *s.recs[c.slot], Score: c.score}
		hits[i].Vector = append([]float32(nil), s.vector(c.slot)...)
	}
	buf.heap = h.c[:0]
	return hits, scored
}

// prescan returns every record's approximate score for the query codes
// buf.qc of scale t, in slot order, in a block of rows per CPU.
func (s *slab) prescan(buf *scanBuf, t float32) []float32 {
	n := len(s.recs)
	dst, approx := buf.dots[:n], buf.approx[:n]
	workers := min(runtime.GOMAXPROCS(0), max(1, n/4096))
	per := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		hi := min(n, lo+per)
		wg.Go(func() {
			dots(s.codes[lo*s.stride:hi*s.stride], buf.qc, dst[lo:hi])
			for i := lo; i < hi; i++ {
				approx[i] = float32(dst[i]) * s.scales[i] * t
			}
		})
	}
	wg.Wait()
	return approx
}

// scanBuf is a search's scratch space, recycled: a 100k-record search
// would otherwise allocate 800 KB per query and make the garbage collector
// a latency source.
type scanBuf struct {
	qc     []int16
	dots   []int32
	approx []float32
	heap   []cand
}

func (b *scanBuf) grow(n, stride int) {
	if cap(b.dots) < n {
		b.dots, b.approx = make([]int32, n), make([]float32, n)
	}
	if cap(b.qc) < stride {
		b.qc = make([]int16, stride)
	}
	b.qc = b.qc[:stride]
}

var bufPool = sync.Pool{New: func() any { return new(scanBuf) }}

// cand is a scored slot.
type cand struct {
	score float32
	slot  int
}

// topK keeps the best k candidates: a min-heap by better, whose root is
// the worst kept candidate.
type topK struct {
	recs []*memory.Record
	c    []cand
}

// better orders by score, then by ID.
func (h *topK) better(a, b cand) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return h.recs[a.slot].ID < h.recs[b.slot].ID
}

// offer keeps c if it is among the k best so far.
func (h *topK) offer(c cand, k int) {
	if len(h.c) < k {
		heap.Push(h, c)
	} else if h.better(c, h.c[0]) {
		h.c[0] = c
		heap.Fix(h, 0)
	}
}

func (h *topK) Len() int           { return len(h.c) }
func (h *topK) Less(i, j int) bool { return h.better(h.c[j], h.c[i]) }
func (h *topK) Swap(i, j int)      { h.c[i], h.c[j] = h.c[j], h.c[i] }
func (h *topK) Push(x any)         { h.c = append(h.c, x.(cand)) }
func (h *topK) Pop() any {
	x := h.c[len(h.c)-1]
	h.c = h.c[:len(h.c)-1]
	return x
}
