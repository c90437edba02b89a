// Package lab is an emulated robotic lab reachable over HTTP. Agents submit
// runs (a challenge and a design point); each instrument works through its
// own queue with a fixed number of slots; a run takes the challenge's lab
// duration, scaled by Config.TimeScale, and then measures the point with the
// challenge's lab model (the pool value plus replicate noise, reproducible
// by the run's idempotency key). Runs live in SQLite and survive restarts.
//
// The JSON types are shared with the client in
// github.com/genesis-sci/genesis/tools/lab.
package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genesis-sci/genesis/challenges"
	api "github.com/genesis-sci/genesis/tools/lab"
)

// DefaultTimeScale is the real seconds per lab second when Config.TimeScale is 0.
const DefaultTimeScale = 0.01

// DefaultAddr is the listen address when Config.Addr is empty.
const DefaultAddr = "127.0.0.1:8080"

// Config configures a Server.
type Config struct {
	// Addr is where Start listens (default DefaultAddr).
	Addr string
	// DBPath is the SQLite file holding runs and queues. Empty means an
	// in-memory database that does not survive Close.
	DBPath string
	// TimeScale is seconds of real time per lab second: a run takes
	// challenge.Lab.DurationSeconds × TimeScale seconds. 0 means
	// DefaultTimeScale; tests use e.g. 0.001.
	TimeScale float64
	// Catalog is the set of challenges the lab can run. Required.
	Catalog *challenges.Catalog
	// Instruments defaults to DefaultInstruments(Catalog).
	Instruments []Instrument
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Instrument is one robot: a name, how many runs it executes at once, and
// which challenges it can run.
type Instrument struct {
	Name     string
	Capacity int
	// Challenges lists the challenge IDs the instrument can run.
	Challenges []string
}

// DefaultInstruments is two robots, "robot-1" and "robot-2", each with two
// slots and able to run every challenge in the catalog.
func DefaultInstruments(cat *challenges.Catalog) []Instrument {
	return []Instrument{
		{Name: "robot-1", Capacity: 2, Challenges: cat.IDs()},
		{Name: "robot-2", Capacity: 2, Challenges: cat.IDs()},
	}
}

// Server is the lab service: an HTTP API over a persistent scheduler.
// The scheduler starts in New; Close stops it.
type Server struct {
	cfg     Config
	cat     *challenges.Catalog
	st      *store
	log     *slog.Logger
	handler http.Handler

	// ctx is cancelled by Close; every run goroutine derives from it.
	ctx    context.Context
	cancel context.CancelFunc
	runs   sync.WaitGroup // run goroutines

	// mu guards the scheduler state below. Every run state change happens
	// under mu, and mu is always taken before the database (never while
	// holding a transaction), so the in-memory queues and the stored
	// statuses move together.
	mu      sync.Mutex
	closed  bool
	insts   []*instrument
	byName  map[string]*instrument
	running map[string]context.CancelFunc

	measurements atomic.Int64

	httpMu    sync.Mutex
	httpSrvs  []*http.Server
	serving   sync.WaitGroup // Serve goroutines started by Start
	addr      net.Addr
	stopStart func() bool
	closeOnce sync.Once
	closeErr  error
}

// instrument is an Instrument's live state.
type instrument struct {
	Instrument
	can   map[string]bool
	queue []*job
	busy  int
}

// job is what a run goroutine needs: everything is already validated.
type job struct {
	id    string
	key   string
	ch    *challenges.Challenge
	point challenges.Point
}

func (in *instrument) load() float64 {
	return float64(len(in.queue)+in.busy) / float64(in.Capacity)
}

// New opens the database, recovers runs interrupted by a previous stop and
// starts the scheduler. Serve the API with Handler, Serve or Start; release
// everything with Close.
func New(cfg Config) (*Server, error) {
	if cfg.Catalog == nil {
		return nil, errors.New("lab: Config.Catalog is required (use challenges.Open)")
	}
	switch {
	case cfg.TimeScale == 0:
		cfg.TimeScale = DefaultTimeScale
	case cfg.TimeScale < 0 || math.IsNaN(cfg.TimeScale) || math.IsInf(cfg.TimeScale, 0):
		return nil, fmt.Errorf("lab: TimeScale %v must be a finite number ≥ 0 (seconds of real time per lab second)", cfg.TimeScale)
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Instruments == nil {
		cfg.Instruments = DefaultInstruments(cfg.Catalog)
	}
	s := &Server{
		cfg:     cfg,
		cat:     cfg.Catalog,
		log:     cfg.Logger.With("component", "lab"),
		byName:  map[string]*instrument{},
		running: map[string]context.CancelFunc{},
	}
	if len(cfg.Instruments) == 0 {
		return nil, errors.New("lab: at least one instrument is required")
	}
	for i, in := range cfg.Instruments {
		if in.Name == "" {
			return nil, fmt.Errorf("lab: instrument %d has no name", i)
		}
		if _, dup := s.byName[in.Name]; dup {
			return nil, fmt.Errorf("lab: instrument %q is configured twice", in.Name)
		}
		if in.Capacity < 1 {
			return nil, fmt.Errorf("lab: instrument %q: capacity %d must be ≥ 1", in.Name, in.Capacity)
		}
		li := &instrument{Instrument: in, can: map[string]bool{}}
		li.Challenges = append([]string(nil), in.Challenges...)
		for _, id := range in.Challenges {
			if _, err := s.cat.Get(id); err != nil {
				return nil, fmt.Errorf("lab: instrument %q: %w", in.Name, err)
			}
			li.can[id] = true
		}
		s.insts = append(s.insts, li)
		s.byName[in.Name] = li
	}

	st, err := openStore(cfg.DBPath)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	s.st = st
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.handler = s.routes()
	if err := s.recover(); err != nil {
		s.cancel()
		st.Close()
		return nil, fmt.Errorf("lab: recovering queued runs: %w", err)
	}
	return s, nil
}

// recover loads queued runs (after re-queuing interrupted ones) into the
// instrument queues and starts whatever fits.
func (s *Server) recover() error {
	ctx := context.Background()
	requeued, recs, err := s.st.recover(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		fail := func(msg string) error {
			s.log.Warn("failing recovered run", "run", r.ID, "reason", msg)
			_, err := s.st.finish(ctx, r.ID, api.Failed, nil, msg, time.Now(), api.Queued)
			return err
		}
		ch, err := s.cat.Get(r.Challenge)
		if err != nil {
			if err := fail(fmt.Sprintf("challenge %q is no longer in the lab's catalog", r.Challenge)); err != nil {
				return err
			}
			continue
		}
		if err := ch.CheckPoint(r.point); err != nil {
			if err := fail("stored point no longer fits the challenge: " + err.Error()); err != nil {
				return err
			}
			continue
		}
		in := s.byName[r.Instrument]
		if in == nil || !in.can[ch.ID] {
			in = s.pickLocked(ch.ID)
			if in == nil {
				if err := fail(fmt.Sprintf("no configured instrument can run challenge %q", ch.ID)); err != nil {
					return err
				}
				continue
			}
			if err := s.st.setInstrument(ctx, r.ID, in.Name); err != nil {
				return err
			}
			s.log.Info("moved recovered run to another instrument", "run", r.ID, "from", r.Instrument, "to", in.Name)
		}
		in.queue = append(in.queue, &job{id: r.ID, key: r.IdempotencyKey, ch: ch, point: r.point})
	}
	if len(recs) > 0 {
		s.log.Info("recovered runs", "queued", len(recs), "interrupted", requeued)
	}
	s.dispatchLocked()
	return nil
}

// pickLocked returns the least loaded instrument that can run the
// challenge (ties go to the first configured), or nil.
func (s *Server) pickLocked(challenge string) *instrument {
	var best *instrument
	for _, in := range s.insts {
		if in.can[challenge] && (best == nil || in.load() < best.load()) {
			best = in
		}
	}
	return best
}

// dispatchLocked starts queued runs on every instrument with a free slot.
func (s *Server) dispatchLocked() {
	if s.closed {
		return
	}
	for _, in := range s.insts {
		for in.busy < in.Capacity && len(in.queue) > 0 {
			j := in.queue[0]
			ok, err := s.st.start(context.Background(), j.id, time.Now())
			if err != nil {
				// Leave it at the head of the queue; the next event
				// (submit, finish, abort) tries again.
				s.log.Error("cannot start run", "run", j.id, "err", err)
				break
			}
			in.queue = in.queue[1:]
			if !ok {
				s.log.Warn("queued run was not queued in the database; dropping it from the queue", "run", j.id)
				continue
			}
			in.busy++
			ctx, cancel := context.WithCancel(s.ctx)
			s.running[j.id] = cancel
			s.runs.Add(1)
			go s.execute(ctx, in, j)
		}
	}
}

// duration is how long a run of ch takes in real time.
func (s *Server) duration(ch *challenges.Challenge) time.Duration {
	return time.Duration(ch.Lab.DurationSeconds * s.cfg.TimeScale * float64(time.Second))
}

// execute runs one job on a slot of in. Cancelling ctx (abort or Close)
// frees the slot without touching the stored status: an abort has already
// stored it, and on Close the run stays "running" so the next start
// re-queues it.
func (s *Server) execute(ctx context.Context, in *instrument, j *job) {
	defer s.runs.Done()
	t := time.NewTimer(s.duration(j.ch))
	defer t.Stop()
	select {
	case <-ctx.Done():
		s.mu.Lock()
		s.releaseLocked(in, j.id)
		s.mu.Unlock()
		return
	case <-t.C:
	}

	values, err := j.ch.Measure(j.point, j.key)
	s.measurements.Add(1)
	status, msg := api.Succeeded, ""
	var result *api.Result
	if err != nil {
		status, msg = api.Failed, "measurement failed: "+err.Error()
	} else {
		result = &api.Result{Values: make(map[string]float64, len(values))}
		for k, o := range j.ch.Objectives {
			result.Values[o.Name] = values[k]
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() == nil { // not aborted or closed while measuring
		if _, err := s.st.finish(context.Background(), j.id, status, result, msg, time.Now(), api.Running); err != nil {
			// The run stays "running" in the database; a restart re-runs it.
			s.log.Error("cannot store run result", "run", j.id, "err", err)
		} else {
			s.log.Debug("run finished", "run", j.id, "status", status)
		}
	}
	s.releaseLocked(in, j.id)
}

func (s *Server) releaseLocked(in *instrument, id string) {
	if cancel, ok := s.running[id]; ok {
		cancel()
		delete(s.running, id)
	}
	in.busy--
	s.dispatchLocked()
}

// Measurements is the number of lab measurements taken since New.
func (s *Server) Measurements() int64 { return s.measurements.Load() }

// Handler returns the HTTP API.
func (s *Server) Handler() http.Handler { return s.handler }

// Addr is the address Start listens on, once it has started.
func (s *Server) Addr() net.Addr {
	s.httpMu.Lock()
	defer s.httpMu.Unlock()
	return s.addr
}

// Start listens on Config.Addr and serves the API in the background. It
// returns once the listener is bound (so a busy port is reported at once).
// The server stops, as with Close, when ctx ends.
func (s *Server) Start(ctx context.Context) error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("lab: listening on %s: %w", s.cfg.Addr, err)
	}
	s.httpMu.Lock()
	s.addr = l.Addr()
	s.stopStart = context.AfterFunc(ctx, func() { s.Close() })
	s.serving.Add(1)
	s.httpMu.Unlock()
	go func() {
		defer s.serving.Done()
		if err := s.Serve(l); err != nil {
			s.log.Error("lab server stopped", "err", err)
		}
	}()
	s.log.Info("lab listening", "addr", l.Addr().String(), "time_scale", s.cfg.TimeScale)
	return nil
}

// Serve serves the API on l until Close; it then returns nil.
func (s *Server) Serve(l net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.httpMu.Lock()
	if s.isClosed() {
		s.httpMu.Unlock()
		l.Close()
		return http.ErrServerClosed
	}
	s.httpSrvs = append(s.httpSrvs, hs)
	s.httpMu.Unlock()
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting requests, drains HTTP servers started by Serve or
// Start (up to 5 s), stops the scheduler without changing the state of
// running runs (the next New re-queues them) and closes the database.
// It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()

		s.httpMu.Lock()
		srvs := s.httpSrvs
		if s.stopStart != nil {
			s.stopStart()
		}
		s.httpMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for _, hs := range srvs {
			if err := hs.Shutdown(ctx); err != nil {
				hs.Close()
			}
		}
		cancel()
		s.serving.Wait()

		s.cancel()
		s.runs.Wait()
		s.closeErr = s.st.Close()
	})
	return s.closeErr
}

var _ io.Closer = (*Server)(nil)
