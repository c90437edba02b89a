package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/genesis-sci/genesis/api/apiclient"
	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/workflows/portfolioflow"
)

func portfolioCmd(cfg *globals) *cobra.Command {
	c := &cobra.Command{Use: "portfolio", Short: "Run many challenges at once under priorities, shared capacity, budgets and an approval policy",
		Long: `A portfolio runs one campaign per challenge of a portfolio file and shares the lab
instruments, HPC slots and model calls among them by priority; every spend is
charged to a ledger and checked against the budgets before it happens; lab runs
outside a routine region or above a cost wait for an operator. See the README's
"Portfolios" section for the file format.`}
	client := apiClientFlags(cfg, c.PersistentFlags())
	list := listCmd("List portfolios", client, false, func(ctx context.Context, cl *apiclient.Client) ([]listed, error) {
		ps, err := cl.Portfolios(ctx)
		out := make([]listed, len(ps))
		for i, s := range ps {
			out[i] = listed{ID: s.ID, Status: s.Status, Started: s.Started}
		}
		return out, err
	})
	c.AddCommand(portfolioStartCmd(cfg, client), portfolioStatusCmd(client), list)
	c.AddCommand(portfolioActionCmds(client)...)
	return c
}

func portfolioStartCmd(cfg *globals, client clientFunc) *cobra.Command {
	var id string
	var watch bool
	start := &cobra.Command{
		Use:   "start FILE",
		Short: "Check a portfolio file and start it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := cfg.catalog()
			if err != nil {
				return err
			}
			// Check here first: the errors name the file and every problem.
			if _, err := portfolio.Load(args[0], portfolio.Catalog(cat)); err != nil {
				return err
			}
			body, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			cl, err := client()
			if err != nil {
				return err
			}
			out, err := cl.StartPortfolio(cmd.Context(), body, id)
			if err != nil {
				return err
			}
			pid := out.ID
			fmt.Fprintf(cmd.OutOrStdout(), "started %s with %d campaigns\n  status: genesis portfolio status %s [--watch]\n", pid, out.Campaigns, pid)
			if watch {
				return watchPortfolio(cmd.Context(), cl, pid, cmd.OutOrStdout(), 2*time.Second)
			}
			return nil
		},
	}
	start.Flags().StringVar(&id, "id", "", "portfolio ID (default: made from its name)")
	start.Flags().BoolVar(&watch, "watch", false, "follow the portfolio until it ends")
	return start
}

func portfolioStatusCmd(client clientFunc) *cobra.Command {
	var asJSON, watch bool
	var every time.Duration
	status := &cobra.Command{
		Use:   "status ID",
		Short: "Show each campaign's progress, spend against budget, and what waits for whom",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			if watch {
				return watchPortfolio(cmd.Context(), cl, args[0], cmd.OutOrStdout(), every)
			}
			st, err := cl.Portfolio(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), st)
			}
			printPortfolio(cmd.OutOrStdout(), st)
			return nil
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print the whole status as JSON")
	status.Flags().BoolVar(&watch, "watch", false, "refresh until the portfolio ends")
	status.Flags().DurationVar(&every, "every", 2*time.Second, "refresh interval with --watch")
	return status
}

// portfolioActionCmds are stop, pause, resume, approve and reject.
func portfolioActionCmds(client clientFunc) []*cobra.Command {
	stop := idCmd(client, "stop", "Stop every campaign of a portfolio", "stopping", false,
		func(ctx context.Context, cl *apiclient.Client, id, _ string) error {
			_, err := cl.StopPortfolio(ctx, id)
			return err
		})
	pause := idCmd(client, "pause", "Pause a portfolio: nothing more is granted until it resumes (work already granted finishes)", "paused", false,
		func(ctx context.Context, cl *apiclient.Client, id, _ string) error {
			_, err := cl.PausePortfolio(ctx, id)
			return err
		})
	resume := idCmd(client, "resume", "Resume a paused portfolio", "resumed", false,
		func(ctx context.Context, cl *apiclient.Client, id, _ string) error {
			_, err := cl.ResumePortfolio(ctx, id)
			return err
		})
	decide := func(verb string) *cobra.Command {
		return actionCmd(client, verb+" ID APPROVAL", strings.ToUpper(verb[:1])+verb[1:]+" a pending approval (its ID is in `genesis portfolio status`)", true,
			func(ctx context.Context, cl *apiclient.Client, args []string, reason string) error {
				_, err := cl.DecidePortfolio(ctx, args[0], args[1], verb == "approve", reason)
				return err
			},
			func(args []string) string { return fmt.Sprintf("%sd %s of %s", verb, args[1], args[0]) })
	}
	return []*cobra.Command{stop, pause, resume, decide("approve"), decide("reject")}
}

// watchPortfolio prints the status whenever it changes, until the end.
func watchPortfolio(ctx context.Context, cl *apiclient.Client, id string, w io.Writer, every time.Duration) error {
	last := ""
	for {
		st, err := cl.Portfolio(ctx, id)
		if err != nil {
			return err
		}
		var b strings.Builder
		printPortfolio(&b, st)
		if s := b.String(); s != last {
			fmt.Fprintf(w, "── %s\n%s", time.Now().Format("15:04:05"), s)
			last = s
		}
		if st.Done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

func printPortfolio(w io.Writer, st portfolioflow.PortfolioStatus) {
	state := "running"
	switch {
	case st.Done:
		state = "done"
	case st.Stopping != "":
		state = "stopping: " + st.Stopping
	case st.Paused != "":
		state = "paused by " + st.Paused + "; resume with `genesis portfolio resume " + st.ID + "`"
	}
	fmt.Fprintf(w, "%s — %s (%s)\n", st.ID, st.Name, state)
	fmt.Fprintf(w, "  in use: lab %d/%d, hpc %d/%d, model calls %d/%d; %d grants\n", st.InUse.Lab, st.Capacity.Lab, st.InUse.HPC, st.Capacity.HPC,
		st.InUse.Model, st.Capacity.Model, st.Grants)
	budget := "no portfolio-wide limit"
	if !st.Budget.Zero() {
		budget = "of " + st.Budget.String()
	}
	fmt.Fprintf(w, "  spent: %s (%s)", st.Spent, budget)
	if !st.Reserved.Zero() {
		fmt.Fprintf(w, "; reserved: %s", st.Reserved)
	}
	if !st.Pool.Zero() {
		fmt.Fprintf(w, "; unassigned pool: %s", st.Pool)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CAMPAIGN\tPRI\tSTATE\tIT\tBEST\tLAB RUNS\tSIMS\tTOKENS\tNODE-H\tCOST\tWAITING FOR")
	for _, c := range st.Campaigns {
		cstate := "running"
		switch {
		case c.Done:
			cstate = "done"
		case c.Flag != "":
			cstate = "stalled"
		}
		best := "-"
		if c.Best != nil {
			best = fmt.Sprintf("%.4g", *c.Best)
		}
		pri := fmt.Sprint(c.Priority)
		if c.Priority != c.BasePriority {
			pri = fmt.Sprintf("%d (was %d)", c.Priority, c.BasePriority)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, pri, cstate, c.Iteration, best,
			ofBudget(float64(c.Spent.LabRuns), float64(c.Budget.LabRuns)), ofBudget(float64(c.Spent.Simulations), float64(c.Budget.Simulations)),
			ofBudget(float64(c.Spent.Tokens), float64(c.Budget.Tokens)), ofBudget(c.Spent.NodeHours, c.Budget.NodeHours),
			ofBudget(c.Spent.Cost, c.Budget.Cost), orDash(c.Waiting))
	}
	_ = tw.Flush()
	for _, c := range st.Campaigns {
		if c.Done && c.Reason != "" {
			fmt.Fprintf(w, "  %s ended: %s\n", c.ID, c.Reason)
		}
	}
	if len(st.Pending) > 0 {
		fmt.Fprintln(w, "waiting for approval:")
		for _, a := range st.Pending {
			fmt.Fprintf(w, "  %s  %s: %d %s, cost %.3g — %s\n      needs an %s by %s: genesis portfolio approve|reject %s %s\n", a.ID, a.Campaign, a.Request.N, portfolio.Units(a.Request.Kind),
				a.Cost, strings.Join(a.Reasons, "; "), a.Role, a.Deadline.Local().Format("15:04:05"), st.ID, a.ID)
		}
	}
	if n := len(st.Log); n > 0 {
		fmt.Fprintln(w, "log (latest last):")
		for _, r := range st.Log[max(0, n-8):] {
			who := r.Campaign
			if r.To != "" {
				who = r.To
			}
			fmt.Fprintf(w, "  %s %-12s %s %s\n", r.Time.Local().Format("15:04:05"), r.Kind, who, r.Detail)
		}
	}
}

// ofBudget is "spent/budget", or just "spent" without a limit.
func ofBudget(spent, budget float64) string {
	if budget <= 0 {
		return fmt.Sprintf("%.4g", spent)
	}
	return fmt.Sprintf("%.4g/%.4g", spent, budget)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
