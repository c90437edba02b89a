package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/genesis-sci/genesis/api/apiclient"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

func campaignCmd(cfg *globals) *cobra.Command {
	c := &cobra.Command{Use: "campaign", Short: "Start, list, watch and stop campaigns through the API (a running genesis dev)"}
	client := apiClientFlags(cfg, c.PersistentFlags())
	list := listCmd("List campaigns", client, true, func(ctx context.Context, cl *apiclient.Client) ([]listed, error) {
		cs, err := cl.Campaigns(ctx, 0)
		out := make([]listed, len(cs))
		for i, s := range cs {
			out[i] = listed{ID: s.ID, Strategy: cmp.Or(s.Strategy, "?"), Status: s.Status, Started: s.Started}
		}
		return out, err
	})
	c.AddCommand(campaignStartCmd(client), list, campaignStatusCmd(client), campaignWatchCmd(client))
	c.AddCommand(campaignActionCmds(client)...)
	return c
}

func campaignStartCmd(client clientFunc) *cobra.Command {
	var req apiclient.StartRequest
	start := &cobra.Command{
		Use:   "start --challenge ID",
		Short: "Start a campaign",
		Example: `  genesis campaign start --challenge crossed-barrel-toughness --budget 20
  genesis campaign start --challenge crossed-barrel-toughness --strategy bo --batch 2 --init random:2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			out, err := cl.StartCampaign(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "started %s\n  watch: genesis campaign watch %s\n", out.ID, out.ID)
			return nil
		},
	}
	start.Flags().StringVar(&req.Challenge, "challenge", challenges.DefaultID, "challenge ID")
	start.Flags().StringVar(&req.Model, "model", "", "model spec (default: the server's)")
	start.Flags().IntVar(&req.Budget, "budget", 0, "lab experiments (0 = the challenge's)")
	start.Flags().IntVar(&req.Seed, "seed", 0, "seed")
	start.Flags().StringVar(&req.HPC, "hpc", "", "simulation executor: local or slurm")
	start.Flags().BoolVar(&req.RequireApproval, "require-approval", false, "hold every set of lab runs until approved (genesis campaign approve ID)")
	strategyFlags(start.Flags(), &req.Strategy, &req.Acquisition, &req.Init, &req.Batch)
	return start
}

func campaignStatusCmd(client clientFunc) *cobra.Command {
	return &cobra.Command{
		Use:   "status ID",
		Short: "Show a campaign's status",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			st, err := cl.Campaign(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
}

func campaignWatchCmd(client clientFunc) *cobra.Command {
	return &cobra.Command{
		Use:   "watch ID",
		Short: "Follow a campaign live until it ends",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			return watchCampaign(cmd.Context(), cl, args[0], cmd.OutOrStdout())
		},
	}
}

// campaignActionCmds are stop, pause, resume, approve and reject.
func campaignActionCmds(client clientFunc) []*cobra.Command {
	type act = func(ctx context.Context, cl *apiclient.Client, id, reason string) error
	decision := func(reason string) apiclient.CampaignDecision { return apiclient.CampaignDecision{Reason: reason} }
	var (
		stop act = func(ctx context.Context, cl *apiclient.Client, id, _ string) error {
			_, err := cl.StopCampaign(ctx, id)
			return err
		}
		pause act = func(ctx context.Context, cl *apiclient.Client, id, _ string) error {
			_, err := cl.PauseCampaign(ctx, id)
			return err
		}
		resume act = func(ctx context.Context, cl *apiclient.Client, id, _ string) error {
			_, err := cl.ResumeCampaign(ctx, id)
			return err
		}
		approve act = func(ctx context.Context, cl *apiclient.Client, id, reason string) error {
			_, err := cl.ApproveCampaign(ctx, id, decision(reason))
			return err
		}
		reject act = func(ctx context.Context, cl *apiclient.Client, id, reason string) error {
			_, err := cl.RejectCampaign(ctx, id, decision(reason))
			return err
		}
	)
	return []*cobra.Command{
		idCmd(client, "stop", "Stop a campaign (it finishes its current step and reports)", "stopping", false, stop),
		idCmd(client, "pause", "Pause a campaign before its next iteration", "paused", false, pause),
		idCmd(client, "resume", "Resume a paused campaign", "resumed", false, resume),
		idCmd(client, "approve", "Approve the lab runs a campaign is waiting on (started with --require-approval)", "approved the pending lab runs of", true, approve),
		idCmd(client, "reject", "Reject the lab runs a campaign is waiting on", "rejected the pending lab runs of", true, reject),
	}
}

// strategyFlags adds the flags that choose how a campaign picks
// experiments (the API and the workflow check the values).
func strategyFlags(f *pflag.FlagSet, strategy, acquisition, init *string, batch *int) {
	f.StringVar(strategy, "strategy", campaign.StrategyAgents, "how to choose experiments: agents (the agent team, with the optimiser's suggestions), agents-noopt (the team alone), bo (Bayesian optimisation; no model) or random (uniform draws; no model)")
	f.StringVar(acquisition, "acquisition", "", "bo only: ei (expected improvement, the default; q-EI for batches) or ucb (upper confidence bound; GP-BUCB for batches)")
	f.StringVar(init, "init", "", "the optimiser's start design, for bo and the agents' suggestions: auto (the default: maximin, one point per parameter plus one but at most a fifth of the budget, at least 2), maximin, maximin:N or random:N")
	f.IntVar(batch, "batch", 0, "bo only: experiments chosen together and run at once in the lab, 1 to 64 (default 1)")
}

func printStatus(w io.Writer, st apiclient.CampaignStatus) {
	state := st.Phase
	if st.Done {
		state = "done: " + st.StopReason
	}
	fmt.Fprintf(w, "%s — %s (%s)\n", st.CampaignID, st.Challenge, state)
	if st.Strategy != "" {
		fmt.Fprintf(w, "  strategy %s\n", strategyText(st))
	}
	fmt.Fprintf(w, "  iteration %d, %d/%d experiments, %d simulations, %d tokens\n", st.Iteration, st.ExperimentsUsed, st.Budget, st.Simulations, st.Tokens)
	if st.Best != nil {
		fmt.Fprintf(w, "  best %s = %.4g (run %s, iteration %d)\n", st.Objective, st.Best.Value, st.Best.RunID, st.Best.Iteration)
	}
	if st.Paused {
		fmt.Fprintln(w, "  paused: genesis campaign resume", st.CampaignID)
	}
	if st.Pending != nil {
		fmt.Fprintf(w, "  %d lab run(s) await approval (genesis campaign approve|reject %s):\n", len(st.Pending.Points), st.CampaignID)
		printPoints(w, st.Pending.Points)
		if st.Pending.Rationale != "" {
			fmt.Fprintf(w, "    why: %s\n", st.Pending.Rationale)
		}
	}
}

// strategyText is a campaign's strategy with the optimiser settings it
// shows: "bo (acquisition ei, init maximin:5, batch 1)".
func strategyText(st apiclient.CampaignStatus) string {
	var parts []string
	if st.Acquisition != "" {
		parts = append(parts, "acquisition "+st.Acquisition)
	}
	if st.Init != "" {
		parts = append(parts, "init "+st.Init)
	}
	if st.Batch != 0 {
		parts = append(parts, fmt.Sprintf("batch %d", st.Batch))
	}
	if len(parts) == 0 {
		return st.Strategy
	}
	return st.Strategy + " (" + strings.Join(parts, ", ") + ")"
}

// watchCampaign follows a campaign and prints each new event of its log,
// then how it ended. Ctrl-C ends the watch quietly.
func watchCampaign(ctx context.Context, cl *apiclient.Client, id string, w io.Writer) error {
	seen := 0
	reason, err := cl.WatchCampaign(ctx, id, func(st apiclient.CampaignStatus) {
		for _, e := range st.Events {
			if e.Seq > seen {
				fmt.Fprintf(w, "%s it%-3d %-20s %-18s %s\n", e.Time.Local().Format("15:04:05"), e.Iteration, e.Agent, e.Action, e.Detail)
				seen = e.Seq
			}
		}
	})
	switch {
	case errors.Is(err, context.Canceled):
		return nil
	case err != nil:
		return fmt.Errorf("watch %s: %w", id, err)
	}
	fmt.Fprintf(w, "campaign %s ended: %s\n", id, reason)
	return nil
}
