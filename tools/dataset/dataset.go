// Package dataset is the agents' SQL tool over a challenge's data. Each query
// runs against a fresh in-memory SQLite database with two tables:
//
//	candidates(id, <parameters…>, measured)   the design points the lab can run
//	experiments(iteration, source, <parameters…>, <objectives…>)   this campaign's results
//
// The measured objective values of untested candidates are deliberately not
// exposed: the pool is the lab's ground truth, and an agent that could read
// it would be cheating, not discovering.
package dataset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"modernc.org/sqlite" // pure-Go SQLite, driver "sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/genesis-sci/genesis/challenges"
)

// Query is the tool's input.
type Query struct {
	SQL string `json:"sql" jsonschema:"description=One read-only SELECT over the tables candidates and experiments"`
}

// Experiment is one result the campaign has, as passed to the tool.
type Experiment struct {
	Iteration int              `json:"iteration"`
	Source    string           `json:"source"` // lab or sim
	Point     challenges.Point `json:"point"`
	Values    []float64        `json:"values"`
}

// Result is the tool's output: a small table.
type Result struct {
	Columns   []string   `json:"columns"`
	Rows      [][]string `json:"rows"`
	Truncated bool       `json:"truncated,omitempty"`
	// Note says what was cut and how to ask for less.
	Note string `json:"note,omitempty"`
}

// Bounds on a query: what goes back into a prompt, and what SQLite may
// build on the way. A model's SQL is untrusted: without MaxValueBytes one
// hex(randomblob(6e7)) took the worker to gigabytes, since a single SQLite
// step cannot be interrupted. With it no string or blob, in a result or in
// between, outgrows 256 KB, so a row holds at most MaxColumns of them;
// sorts and temporary tables spill to disk (see lockDown); and the
// timeout, checked every thousand VM steps, stops the rest. SQLite's own
// heap limit would be the natural backstop, but this build keeps no memory
// statistics (SQLITE_DEFAULT_MEMSTATUS=0), so it is not enforced.
const (
	MaxRows        = 30              // rows returned
	MaxCellBytes   = 200             // bytes shown of one cell
	MaxResultBytes = 4000            // bytes of cells in one result (or its first row)
	MaxValueBytes  = 256 << 10       // any string or blob inside SQLite (SQLITE_LIMIT_LENGTH)
	MaxColumns     = 64              // columns of a result (SQLITE_LIMIT_COLUMN)
	MaxSQLBytes    = 8 << 10         // the query's text
	Timeout        = 5 * time.Second // the whole query, loading included
)

// String renders the result as a compact text table.
func (r Result) String() string {
	var b strings.Builder
	b.WriteString(strings.Join(r.Columns, "\t"))
	for _, row := range r.Rows {
		b.WriteByte('\n')
		b.WriteString(strings.Join(row, "\t"))
	}
	if r.Note != "" {
		fmt.Fprintf(&b, "\n… %s", r.Note)
	}
	return b.String()
}

// Describe tells a model what the tables hold.
func Describe(c *challenges.Challenge) string {
	var params, objs []string
	for _, p := range c.Parameters {
		params = append(params, ident(p.Name))
	}
	for _, o := range c.Objectives {
		objs = append(objs, ident(o.Name))
	}
	what := fmt.Sprintf("the %d runnable design points", c.Pool().Len())
	if !c.Finite() {
		what = fmt.Sprintf("the %d previously measured design points (any point within the bounds can be run)", c.Pool().Len())
	}
	return fmt.Sprintf("tables: candidates(id, %s, measured) — %s, measured=1 once this campaign ran it in the lab; experiments(iteration, source, %s, %s) — this campaign's lab and sim results",
		strings.Join(params, ", "), what, strings.Join(params, ", "), strings.Join(objs, ", "))
}

func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Run executes one read-only query within the bounds above. A query that
// breaks one is stopped and the error says which bound and what to ask
// instead; a result too large to show is cut, and its Note says so.
func Run(ctx context.Context, c *challenges.Challenge, exps []Experiment, q Query) (Result, error) {
	stmt := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(q.SQL), ";"))
	low := strings.ToLower(stmt)
	if !(strings.HasPrefix(low, "select") || strings.HasPrefix(low, "with")) || strings.Contains(stmt, ";") {
		return Result{}, fmt.Errorf("only one SELECT statement is allowed; %s", Describe(c))
	}
	if len(stmt) > MaxSQLBytes {
		return Result{}, fmt.Errorf("the query is %d bytes, more than the %d allowed: ask for less", len(stmt), MaxSQLBytes)
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	if err := load(ctx, conn, c, exps); err != nil {
		return Result{}, err
	}
	if err := lockDown(ctx, conn, len(c.Parameters)+len(c.Objectives)+3); err != nil {
		return Result{}, fmt.Errorf("dataset: securing the query connection: %w", err)
	}
	rows, err := conn.QueryContext(ctx, stmt)
	if err != nil {
		return Result{}, queryError(ctx, err, c)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	res := Result{Columns: cols}
	size, cut := 0, 0
	for _, col := range cols {
		size += len(col)
	}
	for rows.Next() {
		if len(res.Rows) == MaxRows {
			res.Truncated, res.Note = true, fmt.Sprintf("more rows; only the first %d are shown: add LIMIT or aggregate", MaxRows)
			break
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return Result{}, err
		}
		row := make([]string, len(cols))
		rowSize := 0
		for i, v := range vals {
			s, n := cell(v)
			row[i], rowSize, cut = s, rowSize+len(s), cut+n
		}
		if size+rowSize > MaxResultBytes && len(res.Rows) > 0 {
			res.Truncated, res.Note = true, fmt.Sprintf("the result outgrew %d bytes; only the first %d rows are shown: select fewer columns, add LIMIT or aggregate", MaxResultBytes, len(res.Rows))
			break
		}
		size += rowSize
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return Result{}, queryError(ctx, err, c)
	}
	if cut > 0 {
		note := fmt.Sprintf("%d bytes of long cells were cut (at most %d shown per cell): select substr(…) or length(…) instead", cut, MaxCellBytes)
		if res.Note != "" {
			note = res.Note + "; " + note
		}
		res.Truncated, res.Note = true, note
	}
	return res, nil
}

// lockDown bounds what the model's statement may do on conn once the
// tables are loaded: no writes, no pragma or attach, and no string or blob
// over MaxValueBytes.
func lockDown(ctx context.Context, conn *sql.Conn, columns int) error {
	// Sorts, DISTINCT, recursive CTEs and subqueries spill to temporary
	// files past a small cache instead of growing in memory (temp_store
	// MEMORY, measured: 7 GB in 5 s for an unbounded recursive sort);
	// what they write is deleted when the query stops.
	for _, p := range []string{"PRAGMA temp_store = FILE", "PRAGMA cache_size = -2048", "PRAGMA query_only = ON"} {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			return err
		}
	}
	for _, l := range []struct{ id, val int }{
		{sqlite3.SQLITE_LIMIT_LENGTH, MaxValueBytes},
		{sqlite3.SQLITE_LIMIT_SQL_LENGTH, MaxSQLBytes},
		{sqlite3.SQLITE_LIMIT_COLUMN, max(MaxColumns, columns)},
	} {
		if _, err := sqlite.Limit(conn, l.id, l.val); err != nil {
			return err
		}
	}
	return conn.Raw(func(dc any) error {
		r, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return fmt.Errorf("the SQLite driver (%T) has no authorizer", dc)
		}
		return r.RegisterAuthorizer(func(action sqlite.AuthorizerActionCode, _, _, _, _ string) sqlite.AuthorizerReturnCode {
			switch action {
			case sqlite.AuthSelect, sqlite.AuthRead, sqlite.AuthFunction, sqlite.AuthRecursive:
				return sqlite.AuthorizerOK
			}
			return sqlite.AuthorizerDeny
		})
	})
}

// queryError says why a query failed, naming the bound it broke.
func queryError(ctx context.Context, err error, c *challenges.Challenge) error {
	var se *sqlite.Error
	code := 0
	if errors.As(err, &se) {
		code = se.Code() & 0xff
	}
	switch {
	case ctx.Err() != nil || code == sqlite3.SQLITE_INTERRUPT:
		return fmt.Errorf("query stopped after %s, the time allowed: ask for less (add LIMIT, avoid cross joins and unbounded recursive CTEs)", Timeout)
	case code == sqlite3.SQLITE_TOOBIG:
		return fmt.Errorf("query stopped: a value outgrew %d bytes, the most a string or blob may hold here: select length(…) or substr(…) instead", MaxValueBytes)
	case code == sqlite3.SQLITE_NOMEM:
		return errors.New("query stopped: it ran out of memory: ask for less (add LIMIT, avoid sorting huge intermediate results)")
	}
	return fmt.Errorf("query failed: %v; %s", err, Describe(c))
}

// cell renders a value, cut to MaxCellBytes (on a rune boundary); it
// returns how many bytes it cut.
func cell(v any) (string, int) {
	var s string
	switch x := v.(type) {
	case nil:
		return "NULL", 0
	case float64:
		return strconv.FormatFloat(x, 'g', 6, 64), 0
	case int64:
		return strconv.FormatInt(x, 10), 0
	case []byte:
		if len(x) > MaxCellBytes {
			x = x[:min(len(x), MaxCellBytes+utf8.UTFMax)]
		}
		s = string(x)
	case string:
		s = x
	default:
		s = fmt.Sprint(x)
	}
	if len(s) <= MaxCellBytes {
		return s, 0
	}
	n := MaxCellBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	full := len(s)
	if b, ok := v.([]byte); ok {
		full = len(b)
	}
	return s[:n] + "…", full - n
}

func load(ctx context.Context, db *sql.Conn, c *challenges.Challenge, exps []Experiment) error {
	var pcols, ocols []string
	for _, p := range c.Parameters {
		t := "REAL"
		if p.Kind == challenges.Categorical {
			t = "TEXT"
		}
		pcols = append(pcols, ident(p.Name)+" "+t)
	}
	for _, o := range c.Objectives {
		ocols = append(ocols, ident(o.Name)+" REAL")
	}
	ddl := []string{
		fmt.Sprintf("CREATE TABLE candidates(id INTEGER PRIMARY KEY, %s, measured INTEGER)", strings.Join(pcols, ", ")),
		fmt.Sprintf("CREATE TABLE experiments(iteration INTEGER, source TEXT, %s, %s)", strings.Join(pcols, ", "), strings.Join(ocols, ", ")),
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	for _, s := range ddl {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	measured := map[string]bool{}
	for _, e := range exps {
		if e.Source == "lab" {
			measured[c.Key(e.Point)] = true
		}
	}
	np := len(c.Parameters)
	ins, err := tx.PrepareContext(ctx, fmt.Sprintf("INSERT INTO candidates VALUES (?%s, ?)", strings.Repeat(", ?", np)))
	if err != nil {
		return err
	}
	for i, pt := range c.Pool().Points {
		args := []any{i}
		args = append(args, paramArgs(c, pt)...)
		m := 0
		if measured[c.Key(pt)] {
			m = 1
		}
		if _, err := ins.ExecContext(ctx, append(args, m)...); err != nil {
			return err
		}
	}
	insE, err := tx.PrepareContext(ctx, fmt.Sprintf("INSERT INTO experiments VALUES (?, ?%s)", strings.Repeat(", ?", np+len(c.Objectives))))
	if err != nil {
		return err
	}
	for _, e := range exps {
		if len(e.Point) != np || len(e.Values) != len(c.Objectives) {
			continue
		}
		args := []any{e.Iteration, e.Source}
		args = append(args, paramArgs(c, e.Point)...)
		for _, v := range e.Values {
			args = append(args, v)
		}
		if _, err := insE.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func paramArgs(c *challenges.Challenge, pt challenges.Point) []any {
	out := make([]any, len(pt))
	m := c.Map(pt)
	for i, p := range c.Parameters {
		out[i] = m[p.Name]
	}
	return out
}
