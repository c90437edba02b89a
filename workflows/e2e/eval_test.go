package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/devserver"
	"github.com/genesis-sci/genesis/evals"
	"github.com/genesis-sci/genesis/evals/metrics"
	"github.com/genesis-sci/genesis/tools/labclient"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/activities"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// viaTemporal runs eval campaigns as workflows on the test server.
type viaTemporal struct{ c client.Client }

func (v viaTemporal) Run(ctx context.Context, id string, in campaign.CampaignInput) (*campaign.CampaignResult, error) {
	run, err := v.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING, EnableEagerStart: true}, campaign.CampaignWorkflowName, in)
	if err != nil {
		return nil, err
	}
	var res campaign.CampaignResult
	return &res, run.Get(ctx, &res)
}

// direct runs the classical strategies without Temporal: the Campaign
// workflow's loop for bo and random (iterateClassical), calling the same
// ClassicalStep code in process with the same inputs, so a workflow run
// and a direct run with the same seed make the same suggestions and run
// the same lab experiments. It is what "calling the strategy directly"
// means in BenchmarkEvalOrchestrationOverhead.
type direct struct {
	cat *challenges.Catalog
	lab *activities.Lab
}

func (d direct) Run(ctx context.Context, id string, in campaign.CampaignInput) (*campaign.CampaignResult, error) {
	if in.Strategy != campaign.StrategyBO && in.Strategy != campaign.StrategyRandom {
		return nil, fmt.Errorf("direct runs bo and random only, not %q", in.Strategy)
	}
	c, err := d.cat.Get(in.Challenge)
	if err != nil {
		return nil, err
	}
	in.ApplyDefaults(c.Budget) // as the workflow does
	res := &campaign.CampaignResult{CampaignID: id, Challenge: in.Challenge, Strategy: in.Strategy, StopReason: "budget used"}
	var exps []campaign.Experiment
	for it := 1; len(exps) < in.Budget.Experiments; it++ {
		k, acq, rounds, most, start, startSize := campaign.ClassicalPlan(in, len(exps), len(c.Parameters), false, func(string) bool { return true })
		step, err := d.lab.ClassicalStep(ctx, activities.ClassicalStepInput{Suggest: activities.SuggestInput{Challenge: in.Challenge,
			Experiments: exps, K: k, Acquisition: acq, Start: start, StartSize: startSize, Seed: in.Seed*7919 + it}, KeyPrefix: fmt.Sprintf("%s/it%d", id, it), Rounds: rounds, Most: most, Requester: id})
		if err != nil {
			return nil, err
		}
		res.Iterations = it
		if len(step.Chosen) == 0 {
			res.StopReason = "no untested candidate left"
			break
		}
		for i, r := range step.Results {
			exps = append(exps, campaign.Experiment{Result: r, Key: step.Keys[i], Origin: "optimizer"})
		}
	}
	for _, x := range exps {
		res.Experiments = append(res.Experiments, x.Ref)
		res.Trace = append(res.Trace, x.Result)
	}
	return res, nil
}

// prefixed gives every campaign ID a prefix, so repeated benchmark rounds
// (and the two sides of a comparison) never share lab idempotency keys:
// a shared key would answer from the lab's record instead of running.
type prefixed struct {
	evals.Campaigns
	prefix string
}

func (p prefixed) Run(ctx context.Context, id string, in campaign.CampaignInput) (*campaign.CampaignResult, error) {
	return p.Campaigns.Run(ctx, p.prefix+id, in)
}

// BenchmarkEvalOrchestrationOverhead measures what running a strategy as a
// Campaign workflow on a real Temporal server costs over calling it
// directly (direct: the same ClassicalStep code in a plain loop). Both
// sides use the same lab service over HTTP and make the same experiments.
//
// crossed-barrel/parallel=N runs bo on the crossed-barrel pool (budget 50),
// N campaigns at a time, and reports the paired median difference per
// campaign. It is the hardest case: the cheapest bo run of the catalog
// (about 0.13 s), so the fixed cost of a workflow weighs most.
//
// eval=STRATEGIES runs a whole eval through evals.Runner as `genesis eval`
// does (every challenge whose pool holds the budget, CPUs + 1 runs at a
// time), once through workflows and once directly, and reports the ratio
// of wall times.
//
//	go test ./workflows/e2e -run '^$' -bench EvalOrchestrationOverhead -benchtime 3x
//
// With GENESIS_BENCH_DEVSERVER=1 the workflows run on the Temporal CLI's dev
// server in its own process (SQLite on disk), as `genesis eval` runs
// classical strategies (RelaxedSync), instead of the in-process test
// server; GENESIS_BENCH_DEVSERVER=full keeps every commit on disk, as for
// agent strategies and `genesis dev`. GENESIS_BENCH_SEEDS sets the eval's
// seeds (default 1), GENESIS_BENCH_BUDGET the budget (50) and
// GENESIS_BENCH_PARALLEL the runs at a time.
func BenchmarkEvalOrchestrationOverhead(b *testing.B) {
	mode := os.Getenv("GENESIS_BENCH_DEVSERVER")
	dev := mode == "1" || mode == "full"
	e := newEnvWith(b, 1e-6, dev) // the lab answers at once, as in genesis eval
	var c client.Client
	serverPID := -1 // the dev server's process, whose CPU time counts for the workflows (none in process)
	if dev {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		srv, err := devserver.Start(ctx, devserver.Options{DBFile: filepath.Join(e.dir, "temporal.db"), Port: freePort(b),
			LogFile: filepath.Join(e.dir, "temporal.log"), RelaxedSync: mode != "full"})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = srv.Stop() })
		serverPID = srv.PID()
		if c, err = client.Dial(devserver.ClientOptions(srv.Addr())); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		newWorker(b, e, c, nil, nil)
	} else {
		c = e.ts.GetDefaultClient()
		e.worker(b, nil, nil)
	}
	wf := viaTemporal{c}
	dir := direct{e.cat, activities.NewLab(e.cat, labclient.New(e.url, &http.Client{Timeout: 10 * time.Second}), nil, 10*time.Millisecond)}
	for _, par := range []int{1, benchParallel()} {
		b.Run(fmt.Sprintf("crossed-barrel/parallel=%d", par), func(b *testing.B) {
			in := campaign.CampaignInput{Challenge: challenges.DefaultID, Strategy: campaign.StrategyBO, Budget: challenges.Budget{Experiments: envInt("GENESIS_BENCH_BUDGET", 50)}, Patience: -1, NoReport: true}
			// each runs par campaigns at once and waits for all of them.
			each := func(camp evals.Campaigns, side string, i int) time.Duration {
				t0 := time.Now()
				errs := make(chan error, par)
				for k := range par {
					go func() {
						in := in
						in.Seed = i*par + k + 1
						_, err := camp.Run(context.Background(), fmt.Sprintf("overhead-%s-%d-%d-%d", side, par, i, k), in)
						errs <- err
					}()
				}
				for range par {
					if err := <-errs; err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(t0)
			}
			var wfSum, dirSum time.Duration
			var diffs, dirs []float64
			for i := range b.N {
				w, d := each(wf, "wf", i), each(dir, "direct", i)
				wfSum, dirSum = wfSum+w, dirSum+d
				diffs = append(diffs, (w - d).Seconds())
				dirs = append(dirs, d.Seconds())
			}
			n := float64(b.N * par)
			b.ReportMetric(wfSum.Seconds()/n, "s/workflow-run")
			b.ReportMetric(dirSum.Seconds()/n, "s/direct-run")
			b.ReportMetric(1000*metrics.Median(diffs)/float64(par), "ms-added/run")
			// Both runs of a pair do the same work (same seeds, same
			// suggestions), so the median paired difference is the
			// orchestration's cost, robust to the GC and scheduling spikes
			// that move a ratio of sums by several points.
			b.ReportMetric(100*(wfSum-dirSum).Seconds()/dirSum.Seconds(), "%overhead-of-sums")
			b.ReportMetric(100*metrics.Median(diffs)/metrics.Median(dirs), "%overhead")
		})
	}
	for _, strategies := range [][]string{{"bo"}, {"random"}, {"random", "bo"}} {
		b.Run("eval="+strings.Join(strategies, ","), func(b *testing.B) {
			// Every challenge whose pool holds the budget (all but the
			// 30-point electrochem pool at budget 50).
			spec := evals.Spec{Strategies: strategies, Seeds: envInt("GENESIS_BENCH_SEEDS", 1), Budget: envInt("GENESIS_BENCH_BUDGET", 50)}
			for _, c := range e.cat.All() {
				if !c.Finite() || c.Pool().Len() >= spec.Budget {
					spec.Challenges = append(spec.Challenges, c.ID)
				}
			}
			if err := spec.Validate(e.cat); err != nil {
				b.Fatal(err)
			}
			var wfCPU, dirCPU time.Duration
			eval := func(camp evals.Campaigns, cpu *time.Duration) time.Duration {
				r := &evals.Runner{Catalog: e.cat, Campaigns: camp, Out: b.TempDir(), Parallel: benchParallel()}
				c0 := cpuTime(b, 0) + cpuTime(b, serverPID)
				defer func() { *cpu += cpuTime(b, 0) + cpuTime(b, serverPID) - c0 }()
				t0 := time.Now()
				runs, err := r.Execute(context.Background(), spec)
				if err != nil {
					b.Fatal(err)
				}
				if want := len(spec.Challenges) * len(spec.Strategies) * spec.Seeds; len(runs) != want {
					b.Fatalf("%d runs, want %d", len(runs), want)
				}
				return time.Since(t0)
			}
			// Warm the lab first: a continuous challenge's emulator is fitted
			// on its first run, seconds that would fall on whichever side
			// ran first.
			for _, id := range spec.Challenges {
				in := campaign.CampaignInput{Challenge: id, Strategy: campaign.StrategyRandom, Budget: challenges.Budget{Experiments: 2}}
				if _, err := dir.Run(context.Background(), "warm-"+id, in); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			var wfSum, dirSum time.Duration
			for i := range b.N {
				wfSum += eval(prefixed{wf, fmt.Sprintf("wf%d-", i)}, &wfCPU)
				dirSum += eval(prefixed{dir, fmt.Sprintf("direct%d-", i)}, &dirCPU)
			}
			runs := float64(b.N * len(spec.Challenges) * len(spec.Strategies) * spec.Seeds)
			b.ReportMetric(wfSum.Seconds()/float64(b.N), "s/eval-workflows")
			b.ReportMetric(dirSum.Seconds()/float64(b.N), "s/eval-direct")
			b.ReportMetric(1000*(wfSum-dirSum).Seconds()/runs, "ms-added/run")
			b.ReportMetric(100*(wfSum-dirSum).Seconds()/dirSum.Seconds(), "%overhead")
			// CPU time (this process, plus the dev server's): steadier
			// than wall time on a shared machine.
			b.ReportMetric(1000*wfCPU.Seconds()/runs, "cpu-ms/run-workflows")
			b.ReportMetric(1000*dirCPU.Seconds()/runs, "cpu-ms/run-direct")
			b.ReportMetric(100*(wfCPU-dirCPU).Seconds()/dirCPU.Seconds(), "%cpu-overhead")
		})
	}
}

// A short eval with the real local model: the agent strategies and bo on
// the default challenge, through genesis' eval runner and real workflows.
func TestEvalWithRealModel(t *testing.T) {
	spec, model := realModel(t)
	e := newEnv(t)
	e.worker(t, model, openMemory(t, e.dir))
	es := evals.Spec{Challenges: []string{challenges.DefaultID}, Strategies: []string{"bo", "agents"}, Model: spec, Seeds: 1, Budget: 2}
	if err := es.Validate(e.cat); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	r := &evals.Runner{Catalog: e.cat, Campaigns: viaTemporal{e.ts.GetDefaultClient()}, Out: out, Parallel: 1}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	runs, err := r.Execute(ctx, es)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := evals.WriteReports(out, e.cat, es, runs)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Summaries {
		t.Logf("%s: Top%% %.3f, tokens/experiment %.0f, wall s/experiment %.1f", s.Strategy, float64(s.TopFrac), float64(s.TokensPerExperiment), float64(s.WallSPerExperiment))
		if s.Strategy != "bo" && float64(s.TokensMedian) == 0 {
			t.Errorf("%s used no tokens", s.Strategy)
		}
	}
	for _, run := range runs {
		if len(run.Trace) != 2 {
			t.Errorf("%s: %d experiments, want 2", run.Strategy, len(run.Trace))
		}
	}
}

// cpuTime is the user+system CPU time of process pid so far (0: this
// process; a negative or unknown pid counts nothing).
func cpuTime(t testing.TB, pid int) time.Duration {
	if pid < 0 {
		return 0
	}
	if pid == 0 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name: utime and stime are the 12th and
	// 13th, in clock ticks (100 per second on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// envInt is the positive integer in the environment variable name, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchParallel is how many runs go at once: GENESIS_BENCH_PARALLEL, or
// what genesis eval uses for classical strategies.
func benchParallel() int {
	return envInt("GENESIS_BENCH_PARALLEL", evals.DefaultParallel(evals.Spec{Strategies: []string{campaign.StrategyBO}}))
}
