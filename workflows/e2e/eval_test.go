package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/devserver"
	"github.com/genesis-sci/genesis/evals"
	labclient "github.com/genesis-sci/genesis/tools/lab"
	"github.com/genesis-sci/genesis/workflows"
)

// viaTemporal runs eval campaigns as workflows on the test server.
type viaTemporal struct{ c client.Client }

func (v viaTemporal) Run(ctx context.Context, id string, in workflows.CampaignInput) (*workflows.CampaignResult, error) {
	run, err := v.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING, EnableEagerStart: true}, workflows.CampaignWorkflowName, in)
	if err != nil {
		return nil, err
	}
	var res workflows.CampaignResult
	return &res, run.Get(ctx, &res)
}

// directBO is the bo strategy without Temporal: the same Suggest code and
// the same lab service (submit, wait), called in a plain loop — what
// "calling it directly" means. It seeds the optimiser exactly as the
// workflow does (2 random points, then rounds of up to 25 per iteration),
// so both make the same suggestions and run the same experiments.
func directBO(ctx context.Context, cat *challenges.Catalog, lab *labclient.Client, id string, in workflows.CampaignInput) (*workflows.CampaignResult, error) {
	acts := &workflows.Activities{Catalog: cat}
	c, _ := cat.Get(in.Challenge)
	res := &workflows.CampaignResult{}
	var exps []workflows.Experiment
	for it := 1; len(exps) < in.Budget; it++ {
		k, acq, rounds := 1, "ucb", min(in.Budget-len(exps), 25)
		if len(exps) < 2 {
			k, acq, rounds = 2-len(exps), "random", 1
		}
		for round := range rounds {
			sugg, err := acts.Suggest(ctx, workflows.SuggestInput{Challenge: c.ID, Experiments: exps, K: k, Acquisition: acq, Seed: in.Seed*7919 + it + round})
			if err != nil {
				return nil, err
			}
			for i, s := range sugg {
				run, err := lab.Submit(ctx, labclient.SubmitRequest{Challenge: c.ID, Parameters: c.Map(s.Point), IdempotencyKey: fmt.Sprintf("%s/it%d/r%d/lab%d", id, it, round, i), Requester: id})
				if err != nil {
					return nil, err
				}
				if run, err = lab.Wait(ctx, run.ID, 10*time.Millisecond, nil); err != nil || run.Result == nil {
					return nil, fmt.Errorf("lab run %+v: %v", run, err)
				}
				r := agents.Result{Source: "lab", Point: s.Point, Values: []float64{run.Result.Values[c.Objectives[0].Name]}, Iteration: it, Ref: run.ID}
				exps = append(exps, workflows.Experiment{Result: r})
				res.Trace = append(res.Trace, r)
			}
		}
	}
	return res, nil
}

// BenchmarkEvalOrchestrationOverhead runs the bo strategy on the
// crossed-barrel pool (budget 50) through campaign workflows on a real
// Temporal server, and directly (the same activity code in a loop); both
// use the lab service over HTTP. parallel=1 runs one campaign at a time;
// parallel=2 runs two at once, as genesis eval does by default, so the
// comparison is the eval's wall time either way. It reports both and the
// workflow's overhead.
//
//	go test ./workflows/e2e -run '^$' -bench EvalOrchestrationOverhead -benchtime 5x
//
// With GENESIS_BENCH_DEVSERVER=1 the workflows run on the Temporal CLI's dev
// server in its own process, as `genesis eval` runs them, instead of the
// in-process test server.
func BenchmarkEvalOrchestrationOverhead(b *testing.B) {
	e := newEnvScale(b, 1e-6) // the lab answers at once, as in genesis eval
	c := e.ts.GetDefaultClient()
	if os.Getenv("GENESIS_BENCH_DEVSERVER") == "1" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		srv, err := devserver.Start(ctx, devserver.Options{DBFile: filepath.Join(e.dir, "temporal.db"), Port: freePort(b), LogFile: filepath.Join(e.dir, "temporal.log")})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = srv.Stop() })
		if c, err = client.Dial(client.Options{HostPort: srv.Addr()}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		newWorker(b, e, c, nil, nil)
	} else {
		e.worker(b, nil, nil)
	}
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("parallel=%d", par), func(b *testing.B) {
			in := workflows.CampaignInput{Challenge: challenges.DefaultID, Strategy: workflows.StrategyBO, Budget: benchBudget(), Patience: -1, NoReport: true}
			// each runs par campaigns at once and waits for all of them.
			each := func(run func(k int) error) time.Duration {
				t0 := time.Now()
				errs := make(chan error, par)
				for k := range par {
					go func() { errs <- run(k) }()
				}
				for range par {
					if err := <-errs; err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(t0)
			}
			var wf, dir time.Duration
			var diffs, dirs []float64
			for i := range b.N {
				wf0, dir0 := wf, dir
				wf += each(func(k int) error {
					in := in
					in.Seed = i*par + k + 1
					_, err := (viaTemporal{c}).Run(context.Background(), fmt.Sprintf("overhead-wf-%d-%d-%d", par, i, k), in)
					return err
				})
				dir += each(func(k int) error {
					in := in
					in.Seed = i*par + k + 1
					_, err := directBO(context.Background(), e.cat, labclient.New(e.url, nil), fmt.Sprintf("overhead-direct-%d-%d-%d", par, i, k), in)
					return err
				})
				diffs = append(diffs, ((wf - wf0) - (dir - dir0)).Seconds())
				dirs = append(dirs, (dir - dir0).Seconds())
			}
			n := float64(b.N * par)
			b.ReportMetric(wf.Seconds()/n, "s/workflow-run")
			b.ReportMetric(dir.Seconds()/n, "s/direct-run")
			// Both runs of a pair do the same work (same seeds, same
			// suggestions), so the median paired difference is the
			// orchestration's cost, robust to the GC and scheduling spikes
			// that move a ratio of sums by several points.
			b.ReportMetric(100*(wf-dir).Seconds()/dir.Seconds(), "%overhead-of-sums")
			b.ReportMetric(100*median(diffs)/median(dirs), "%overhead")
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

func median(xs []float64) float64 {
	ys := slices.Clone(xs)
	slices.Sort(ys)
	if len(ys) == 0 {
		return 0
	}
	return ys[len(ys)/2]
}

func benchBudget() int {
	if v, err := strconv.Atoi(os.Getenv("GENESIS_BENCH_BUDGET")); err == nil && v > 0 {
		return v
	}
	return 50
}
