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

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/providers"
	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/config"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// runOptions are genesis run's flags.
type runOptions struct {
	in    campaign.CampaignInput
	so    stackOptions
	quiet bool
}

func runCmd(cfg *globals) *cobra.Command {
	var o runOptions
	c := &cobra.Command{
		Use:   "run",
		Short: "Run one discovery campaign and print its result (starts its own Temporal unless --temporal)",
		Example: `  genesis run
  genesis run --challenge crossed-barrel-toughness --model ollama:gemma3:270m --budget 20 --seed 7
  genesis run --strategy bo --batch 2 --init random:2   # Bayesian optimisation, no model
  genesis run --temporal dev   # use the Temporal of the running "genesis dev" (by default run starts its own, on free ports)`,
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			cat, err := cfg.catalog()
			if err != nil {
				return err
			}
			ch, err := cat.Get(o.in.Challenge)
			if err != nil {
				return err
			}
			if err := o.check(); err != nil {
				return err
			}
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			out := cmd.OutOrStdout()
			if err := o.prepareModel(ctx, cfg, out); err != nil {
				return err
			}
			st, err := startWorkerStack(ctx, cmd, cfg, cat, o.so)
			if err != nil {
				return err
			}
			defer st.close()
			wr, err := o.start(ctx, out, ch, st, start)
			if err != nil {
				return err
			}
			res, err := follow(ctx, st.tc, wr, out, o.quiet)
			if err != nil {
				return err
			}
			printResult(out, ch, res, st)
			return nil
		},
	}
	o.flags(c.Flags())
	return c
}

// check checks the budgets and the strategy's settings.
func (o *runOptions) check() error {
	in := &o.in
	if in.Budget.Experiments < 0 || in.Budget.Tokens < 0 {
		return errors.New("--budget and --token-budget must be ≥ 0 (0 means the challenge's default)")
	}
	if err := api.CheckStrategy(in); err != nil {
		if se := (*api.StrategyError)(nil); errors.As(err, &se) && se.Field == "batch" && in.Batch > 0 && in.Strategy != campaign.StrategyBO {
			return fmt.Errorf("%w; --max-batch bounds the lab runs per iteration of the other strategies", err)
		}
		return err
	}
	return nil
}

// prepareModel checks the model of an agent strategy and prints how its
// server serves it; the classical strategies call no model.
func (o *runOptions) prepareModel(ctx context.Context, cfg *globals, out io.Writer) error {
	if classicalStrategy(o.in.Strategy) {
		o.in.Model = ""
		return nil
	}
	mcfg := cfg.models
	mcfg.OllamaPIDFile = filepath.Join(cfg.home, "ollama.pid")
	if err := checkModel(ctx, o.in.Model, mcfg); err != nil {
		return err
	}
	// The settings the loop's speed depends on, checked once (this also
	// loads the model): a server that will not reuse its prompt cache is
	// said now, not found slow later.
	cctx, ccancel := context.WithTimeout(ctx, time.Minute)
	line, problems, err := providers.CheckServing(cctx, o.in.Model, mcfg)
	ccancel()
	switch {
	case err != nil:
		fmt.Fprintf(out, "model server: not checked (%v)\n", err)
	case line != "":
		fmt.Fprintf(out, "model server: %s\n", line)
	}
	for _, p := range problems {
		fmt.Fprintf(out, "  WARNING: %s\n", p)
	}
	return nil
}

// start starts the campaign's workflow on st and prints what runs where.
func (o *runOptions) start(ctx context.Context, out io.Writer, ch *challenges.Challenge, st *stack, began time.Time) (client.WorkflowRun, error) {
	in := o.in
	id := api.NewCampaignID(ch.ID)
	wr, err := st.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, campaign.CampaignWorkflowName, in)
	if err != nil {
		return nil, fmt.Errorf("starting the campaign: %w", err)
	}
	budget := in.Budget.Experiments
	if budget == 0 {
		budget = ch.Budget.Experiments
	}
	who := "model " + in.Model
	if classicalStrategy(in.Strategy) {
		who = "strategy " + in.Strategy + " (no model)"
	}
	fmt.Fprintf(out, "Genesis: campaign %s\n  challenge %s — %s %s, budget %d lab experiments, %s\n", id, ch.ID, ch.Primary().Direction, ch.Primary().Name, budget, who)
	if st.dev != nil && st.dev.UI() != "" {
		fmt.Fprintf(out, "  watch it live in the Temporal UI: %s/namespaces/default/workflows/%s\n", st.dev.UI(), id)
	}
	fmt.Fprintf(out, "  started in %.1fs; Ctrl-C stops the campaign gracefully\n\n", time.Since(began).Seconds())
	return wr, nil
}

func (o *runOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.in.Challenge, "challenge", challenges.DefaultID, "challenge ID (see `genesis challenges list`)")
	config.Model.StringVar(f, &o.in.Model, "")
	f.IntVar(&o.in.Budget.Experiments, "budget", 0, "lab experiments to spend (0 = the challenge's default)")
	f.IntVar(&o.in.Budget.Tokens, "token-budget", 0, "stop after this many model tokens (0 = the challenge's default; none if unset there)")
	f.IntVar(&o.in.Seed, "seed", 1, "random seed for the optimiser and the model")
	f.IntVar(&o.in.MaxBatch, "max-batch", 4, "agents, agents-noopt and random: at most this many lab runs per iteration")
	strategyFlags(f, &o.in.Strategy, &o.in.Acquisition, &o.in.Init, &o.in.Batch)
	config.Temporal.StringVar(f, &o.so.temporal, "use this Temporal (HOST:PORT, or dev for the running `genesis dev`'s) instead of starting a dev server")
	f.IntVar(&o.so.tport, "temporal-port", 7233, "port of the dev server genesis starts (when left out and taken, a free one)")
	f.IntVar(&o.so.uiPort, "ui-port", 8233, "Temporal web UI port of the dev server (0 = no UI; when left out and taken, a free one)")
	config.Lab.StringVar(f, &o.so.labURL, "use this lab service URL instead of an in-process one")
	labTokenFlag(f, &o.so.labToken)
	f.Float64Var(&o.so.timeScale, "time-scale", 0.002, "lab time scale: real seconds per lab second")
	f.Float64Var(&o.so.simScale, "sim-time-scale", 0, "simulation time scale (0 = as fast as possible)")
	hpcFlags(f, &o.so)
	f.BoolVar(&o.quiet, "quiet", false, "print only the result")
}

// follow prints the campaign's progress until it ends. The first Ctrl-C
// asks the campaign to stop (it finishes its report); a second one leaves.
func follow(ctx context.Context, tc client.Client, wr client.WorkflowRun, out io.Writer, quiet bool) (*campaign.CampaignResult, error) {
	done := make(chan error, 1)
	var res campaign.CampaignResult
	go func() { done <- wr.Get(context.Background(), &res) }()
	lastSeq := 0
	tick := time.NewTicker(400 * time.Millisecond)
	defer tick.Stop()
	stopping := false
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-done:
			if !quiet {
				printEvents(ctx, tc, wr.GetID(), &lastSeq, out)
			}
			if err != nil {
				return nil, fmt.Errorf("campaign %s failed: %w", wr.GetID(), err)
			}
			return &res, nil
		case <-sigs:
			if stopping {
				return nil, fmt.Errorf("interrupted; campaign %s is still in Temporal and resumes with the next `genesis dev`", wr.GetID())
			}
			stopping = true
			fmt.Fprintln(out, "\nstopping the campaign (Ctrl-C again to leave at once)…")
			_ = tc.SignalWorkflow(context.Background(), wr.GetID(), "", campaign.SignalStop, "stopped by the user (Ctrl-C)")
		case <-tick.C:
			if !quiet {
				printEvents(ctx, tc, wr.GetID(), &lastSeq, out)
			}
		}
	}
}

func printEvents(ctx context.Context, tc client.Client, id string, lastSeq *int, out io.Writer) {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	v, err := tc.QueryWorkflow(qctx, id, "", campaign.QueryStatus)
	if err != nil {
		return
	}
	var st campaign.Status
	if v.Get(&st) != nil {
		return
	}
	best := "-"
	if st.Best != nil {
		best = fmt.Sprintf("%.4g", st.Best.Value)
	}
	for _, e := range st.Events {
		if e.Seq <= *lastSeq {
			continue
		}
		*lastSeq = e.Seq
		detail := strings.ReplaceAll(e.Detail, "\n", " ")
		fmt.Fprintf(out, "it %-3d %-20s %-22s %s\n", e.Iteration, e.Agent, e.Action, detail)
		if e.Action == "iteration done" {
			fmt.Fprintf(out, "       ── experiments %d/%d · simulations %d · best %s %s · tokens %d\n", st.ExperimentsUsed, st.Budget, st.Simulations, st.Objective, best, st.Tokens)
		}
	}
}

func printResult(out io.Writer, ch *challenges.Challenge, r *campaign.CampaignResult, st *stack) {
	o := ch.Primary()
	fmt.Fprintf(out, "\nCampaign %s finished: %s\n", r.CampaignID, r.StopReason)
	if r.Best != nil {
		var parts []string
		for _, p := range ch.Parameters {
			parts = append(parts, fmt.Sprintf("%s=%v", p.Name, r.Best.Point[p.Name]))
		}
		fmt.Fprintf(out, "  best %s:   %.4g %s at %s (lab run %s, iteration %d)\n", o.Name, r.Best.Value, o.Unit, strings.Join(parts, " "), r.Best.RunID, r.Best.Iteration)
		fmt.Fprintf(out, "  dataset best:    %.4g %s\n", ch.BestValue(), o.Unit)
	}
	fmt.Fprintf(out, "  experiments:     %d lab runs (%d refused or failed), %d simulations, %d iterations\n", len(r.Experiments), r.Refused, r.Simulations, r.Iterations)
	printTime(out, r)
	fmt.Fprintf(out, "  model:           %s — %d calls, %d tokens, %d repaired replies, fallbacks %v\n", r.Model, r.ModelCalls, r.Tokens, r.Repairs, fallbacks(r.Fallbacks))
	printUsage(out, r)
	if r.Report != "" {
		fmt.Fprintf(out, "  full report:     %s\n", r.Report)
	}
	if st.dev != nil {
		fmt.Fprintf(out, "  Temporal UI:     run `genesis dev` and open http://127.0.0.1:8233/namespaces/default/workflows/%s (history kept in %s/temporal.db)\n", r.CampaignID, st.cfg.home)
	} else {
		fmt.Fprintf(out, "  Temporal:        workflow %s on %s\n", r.CampaignID, st.temporal)
	}
}

func fallbacks(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range agents.SortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func classicalStrategy(s string) bool {
	return s == campaign.StrategyBO || s == campaign.StrategyRandom
}

// printTime says how long the campaign took and where the time went.
func printTime(out io.Writer, r *campaign.CampaignResult) {
	t := r.Time
	if t.Wall <= 0 {
		return
	}
	per := ""
	if n := len(r.Experiments); n > 0 {
		per = fmt.Sprintf(", %.1f s per lab experiment", t.Wall/float64(n))
	}
	var prompt, gen float64
	for _, u := range r.Usage {
		prompt, gen = prompt+u.PromptSeconds, gen+u.GenSeconds
	}
	model := fmt.Sprintf("model %.0f s", t.Model)
	if prompt+gen > 0 {
		model += fmt.Sprintf(" (reading prompts %.0f s, writing replies %.0f s)", prompt, gen)
	}
	other := max(0, t.Wall-t.Model-t.Tools-t.Lab-t.Sim-t.Wait)
	parts := []string{model, fmt.Sprintf("lab %.0f s", t.Lab), fmt.Sprintf("simulations %.0f s", t.Sim), fmt.Sprintf("tools %.0f s", t.Tools)}
	if t.Wait >= 0.5 {
		parts = append(parts, fmt.Sprintf("waiting for approval or paused %.0f s", t.Wait))
	}
	parts = append(parts, fmt.Sprintf("other %.0f s", other))
	fmt.Fprintf(out, "  time:            %.0f s%s: %s\n", t.Wall, per, strings.Join(parts, ", "))
}

// printUsage prints what each agent role's calls cost, the prompt cache's
// share, and a warning when the server did not use its cache or cut
// prompts.
func printUsage(out io.Writer, r *campaign.CampaignResult) {
	if len(r.Usage) == 0 {
		return
	}
	var prompt, cached, gen, calls, misses, missed, truncated int
	var roles []string
	for _, u := range r.Usage {
		prompt, cached, gen, calls = prompt+u.PromptTokens, cached+u.CachedTokens, gen+u.CompletionTokens, calls+u.Calls
		misses, missed, truncated = misses+u.CacheMisses, missed+u.MissedTokens, truncated+u.Truncated
		line := fmt.Sprintf("%s %d", u.Role, u.Calls)
		if u.Skipped > 0 {
			line += fmt.Sprintf(" (+%d skipped)", u.Skipped)
		}
		roles = append(roles, line+fmt.Sprintf(" %.0f s", u.Seconds))
	}
	fmt.Fprintf(out, "  prompt tokens:   %d read anew, %d from the server's prompt cache (%.0f%%); %d generated\n",
		prompt-cached, cached, 100*float64(cached)/float64(max(prompt, 1)), gen)
	fmt.Fprintf(out, "  calls by role:   %s\n", strings.Join(roles, " · "))
	if misses > 0 {
		fmt.Fprintf(out, "  WARNING: prompt cache not used: %d of %d calls re-read their whole prompt (%d tokens) although the server had just read most of it; "+
			"another client of the same Ollama, a change of context size or a server with OLLAMA_NUM_PARALLEL above 1 evicts it (deploy/ollama/install.sh --check)\n", misses, calls, missed)
	}
	if truncated > 0 {
		fmt.Fprintf(out, "  WARNING: %d prompts did not fit the model's context window and were cut: the agents read only part of them\n", truncated)
	}
}
