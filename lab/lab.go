// Package lab is an emulated robotic lab reachable over HTTP. Agents submit
// runs (a challenge and a design point); each instrument works through its
// own queue with a fixed number of slots; a run takes the challenge's lab
// duration, scaled by Config.TimeScale, and then measures the point with the
// challenge's lab model (the pool value plus replicate noise, reproducible
// by the run's idempotency key). Runs live in SQLite (package
// lab/internal/runstore) and survive restarts.
//
// The JSON types are shared with the client in
// github.com/genesis-sci/genesis/tools/labclient.
package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/lab/internal/runstore"
	"github.com/genesis-sci/genesis/tools/labclient"
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

	// FaultRate is the probability that a run attempt hits an instrument
	// fault (0 disables faults; at most 1).
	FaultRate float64
	// FaultKinds limits which faults happen (default every kind in
	// labclient.FaultKinds, equally likely).
	FaultKinds []string
	// OfflineSeconds is how long an instrument stays offline after an
	// offline fault, in lab seconds scaled by TimeScale (default 600).
	OfflineSeconds float64
	// FaultSeed seeds the fault draws (0: from the clock).
	FaultSeed uint64
	// FaultFunc, when set, replaces the random draw: it is called once per
	// run attempt and returns the fault kind to inject ("" for none). For
	// tests and scripted demonstrations.
	FaultFunc func(run string) string

	// Token, when not empty, is the bearer token every request except
	// GET /health must carry ("Authorization: Bearer <token>").
	Token string

	// FitAtStart fits the emulator of every challenge the instruments
	// serve in New, so that no run waits on a fit and a model that cannot
	// be fitted refuses the start instead of failing runs. Every fit is
	// bounded (challenges.MaxGPPoints); the built-in catalog takes about
	// 2 s. lab serve sets it; tests and in-process labs fit on first use.
	FitAtStart bool
}

// DefaultOfflineSeconds is how long an instrument stays offline, in lab seconds.
const DefaultOfflineSeconds = 600

// Instrument is one robot: a name, how many runs it executes at once, how
// long a run takes, and which challenges it can run.
type Instrument struct {
	Name     string `yaml:"name"`
	Capacity int    `yaml:"capacity"`
	// DurationSeconds is how long one run takes on this instrument, in lab
	// seconds; 0 means each challenge's own lab duration.
	DurationSeconds float64 `yaml:"duration_seconds"`
	// Challenges lists the challenge IDs the instrument can run.
	Challenges []string `yaml:"challenges"`
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
	st      *runstore.Store
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
	running map[string]context.CancelCauseFunc
	faultMu sync.Mutex // guards faultRNG
	rng     *rand.Rand
	// changed is closed (and replaced) whenever a run may have changed
	// state, waking long polls.
	changed chan struct{}

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
	can     map[string]bool
	queue   []*job
	busy    int
	running map[string]*job
	// offlineUntil is set while the instrument is offline after a fault.
	offlineUntil time.Time
	faults       int
}

func (in *instrument) online(now time.Time) bool { return !now.Before(in.offlineUntil) }

// errOffline is the cancellation cause of runs interrupted by their
// instrument going offline: they are queued again, not lost.
var errOffline = errors.New("instrument went offline")

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
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		cat:     cfg.Catalog,
		log:     cfg.Logger.With("component", "lab"),
		byName:  map[string]*instrument{},
		running: map[string]context.CancelCauseFunc{},
		changed: make(chan struct{}),
	}
	seed := cfg.FaultSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	s.rng = rand.New(rand.NewPCG(seed, seed^0xda942042e4dd58b5))
	if err := s.addInstruments(cfg.Instruments); err != nil {
		return nil, err
	}
	if cfg.FitAtStart {
		if err := s.fitEmulators(); err != nil {
			return nil, err
		}
	}
	st, err := runstore.Open(cfg.DBPath)
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

// withDefaults checks the configuration and fills what was left out.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Catalog == nil {
		return cfg, errors.New("lab: Config.Catalog is required (use challenges.Open)")
	}
	switch {
	case cfg.TimeScale == 0:
		cfg.TimeScale = DefaultTimeScale
	case cfg.TimeScale < 0 || math.IsNaN(cfg.TimeScale) || math.IsInf(cfg.TimeScale, 0):
		return cfg, fmt.Errorf("lab: TimeScale %v must be a finite number ≥ 0 (seconds of real time per lab second)", cfg.TimeScale)
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
	switch {
	case cfg.FaultRate < 0 || cfg.FaultRate > 1 || math.IsNaN(cfg.FaultRate):
		return cfg, fmt.Errorf("lab: FaultRate %v must be in [0, 1]", cfg.FaultRate)
	case cfg.OfflineSeconds < 0:
		return cfg, fmt.Errorf("lab: OfflineSeconds %v must be ≥ 0", cfg.OfflineSeconds)
	}
	if cfg.OfflineSeconds == 0 {
		cfg.OfflineSeconds = DefaultOfflineSeconds
	}
	if len(cfg.FaultKinds) == 0 {
		cfg.FaultKinds = labclient.FaultKinds
	}
	for _, k := range cfg.FaultKinds {
		if !slices.Contains(labclient.FaultKinds, k) {
			return cfg, fmt.Errorf("lab: unknown fault kind %q; kinds: %s", k, strings.Join(labclient.FaultKinds, ", "))
		}
	}
	if len(cfg.Instruments) == 0 {
		return cfg, errors.New("lab: at least one instrument is required")
	}
	return cfg, nil
}

// addInstruments checks each configured instrument and adds its live state.
func (s *Server) addInstruments(ins []Instrument) error {
	for i, in := range ins {
		if in.Name == "" {
			return fmt.Errorf("lab: instrument %d has no name", i)
		}
		if _, dup := s.byName[in.Name]; dup {
			return fmt.Errorf("lab: instrument %q is configured twice", in.Name)
		}
		if in.Capacity < 1 {
			return fmt.Errorf("lab: instrument %q: capacity %d must be ≥ 1", in.Name, in.Capacity)
		}
		if in.DurationSeconds < 0 {
			return fmt.Errorf("lab: instrument %q: duration_seconds %v must be ≥ 0", in.Name, in.DurationSeconds)
		}
		li := &instrument{Instrument: in, can: map[string]bool{}, running: map[string]*job{}}
		li.Challenges = append([]string(nil), in.Challenges...)
		for _, id := range in.Challenges {
			if _, err := s.cat.Get(id); err != nil {
				return fmt.Errorf("lab: instrument %q: %w", in.Name, err)
			}
			li.can[id] = true
		}
		s.insts = append(s.insts, li)
		s.byName[in.Name] = li
	}
	return nil
}

// fitEmulators fits the lab model of every challenge an instrument serves
// (see Config.FitAtStart).
func (s *Server) fitEmulators() error {
	start, fitted := time.Now(), 0
	seen := map[string]bool{}
	for _, in := range s.insts {
		for _, id := range in.Challenges {
			if seen[id] {
				continue
			}
			seen[id] = true
			ch, err := s.cat.Get(id)
			if err != nil {
				return fmt.Errorf("lab: %w", err)
			}
			if ch.EmulatorReady() {
				continue
			}
			if err := ch.PrepareEmulator(); err != nil {
				return fmt.Errorf("lab: %w", err)
			}
			fitted++
		}
	}
	s.log.Info("lab models fitted", "challenges", fitted, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// recover loads queued runs (after re-queuing interrupted ones) into the
// instrument queues and starts whatever fits.
func (s *Server) recover() error {
	ctx := context.Background()
	requeued, recs, err := s.st.Recover(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		fail := func(msg string) error {
			s.log.Warn("failing recovered run", "run", r.ID, "reason", msg)
			_, err := s.st.Finish(ctx, r.ID, labclient.Failed, nil, msg, time.Now(), labclient.Queued)
			return err
		}
		ch, err := s.cat.Get(r.Challenge)
		if err != nil {
			if err := fail(fmt.Sprintf("challenge %q is no longer in the lab's catalog", r.Challenge)); err != nil {
				return err
			}
			continue
		}
		if err := ch.CheckPoint(r.Point); err != nil {
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
			if err := s.st.SetInstrument(ctx, r.ID, in.Name); err != nil {
				return err
			}
			s.log.Info("moved recovered run to another instrument", "run", r.ID, "from", r.Instrument, "to", in.Name)
		}
		in.queue = append(in.queue, &job{id: r.ID, key: r.IdempotencyKey, ch: ch, point: r.Point})
	}
	if len(recs) > 0 {
		s.log.Info("recovered runs", "queued", len(recs), "interrupted", requeued)
	}
	s.dispatchLocked()
	return nil
}

// pickLocked returns the least loaded online instrument that can run the
// challenge (ties go to the first configured); when every such instrument
// is offline, the one back soonest; nil when none can run it.
func (s *Server) pickLocked(challenge string) *instrument {
	return s.pickExceptLocked(challenge, nil)
}

func (s *Server) pickExceptLocked(challenge string, except *instrument) *instrument {
	now := time.Now()
	var best, back *instrument
	for _, in := range s.insts {
		if !in.can[challenge] || in == except {
			continue
		}
		if in.online(now) {
			if best == nil || in.load() < best.load() {
				best = in
			}
		} else if back == nil || in.offlineUntil.Before(back.offlineUntil) {
			back = in
		}
	}
	if best == nil {
		return back
	}
	return best
}

// dispatchLocked starts queued runs on every instrument with a free slot.
func (s *Server) dispatchLocked() {
	if s.closed {
		return
	}
	now := time.Now()
	for _, in := range s.insts {
		for in.online(now) && in.busy < in.Capacity && len(in.queue) > 0 {
			j := in.queue[0]
			ok, err := s.st.Start(context.Background(), j.id, time.Now())
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
			in.running[j.id] = j
			ctx, cancel := context.WithCancelCause(s.ctx)
			s.running[j.id] = cancel
			s.runs.Add(1)
			go s.execute(ctx, in, j)
		}
	}
}

// duration is how long a run of ch takes on in, in real time.
func (s *Server) duration(in *instrument, ch *challenges.Challenge) time.Duration {
	secs := ch.Lab.DurationSeconds
	if in.DurationSeconds > 0 {
		secs = in.DurationSeconds
	}
	return time.Duration(secs * s.cfg.TimeScale * float64(time.Second))
}

// drawFault decides whether a run attempt hits a fault, which kind, and
// at what fraction of the run's duration.
func (s *Server) drawFault(run string) (kind string, at float64) {
	if s.cfg.FaultFunc != nil {
		if k := s.cfg.FaultFunc(run); slices.Contains(labclient.FaultKinds, k) {
			return k, 0.5
		}
		return "", 1
	}
	if s.cfg.FaultRate == 0 {
		return "", 1
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if s.rng.Float64() >= s.cfg.FaultRate {
		return "", 1
	}
	return s.cfg.FaultKinds[s.rng.IntN(len(s.cfg.FaultKinds))], s.rng.Float64()
}

// Messages for faults, picked by the run's ID so they vary but reproduce.
var faultReasons = map[string][]string{
	labclient.FaultInstrumentError: {"gripper failed to pick up the vial", "dispensing pump pressure out of range", "heater did not reach the set point", "stage position error"},
	labclient.FaultSampleLost:      {"vial dropped during transfer", "sample evaporated before measurement", "sample contaminated; measurement discarded"},
	labclient.FaultOffline:         {"emergency stop pressed", "lost connection to the controller", "scheduled recalibration"},
}

func faultReason(kind, id string) string {
	rs := faultReasons[kind]
	var h uint32
	for _, c := range id {
		h = h*31 + uint32(c)
	}
	return rs[int(h%uint32(len(rs)))]
}

// execute runs one job on a slot of in. Cancelling ctx frees the slot:
// an abort has already stored the run's state; on Close the run stays
// "running" so the next start re-queues it; when the instrument went
// offline (cause errOffline) the run is queued again here.
func (s *Server) execute(ctx context.Context, in *instrument, j *job) {
	defer s.runs.Done()
	fault, frac := s.drawFault(j.id)
	t := time.NewTimer(time.Duration(frac * float64(s.duration(in, j.ch))))
	defer t.Stop()
	select {
	case <-ctx.Done():
		s.mu.Lock()
		s.interruptedLocked(ctx, in, j)
		s.releaseLocked(in, j.id)
		s.mu.Unlock()
		return
	case <-t.C:
	}
	if fault != "" {
		s.mu.Lock()
		if ctx.Err() == nil {
			s.faultLocked(in, j, fault)
		} else {
			s.interruptedLocked(ctx, in, j)
		}
		s.releaseLocked(in, j.id)
		s.mu.Unlock()
		return
	}

	values, err := j.ch.Measure(j.point, j.key)
	s.measurements.Add(1)
	status, msg := labclient.Succeeded, ""
	var result *labclient.Result
	if err != nil {
		status, msg = labclient.Failed, "measurement failed: "+err.Error()
	} else {
		result = &labclient.Result{Values: make(map[string]float64, len(values))}
		for k, o := range j.ch.Objectives {
			result.Values[o.Name] = values[k]
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() == nil { // not aborted, closed or interrupted while measuring
		if _, err := s.st.Finish(context.Background(), j.id, status, result, msg, time.Now(), labclient.Running); err != nil {
			// The run stays "running" in the database; a restart re-runs it.
			s.log.Error("cannot store run result", "run", j.id, "err", err)
		} else {
			s.log.Debug("run finished", "run", j.id, "status", status)
		}
	} else {
		s.interruptedLocked(ctx, in, j)
	}
	s.releaseLocked(in, j.id)
}

// interruptedLocked handles a run whose context ended: when its instrument
// went offline the run is queued again (an abort has already stored the
// run's state; on Close it stays "running" for the next start).
func (s *Server) interruptedLocked(ctx context.Context, in *instrument, j *job) {
	if errors.Is(context.Cause(ctx), errOffline) && !s.closed {
		s.requeueLocked(in, j, labclient.Fault{At: time.Now().UTC(), Instrument: in.Name, Run: j.id, Kind: labclient.FaultOffline,
			Message: fmt.Sprintf("instrument %s went offline during the run; the run is queued again", in.Name)})
	}
}

// faultLocked applies a fault that hit run j on in.
func (s *Server) faultLocked(in *instrument, j *job, kind string) {
	now := time.Now().UTC()
	in.faults++
	f := labclient.Fault{At: now, Instrument: in.Name, Run: j.id, Kind: kind}
	switch kind {
	case labclient.FaultInstrumentError:
		f.Message = fmt.Sprintf("instrument %s fault: %s; nothing was measured. Submit again with a new idempotency key to retry", in.Name, faultReason(kind, j.id))
	case labclient.FaultSampleLost:
		f.Message = fmt.Sprintf("sample lost on %s: %s; nothing was measured. Submit again with a new idempotency key to retry", in.Name, faultReason(kind, j.id))
	case labclient.FaultOffline:
		off := time.Duration(s.cfg.OfflineSeconds * s.cfg.TimeScale * float64(time.Second))
		in.offlineUntil = now.Add(off)
		f.Message = fmt.Sprintf("instrument %s went offline (%s) until %s; the run is queued again", in.Name, faultReason(kind, j.id), in.offlineUntil.Format(time.RFC3339))
		s.log.Warn("instrument offline", "instrument", in.Name, "for", off, "run", j.id)
		s.requeueLocked(in, j, f)
		// Interrupt its other runs (they requeue themselves) and move its
		// queue to instruments that can take it.
		for id := range in.running {
			if id != j.id {
				s.running[id](errOffline)
			}
		}
		var keep []*job
		for _, q := range in.queue {
			if to := s.pickExceptLocked(q.ch.ID, in); to != nil && to.online(now) {
				if err := s.st.SetInstrument(context.Background(), q.id, to.Name); err == nil {
					to.queue = append(to.queue, q)
					continue
				}
			}
			keep = append(keep, q)
		}
		in.queue = keep
		time.AfterFunc(off, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !s.closed && !time.Now().Before(in.offlineUntil) {
				s.log.Info("instrument back online", "instrument", in.Name)
				s.dispatchLocked()
			}
		})
		return
	}
	if ok, err := s.st.Fault(context.Background(), f, ""); err != nil {
		// The run stays "running" in the database; a restart re-runs it.
		s.log.Error("cannot store fault", "run", j.id, "err", err)
	} else if ok {
		s.log.Info("run failed by a fault", "run", j.id, "kind", kind, "instrument", in.Name)
	}
}

// requeueLocked puts an interrupted run back in a queue: on another
// online instrument that can run it, else at the head of its own queue.
func (s *Server) requeueLocked(in *instrument, j *job, f labclient.Fault) {
	to := s.pickExceptLocked(j.ch.ID, in)
	if to == nil || !to.online(time.Now()) {
		to = in
	}
	ok, err := s.st.Fault(context.Background(), f, to.Name)
	if err != nil {
		s.log.Error("cannot requeue interrupted run", "run", j.id, "err", err)
		return
	}
	if !ok {
		return
	}
	to.queue = append([]*job{j}, to.queue...)
}

// notifyLocked wakes everyone waiting for a run to change.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// changes returns the channel the next change closes.
func (s *Server) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *Server) releaseLocked(in *instrument, id string) {
	defer s.notifyLocked()
	if cancel, ok := s.running[id]; ok {
		cancel(nil)
		delete(s.running, id)
	}
	delete(in.running, id)
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
