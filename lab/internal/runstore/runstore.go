// Package runstore keeps the lab's runs and instrument faults in SQLite,
// so they survive restarts: a run is stored once per idempotency key, and
// every change of state is one statement or one transaction. It is the lab
// service's persistence and nothing else (package lab is the scheduler and
// the HTTP API above it), kept internal so its API can change with the lab.
package runstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	// modernc.org/sqlite is a pure-Go translation of SQLite: no cgo, so the
	// lab builds and cross-compiles with CGO_ENABLED=0 like the rest of
	// Genesis, and it is the same driver the Temporal dev server uses for
	// its own persistence, so it adds no new engine to the dependency graph.
	_ "modernc.org/sqlite"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/tools/labclient"
)

// schemaVersion is stored in PRAGMA user_version. Bump it and add a step to
// migrations when the schema changes; old databases are migrated in order.
const schemaVersion = 2

var migrations = []string{
	// 0 → 1: runs.
	`CREATE TABLE runs (
		seq             INTEGER PRIMARY KEY AUTOINCREMENT,
		id              TEXT NOT NULL UNIQUE,
		idempotency_key TEXT NOT NULL UNIQUE,
		challenge       TEXT NOT NULL,
		point           TEXT NOT NULL, -- JSON array, challenges.Point
		parameters      TEXT NOT NULL, -- JSON object, challenge.Map(point)
		instrument      TEXT NOT NULL,
		requester       TEXT NOT NULL,
		status          TEXT NOT NULL,
		result          TEXT,          -- JSON object, labclient.Result
		error           TEXT NOT NULL DEFAULT '',
		attempts        INTEGER NOT NULL DEFAULT 0,
		submitted_at    TEXT NOT NULL, -- RFC 3339, UTC
		started_at      TEXT,
		finished_at     TEXT
	);
	CREATE INDEX runs_status ON runs(status, seq);
	CREATE INDEX runs_requester ON runs(requester, seq);`,
	// 1 → 2: instrument faults.
	`ALTER TABLE runs ADD COLUMN fault TEXT NOT NULL DEFAULT '';
	CREATE TABLE faults (
		seq        INTEGER PRIMARY KEY AUTOINCREMENT,
		at         TEXT NOT NULL,
		instrument TEXT NOT NULL,
		run_id     TEXT NOT NULL,
		kind       TEXT NOT NULL,
		message    TEXT NOT NULL
	);
	CREATE INDEX faults_run ON faults(run_id, seq);`,
}

// Store persists runs in SQLite. Every multi-statement change runs in a
// transaction. The pool holds a single connection: SQLite serialises writers
// anyway, and one connection rules out SQLITE_BUSY on read→write upgrades.
type Store struct {
	db *sql.DB
	// stmts are the statements prepared so far, by query text: SQLite
	// parses an unprepared statement anew on every call, which was about a
	// third of the service's CPU.
	stmts sync.Map
}

// Record is a stored run: the API view plus what the scheduler needs.
type Record struct {
	labclient.Run
	seq   int64
	Point challenges.Point
}

// ErrNotFound is returned for unknown run IDs.
var ErrNotFound = errors.New("run not found")

func Open(path string) (*Store, error) {
	var dsn string
	if path == "" {
		dsn = "file::memory:"
	} else {
		dsn = "file:" + (&url.URL{Path: path}).EscapedPath()
	}
	dsn += "?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	if path != "" {
		dsn += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening lab database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := &Store{db: db}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("lab database %s: %w", path, err)
	}
	for _, q := range txQueries {
		if _, err := s.prepared(context.Background(), nil, q); err != nil {
			s.Close()
			return nil, fmt.Errorf("lab database %s: %w", path, err)
		}
	}
	return s, nil
}

// Ping checks that the database answers (the lab's health check).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the prepared statements and the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// prepared is query prepared once on the database and, with tx, bound to
// it (database/sql reuses the connection's prepared statement).
func (s *Store) prepared(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	v, ok := s.stmts.Load(query)
	if !ok && tx != nil {
		// The transaction holds the pool's one connection, so preparing on
		// the pool here would wait for it forever: prepare on the
		// transaction, for it only. Submissions' statements are prepared
		// at open (txQueries).
		return tx.PrepareContext(ctx, query)
	}
	if !ok {
		st, err := s.db.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		if v, ok = s.stmts.LoadOrStore(query, st); ok {
			st.Close()
		} else {
			v = st
		}
	}
	if tx != nil {
		return tx.StmtContext(ctx, v.(*sql.Stmt)), nil
	}
	return v.(*sql.Stmt), nil
}

// exec runs a prepared statement, in tx when it is not nil.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.prepared(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// query runs a prepared query, in tx when it is not nil.
func (s *Store) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := s.prepared(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow runs a prepared single-row query, in tx when it is not nil.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Row, error) {
	st, err := s.prepared(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > schemaVersion {
		return fmt.Errorf("schema version %d is newer than this lab understands (%d); run a newer genesis", v, schemaVersion)
	}
	for ; v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrating schema %d→%d: %w", v, v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}

const runColumns = `seq, id, idempotency_key, challenge, point, parameters, instrument, requester,
	status, result, error, attempts, submitted_at, started_at, finished_at, fault`

type scanner interface{ Scan(...any) error }

func scanRecord(sc scanner) (*Record, error) {
	var (
		r                   Record
		point, params       string
		result              sql.NullString
		submitted           string
		started, finished   sql.NullString
		status              string
		errMsg, instr, reqr string
	)
	if err := sc.Scan(&r.seq, &r.ID, &r.IdempotencyKey, &r.Challenge, &point, &params, &instr, &reqr,
		&status, &result, &errMsg, &r.Attempts, &submitted, &started, &finished, &r.Fault); err != nil {
		return nil, err
	}
	r.Instrument, r.Requester, r.Status, r.Error = instr, reqr, labclient.Status(status), errMsg
	if err := json.Unmarshal([]byte(point), &r.Point); err != nil {
		return nil, fmt.Errorf("run %s: bad stored point: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(params), &r.Parameters); err != nil {
		return nil, fmt.Errorf("run %s: bad stored parameters: %w", r.ID, err)
	}
	if result.Valid {
		r.Result = new(labclient.Result)
		if err := json.Unmarshal([]byte(result.String), r.Result); err != nil {
			return nil, fmt.Errorf("run %s: bad stored result: %w", r.ID, err)
		}
	}
	var err error
	if r.SubmittedAt, err = parseTime(submitted); err != nil {
		return nil, err
	}
	if r.StartedAt, err = parseNullTime(started); err != nil {
		return nil, err
	}
	if r.FinishedAt, err = parseNullTime(finished); err != nil {
		return nil, err
	}
	return &r, nil
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

func parseNullTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	return &t, err
}

// The statements a submission runs in its transaction, prepared at open
// (the rarer ones of faults and recovery are prepared in their
// transaction each time).
const (
	qRunByKey  = "SELECT " + runColumns + " FROM runs WHERE idempotency_key = ?"
	qInsertRun = `INSERT INTO runs (id, idempotency_key, challenge, point, parameters, instrument,
		requester, status, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

var txQueries = []string{qRunByKey, qInsertRun}

// InsertOrGet stores r unless a run with its idempotency key exists, in
// which case it returns that run and created=false.
func (s *Store) InsertOrGet(ctx context.Context, r *Record) (got *Record, created bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	row, err := s.queryRow(ctx, tx, qRunByKey, r.IdempotencyKey)
	if err != nil {
		return nil, false, err
	}
	old, err := scanRecord(row)
	if err == nil {
		return old, false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, false, err
	}
	point, err := json.Marshal(r.Point)
	if err != nil {
		return nil, false, err
	}
	params, err := json.Marshal(r.Parameters)
	if err != nil {
		return nil, false, err
	}
	res, err := s.exec(ctx, tx, qInsertRun,
		r.ID, r.IdempotencyKey, r.Challenge, string(point), string(params), r.Instrument,
		r.Requester, string(r.Status), fmtTime(r.SubmittedAt))
	if err != nil {
		return nil, false, err
	}
	if r.seq, err = res.LastInsertId(); err != nil {
		return nil, false, err
	}
	if err := tx.Commit(); err != nil {
		return nil, false, err
	}
	return r, true, nil
}

func (s *Store) Get(ctx context.Context, id string) (*Record, error) {
	row, err := s.queryRow(ctx, nil, "SELECT "+runColumns+" FROM runs WHERE id = ?", id)
	if err != nil {
		return nil, err
	}
	r, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return r, err
}

// Filter selects runs for List; zero fields do not filter.
type Filter struct {
	Requester, Challenge, Instrument string
	Status                           labclient.Status
	Limit                            int
}

func (s *Store) List(ctx context.Context, f Filter) ([]*Record, error) {
	var where []string
	var args []any
	add := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	add("requester", f.Requester)
	add("challenge", f.Challenge)
	add("instrument", f.Instrument)
	add("status", string(f.Status))
	q := "SELECT " + runColumns + " FROM runs"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq LIMIT ?"
	args = append(args, f.Limit)
	rows, err := s.query(ctx, nil, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Start moves a queued run to running and counts the attempt. It reports
// false when the run was not queued.
func (s *Store) Start(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := s.exec(ctx, nil, `UPDATE runs SET status = ?, started_at = ?, attempts = attempts + 1
		WHERE id = ? AND status = ?`, string(labclient.Running), fmtTime(at), id, string(labclient.Queued))
	return affected(res, err)
}

// Finish moves a run in one of the from states to a terminal state. It
// reports false when the run was in none of them.
func (s *Store) Finish(ctx context.Context, id string, to labclient.Status, result *labclient.Result, msg string, at time.Time, from ...labclient.Status) (bool, error) {
	var res sql.NullString
	if result != nil {
		b, err := json.Marshal(result)
		if err != nil {
			return false, err
		}
		res = sql.NullString{String: string(b), Valid: true}
	}
	args := []any{string(to), res, msg, fmtTime(at), id}
	marks := make([]string, len(from))
	for i, st := range from {
		marks[i] = "?"
		args = append(args, string(st))
	}
	r, err := s.exec(ctx, nil, `UPDATE runs SET status = ?, result = ?, error = ?, finished_at = ?
		WHERE id = ? AND status IN (`+strings.Join(marks, ", ")+`)`, args...)
	return affected(r, err)
}

// Fault records an instrument fault that hit a running run, in one
// transaction with what it does to the run: requeue on instrument (an
// offline instrument; the run will be measured later) or fail it (an
// instrument error or a lost sample; msg becomes the run's error). It
// reports false, recording nothing, when the run was no longer running.
func (s *Store) Fault(ctx context.Context, f labclient.Fault, requeueOn string) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var res sql.Result
	if requeueOn != "" {
		res, err = s.exec(ctx, tx, `UPDATE runs SET status = ?, started_at = NULL, instrument = ?, fault = ?
			WHERE id = ? AND status = ?`, string(labclient.Queued), requeueOn, f.Kind, f.Run, string(labclient.Running))
	} else {
		res, err = s.exec(ctx, tx, `UPDATE runs SET status = ?, error = ?, finished_at = ?, fault = ?
			WHERE id = ? AND status = ?`, string(labclient.Failed), f.Message, fmtTime(f.At), f.Kind, f.Run, string(labclient.Running))
	}
	if ok, err := affected(res, err); !ok || err != nil {
		return false, err
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO faults (at, instrument, run_id, kind, message) VALUES (?, ?, ?, ?, ?)`,
		fmtTime(f.At), f.Instrument, f.Run, f.Kind, f.Message); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// Faults lists recorded faults, oldest first; run selects one run's.
func (s *Store) Faults(ctx context.Context, run string, limit int) ([]labclient.Fault, error) {
	q := "SELECT seq, at, instrument, run_id, kind, message FROM faults"
	var args []any
	if run != "" {
		q += " WHERE run_id = ?"
		args = append(args, run)
	}
	q += " ORDER BY seq LIMIT ?"
	args = append(args, limit)
	rows, err := s.query(ctx, nil, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []labclient.Fault{}
	for rows.Next() {
		var f labclient.Fault
		var at string
		if err := rows.Scan(&f.Seq, &at, &f.Instrument, &f.Run, &f.Kind, &f.Message); err != nil {
			return nil, err
		}
		if f.At, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// SetInstrument moves a queued run to another instrument (used on recovery
// when its instrument is no longer configured).
func (s *Store) SetInstrument(ctx context.Context, id, instrument string) error {
	_, err := s.exec(ctx, nil, `UPDATE runs SET instrument = ? WHERE id = ? AND status = ?`,
		instrument, id, string(labclient.Queued))
	return err
}

// Recover re-queues runs that were running when the lab stopped (a run's
// measurement depends only on its key, so running it again gives the same
// value) and returns every queued run in submission order.
func (s *Store) Recover(ctx context.Context) (requeued int, queued []*Record, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback()
	res, err := s.exec(ctx, tx, `UPDATE runs SET status = ?, started_at = NULL WHERE status = ?`,
		string(labclient.Queued), string(labclient.Running))
	if err != nil {
		return 0, nil, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, nil, err
	}
	rows, err := s.query(ctx, tx, "SELECT "+runColumns+" FROM runs WHERE status = ? ORDER BY seq", string(labclient.Queued))
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return 0, nil, err
		}
		queued = append(queued, r)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	rows.Close()
	if err := tx.Commit(); err != nil {
		return 0, nil, err
	}
	return int(n), queued, nil
}

func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
