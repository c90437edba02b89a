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
	"fmt"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite"

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
}

// MaxRows bounds what goes back into a prompt.
const MaxRows = 30

// String renders the result as a compact text table.
func (r Result) String() string {
	var b strings.Builder
	b.WriteString(strings.Join(r.Columns, "\t"))
	for _, row := range r.Rows {
		b.WriteByte('\n')
		b.WriteString(strings.Join(row, "\t"))
	}
	if r.Truncated {
		fmt.Fprintf(&b, "\n… (more rows; add LIMIT or aggregate)")
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

// Run executes one read-only query.
func Run(ctx context.Context, c *challenges.Challenge, exps []Experiment, q Query) (Result, error) {
	stmt := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(q.SQL), ";"))
	low := strings.ToLower(stmt)
	if !(strings.HasPrefix(low, "select") || strings.HasPrefix(low, "with")) || strings.Contains(stmt, ";") {
		return Result{}, fmt.Errorf("only one SELECT statement is allowed; %s", Describe(c))
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := load(ctx, db, c, exps); err != nil {
		return Result{}, err
	}
	if _, err := db.ExecContext(ctx, "PRAGMA query_only = ON"); err != nil {
		return Result{}, err
	}
	rows, err := db.QueryContext(ctx, stmt)
	if err != nil {
		return Result{}, fmt.Errorf("query failed: %v; %s", err, Describe(c))
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	res := Result{Columns: cols}
	for rows.Next() {
		if len(res.Rows) == MaxRows {
			res.Truncated = true
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
		for i, v := range vals {
			row[i] = cell(v)
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("query failed: %v", err)
	}
	return res, nil
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case float64:
		return strconv.FormatFloat(x, 'g', 6, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case []byte:
		return string(x)
	default:
		return fmt.Sprint(x)
	}
}

func load(ctx context.Context, db *sql.DB, c *challenges.Challenge, exps []Experiment) error {
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
