package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/evals"
	"github.com/genesis-sci/genesis/workflows"
)

// temporalCampaigns runs campaigns as workflows. A run interrupted earlier
// is re-attached (same workflow ID) rather than started twice.
type temporalCampaigns struct{ c client.Client }

func (t temporalCampaigns) Run(ctx context.Context, id string, in workflows.CampaignInput) (*workflows.CampaignResult, error) {
	run, err := t.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, EnableEagerStart: true}, workflows.CampaignWorkflowName, in)
	if err != nil {
		return nil, err
	}
	var res workflows.CampaignResult
	if err := run.Get(ctx, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

func evalCmd(cfg *config) *cobra.Command {
	var (
		spec          evals.Spec
		chList, strat string
		parallel      int
		out           string
		so            stackOptions
	)
	c := &cobra.Command{
		Use:   "eval",
		Short: "Score strategies (random, bo, agents, agents-noopt) on challenges: Top%, EF, AF, regret, plots",
		Long: `Runs every (challenge × strategy × seed) as a real campaign workflow and writes report.md,
report.html (tables and convergence plots) and report.json into --out. Finished runs are kept in
--out/runs, so running the same command again after an interruption resumes where it stopped.

Strategies: random (uniform), bo (Gaussian-process Bayesian optimisation, Matérn-5/2 ARD, UCB κ=2,
one experiment at a time after 2 random), agents (the five-agent team with --model and the
optimiser as a tool), agents-noopt (the team without the optimiser).`,
		Example: `  genesis eval --challenges crossed-barrel-toughness --strategies random,bo --seeds 10 --budget 50
  genesis eval --challenges all --strategies random,bo --seeds 10 --budget 30
  genesis eval --challenges p3ht-cnt-conductivity --strategies bo,agents,agents-noopt --seeds 3 --budget 15`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := cfg.catalog()
			if err != nil {
				return err
			}
			spec.Challenges = splitList(chList)
			spec.Strategies = splitList(strat)
			if err := spec.Validate(cat); err != nil {
				return err
			}
			if cmd.Flags().Changed("parallel") && parallel < 1 {
				return fmt.Errorf("--parallel %d must be ≥ 1 (or leave it out: one run at a time with a model, CPUs + 1 without)", parallel)
			}
			if parallel == 0 {
				parallel = evals.DefaultParallel(spec)
			}
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			if spec.UsesModel() {
				cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
				err := agents.CheckModel(cctx, spec.Model, agents.ModelConfigFromEnv())
				ccancel()
				if err != nil {
					return err
				}
			} else {
				spec.Model = ""
				// Classical runs take a fraction of a second and each
				// finished one is saved in the eval directory, so a power
				// cut costs at most a few runs redone on resume, while a
				// commit that waits for the disk costs every run time.
				so.relaxedSync = true
			}
			if out == "" {
				out = filepath.Join(cfg.home, "evals", "eval-"+spec.Key())
			}
			so.worker = true
			so.hpc = spec.HPC
			so.timeScale = 1e-6 // the lab answers at once: evals measure decisions, not waiting
			so.poll = 5 * time.Millisecond
			st, err := startStack(ctx, cfg, cat, so)
			if err != nil {
				return err
			}
			defer st.close()

			w := cmd.ErrOrStderr()
			total := len(spec.Challenges) * len(spec.Strategies) * spec.Seeds
			fmt.Fprintf(w, "eval: %d challenges × %d strategies × %d seeds = %d runs, %d at a time → %s\n",
				len(spec.Challenges), len(spec.Strategies), spec.Seeds, total, parallel, out)
			bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("runs"),
				progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionShowElapsedTimeOnFinish(),
				progressbar.OptionSetWidth(30), progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
			resumed := 0
			r := &evals.Runner{Catalog: cat, Campaigns: temporalCampaigns{st.tc}, Out: out, Parallel: parallel,
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
			_ = bar.Finish()
			if err != nil {
				return err
			}
			rep, err := evals.WriteReports(out, cat, spec, runs)
			if err != nil {
				return err
			}
			o := cmd.OutOrStdout()
			fmt.Fprintf(o, "eval: %d runs (%d resumed from an earlier invocation) in %s\n", len(runs), resumed, time.Since(started).Round(time.Second))
			printSummary(o, rep)
			fmt.Fprintf(o, "\nreports: %s\n         %s\n         %s\n", filepath.Join(out, "report.md"), filepath.Join(out, "report.html"), filepath.Join(out, "report.json"))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&chList, "challenges", "all", "challenge IDs, comma-separated, or all")
	f.StringVar(&strat, "strategies", "random,bo", "strategies, comma-separated: random, bo, agents, agents-noopt")
	f.StringVar(&spec.Model, "model", defaultModel(), "model for the agent strategies (env GENESIS_MODEL)")
	f.IntVar(&spec.Seeds, "seeds", 3, "seeds per (challenge, strategy)")
	f.IntVar(&spec.Budget, "budget", 0, "lab experiments per run (0 = each challenge's own budget)")
	f.IntVar(&parallel, "parallel", 0, "runs at a time (default: 1 when a strategy calls the model, which serves one request at a time; CPUs + 1 otherwise)")
	f.StringVar(&out, "out", "", "output directory (default $GENESIS_HOME/evals/eval-<spec hash>; the same flags resume the same eval)")
	f.StringVar(&so.temporal, "temporal", os.Getenv("TEMPORAL_ADDRESS"), "use this Temporal (HOST:PORT) instead of starting a dev server")
	f.IntVar(&so.tport, "temporal-port", 7233, "port of the dev server")
	f.IntVar(&so.uiPort, "ui-port", 8233, "Temporal web UI port (0 = no UI)")
	f.StringVar(&spec.HPC, "hpc", "", "executor for the agents' simulations: local or slurm (default: local)")
	return c
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

func printSummary(w interface{ Write([]byte) (int, error) }, rep evals.Report) {
	cur := ""
	for _, s := range rep.Summaries {
		if s.Challenge != cur {
			cur = s.Challenge
			fmt.Fprintf(w, "\n%s (budget %d)\n", cur, s.Budget)
		}
		if s.Finite {
			fmt.Fprintf(w, "  %-13s Top%% %s (per cost %s)  EF %s  AF(0.5) %s  first top hit %s  best %s  tokens/exp %s\n", s.Strategy,
				numStr(s.TopFrac, 3), numStr(s.TopFracCost, 3), numStr(s.EF, 2), numStr(s.AF, 2), numStr(s.NFirstTop, 1), numStr(s.BestMedian, 4), numStr(s.TokensPerExperiment, 0))
		} else {
			fmt.Fprintf(w, "  %-13s regret %s (per cost %s)  top-threshold hits %s  first hit %s  best %s  tokens/exp %s\n", s.Strategy,
				numStr(s.RegretMedian, 3), numStr(s.RegretCostMedian, 3), numStr(s.TopHitsMedian, 1), numStr(s.NFirstTop, 1), numStr(s.BestMedian, 4), numStr(s.TokensPerExperiment, 0))
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
