package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents/providers"
	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/config"
	"github.com/genesis-sci/genesis/devserver"
	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/memory/embedded"
	"github.com/genesis-sci/genesis/memory/qdrant"
	"github.com/genesis-sci/genesis/tools/hpc"
	"github.com/genesis-sci/genesis/tools/labclient"
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
	// share lets a command that runs beside `genesis dev` (run, eval) start
	// its own dev server when the default one's port, UI port or state
	// file is taken — on free ports, with its state in altHome — and keep
	// its own memory there when $GENESIS_HOME's is in use. altHome ""
	// is a directory of its own, removed on close. Without share a taken
	// port, state file or memory is an error that says what to do.
	share   bool
	altHome string
	// fixedPorts: the user chose the ports (--temporal-port, --ui-port);
	// a taken one is then an error, not moved.
	fixedPorts bool
}

// stack is a running set of parts; close stops them in reverse order.
type stack struct {
	cfg      *globals
	cat      *challenges.Catalog
	dev      *devserver.Server
	tc       client.Client
	lab      *lab.Server
	labURL   string
	labToken string
	worker   worker.Worker
	// streams carries chat replies from this process's worker to its API.
	streams  *api.Streams
	mem      memory.Store
	emb      memory.Embedder
	closers  []func()
	logger   *slog.Logger
	temporal string
	// notes say what start-up chose that the user did not ask for (a free
	// port instead of a taken one); the command prints them.
	notes []string
	// tmpHome is the directory of the command's own (see ownHome).
	tmpHome string
}

func (s *stack) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// startStack brings up the parts o asks for. On an error it stops what it
// started, and the error says what failed and what to do.
func startStack(ctx context.Context, cfg *globals, cat *challenges.Catalog, o stackOptions) (_ *stack, err error) {
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
	// st is not the named result: `return nil, err` must leave it set for
	// the deferred close below.
	st := &stack{cfg: cfg, cat: cat, logger: logger}
	st.closers = append(st.closers, func() { lf.Close() })
	defer func() {
		if err != nil {
			st.close()
		}
	}()

	st.temporal = o.temporal
	if st.temporal == devTemporal {
		if st.temporal, err = runningDev(cfg.home); err != nil {
			return nil, err
		}
		st.notes = append(st.notes, "using the Temporal of the running `genesis dev` at "+st.temporal)
	}
	if st.temporal == "" {
		if err := st.startDev(ctx, o); err != nil {
			return nil, err
		}
	}
	copts := devserver.ClientOptions(st.temporal)
	copts.Logger = log.NewStructuredLogger(logger)
	st.tc, err = client.Dial(copts)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s: %w (start one with `genesis dev`, or drop --temporal to let genesis start its own)", st.temporal, err)
	}
	st.closers = append(st.closers, st.tc.Close)

	if err := st.startLab(o); err != nil {
		return nil, err
	}

	if o.worker {
		if err := st.startWorker(o); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// startWorkerStack starts the stack of a command that runs its own
// campaigns (run, eval): with a worker, sharing a dev server with the
// other commands on this data directory unless the ports were given, and
// says on stderr what it noticed.
func startWorkerStack(ctx context.Context, cmd *cobra.Command, cfg *globals, cat *challenges.Catalog, so stackOptions) (*stack, error) {
	so.worker = true
	so.share, so.fixedPorts = true, cmd.Flags().Changed("temporal-port") || cmd.Flags().Changed("ui-port")
	st, err := startStack(ctx, cfg, cat, so)
	if err != nil {
		return nil, err
	}
	for _, n := range st.notes {
		fmt.Fprintln(cmd.ErrOrStderr(), "note:", n)
	}
	return st, nil
}

// checkModel checks, within 15 s, that model can be reached, before a
// stack starts for it.
func checkModel(ctx context.Context, model string, mcfg providers.Config) error {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return providers.CheckModel(cctx, model, mcfg)
}

// startLab connects the stack to the lab service at o.labURL, or starts
// one in this process when none is given.
func (st *stack) startLab(o stackOptions) (err error) {
	st.labURL = o.labURL
	// The in-process lab has a token too (created on first use), so a lab
	// listening on a port is never open; clients of an external lab send
	// the token they are given, if any.
	st.labToken, err = labToken(st.cfg.home, o.labToken, st.labURL == "")
	if err != nil {
		return err
	}
	if st.labURL == "" {
		st.lab, err = lab.New(lab.Config{DBPath: filepath.Join(st.cfg.home, "lab.db"), TimeScale: o.timeScale, Catalog: st.cat, Logger: st.logger,
			Token: st.labToken, FaultRate: o.faultRate})
		if err != nil {
			return fmt.Errorf("lab service: %w", err)
		}
		addr := o.labAddr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			st.lab.Close()
			return fmt.Errorf("lab service: %w (pick another address with --lab-addr)", err)
		}
		go func() { _ = st.lab.Serve(ln) }()
		st.closers = append(st.closers, func() { st.lab.Close() })
		st.labURL = "http://" + ln.Addr().String()
	}
	return nil
}

// devTemporal, as the value of --temporal, names the Temporal server of the
// `genesis dev` running on the same data directory.
const devTemporal = "dev"

// startDev starts a Temporal dev server for the stack. Its state file is
// locked while it runs: two servers on one SQLite file would corrupt it.
// A command that may run beside `genesis dev` (o.share) moves to a state
// file and ports of its own when the default ones are taken, and says so.
func (s *stack) startDev(ctx context.Context, o stackOptions) error {
	const ip = "127.0.0.1"
	db := filepath.Join(s.cfg.home, "temporal.db")
	lock, holder, err := lockDev(db)
	if err != nil {
		return err
	}
	if lock == nil {
		if !o.share {
			return fmt.Errorf("another Genesis process (%s) runs a Temporal dev server on %s: stop it first, or use its server with --temporal %s",
				holder, db, holder.addrOr(ip+":7233"))
		}
		dir, err := s.ownHome(o)
		if err != nil {
			return err
		}
		db = filepath.Join(dir, "temporal.db")
		var other devHolder
		if lock, other, err = lockDev(db); err != nil {
			return err
		}
		if lock == nil {
			return fmt.Errorf("another Genesis process (%s) runs a Temporal dev server on %s: wait for it to finish or stop it", other, db)
		}
		s.notes = append(s.notes, fmt.Sprintf("Temporal: %s keeps %s; this command's server keeps its state in %s (--temporal %s would use that server instead)",
			holder, filepath.Join(s.cfg.home, "temporal.db"), db, holder.addrOr(devTemporal)))
	}
	s.closers = append(s.closers, lock.release)
	port, uiPort := o.tport, o.uiPort
	if port == 0 {
		port = 7233
	}
	if o.share && !o.fixedPorts {
		if !devserver.PortFree(ip, port) {
			free, err := freeTCPPort(ip)
			if err != nil {
				return err
			}
			s.notes = append(s.notes, fmt.Sprintf("Temporal: port %d is taken (by `genesis dev`?); this command's server listens on %s:%d (--temporal %s:%d would use the running one instead)",
				port, ip, free, ip, port))
			port = free
		}
		if uiPort != 0 && !devserver.PortFree(ip, uiPort) {
			free, err := freeTCPPort(ip)
			if err != nil {
				return err
			}
			s.notes = append(s.notes, fmt.Sprintf("Temporal web UI: port %d is taken; this command's UI is on port %d", uiPort, free))
			uiPort = free
		}
	}
	s.dev, err = devserver.Start(ctx, devserver.Options{DBFile: db, IP: ip, Port: port, UIPort: uiPort,
		LogFile: filepath.Join(s.cfg.home, "logs", "temporal.log"), RelaxedSync: o.relaxedSync})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, func() { _ = s.dev.Stop() })
	s.temporal = s.dev.Addr()
	lock.record(s.temporal)
	return nil
}

// ownHome is where a command beside `genesis dev` keeps what it cannot
// share: o.altHome, or a directory of its own under the data directory,
// made once and removed on close.
func (s *stack) ownHome(o stackOptions) (string, error) {
	if o.altHome != "" {
		return o.altHome, os.MkdirAll(o.altHome, 0o755)
	}
	if s.tmpHome == "" {
		dir, err := os.MkdirTemp(s.cfg.home, "own-")
		if err != nil {
			return "", fmt.Errorf("a state directory of this command's own: %w", err)
		}
		s.tmpHome = dir
		s.closers = append(s.closers, func() { _ = os.RemoveAll(dir) })
	}
	return s.tmpHome, nil
}

// freeTCPPort asks the kernel for a free port on ip. Another process may
// take it before the dev server binds it; the server then fails to start
// and says so.
func freeTCPPort(ip string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("finding a free port for Temporal: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// devLock is an exclusive lock (flock) on a dev server's state file, held
// while the server runs. The lock file names the holder's PID and, once it
// answers, its server's address, for the messages of those who find it held.
type devLock struct{ f *os.File }

// devHolder is what a held lock file says about its holder.
type devHolder struct {
	PID  int
	Addr string
}

func (h devHolder) String() string {
	if h.PID == 0 {
		return "PID unknown"
	}
	return fmt.Sprintf("PID %d", h.PID)
}

func (h devHolder) addrOr(def string) string {
	if h.Addr != "" {
		return h.Addr
	}
	return def
}

// lockDev takes the lock of state file db; when another process holds it,
// the lock is nil and the holder says who.
func lockDev(db string) (*devLock, devHolder, error) {
	path := db + ".lock"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, devHolder{}, fmt.Errorf("the Temporal state directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, devHolder{}, fmt.Errorf("the Temporal state lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		var h devHolder
		if b, rerr := io.ReadAll(io.LimitReader(f, 256)); rerr == nil {
			_, _ = fmt.Sscanf(string(b), "pid=%d addr=%s", &h.PID, &h.Addr)
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, h, nil
		}
		return nil, devHolder{}, fmt.Errorf("the Temporal state lock %s: %w", path, err)
	}
	l := &devLock{f}
	l.record("")
	return l, devHolder{}, nil
}

func (l *devLock) record(addr string) {
	_ = l.f.Truncate(0)
	_, _ = l.f.WriteAt(fmt.Appendf(nil, "pid=%d addr=%s\n", os.Getpid(), addr), 0)
}

func (l *devLock) release() {
	_ = l.f.Truncate(0)
	_ = l.f.Close() // closing the file releases the lock
}

// runningDev is the address of the Temporal dev server that a `genesis dev`
// (or run, or eval) on this data directory runs.
func runningDev(home string) (string, error) {
	db := filepath.Join(home, "temporal.db")
	lock, holder, err := lockDev(db)
	if err != nil {
		return "", err
	}
	if lock != nil {
		lock.release()
		return "", fmt.Errorf("--temporal dev: no Genesis process runs a Temporal dev server on %s; start `genesis dev` first, pass --temporal HOST:PORT, or leave --temporal out to start a server of its own", db)
	}
	if holder.Addr == "" {
		return "", fmt.Errorf("--temporal dev: the Temporal dev server of %s on %s is still starting; try again in a few seconds", holder, db)
	}
	return holder.Addr, nil
}

func (s *stack) startWorker(o stackOptions) error {
	emb, mem, err := openMemory(context.Background(), s.cfg.home, o.embedder, o.qdrantURL, s.cfg.models, s.logger)
	if errors.Is(err, embedded.ErrInUse) && o.share {
		// Beside a running worker (`genesis dev`): a memory of its own,
		// since two writers would destroy the shared one.
		dir, derr := s.ownHome(o)
		if derr != nil {
			return derr
		}
		if emb, mem, err = openMemory(context.Background(), dir, o.embedder, o.qdrantURL, s.cfg.models, s.logger); err == nil {
			s.notes = append(s.notes, fmt.Sprintf("memory: %s's memory is in use by another Genesis process; this command's agents use a memory of their own in %s (what they learn there is not shared)",
				s.cfg.home, filepath.Join(dir, "memory")))
		}
	}
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
	streams := api.NewStreams()
	acts := &workflows.Deps{
		Catalog: s.cat, ModelConfig: s.cfg.models,
		Lab: labclient.New(s.labURL, &http.Client{Timeout: 30 * time.Second}).WithToken(s.labToken), HPC: ex, Executors: executors, SimCommand: []string{self, "sim"}, Temporal: s.tc,
		ChallengesDir: s.cfg.challengesDir, SimTimeScale: o.simScale, Poll: o.poll, Memory: mem, Embedder: emb, DataDir: s.cfg.home, Temperature: 0.2,
		Streams: streams,
	}
	s.streams = streams
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
	config.HPC.StringVar(f, &so.hpc, "")
	config.SlurmDir.StringVar(f, &so.slurm.dir, "Slurm job directories, on a file system the compute nodes share (default $GENESIS_HOME/slurm-jobs; env GENESIS_SLURM_DIR)")
	config.SlurmPartition.StringVar(f, &so.slurm.partition, "")
	config.SlurmAccount.StringVar(f, &so.slurm.account, "")
}

// openMemory opens the embedded memory store for an embedder spec. "auto"
// (the default) uses the Ollama embedding model deploy/ollama provisions
// when it answers, else the model-free hashing embedder. Each embedder has
// its own store directory, $GENESIS_HOME/memory/<embedder>, since vectors
// from different embedders cannot be compared.
//
// With qdrantURL the memory lives in Qdrant instead (collection
// genesis-memory-<embedder>), shared by every worker that points at it.
func openMemory(ctx context.Context, home, spec, qdrantURL string, models providers.Config, logger *slog.Logger) (memory.Embedder, memory.Store, error) {
	var emb memory.Embedder
	var err error
	switch spec {
	case "", "auto":
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		emb, err = providers.NewEmbedder(pctx, providers.DefaultEmbedder, models)
		cancel()
		if err != nil {
			if logger != nil {
				logger.Warn("memory: the Ollama embedder is not available; using the hashing embedder", "err", err)
			}
			emb, err = memory.Hashing{}, nil
		}
	default:
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		emb, err = providers.NewEmbedder(pctx, spec, models)
		cancel()
	}
	if err != nil {
		return nil, nil, err
	}
	if qdrantURL != "" {
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		st, err := qdrant.Open(qctx, qdrant.Config{URL: qdrantURL, APIKey: config.QdrantAPIKey.Value(), Dim: emb.Dim(), Embedder: emb.Name()})
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
	config.Qdrant.StringVar(f, qdrantURL, "")
	config.Embedder.StringVar(f, spec, "")
}

// labTokenFlag adds --lab-token-file to the commands that call the lab.
func labTokenFlag(f *pflag.FlagSet, file *string) {
	config.LabToken.FileVar(f, file, "file with the lab's bearer token (default GENESIS_LAB_TOKEN, else $GENESIS_HOME/lab.token)")
}
