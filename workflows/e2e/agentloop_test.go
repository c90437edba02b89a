package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/memory/embedded"
	"github.com/genesis-sci/genesis/tools/hpc"
	"github.com/genesis-sci/genesis/tools/labclient"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/activities"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// benchChallenges are the benchmark's three dev challenges: a discrete
// pool (the default challenge), a continuous pool and a continuous
// emulator lab from another domain.
var benchChallenges = []string{challenges.DefaultID, "p3ht-cnt-conductivity", "suzuki-flow-yield"}

// BenchmarkAgentLoop measures what the agent loop costs per lab experiment
// with the real local model: it runs the agents strategy on every
// challenge × seed, one campaign at a time (as an eval with a model does),
// each on a fresh memory, through a real Temporal server, the lab service
// over HTTP and `genesis sim` jobs, and reports per lab experiment the wall
// time, model calls, prompt tokens (evaluated and taken from the server's
// prompt cache), generated tokens, and the same per agent role, with the
// discovery quality (normalised best-so-far) of every campaign.
//
//	make bench-agents
//	GENESIS_OLLAMA_TEST=1 go test ./workflows/e2e -run '^$' -bench AgentLoop -benchtime 1x -timeout 6h
//
// Settings: GENESIS_TEST_MODEL (default the default model),
// GENESIS_BENCH_CHALLENGES (comma-separated; default the three dev
// challenges), GENESIS_BENCH_SEEDS (3), GENESIS_BENCH_BUDGET (12),
// GENESIS_BENCH_STRATEGY (agents), GENESIS_BENCH_OUT (write the figures as
// JSON there) and GENESIS_BENCH_BASELINE (a JSON written by an earlier run,
// printed side by side with this one, campaign by campaign).
//
// Cached tokens are counted the same way for every version of the loop,
// from the transcripts: a call's prompt shares its longest common prefix
// with the previous call's prompt and reply, which is what the server's
// single-slot prompt cache keeps; that prefix's share of the characters,
// times the prompt tokens the server reported, is the call's cached count.
// The time the model took shows whether the server really used it.
func BenchmarkAgentLoop(b *testing.B) {
	spec, model := realModel(b)
	ids := benchChallenges
	if v := os.Getenv("GENESIS_BENCH_CHALLENGES"); v != "" {
		ids = strings.Split(v, ",")
	}
	seeds, budget := envInt("GENESIS_BENCH_SEEDS", 3), envInt("GENESIS_BENCH_BUDGET", 12)
	strategy := os.Getenv("GENESIS_BENCH_STRATEGY")
	if strategy == "" {
		strategy = campaign.StrategyAgents
	}
	e := newEnvScale(b, 0.002) // the lab's time scale of make run
	for _, id := range ids {
		if _, err := e.cat.Get(id); err != nil {
			b.Fatal(err)
		}
		// An emulator lab is fitted on its first run: not the loop's cost.
		warm := campaign.CampaignInput{Challenge: id, Strategy: campaign.StrategyRandom, Budget: challenges.Budget{Experiments: 1}}
		if _, err := (direct{e.cat, activities.NewLab(e.cat, labclient.New(e.url, nil), nil, 10*time.Millisecond)}).Run(context.Background(), "warm-"+id, warm); err != nil {
			b.Fatal(err)
		}
	}
	c := e.ts.GetDefaultClient()
	var runs []loopRun
	b.ResetTimer()
	for i := range b.N {
		for seed := 1; seed <= seeds; seed++ {
			for _, id := range ids {
				in := campaign.CampaignInput{Challenge: id, Model: spec, Budget: challenges.Budget{Experiments: budget}, Seed: seed, Strategy: strategy, NoReport: true}
				r := runLoop(b, e, c, model, fmt.Sprintf("loop%d-%s-s%d", i, id, seed), in)
				fmt.Printf("%-26s seed %d: %2d experiments in %5.0f s, %3d calls, best %.3g (normalised %.2f), %s\n",
					id, seed, r.Experiments, r.WallS, r.ModelCalls, r.Best, r.Norm[len(r.Norm)-1], r.StopReason)
				runs = append(runs, r)
				// Written after every campaign: a long run stopped early still counts.
				writeLoopReport(b, loopReport{Model: spec, Strategy: strategy, Budget: budget, Seeds: seeds, Challenges: ids, Runs: runs})
			}
		}
	}
	b.StopTimer()
	tot := total(runs)
	b.ReportMetric(tot.WallS/float64(tot.Experiments), "s/experiment")
	b.ReportMetric(float64(tot.Calls)/float64(tot.Experiments), "calls/experiment")
	b.ReportMetric(float64(tot.Prompt-tot.Cached)/float64(tot.Experiments), "evaluated-tokens/experiment")
	b.ReportMetric(float64(tot.Cached)/float64(tot.Experiments), "cached-tokens/experiment")
	b.ReportMetric(float64(tot.Generated)/float64(tot.Experiments), "generated-tokens/experiment")
	b.ReportMetric(meanFinalNorm(runs), "best-normalised")
	out := loopReport{Model: spec, Strategy: strategy, Budget: budget, Seeds: seeds, Challenges: ids, Runs: runs}
	printLoopReport(os.Stdout, out)
	if path := os.Getenv("GENESIS_BENCH_OUT"); path != "" {
		fmt.Printf("figures written to %s\n", path)
	}
	if paths := os.Getenv("GENESIS_BENCH_BASELINE"); paths != "" {
		var base loopReport
		for _, path := range strings.Split(paths, ",") {
			js, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			var r loopReport
			if err := json.Unmarshal(js, &r); err != nil {
				b.Fatalf("%s: %v", path, err)
			}
			base.Runs = append(base.Runs, r.Runs...)
		}
		printComparison(os.Stdout, base, out)
	}
}

// writeLoopReport writes the figures to GENESIS_BENCH_OUT, if set.
func writeLoopReport(b *testing.B, rep loopReport) {
	path := os.Getenv("GENESIS_BENCH_OUT")
	if path == "" {
		return
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(path, js, 0o644); err != nil {
		b.Fatal(err)
	}
}

// loopRun is one benchmark campaign's figures.
type loopRun struct {
	Challenge   string         `json:"challenge"`
	Seed        int            `json:"seed"`
	Experiments int            `json:"experiments"`
	Iterations  int            `json:"iterations"`
	WallS       float64        `json:"wall_s"`
	ModelCalls  int            `json:"model_calls"`
	Tokens      int            `json:"tokens"`
	Repairs     int            `json:"repairs"`
	Fallbacks   map[string]int `json:"fallbacks,omitempty"`
	StopReason  string         `json:"stop_reason"`
	// Best is the best primary value; Norm the normalised best-so-far
	// after each experiment (0 = the dataset's worst score, 1 its best).
	Best  float64     `json:"best"`
	Norm  []float64   `json:"norm"`
	Roles []roleUsage `json:"roles"`
}

// roleUsage is what one role's model calls cost.
type roleUsage struct {
	Role      string  `json:"role"`
	Calls     int     `json:"calls"`
	Prompt    int     `json:"prompt_tokens"`
	Cached    int     `json:"cached_tokens"`
	Generated int     `json:"generated_tokens"`
	ModelS    float64 `json:"model_s"`
	// Skipped counts the turns the loop did not take (forced decisions).
	Skipped int `json:"skipped,omitempty"`
}

type loopReport struct {
	Model      string    `json:"model"`
	Strategy   string    `json:"strategy"`
	Budget     int       `json:"budget"`
	Seeds      int       `json:"seeds"`
	Challenges []string  `json:"challenges"`
	Runs       []loopRun `json:"runs"`
}

// runLoop runs one campaign on a worker of its own (own task queue, own
// memory), and reads its figures from the result and the transcripts.
func runLoop(b *testing.B, e *env, c client.Client, model llm.Model, id string, in campaign.CampaignInput) loopRun {
	b.Helper()
	dir := filepath.Join(e.dir, id)
	mem, err := embedded.Open(filepath.Join(dir, "memory"), memory.Hashing{}.Dim(), "hashing")
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Close()
	ex, err := hpc.NewLocal(filepath.Join(dir, "jobs"), 2)
	if err != nil {
		b.Fatal(err)
	}
	acts := &workflows.Deps{Catalog: e.cat, NewModel: func(string) (llm.Model, error) { return model, nil },
		Lab: labclient.New(e.url, &http.Client{Timeout: 30 * time.Second}), HPC: ex, SimCommand: []string{e.self},
		Memory: mem, Embedder: memory.Hashing{}, DataDir: dir, Poll: 10 * time.Millisecond, Temporal: c}
	queue := "bench-" + id
	w := worker.New(c, queue, workflows.WorkerOptions())
	workflows.Register(w, acts)
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	t0 := time.Now()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, campaign.CampaignWorkflowName, in)
	if err != nil {
		b.Fatal(err)
	}
	var raw json.RawMessage
	if err := run.Get(ctx, &raw); err != nil {
		b.Fatal(err)
	}
	var res campaign.CampaignResult
	// The usage table, read by name: loops before it had none.
	var extra struct {
		Usage []struct {
			Role    string `json:"role"`
			Skipped int    `json:"skipped"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		b.Fatal(err)
	}
	_ = json.Unmarshal(raw, &extra)
	ch, _ := e.cat.Get(in.Challenge)
	r := loopRun{Challenge: in.Challenge, Seed: in.Seed, Experiments: len(res.Trace), Iterations: res.Iterations, WallS: time.Since(t0).Seconds(),
		ModelCalls: res.ModelCalls, Tokens: res.Tokens, Repairs: res.Repairs, Fallbacks: res.Fallbacks, StopReason: res.StopReason, Best: math.NaN()}
	if res.Best != nil {
		r.Best = res.Best.Value
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range ch.Pool().Values {
		s := ch.Score(v)
		lo, hi = math.Min(lo, s), math.Max(hi, s)
	}
	best := math.Inf(-1)
	for _, x := range res.Trace {
		best = math.Max(best, ch.Score(x.Values))
		r.Norm = append(r.Norm, (best-lo)/(hi-lo))
	}
	if len(r.Norm) == 0 {
		r.Norm = []float64{0}
	}
	r.Roles = transcriptUsage(b, filepath.Join(dir, "transcripts", agents.PathSafe(id)))
	for _, u := range extra.Usage {
		for i := range r.Roles {
			if r.Roles[i].Role == u.Role {
				r.Roles[i].Skipped = u.Skipped
			}
		}
	}
	return r
}

// transcriptUsage sums a campaign's model calls by role from its
// transcripts, in the order the calls were made.
func transcriptUsage(b *testing.B, dir string) []roleUsage {
	b.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		b.Fatal(err)
	}
	type call struct {
		Role      string        `json:"role"`
		Iteration int           `json:"iteration"`
		Step      int           `json:"step"`
		Messages  []llm.Message `json:"messages"`
		Reply     string        `json:"reply"`
		Usage     struct {
			Prompt    int `json:"prompt_tokens"`
			Generated int `json:"completion_tokens"`
		} `json:"usage"`
		Seconds float64 `json:"duration_s"`
	}
	var calls []call
	for _, f := range files {
		js, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var x call
		if err := json.Unmarshal(js, &x); err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		calls = append(calls, x)
	}
	slices.SortFunc(calls, func(x, y call) int {
		if x.Iteration != y.Iteration {
			return x.Iteration - y.Iteration
		}
		if rx, ry := slices.Index(agents.Roles, x.Role), slices.Index(agents.Roles, y.Role); rx != ry {
			return rx - ry
		}
		return x.Step - y.Step
	})
	out := make([]roleUsage, len(agents.Roles))
	for i, r := range agents.Roles {
		out[i].Role = r
	}
	prev := ""
	for _, x := range calls {
		var text strings.Builder
		for _, m := range x.Messages {
			text.WriteString(m.Role + "\n" + m.Content + "\n")
		}
		u := &out[slices.Index(agents.Roles, x.Role)]
		u.Calls++
		u.Prompt += x.Usage.Prompt
		u.Cached += sharedPrefixTokens(prev, text.String(), x.Usage.Prompt)
		u.Generated += x.Usage.Generated
		u.ModelS += x.Seconds
		prev = text.String() + x.Reply
	}
	return out
}

// sharedPrefixTokens is how many of a prompt's tokens a cache holding prev
// can serve: the common prefix's share of the prompt's characters, in
// tokens, less the one token that may straddle the point where they part
// (and at least one token is always evaluated).
func sharedPrefixTokens(prev, prompt string, tokens int) int {
	n := 0
	for n < len(prev) && n < len(prompt) && prev[n] == prompt[n] {
		n++
	}
	if n == 0 || len(prompt) == 0 || tokens == 0 {
		return 0
	}
	return max(0, min(tokens*n/len(prompt)-1, tokens-1))
}

// loopTotal sums runs.
type loopTotal struct {
	Experiments, Calls, Prompt, Cached, Generated int
	WallS, ModelS                                 float64
	Roles                                         []roleUsage
}

func total(runs []loopRun) loopTotal {
	t := loopTotal{Roles: make([]roleUsage, len(agents.Roles))}
	for i, r := range agents.Roles {
		t.Roles[i].Role = r
	}
	for _, r := range runs {
		t.Experiments += r.Experiments
		t.WallS += r.WallS
		for _, u := range r.Roles {
			k := slices.Index(agents.Roles, u.Role)
			if k < 0 {
				continue
			}
			x := &t.Roles[k]
			x.Calls, x.Prompt, x.Cached, x.Generated, x.ModelS = x.Calls+u.Calls, x.Prompt+u.Prompt, x.Cached+u.Cached, x.Generated+u.Generated, x.ModelS+u.ModelS
			x.Skipped += u.Skipped
			t.Calls, t.Prompt, t.Cached, t.Generated, t.ModelS = t.Calls+u.Calls, t.Prompt+u.Prompt, t.Cached+u.Cached, t.Generated+u.Generated, t.ModelS+u.ModelS
		}
	}
	t.Experiments = max(t.Experiments, 1)
	return t
}

func meanFinalNorm(runs []loopRun) float64 {
	var s float64
	for _, r := range runs {
		s += r.Norm[len(r.Norm)-1]
	}
	return s / float64(max(len(runs), 1))
}

// printLoopReport prints the per-experiment figures, in all and by role.
func printLoopReport(w *os.File, rep loopReport) {
	t := total(rep.Runs)
	n := float64(t.Experiments)
	fmt.Fprintf(w, "\n%s, strategy %s, %d challenges × %d seeds, budget %d: %d campaigns, %d lab experiments\n",
		rep.Model, rep.Strategy, len(rep.Challenges), rep.Seeds, rep.Budget, len(rep.Runs), t.Experiments)
	fmt.Fprintf(w, "per lab experiment: %.1f s wall, %.1f s in the model, %.2f calls, %.0f prompt tokens (%.0f evaluated, %.0f cached), %.0f generated; best-so-far (normalised, mean) %.3f\n",
		t.WallS/n, t.ModelS/n, float64(t.Calls)/n, float64(t.Prompt)/n, float64(t.Prompt-t.Cached)/n, float64(t.Cached)/n, float64(t.Generated)/n, meanFinalNorm(rep.Runs))
	fmt.Fprintf(w, "per lab experiment, by role:\n%-20s %8s %8s %8s %10s %10s %10s %10s %12s\n", "role", "calls", "skipped", "model-s", "prompt", "evaluated", "cached", "generated", "tokens/call")
	for _, u := range t.Roles {
		perCall := 0.0
		if u.Calls > 0 {
			perCall = float64(u.Prompt+u.Generated) / float64(u.Calls)
		}
		fmt.Fprintf(w, "%-20s %8.2f %8.2f %8.1f %10.0f %10.0f %10.0f %10.0f %12.0f\n", u.Role, float64(u.Calls)/n, float64(u.Skipped)/n, u.ModelS/n,
			float64(u.Prompt)/n, float64(u.Prompt-u.Cached)/n, float64(u.Cached)/n, float64(u.Generated)/n, perCall)
	}
}

// printComparison prints a baseline run and this one side by side: the
// per-experiment totals, then each campaign both ran (same challenge and
// seed) with its best-so-far at the end.
func printComparison(w *os.File, base, cur loopReport) {
	bt, ct := total(base.Runs), total(cur.Runs)
	per := func(t loopTotal) (float64, float64, float64, float64, float64) {
		n := float64(t.Experiments)
		return t.WallS / n, float64(t.Calls) / n, float64(t.Prompt-t.Cached) / n, float64(t.Cached) / n, float64(t.Generated) / n
	}
	fmt.Fprintf(w, "\n%-10s %10s %10s %12s %10s %10s %8s %6s\n", "", "wall-s/ex", "calls/ex", "evaluated/ex", "cached/ex", "gen/ex", "best", "runs")
	for _, x := range []struct {
		name string
		t    loopTotal
		r    []loopRun
	}{{"baseline", bt, base.Runs}, {"this run", ct, cur.Runs}} {
		a, b, c, d, e := per(x.t)
		fmt.Fprintf(w, "%-10s %10.1f %10.2f %12.0f %10.0f %10.0f %8.3f %6d\n", x.name, a, b, c, d, e, meanFinalNorm(x.r), len(x.r))
	}
	fmt.Fprintf(w, "\n%-26s %4s  %-30s  %-30s\n", "campaign", "seed", "baseline: ex, s/ex, best(norm)", "this run: ex, s/ex, best(norm)")
	var paired, better, worse int
	for _, r := range cur.Runs {
		for _, o := range base.Runs {
			if o.Challenge != r.Challenge || o.Seed != r.Seed {
				continue
			}
			paired++
			ob, rb := o.Norm[len(o.Norm)-1], r.Norm[len(r.Norm)-1]
			switch {
			case rb > ob+1e-9:
				better++
			case rb < ob-1e-9:
				worse++
			}
			fmt.Fprintf(w, "%-26s %4d  %2d, %5.1f, %.4g (%.3f)%8s  %2d, %5.1f, %.4g (%.3f)\n", r.Challenge, r.Seed,
				o.Experiments, o.WallS/float64(max(o.Experiments, 1)), o.Best, ob, "",
				r.Experiments, r.WallS/float64(max(r.Experiments, 1)), r.Best, rb)
		}
	}
	fmt.Fprintf(w, "paired campaigns: %d; best-so-far higher in %d, lower in %d, equal in %d\n", paired, better, worse, paired-better-worse)
}
