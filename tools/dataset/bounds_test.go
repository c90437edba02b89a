package dataset

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/genesis-sci/genesis/internal/peakrss"
)

// Queries a model can write to make SQLite build gigabytes: each must come
// back as an error or a note saying it was stopped or cut, with the
// process's peak memory (SQLite's heap is outside Go's, so RSS, not
// MemStats, is what counts) and Go's allocations bounded. Before the
// bounds, the first took the process from 24 MB to 1.6 GB and the fourth
// to 2.6 GB.
func TestHostileQueriesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two queries to their 5 s timeout")
	}
	c := challenge(t)
	const ceiling = 256 << 20 // generous: the bounded queries measure under 20 MB
	for _, q := range []string{
		"SELECT hex(randomblob(60000000)) FROM candidates LIMIT 3",
		"SELECT hex(zeroblob(100000000)), zeroblob(900000000) FROM candidates LIMIT 3",
		"SELECT group_concat(hex(zeroblob(100000))) FROM candidates",
		"WITH RECURSIVE r(n, s) AS (SELECT 1, 'x' UNION ALL SELECT n+1, s || s FROM r WHERE n < 40) SELECT length(s) FROM r ORDER BY n DESC LIMIT 1",
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r) SELECT n, hex(zeroblob(100000)) FROM r ORDER BY random() LIMIT 3",
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r) SELECT count(*) FROM r",
	} {
		base := peakrss.ResetOrSkip(t)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		res, err := Run(context.Background(), c, nil, Query{SQL: q})
		runtime.ReadMemStats(&m1)
		grew, alloc := peakrss.PeakOrSkip(t)-base, int64(m1.TotalAlloc-m0.TotalAlloc)
		reply := res.String()
		if err != nil {
			reply = err.Error()
		}
		t.Logf("%s\n  peak RSS +%d MB, Go allocated %d MB: %.120s", q, grew>>20, alloc>>20, reply)
		if grew > ceiling || alloc > ceiling {
			t.Errorf("%s: peak RSS grew %d MB, Go allocated %d MB; want both under %d MB", q, grew>>20, alloc>>20, ceiling>>20)
		}
		if !strings.Contains(reply, "stopped") && !strings.Contains(reply, "cut") {
			t.Errorf("%s: the reply should say the query was stopped or cut: %.300s", q, reply)
		}
		if len(reply) > MaxResultBytes+1000 {
			t.Errorf("%s: a reply of %d bytes", q, len(reply))
		}
	}
}

// Long cells are cut to MaxCellBytes and a wide result to MaxResultBytes,
// and the note tells the model what it lost and what to ask instead.
func TestLongCellsAndResultsCut(t *testing.T) {
	c := challenge(t)
	ctx := context.Background()
	res, err := Run(ctx, c, nil, Query{SQL: "SELECT id, hex(randomblob(100000)) AS h FROM candidates LIMIT 5"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Truncated || !strings.Contains(res.Note, "cut") || !strings.Contains(res.Note, "substr") {
		t.Errorf("want a note on the cut cells, got %+v", res.Note)
	}
	for _, row := range res.Rows {
		if len(row[1]) > MaxCellBytes+len("…") || !strings.HasSuffix(row[1], "…") {
			t.Errorf("a cell of %d bytes", len(row[1]))
		}
	}
	// Multi-byte text is cut on a rune boundary.
	res, err = Run(ctx, c, nil, Query{SQL: "SELECT replace(hex(zeroblob(300)), '0', 'é') FROM candidates LIMIT 1"})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Rows[0][0]; !utf8.ValidString(s) || len(s) > MaxCellBytes+len("…") {
		t.Errorf("cut cell %q", s)
	}
	res, err = Run(ctx, c, nil, Query{SQL: "SELECT printf('%.150c', 'x') a, printf('%.150c', 'y') b FROM candidates"})
	if err != nil {
		t.Fatal(err)
	}
	if out := res.String(); len(out) > MaxResultBytes+300 || !res.Truncated || !strings.Contains(res.Note, "outgrew") {
		t.Errorf("a %d-byte result of %d rows, note %q", len(out), len(res.Rows), res.Note)
	}
	var cols []string
	for range MaxColumns + 1 {
		cols = append(cols, "id")
	}
	if _, err := Run(ctx, c, nil, Query{SQL: "SELECT " + strings.Join(cols, ", ") + " FROM candidates"}); err == nil || !strings.Contains(err.Error(), "columns") {
		t.Errorf("%d columns: want an error naming the bound, got %v", MaxColumns+1, err)
	}
	if _, err := Run(ctx, c, nil, Query{SQL: "SELECT '" + strings.Repeat("x", MaxSQLBytes) + "'"}); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Errorf("a long query: want an error naming the bound, got %v", err)
	}
}
