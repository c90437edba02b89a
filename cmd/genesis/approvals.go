package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/genesis-sci/genesis/api/apiclient"
)

func approvalsCmd(cfg *globals) *cobra.Command {
	var client clientFunc
	var asJSON, watch bool
	var every time.Duration
	c := &cobra.Command{
		Use:   "approvals",
		Short: "List what waits for a person's decision: campaigns' lab runs and portfolios' approvals (through the API)",
		Long: `Lists every decision people owe across the running campaigns and portfolios: lab runs of a
campaign started with --require-approval, and a portfolio's pending approvals (with who may
decide and until when), each with the command that decides it. With --watch it keeps
listening and prints each new decision as it appears (with a terminal bell).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if watch && asJSON {
				return fmt.Errorf("--watch and --json do not go together: --json prints the list once")
			}
			if watch && every < 500*time.Millisecond {
				return fmt.Errorf("--every %s is too short: use at least 500ms", every)
			}
			cl, err := client()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if watch {
				return watchPending(cmd.Context(), cl, w, cmd.ErrOrStderr(), every)
			}
			out, err := cl.PendingDecisions(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(w, out)
			}
			printPending(w, out.Approvals)
			if out.Truncated {
				fmt.Fprintln(w, "(more running workflows than one listing reads: only the newest are shown)")
			}
			return nil
		},
	}
	client = apiClientFlags(cfg, c.Flags())
	c.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	c.Flags().BoolVar(&watch, "watch", false, "keep listening and print each new decision as it appears")
	c.Flags().DurationVar(&every, "every", 3*time.Second, "how often --watch asks")
	return c
}

// watchPending lists the pending decisions every interval and prints
// those that are new, until ctx ends. A passing failure of the API (up to
// 5 in a row) does not end the watch; a failing first listing does.
func watchPending(ctx context.Context, cl *apiclient.Client, w, errw io.Writer, every time.Duration) error {
	seen := map[string]bool{}
	for first, failures := true, 0; ; {
		out, err := cl.PendingDecisions(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil // Ctrl-C
		case err != nil && !first && failures < 5:
			failures++
			fmt.Fprintf(errw, "── %s %v (retrying)\n", time.Now().Format("15:04:05"), err)
		case err != nil:
			return err
		default:
			failures = 0
			var fresh []apiclient.PendingDecisionItem
			now := map[string]bool{}
			for _, it := range out.Approvals {
				k := fmt.Sprintf("%s/%s/%s/%d", it.Portfolio, it.Approval, it.Campaign, it.Iteration)
				now[k] = true
				if !seen[k] {
					fresh = append(fresh, it)
				}
			}
			seen = now
			if out.Truncated && first {
				fmt.Fprintln(w, "(more running workflows than one listing reads: only the newest are watched)")
			}
			switch {
			case first && len(fresh) == 0:
				fmt.Fprintf(w, "── %s nothing is waiting; watching for new decisions (Ctrl-C to stop)\n", time.Now().Format("15:04:05"))
			case len(fresh) > 0:
				fmt.Fprintf(w, "\a── %s %d new, %d waiting in all\n", time.Now().Format("15:04:05"), len(fresh), len(out.Approvals))
				printPending(w, fresh)
			}
			first = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

func printPending(w io.Writer, items []apiclient.PendingDecisionItem) {
	if len(items) == 0 {
		fmt.Fprintln(w, "nothing is waiting for a decision")
		return
	}
	for _, it := range items {
		head := fmt.Sprintf("campaign %s (%s): %s", it.Campaign, it.Challenge, it.What)
		if it.Kind == "portfolio" {
			head = fmt.Sprintf("portfolio %s, approval %s for %s: %s — an %s decides", it.Portfolio, it.Approval, it.Campaign, it.What, it.Role)
			if it.Deadline != nil {
				head += ", until " + it.Deadline.UTC().Format("2006-01-02 15:04 UTC")
			}
		}
		fmt.Fprintln(w, head)
		printPoints(w, it.Points)
		if it.Why != "" {
			fmt.Fprintf(w, "  why: %s\n", it.Why)
		}
		fmt.Fprintf(w, "  decide: %s\n", it.Command)
	}
}
