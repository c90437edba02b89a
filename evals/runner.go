// Package evals scores discovery quality: it runs strategies (random,
// Bayesian optimisation, the agent team) on challenges as real campaign
// workflows — resumably, one file per finished run — and summarises their
// traces with package evals/metrics into reports (markdown, HTML with
// plots, JSON). evals/search is the fast loop beside it: the optimiser
// alone on a challenge, without workflows or a lab service.
package evals

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/evals/metrics"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// Spec is what to evaluate.
type Spec struct {
	Challenges []string `json:"challenges"`
	Strategies []string `json:"strategies"`
	// Model is the model spec agent strategies use.
	Model string `json:"model"`
	Seeds int    `json:"seeds"`
	// Budget is lab experiments per run; 0 means each challenge's own.
	Budget int `json:"budget"`
	// HPC picks the executor for the agents' simulations ("" = default).
	HPC string `json:"hpc,omitempty"`
	// Acquisition, Init and Batch are bo's optimiser settings (see
	// campaign.CampaignInput); Init also shapes the suggestions the agent
	// strategies see. Empty: the campaign's defaults.
	Acquisition string `json:"acquisition,omitempty"`
	Init        string `json:"init,omitempty"`
	Batch       int    `json:"batch,omitempty"`
	// Sequence names a challenge family to run in order (see
	// challenges.Family): for every strategy and seed the members run one
	// after the other sharing one memory scope, so each starts from what
	// the earlier ones measured ("STRATEGY+transfer" in the report), and
	// every member also runs alone from a cold start ("STRATEGY") to
	// measure the gain. Challenges is then the family's members.
	Sequence string `json:"sequence,omitempty"`
}

// TransferSuffix marks the runs of a family sequence that started from
// their siblings' measurements.
const TransferSuffix = "+transfer"

// Labels are the strategies as the report shows them: each strategy and,
// for a family sequence, its transfer arm.
func (s Spec) Labels() []string {
	var out []string
	for _, st := range s.Strategies {
		out = append(out, st)
		if s.Sequence != "" {
			out = append(out, st+TransferSuffix)
		}
	}
	return out
}

// Run is one (challenge, strategy, seed) campaign and its trace.
type Run struct {
	ID          string          `json:"id"`
	Challenge   string          `json:"challenge"`
	Strategy    string          `json:"strategy"`
	Model       string          `json:"model,omitempty"`
	Seed        int             `json:"seed"`
	Budget      int             `json:"budget"`
	Trace       []metrics.Point `json:"trace"`
	Tokens      int             `json:"tokens"`
	ModelCalls  int             `json:"model_calls"`
	Simulations int             `json:"simulations"`
	Cost        float64         `json:"cost"`
	WallS       float64         `json:"wall_s"`
	StopReason  string          `json:"stop_reason"`
	Fallbacks   map[string]int  `json:"fallbacks,omitempty"`
	Finished    time.Time       `json:"finished"`
	// MemoryScope is the agents' memory scope the run was given: its own,
	// so no other run's memories reach it (see campaign.CampaignInput).
	MemoryScope string `json:"memory_scope,omitempty"`
	// ScoredOn says what the trace's best and regret are computed on:
	// ScoredOnTruth, or ScoredOnMeasured for a run recorded before runs
	// were scored on the truth whose points could not be recovered.
	ScoredOn string `json:"scored_on"`
	// Rescored is set when the truth was added after the run, from its
	// campaign's result on the Temporal server.
	Rescored bool `json:"rescored,omitempty"`
	// Transfer marks a family sequence's run that started from its
	// siblings' measurements; TransferPoints is how many it took.
	Transfer       bool `json:"transfer,omitempty"`
	TransferPoints int  `json:"transfer_points,omitempty"`
}

// Label is how the report names the run's strategy: with TransferSuffix
// for a family sequence's runs that started from their siblings.
func (r Run) Label() string {
	if r.Transfer {
		return r.Strategy + TransferSuffix
	}
	return r.Strategy
}

// What a run is scored on (Run.ScoredOn).
const (
	ScoredOnTruth    = "truth"
	ScoredOnMeasured = "measured"
)

// Campaigns runs one campaign workflow to completion and returns its
// result. The eval command implements it over a Temporal client.
type Campaigns interface {
	Run(ctx context.Context, id string, in campaign.CampaignInput) (*campaign.CampaignResult, error)
}

// Results is what a Campaigns may also do: return the result of a
// campaign that finished earlier. Execute uses it to add the truth to runs
// recorded before runs were scored on the truth (their traces lack the
// points measured).
type Results interface {
	Result(ctx context.Context, id string) (*campaign.CampaignResult, error)
}

// Validate checks a spec against a catalog: known challenges and
// strategies, at least one seed, and a budget the pools can hold. It
// expands "all" to every challenge.
func (s *Spec) Validate(cat *challenges.Catalog) error {
	var problems []string
	if s.Sequence != "" {
		members, err := cat.Family(s.Sequence)
		switch {
		case err != nil:
			problems = append(problems, "--sequence: "+err.Error())
		case len(s.Challenges) > 0 && !(len(s.Challenges) == 1 && s.Challenges[0] == "all"):
			problems = append(problems, "--sequence runs the family's members; leave --challenges out")
		default:
			s.Challenges = nil
			for _, m := range members {
				s.Challenges = append(s.Challenges, m.ID)
			}
		}
	}
	if len(s.Challenges) == 0 || len(s.Challenges) == 1 && s.Challenges[0] == "all" {
		s.Challenges = cat.IDs()
	}
	for _, id := range s.Challenges {
		c, err := cat.Get(id)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if s.Budget > 0 && c.Finite() && s.Budget > c.Pool().Len() {
			problems = append(problems, fmt.Sprintf("--budget %d is larger than challenge %s's pool of %d points; use at most %d", s.Budget, id, c.Pool().Len(), c.Pool().Len()))
		}
	}
	if len(s.Strategies) == 0 {
		problems = append(problems, "no strategy given; use some of "+strings.Join(campaign.Strategies, ","))
	}
	for _, st := range s.Strategies {
		if !slices.Contains(campaign.Strategies, st) {
			problems = append(problems, fmt.Sprintf("unknown strategy %q; want some of %s", st, strings.Join(campaign.Strategies, ",")))
		}
	}
	if s.Seeds < 1 {
		problems = append(problems, fmt.Sprintf("--seeds %d must be ≥ 1", s.Seeds))
	}
	if s.Budget < 0 {
		problems = append(problems, fmt.Sprintf("--budget %d must be ≥ 0 (0 = each challenge's own budget)", s.Budget))
	}
	if err := (campaign.CampaignInput{Acquisition: s.Acquisition, Init: s.Init, Batch: s.Batch, Budget: challenges.Budget{Experiments: s.Budget}}).Validate(); err != nil {
		problems = append(problems, "--"+err.Error())
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// DefaultParallel is how many runs go at once unless told otherwise. A
// local model serves one request at a time, so runs that call it go one by
// one (two at once would only queue, and double each run's wall time in
// the report). Classical runs are CPU-bound with short waits on the lab
// and Temporal; one more than the CPUs keeps every core busy through
// those waits.
func DefaultParallel(spec Spec) int {
	if spec.UsesModel() {
		return 1
	}
	return runtime.NumCPU() + 1
}

// UsesModel reports whether any strategy calls the model.
func (s Spec) UsesModel() bool {
	for _, st := range s.Strategies {
		if st == campaign.StrategyAgents || st == campaign.StrategyAgentsNoOpt {
			return true
		}
	}
	return false
}

// Key identifies the spec: runs of one eval directory must share it.
func (s Spec) Key() string {
	b, _ := json.Marshal(s)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])[:10]
}

// sameButSeeds reports whether two specs differ at most in their number
// of seeds: runs are per seed, so an eval can grow (or shrink) its seeds
// and keep every run it finished.
func sameButSeeds(a, b Spec) bool {
	a.Seeds, b.Seeds = 0, 0
	return a.Key() == b.Key()
}

// job is one planned run.
type job struct {
	challenge, strategy string
	seed                int
	// transfer: a family sequence's run that starts from its siblings.
	transfer bool
}

func (j job) file() string {
	if j.transfer {
		return fmt.Sprintf("%s__%s__transfer__s%d.json", j.challenge, j.strategy, j.seed)
	}
	return fmt.Sprintf("%s__%s__s%d.json", j.challenge, j.strategy, j.seed)
}

// Progress reports finished runs: done of total, and the last run.
type Progress func(done, total int, last *Run, skipped bool)

// Runner runs an eval.
type Runner struct {
	Catalog   *challenges.Catalog
	Campaigns Campaigns
	// Out is the eval directory: runs/ holds one JSON file per finished
	// run, so an interrupted eval resumes where it stopped.
	Out      string
	Parallel int
	Progress Progress
	nonce    string // this eval directory's, from its spec.json
	// Stop, once closed, starts no more runs: the running ones finish and
	// Execute returns what finished with an *Interrupted error. Cancelling
	// Execute's context instead stops waiting for the running ones too.
	Stop <-chan struct{}
}

// Interrupted is Execute's error when the eval stopped before every run
// finished: Runner.Stop was closed or the context ended.
type Interrupted struct {
	Finished, Total int
	// Abandoned is how many runs were still running when Execute stopped
	// waiting (the context ended). Their campaigns are not cancelled: a
	// Temporal server keeps them, and a resume re-attaches to them.
	Abandoned int
	// Cause is the context's error, or nil when Stop was closed.
	Cause error
}

func (e *Interrupted) Error() string {
	msg := fmt.Sprintf("eval interrupted: %d of %d runs finished", e.Finished, e.Total)
	if e.Abandoned > 0 {
		msg += fmt.Sprintf(", %d left running", e.Abandoned)
	}
	return msg
}

func (e *Interrupted) Unwrap() error { return e.Cause }

// manifest is spec.json in the eval directory.
type manifest struct {
	Key  string `json:"key"`
	Spec Spec   `json:"spec"`
	// Nonce tells this eval directory's memory scopes from another's with
	// the same spec (a family sequence's shared scope must not see the
	// runs of an earlier eval written to another --out).
	Nonce string `json:"nonce,omitempty"`
}

// Execute runs every (challenge × strategy × seed) not yet finished in
// Out and returns all runs, finished earlier or now, in a fixed order.
// When it stops early — a run failed, Stop was closed, the context ended —
// it returns the runs that finished (for a partial report) with the error,
// an *Interrupted for the last two.
func (r *Runner) Execute(ctx context.Context, spec Spec) ([]Run, error) {
	if err := os.MkdirAll(filepath.Join(r.Out, "runs"), 0o755); err != nil {
		return nil, err
	}
	key := spec.Key()
	if err := r.openManifest(spec, key); err != nil {
		return nil, err
	}
	e := &execution{r: r, ctx: ctx, spec: spec, key: key, jobs: jobsOf(spec)}
	e.runs = make([]*Run, len(e.jobs))
	remaining, err := e.resume()
	if err != nil {
		return nil, err
	}
	next := make(chan []int)
	var wg sync.WaitGroup
	for range max(r.Parallel, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for unit := range next {
				e.runUnit(unit)
			}
		}()
	}
	e.feed(unitsOf(e.jobs, remaining), next)
	close(next)
	wg.Wait()
	return e.result()
}

// openManifest checks that the eval directory holds this spec's eval (or
// none yet, and then records it) and takes its nonce.
func (r *Runner) openManifest(spec Spec, key string) error {
	mpath := filepath.Join(r.Out, "spec.json")
	var m manifest
	if b, err := os.ReadFile(mpath); err == nil && json.Unmarshal(b, &m) == nil {
		if m.Key != key && !sameButSeeds(m.Spec, spec) {
			return fmt.Errorf("%s holds an eval with a different specification (%s); resume it with the same flags or use another --out (only --seeds may change: the finished seeds are kept)", r.Out, mpath)
		}
		if m.Key != key && m.Nonce != "" {
			// More (or fewer) seeds of the same eval: the finished runs
			// stay valid, and the memory scopes keep the nonce.
			m.Key, m.Spec = key, spec
			b, _ := json.MarshalIndent(m, "", "  ")
			if err := writeAtomic(mpath, b); err != nil {
				return err
			}
		}
	}
	if m.Nonce == "" {
		// A new eval directory (or one written before nonces): stable from
		// now on, so a resume keeps its scopes.
		m = manifest{Key: key, Spec: spec, Nonce: rand.Text()[:10]}
		b, _ := json.MarshalIndent(m, "", "  ")
		if err := writeAtomic(mpath, b); err != nil {
			return err
		}
	}
	r.nonce = m.Nonce
	return nil
}

// jobsOf is every run the spec asks for: challenges × strategies × seeds,
// each with its transfer twin in a family sequence.
func jobsOf(spec Spec) []job {
	var jobs []job
	for _, c := range spec.Challenges {
		for _, st := range spec.Strategies {
			for seed := 1; seed <= spec.Seeds; seed++ {
				jobs = append(jobs, job{challenge: c, strategy: st, seed: seed})
				if spec.Sequence != "" {
					jobs = append(jobs, job{challenge: c, strategy: st, seed: seed, transfer: true})
				}
			}
		}
	}
	return jobs
}

// unitsOf groups the remaining jobs into units, runs that go one after the
// other: a family sequence's transfer runs of one strategy and seed, in the
// family's order (each starts from what the earlier ones wrote to their
// shared memory scope); every other run is a unit of its own.
func unitsOf(jobs []job, remaining []int) [][]int {
	var units [][]int
	chains := map[[2]string]int{}
	for _, i := range remaining {
		j := jobs[i]
		if !j.transfer {
			units = append(units, []int{i})
			continue
		}
		k := [2]string{j.strategy, fmt.Sprint(j.seed)}
		u, ok := chains[k]
		if !ok {
			u = len(units)
			chains[k] = u
			units = append(units, nil)
		}
		units[u] = append(units[u], i)
	}
	return units
}

// execution is one Execute's state, shared by its workers.
type execution struct {
	r    *Runner
	ctx  context.Context
	spec Spec
	key  string
	jobs []job
	runs []*Run // runs[i] is jobs[i]'s once finished

	mu        sync.Mutex
	done      int
	firstErr  error
	abandoned int
}

// resume takes the runs a previous Execute finished from the eval
// directory and returns the indices of the jobs still to run.
func (e *execution) resume() (remaining []int, err error) {
	for i, j := range e.jobs {
		path := filepath.Join(e.r.Out, "runs", j.file())
		run, err := readRun(path)
		if err != nil { // not run yet, or a damaged file: a run to do
			remaining = append(remaining, i)
			continue
		}
		if err := e.r.upgrade(e.ctx, path, run); err != nil {
			return nil, err
		}
		e.runs[i] = run
		e.done++
		if e.r.Progress != nil {
			e.r.Progress(e.done, len(e.jobs), run, true)
		}
	}
	return remaining, nil
}

// halted reports whether to start no more runs: Stop, the context, or a
// run that failed.
func (e *execution) halted() bool {
	select {
	case <-e.r.Stop:
		return true
	case <-e.ctx.Done():
		return true
	default:
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.firstErr != nil
}

// runUnit runs a unit's jobs in order, stopping at the first that fails:
// a later member needs this one's results.
func (e *execution) runUnit(unit []int) {
	for _, i := range unit {
		if e.halted() { // a stop that came while the job was handed over
			return
		}
		run, err := e.r.one(e.ctx, e.spec, e.key, e.jobs[i])
		e.mu.Lock()
		switch {
		case err != nil && e.ctx.Err() != nil:
			e.abandoned++
		case err != nil:
			if e.firstErr == nil {
				e.firstErr = err
			}
		default:
			e.runs[i] = run
			e.done++
			if e.r.Progress != nil {
				e.r.Progress(e.done, len(e.jobs), run, false)
			}
		}
		e.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// feed hands the units to the workers until they are all taken or the
// eval is halted.
func (e *execution) feed(units [][]int, next chan<- []int) {
	for _, u := range units {
		// Checked first: select picks at random among ready cases, and a
		// free worker must not win over a stop already asked for.
		if e.halted() {
			return
		}
		select {
		case next <- u:
		case <-e.r.Stop:
			return
		case <-e.ctx.Done():
			return
		}
	}
}

// result is the finished runs, with the first failure or, when runs are
// missing, an *Interrupted error.
func (e *execution) result() ([]Run, error) {
	var out []Run
	for _, run := range e.runs {
		if run != nil {
			out = append(out, *run)
		}
	}
	if e.firstErr != nil {
		return out, e.firstErr
	}
	if len(out) < len(e.jobs) {
		return out, &Interrupted{Finished: len(out), Total: len(e.jobs), Abandoned: e.abandoned, Cause: e.ctx.Err()}
	}
	return out, nil
}

// upgrade adds the truth to a run recorded before runs were scored on it,
// from its campaign's result when the Campaigns can still return it, and
// rewrites its file; otherwise the run is scored on its measurements and
// says so (ScoredOn).
func (r *Runner) upgrade(ctx context.Context, path string, run *Run) error {
	if run.ScoredOn == ScoredOnTruth || !legacy(run.Trace) {
		run.ScoredOn = ScoredOnTruth
		return nil
	}
	run.ScoredOn = ScoredOnMeasured
	for i := range run.Trace {
		p := &run.Trace[i]
		if i == 0 || p.Score > run.Trace[i-1].BestMeasuredScore {
			p.BestMeasured, p.BestMeasuredScore = p.Value, p.Score
		} else {
			p.BestMeasured, p.BestMeasuredScore = run.Trace[i-1].BestMeasured, run.Trace[i-1].BestMeasuredScore
		}
		p.TrueValue, p.TrueScore, p.BestTrue, p.BestTrueScore = p.Value, p.Score, p.BestMeasured, p.BestMeasuredScore
	}
	res, ok := r.Campaigns.(Results)
	c, err := r.Catalog.Get(run.Challenge)
	if !ok || err != nil {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cres, err := res.Result(rctx, run.ID)
	if err != nil {
		return nil
	}
	trace, err := TraceOf(c, cres)
	if err != nil || !sameMeasurements(trace, run.Trace) {
		// Not the campaign that made this record (its ID was reused).
		return nil
	}
	run.Trace, run.ScoredOn, run.Rescored = trace, ScoredOnTruth, true
	b, _ := json.MarshalIndent(run, "", " ")
	return writeAtomic(path, b)
}

// legacy reports whether a trace lacks the truth of its points.
func legacy(trace []metrics.Point) bool {
	for _, p := range trace {
		if len(p.TrueValues) == 0 {
			return true
		}
	}
	return false
}

func sameMeasurements(a, b []metrics.Point) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !slices.Equal(a[i].Values, b[i].Values) {
			return false
		}
	}
	return true
}

// MemoryScope is a fresh memory scope for an attempt at an eval run: its
// own, so its agents recall only what they wrote themselves — not other
// runs' memories, nor those of an earlier attempt at the same run (a run
// redone after its file was deleted has the same ID, and writes records
// under the same IDs only as it reaches the same iterations). A later
// transfer protocol can give several runs one scope to share what they
// learn.
func MemoryScope(runID string) string {
	return "eval/" + runID + "/" + rand.Text()[:8]
}

// one runs a single campaign and stores its run file.
func (r *Runner) one(ctx context.Context, spec Spec, key string, j job) (*Run, error) {
	c, err := r.Catalog.Get(j.challenge)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("eval-%s-%s-%s-s%d", key, j.challenge, j.strategy, j.seed)
	scope := MemoryScope(id)
	if j.transfer {
		// The sequence's members share one scope, the same on a resume:
		// a member redone must still find what the earlier ones wrote.
		id = fmt.Sprintf("eval-%s-%s-%s-transfer-s%d", key, j.challenge, j.strategy, j.seed)
		scope = fmt.Sprintf("eval/%s/%s/sequence/%s/s%d", key, r.nonce, j.strategy, j.seed)
	}
	in := campaign.CampaignInput{Challenge: j.challenge, Model: spec.Model, Budget: challenges.Budget{Experiments: spec.Budget}, Seed: j.seed, Strategy: j.strategy,
		Patience: -1, HPC: spec.HPC, NoReport: true, MemoryScope: scope, Acquisition: spec.Acquisition, Init: spec.Init, Batch: spec.Batch,
		NoTransfer: spec.Sequence != "" && !j.transfer}
	if in.Budget.Experiments == 0 {
		in.Budget.Experiments = c.Budget.Experiments
	}
	if in.Budget.Experiments > c.Pool().Len() && c.Finite() {
		in.Budget.Experiments = c.Pool().Len()
	}
	if in.Strategy == campaign.StrategyBO || in.Strategy == campaign.StrategyRandom {
		in.Model = ""
		in.MaxBatch = 8
	}
	t0 := time.Now()
	// A campaign left running by an interrupted eval is re-attached, and
	// keeps the scope it was started with (the result says which).
	res, err := r.Campaigns.Run(ctx, id, in)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	trace, err := TraceOf(c, res)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	run := &Run{ID: id, Challenge: j.challenge, Strategy: j.strategy, Model: in.Model, Seed: j.seed, Budget: in.Budget.Experiments,
		Trace: trace, Tokens: res.Tokens, ModelCalls: res.ModelCalls, Simulations: res.Simulations,
		WallS: time.Since(t0).Seconds(), StopReason: res.StopReason, Fallbacks: res.Fallbacks, Finished: time.Now().UTC(),
		MemoryScope: cmp.Or(res.MemoryScope, in.MemoryScope), ScoredOn: ScoredOnTruth, Transfer: j.transfer}
	if res.Transfer != nil {
		run.TransferPoints = res.Transfer.Points
	}
	run.Cost = float64(len(run.Trace)) + float64(res.Simulations)*c.Simulation.Cost
	b, _ := json.MarshalIndent(run, "", " ")
	if err := writeAtomic(filepath.Join(r.Out, "runs", j.file()), b); err != nil {
		return nil, err
	}
	return run, nil
}

// TraceOf turns a campaign's result into a trace: per experiment, the
// point, its measured values and their truth with their scores, the best
// so far on either, how much of the top set was found, and the total cost
// so far (lab runs plus simulations at their price).
func TraceOf(c *challenges.Challenge, res *campaign.CampaignResult) ([]metrics.Point, error) {
	found := map[string]bool{}
	var out []metrics.Point
	for i, e := range res.Trace {
		if len(e.Values) == 0 {
			continue
		}
		truth, err := c.Truth(e.Point)
		if err != nil {
			return nil, fmt.Errorf("the truth of experiment %d (%s): %w", len(out)+1, c.Format(e.Point), err)
		}
		p := metrics.Point{N: len(out) + 1, Point: c.Map(e.Point), Value: e.Values[0], Values: e.Values, Score: c.Score(e.Values),
			TrueValue: truth[0], TrueValues: truth, TrueScore: c.Score(truth)}
		if i < len(res.Rounds) {
			p.Round = res.Rounds[i]
		}
		p.BestTrue, p.BestTrueScore, p.BestMeasured, p.BestMeasuredScore = p.TrueValue, p.TrueScore, p.Value, p.Score
		if n := len(out); n > 0 {
			prev := out[n-1]
			if prev.BestTrueScore >= p.TrueScore {
				p.BestTrue, p.BestTrueScore = prev.BestTrue, prev.BestTrueScore
			}
			if prev.BestMeasuredScore >= p.Score {
				p.BestMeasured, p.BestMeasuredScore = prev.BestMeasured, prev.BestMeasuredScore
			}
		}
		if c.InTop(e.Point) {
			found[c.Key(e.Point)] = true
		}
		p.TopFound = len(found)
		sims := 0
		for _, it := range res.SimIterations {
			if it <= e.Iteration {
				sims++
			}
		}
		p.Cost = float64(p.N) + float64(sims)*c.Simulation.Cost
		out = append(out, p)
	}
	return out, nil
}

func readRun(path string) (*Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// group collects runs by (challenge, strategy) in spec order.
func group(spec Spec, runs []Run) (keys [][2]string, by map[[2]string][]Run) {
	by = map[[2]string][]Run{}
	for _, r := range runs {
		k := [2]string{r.Challenge, r.Label()}
		by[k] = append(by[k], r)
	}
	for _, c := range spec.Challenges {
		for _, s := range spec.Labels() {
			k := [2]string{c, s}
			if len(by[k]) > 0 {
				keys = append(keys, k)
				sort.Slice(by[k], func(a, b int) bool { return by[k][a].Seed < by[k][b].Seed })
			}
		}
	}
	return keys, by
}
