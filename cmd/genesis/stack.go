package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/spf13/pflag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/devserver"
	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/memory/embedded"
	"github.com/genesis-sci/genesis/memory/qdrant"
	"github.com/genesis-sci/genesis/tools/hpc"
	labclient "github.com/genesis-sci/genesis/tools/lab"
	"github.com/genesis-sci/genesis/workflows"
)

// stackOptions say which parts of Genesis a command brings up.
type stackOptions struct {
	temporal  string  // external Temporal host:port; "" starts the dev server
	uiPort    int     // Temporal UI port for the dev server (0 = headless)
	tport     int     // Temporal frontend port for the dev server
	labURL    string  // external lab; "" starts the lab service in-process
	labAddr   string  // where the in-process lab listens
	labToken  string  // file with the lab's bearer token (see labToken)
	faultRate float64 // in-process lab's fault rate
	timeScale float64 // lab time scale
	simScale  float64 // simulation time scale
	hpcSlots  int
	hpc       string        // default executor for simulation jobs: local or slurm
	poll      time.Duration // how often the worker polls lab runs and jobs (0 = default)
	embedder  string        // memory embedder spec, or "auto"
	qdrantURL string        // Qdrant gRPC URL for the memory; "" = the embedded store
	slurm     slurmOptions
	worker    bool
	logFile   string
	// relaxedSync: the dev server started here trades durability against
	// power loss for commit speed (devserver.Options.RelaxedSync).
	relaxedSync bool
}

// stack is a running set of parts; close stops them in reverse order.
type stack struct {
	cfg      *config
	cat      *challenges.Catalog
	dev      *devserver.Server
	tc       client.Client
	lab      *lab.Server
	labURL   string
	labToken string
	worker   worker.Worker
	// streams carries chat replies from this process's worker to its API.
	streams  *workflows.Streams
	mem      memory.Store
	emb      memory.Embedder
	closers  []func()
	logger   *slog.Logger
	temporal string
}

func (s *stack) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

func startStack(ctx context.Context, cfg *config, cat *challenges.Catalog, o stackOptions) (st *stack, err error) {
	if o.hpc != "" && o.hpc != "local" && o.hpc != "slurm" {
		return nil, fmt.Errorf("--hpc %q: want local or slurm", o.hpc)
	}
	if err := os.MkdirAll(cfg.home, 0o755); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", cfg.home, err)
	}
	logPath := o.logFile
	if logPath == "" {
		logPath = filepath.Join(cfg.home, "logs", "genesis.log")
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(lf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st = &stack{cfg: cfg, cat: cat, logger: logger}
	st.closers = append(st.closers, func() { lf.Close() })
	defer func() {
		if err != nil {
			st.close()
		}
	}()

	st.temporal = o.temporal
	if st.temporal == "" {
		port := o.tport
		if port == 0 {
			port = 7233
		}
		st.dev, err = devserver.Start(ctx, devserver.Options{DBFile: filepath.Join(cfg.home, "temporal.db"), Port: port, UIPort: o.uiPort,
			LogFile: filepath.Join(cfg.home, "logs", "temporal.log"), RelaxedSync: o.relaxedSync})
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, func() { _ = st.dev.Stop() })
		st.temporal = st.dev.Addr()
	}
	copts := devserver.ClientOptions(st.temporal)
	copts.Logger = log.NewStructuredLogger(logger)
	st.tc, err = client.Dial(copts)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s: %w (start one with `genesis dev`, or drop --temporal to let genesis start its own)", st.temporal, err)
	}
	st.closers = append(st.closers, st.tc.Close)

	st.labURL = o.labURL
	// The in-process lab has a token too (created on first use), so a lab
	// listening on a port is never open; clients of an external lab send
	// the token they are given, if any.
	st.labToken, err = labToken(cfg.home, o.labToken, st.labURL == "")
	if err != nil {
		return nil, err
	}
	if st.labURL == "" {
		st.lab, err = lab.New(lab.Config{DBPath: filepath.Join(cfg.home, "lab.db"), TimeScale: o.timeScale, Catalog: cat, Logger: logger,
			Token: st.labToken, FaultRate: o.faultRate})
		if err != nil {
			return nil, fmt.Errorf("lab service: %w", err)
		}
		addr := o.labAddr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			st.lab.Close()
			return nil, fmt.Errorf("lab service: %w (pick another address with --lab-addr)", err)
		}
		go func() { _ = st.lab.Serve(ln) }()
		st.closers = append(st.closers, func() { st.lab.Close() })
		st.labURL = "http://" + ln.Addr().String()
	}

	if o.worker {
		if err := st.startWorker(o); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (s *stack) startWorker(o stackOptions) error {
	emb, mem, err := openMemory(context.Background(), s.cfg.home, o.embedder, o.qdrantURL, s.logger)
	if err != nil {
		return err
	}
	s.mem, s.emb = mem, emb
	s.closers = append(s.closers, func() { mem.Close() })
	slots := o.hpcSlots
	if slots <= 0 {
		slots = 2
	}
	local, err := hpc.NewLocal(filepath.Join(s.cfg.home, "jobs"), slots)
	if err != nil {
		return err
	}
	executors := map[string]hpc.Executor{"local": local}
	var ex hpc.Executor = local
	switch o.hpc {
	case "", "local":
	case "slurm":
		sl, err := o.slurm.open(s.cfg.home)
		if err != nil {
			return err
		}
		executors["slurm"], ex = sl, sl
	default:
		return fmt.Errorf("--hpc %q: want local or slurm", o.hpc)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	acts := &workflows.Activities{
		Catalog: s.cat, ModelConfig: agents.ModelConfigFromEnv(),
		Lab: labclient.New(s.labURL, &http.Client{Timeout: 30 * time.Second}).WithToken(s.labToken), HPC: ex, Executors: executors, SimCommand: []string{self, "sim"}, Temporal: s.tc,
		ChallengesDir: s.cfg.challengesDir, SimTimeScale: o.simScale, Poll: o.poll, Memory: mem, Embedder: emb, DataDir: s.cfg.home, Temperature: 0.2,
		Streams: workflows.NewStreams(),
	}
	s.streams = acts.Streams
	s.worker = worker.New(s.tc, workflows.TaskQueue, workflows.WorkerOptions())
	workflows.Register(s.worker, acts)
	if err := s.worker.Start(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	s.closers = append(s.closers, s.worker.Stop)
	return nil
}

// serveHTTP serves h on addr until ctx ends.
func serveHTTP(addr string, h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("listening on %s: %w (choose another with --addr)", addr, err)
	}
	srv := api.NewHTTPServer(h) // timeouts; caps connections without a valid token
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "http:", err)
		}
	}()
	stop := func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(c)
	}
	return ln.Addr().String(), stop, nil
}

// slurmOptions configure the Slurm executor.
type slurmOptions struct {
	dir, partition, account string
}

func (o slurmOptions) open(home string) (*hpc.Slurm, error) {
	dir := o.dir
	if dir == "" {
		dir = filepath.Join(home, "slurm-jobs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sl, err := hpc.NewSlurm(ctx, dir)
	if err != nil {
		return nil, err
	}
	sl.Partition, sl.Account = o.partition, o.account
	return sl, nil
}

// hpcFlags adds the executor flags every command that runs a worker takes.
func hpcFlags(f *pflag.FlagSet, so *stackOptions) {
	embedderFlag(f, &so.embedder, &so.qdrantURL)
	f.IntVar(&so.hpcSlots, "hpc-slots", 2, "simulation jobs that may run at once on the local executor")
	f.StringVar(&so.hpc, "hpc", envOr("GENESIS_HPC", "local"), "executor for simulation jobs: local (subprocesses) or slurm (sbatch on the cluster this machine submits to) (env GENESIS_HPC)")
	f.StringVar(&so.slurm.dir, "slurm-dir", os.Getenv("GENESIS_SLURM_DIR"), "Slurm job directories, on a file system the compute nodes share (default $GENESIS_HOME/slurm-jobs; env GENESIS_SLURM_DIR)")
	f.StringVar(&so.slurm.partition, "slurm-partition", os.Getenv("GENESIS_SLURM_PARTITION"), "Slurm partition for simulation jobs (env GENESIS_SLURM_PARTITION)")
	f.StringVar(&so.slurm.account, "slurm-account", os.Getenv("GENESIS_SLURM_ACCOUNT"), "Slurm account to charge (env GENESIS_SLURM_ACCOUNT)")
}

// openMemory opens the embedded memory store for an embedder spec. "auto"
// (the default) uses the Ollama embedding model deploy/ollama provisions
// when it answers, else the model-free hashing embedder. Each embedder has
// its own store directory, $GENESIS_HOME/memory/<embedder>, since vectors
// from different embedders cannot be compared.
//
// With qdrantURL the memory lives in Qdrant instead (collection
// genesis-memory-<embedder>), shared by every worker that points at it.
func openMemory(ctx context.Context, home, spec, qdrantURL string, logger *slog.Logger) (memory.Embedder, memory.Store, error) {
	cfg := agents.ModelConfigFromEnv()
	var emb memory.Embedder
	var err error
	switch spec {
	case "", "auto":
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		emb, err = agents.NewEmbedder(pctx, agents.DefaultEmbedder, cfg)
		cancel()
		if err != nil {
			if logger != nil {
				logger.Warn("memory: the Ollama embedder is not available; using the hashing embedder", "err", err)
			}
			emb, err = memory.Hashing{}, nil
		}
	default:
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		emb, err = agents.NewEmbedder(pctx, spec, cfg)
		cancel()
	}
	if err != nil {
		return nil, nil, err
	}
	if qdrantURL != "" {
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		st, err := qdrant.Open(qctx, qdrant.Config{URL: qdrantURL, APIKey: os.Getenv("QDRANT_API_KEY"), Dim: emb.Dim(), Embedder: emb.Name()})
		if err != nil {
			return nil, nil, err
		}
		return emb, st, nil
	}
	dir := filepath.Join(home, "memory", safeDirName(emb.Name()))
	// A store from before per-embedder directories lives in memory/ itself.
	if _, legacy, _ := embedded.Inspect(filepath.Join(home, "memory")); legacy == emb.Name() {
		dir = filepath.Join(home, "memory")
	}
	store, err := embedded.Open(dir, emb.Dim(), emb.Name())
	if err != nil {
		return nil, nil, err
	}
	return emb, store, nil
}

func safeDirName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// embedderFlag adds --embedder to commands that open the memory.
func embedderFlag(f *pflag.FlagSet, spec, qdrantURL *string) {
	f.StringVar(qdrantURL, "qdrant", os.Getenv("GENESIS_QDRANT_URL"), "keep the memory in Qdrant at this gRPC URL (e.g. http://127.0.0.1:6334; key from QDRANT_API_KEY) instead of the embedded store (env GENESIS_QDRANT_URL)")
	f.StringVar(spec, "embedder", envOr("GENESIS_EMBEDDER", "auto"), "memory embedder: auto (Ollama's all-minilm when it answers, else hashing), hashing, ollama:MODEL or openai:MODEL (env GENESIS_EMBEDDER)")
}
