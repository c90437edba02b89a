package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/config"
	"github.com/genesis-sci/genesis/evals"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// temporalCampaigns runs campaigns as workflows. A run interrupted earlier
// is re-attached (same workflow ID) rather than started twice.
type temporalCampaigns struct{ c client.Client }

func (t temporalCampaigns) Run(ctx context.Context, id string, in campaign.CampaignInput) (*campaign.CampaignResult, error) {
	run, err := t.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, EnableEagerStart: true}, campaign.CampaignWorkflowName, in)
	if err != nil {
		return nil, err
	}
	var res campaign.CampaignResult
	if err := run.Get(ctx, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Result returns the result of a campaign that completed (evals.Results):
// the server keeps it for the namespace's retention period.
func (t temporalCampaigns) Result(ctx context.Context, id string) (*campaign.CampaignResult, error) {
	d, err := t.c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil, err
	}
	if st := d.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		return nil, fmt.Errorf("campaign %s is %s, not completed", id, st)
	}
	var res campaign.CampaignResult
	if err := t.c.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// evalOptions are genesis eval's flags.
type evalOptions struct {
	spec          evals.Spec
	chList, strat string
	parallel      int
	out           string
	so            stackOptions
}

func evalCmd(cfg *globals) *cobra.Command {
	var o evalOptions
	c := &cobra.Command{
		Use:   "eval",
		Short: "Score strategies (random, bo, agents, agents-noopt) on challenges: Top%, EF, AF, regret, plots",
		Long: `Runs every (challenge × strategy × seed) as a real campaign workflow and writes report.md,
report.html (tables and convergence plots) and report.json into --out. Finished runs are kept in
--out/runs, so running the same command again after an interruption resumes where it stopped,
and the same command with more --seeds (and the same --out) adds seeds to the runs it has.
Best and regret are scored on the truth of the points measured (the pool value, or the emulator's
noise-free value), with the best measurement beside it. Every run has its own agents' memory scope.

Ctrl-C starts no more runs, waits for the running ones (a classical run takes under a second) and
writes the report of what finished; a second Ctrl-C (or SIGTERM) stops waiting at once: the runs
left running stay on the eval's Temporal server and the resume command it prints re-attaches them.

Strategies: random (uniform), bo (Bayesian optimisation: a Gaussian process over the mixed space,
categoricals through their descriptors, after a k-medoids start design; expected improvement, one
experiment per round unless --batch), agents (the five-agent team with --model and the optimiser
as a tool), agents-noopt (the team without the optimiser). --init random:2 --acquisition ucb is
Liang et al.'s GP-LCB2 protocol.`,
		Example: `  genesis eval --challenges crossed-barrel-toughness --strategies random,bo --seeds 10 --budget 50
  genesis eval --challenges all --strategies random,bo --seeds 10 --budget 30
  genesis eval --challenges lnp-formulation,redoxmer-design --strategies bo --batch 4 --seeds 10 --budget 20
  genesis eval --sequence reizman-suzuki --strategies bo --seeds 10 --budget 15
  genesis eval --challenges p3ht-cnt-conductivity --strategies bo,agents,agents-noopt --seeds 3 --budget 15`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := cfg.catalog()
			if err != nil {
				return err
			}
			if err := o.check(cmd, cat); err != nil {
				return err
			}
			ctx, stop, release := evalInterrupts(cmd.ErrOrStderr())
			defer release()
			if o.spec.UsesModel() {
				if err := checkModel(ctx, o.spec.Model, cfg.models); err != nil {
					return err
				}
			} else {
				o.spec.Model = ""
				// Classical runs take a fraction of a second and each
				// finished one is saved in the eval directory, so a power
				// cut costs at most a few runs redone on resume, while a
				// commit that waits for the disk costs every run time.
				o.so.relaxedSync = true
			}
			if o.out == "" {
				o.out = filepath.Join(cfg.home, "evals", "eval-"+o.spec.Key())
			}
			o.so.hpc = o.spec.HPC
			o.so.timeScale = 1e-6 // the lab answers at once: evals measure decisions, not waiting
			o.so.poll = 5 * time.Millisecond
			// Beside a running `genesis dev` the eval starts a server of
			// its own, with its state (and memory, when the shared one is
			// in use) in the eval's directory, so the resume command finds
			// the runs left running there.
			o.so.altHome = o.out
			st, err := startWorkerStack(ctx, cmd, cfg, cat, o.so)
			if err != nil {
				return err
			}
			defer st.close()
			return o.execute(ctx, cmd, cat, st, stop)
		},
	}
	o.flags(c.Flags())
	return c
}

// check reads the lists of challenges and strategies into the spec and
// checks the spec and --parallel (defaulting it).
func (o *evalOptions) check(cmd *cobra.Command, cat *challenges.Catalog) error {
	o.spec.Challenges = splitList(o.chList)
	o.spec.Strategies = splitList(o.strat)
	if err := o.spec.Validate(cat); err != nil {
		return err
	}
	if cmd.Flags().Changed("parallel") && o.parallel < 1 {
		return fmt.Errorf("--parallel %d must be ≥ 1 (or leave it out: one run at a time with a model, CPUs + 1 without)", o.parallel)
	}
	if o.parallel == 0 {
		o.parallel = evals.DefaultParallel(o.spec)
	}
	return nil
}

// evalInterrupts handles Ctrl-C during an eval: the first closes stop (no
// new runs, the running ones finish); a second, or SIGTERM, cancels ctx
// (stop waiting now). release stops listening and cancels ctx.
func evalInterrupts(stderr io.Writer) (ctx context.Context, stop <-chan struct{}, release func()) {
	ctx, cancel := context.WithCancel(context.Background())
	stopc := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		stopped := false
		for {
			select {
			case sig := <-sigs:
				if !stopped && sig == os.Interrupt {
					stopped = true
					close(stopc)
					fmt.Fprintln(stderr, "\ninterrupted: starting no more runs; waiting for the running ones to finish (Ctrl-C again to stop waiting: they resume later)")
					continue
				}
				cancel()
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return ctx, stopc, func() {
		signal.Stop(sigs)
		cancel()
	}
}

// execute runs the eval's campaigns on st with a progress bar on stderr,
// then writes the reports and prints the summary.
func (o *evalOptions) execute(ctx context.Context, cmd *cobra.Command, cat *challenges.Catalog, st *stack, stop <-chan struct{}) error {
	spec := o.spec
	w := cmd.ErrOrStderr()
	total := len(spec.Challenges) * len(spec.Strategies) * spec.Seeds
	fmt.Fprintf(w, "eval: %d challenges × %d strategies × %d seeds = %d runs, %d at a time → %s\n",
		len(spec.Challenges), len(spec.Strategies), spec.Seeds, total, o.parallel, o.out)
	bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("runs"),
		progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetWidth(30), progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
	resumed := 0
	r := &evals.Runner{Catalog: cat, Campaigns: temporalCampaigns{st.tc}, Out: o.out, Parallel: o.parallel, Stop: stop,
		Progress: func(done, total int, last *evals.Run, skipped bool) {
			if skipped {
				resumed++
			}
			_ = bar.Set(done)
			if last != nil && !skipped {
				bar.Describe(fmt.Sprintf("%s/%s/s%d", shortID(last.Challenge), last.Strategy, last.Seed))
			}
		}}
	started := time.Now()
	runs, err := r.Execute(ctx, spec)
	if err != nil {
		_ = bar.Exit() // leave the bar where it stopped
		fmt.Fprintln(w)
	} else {
		_ = bar.Finish()
	}
	return finishEval(cmd.OutOrStdout(), cat, spec, o.out, runs, resumed, total, time.Since(started), err, resumeCommand(cmd, spec, o.out))
}

func (o *evalOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.chList, "challenges", "all", "challenge IDs, comma-separated, or all")
	f.StringVar(&o.strat, "strategies", "random,bo", "strategies, comma-separated: random, bo, agents, agents-noopt")
	config.Model.StringVar(f, &o.spec.Model, "model for the agent strategies")
	f.IntVar(&o.spec.Seeds, "seeds", 3, "seeds per (challenge, strategy)")
	f.IntVar(&o.spec.Budget, "budget", 0, "lab experiments per run (0 = each challenge's own budget)")
	f.StringVar(&o.spec.Acquisition, "acquisition", "", "bo's acquisition: ei (expected improvement, the default; q-EI for batches) or ucb (κ = 2; GP-BUCB for batches)")
	f.StringVar(&o.spec.Init, "init", "", "the optimiser's start design: auto (the default: k-medoids, one point more than the parameters, at most a fifth of the budget), medoids:N, maximin:N or random:N (Liang et al.'s protocol: random:2)")
	f.StringVar(&o.spec.Sequence, "sequence", "", "run a challenge family in order (instead of --challenges): each member starts from what the earlier ones measured, beside a cold start of every member, and the report gives the gain (families: genesis challenges list)")
	f.IntVar(&o.spec.Batch, "batch", 0, "experiments bo chooses together per lab round (default 1); the report gives Top% per experiment and per round")
	f.IntVar(&o.parallel, "parallel", 0, "runs at a time (default: 1 when a strategy calls the model, which serves one request at a time; CPUs + 1 otherwise)")
	f.StringVar(&o.out, "out", "", "output directory (default $GENESIS_HOME/evals/eval-<spec hash>; the same flags resume the same eval)")
	config.Temporal.StringVar(f, &o.so.temporal, "use this Temporal (HOST:PORT, or dev for the running `genesis dev`'s) instead of starting a dev server")
	f.IntVar(&o.so.tport, "temporal-port", 7233, "port of the dev server (when left out and taken, a free one)")
	f.IntVar(&o.so.uiPort, "ui-port", 8233, "Temporal web UI port (0 = no UI; when left out and taken, a free one)")
	f.StringVar(&o.spec.HPC, "hpc", "", "executor for the agents' simulations: local or slurm (default: local)")
	embedderFlag(f, &o.so.embedder, &o.so.qdrantURL)
}

// finishEval writes the reports of the runs that finished — all of them,
// or those before an interruption or a failed run — and prints the
// summary; an eval that stopped early also says how to resume it.
func finishEval(o io.Writer, cat *challenges.Catalog, spec evals.Spec, out string, runs []evals.Run, resumed, total int, took time.Duration, runErr error, resume string) error {
	if runErr != nil && len(runs) == 0 {
		var intr *evals.Interrupted
		if errors.As(runErr, &intr) {
			return fmt.Errorf("%w; nothing finished to report. Resume with: %s", runErr, resume)
		}
		return runErr
	}
	rep := evals.NewReport(cat, spec, runs)
	if runErr != nil {
		rep.Incomplete = &evals.Incomplete{Finished: len(runs), Planned: total, Reason: runErr.Error(), Resume: resume}
	}
	if err := rep.Write(out, cat); err != nil {
		return errors.Join(runErr, fmt.Errorf("writing the reports into %s: %w", out, err))
	}
	done := fmt.Sprint(len(runs))
	if len(runs) < total {
		done = fmt.Sprintf("%d of %d", len(runs), total)
	}
	fmt.Fprintf(o, "eval: %s runs (%d resumed from an earlier invocation) in %s\n", done, resumed, took.Round(time.Second))
	for _, n := range rep.Notes {
		fmt.Fprintf(o, "note: %s\n", n)
	}
	printSummary(o, rep)
	fmt.Fprintf(o, "\nreports: %s\n         %s\n         %s\n", filepath.Join(out, "report.md"), filepath.Join(out, "report.html"), filepath.Join(out, "report.json"))
	if runErr != nil {
		fmt.Fprintf(o, "\nthe eval stopped early (%v); the reports cover the %d finished runs. Resume with:\n  %s\n", runErr, len(runs), resume)
		return fmt.Errorf("%w; resume with: %s", runErr, resume)
	}
	return nil
}

// resumeCommand is the command that resumes the eval in out: the spec's
// flags written out (so a changed GENESIS_MODEL cannot change the eval)
// and the global flags that were given.
func resumeCommand(cmd *cobra.Command, spec evals.Spec, out string) string {
	args := []string{"genesis", "eval", "--challenges", strings.Join(spec.Challenges, ","), "--strategies", strings.Join(spec.Strategies, ","),
		"--seeds", fmt.Sprint(spec.Seeds), "--budget", fmt.Sprint(spec.Budget)}
	if spec.Model != "" {
		args = append(args, "--model", spec.Model)
	}
	if spec.HPC != "" {
		args = append(args, "--hpc", spec.HPC)
	}
	// Flags whose default may come from the environment are written out
	// when set either way; the others when given.
	for _, name := range []string{"home", "challenges-dir", "temporal", "temporal-port", "ui-port", "parallel"} {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			continue
		}
		fromEnv := name == "home" || name == "challenges-dir" || name == "temporal"
		if f.Changed || fromEnv && f.Value.String() != "" {
			args = append(args, "--"+name, f.Value.String())
		}
	}
	args = append(args, "--out", out)
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func shortID(s string) string {
	if len(s) > 24 {
		return s[:23] + "…"
	}
	return s
}

func printSummary(w io.Writer, rep evals.Report) {
	cur := ""
	for _, s := range rep.Summaries {
		if s.Challenge != cur {
			cur = s.Challenge
			fmt.Fprintf(w, "\n%s (budget %d)\n", cur, s.Budget)
		}
		best := fmt.Sprintf("best %s (measured %s)", numStr(s.BestTrueMedian, 4), numStr(s.BestMeasuredMedian, 4))
		if s.Finite {
			fmt.Fprintf(w, "  %-13s Top%% %s (per cost %s)  EF %s  AF(0.5) %s  first top hit %s  %s  regret %s  tokens/exp %s\n", s.Strategy,
				numStr(s.TopFrac, 3), numStr(s.TopFracCost, 3), numStr(s.EF, 2), numStr(s.AF, 2), numStr(s.NFirstTop, 1), best, numStr(s.RegretMedian, 3), numStr(s.TokensPerExperiment, 0))
		} else {
			fmt.Fprintf(w, "  %-13s regret %s (per cost %s)  top-threshold hits %s  first hit %s  %s  tokens/exp %s\n", s.Strategy,
				numStr(s.RegretMedian, 3), numStr(s.RegretCostMedian, 3), numStr(s.TopHitsMedian, 1), numStr(s.NFirstTop, 1), best, numStr(s.TokensPerExperiment, 0))
		}
	}
}

func numStr(n evals.Num, d int) string {
	b, _ := n.MarshalJSON()
	if string(b) == "null" {
		return "–"
	}
	return fmt.Sprintf("%.*f", d, float64(n))
}
