package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/config"
)

func devCmd(cfg *globals) *cobra.Command {
	var (
		so   stackOptions
		addr string
	)
	c := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: Temporal dev server, worker, lab service and HTTP API",
		Long: `genesis dev brings up a real Temporal server (state in $GENESIS_HOME/temporal.db, web UI on
:8233), a worker, the lab service and the HTTP API, and runs until Ctrl-C. Campaigns that were
running when it stopped resume when it starts again.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return untilInterrupted(cfg, so, func(ctx context.Context, cat *challenges.Catalog, st *stack) error {
				bound, stop, err := serveAPI(cfg, st, cat, addr)
				if err != nil {
					return err
				}
				defer stop()
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "Genesis dev is up (data in %s)\n", cfg.home)
				fmt.Fprintf(out, "  API:         http://%s  (OpenAPI at /openapi.json; admin token in %s)\n", bound, access.AdminTokenFile(cfg.home))
				fmt.Fprintf(out, "               try: genesis campaign start --challenge crossed-barrel-toughness --api http://%s\n", bound)
				fmt.Fprintf(out, "  lab service: %s\n", st.labURL)
				if st.dev != nil && st.dev.UI() != "" {
					fmt.Fprintf(out, "  Temporal:    %s, web UI %s\n", st.temporal, st.dev.UI())
				} else {
					fmt.Fprintf(out, "  Temporal:    %s\n", st.temporal)
				}
				fmt.Fprintln(out, "Ctrl-C stops everything; running campaigns resume on the next start.")
				<-ctx.Done()
				fmt.Fprintln(out, "shutting down…")
				return nil
			})
		},
	}
	f := c.Flags()
	config.Addr.StringVar(f, &addr, "HTTP API address")
	config.Temporal.StringVar(f, &so.temporal, "use this Temporal (HOST:PORT) instead of starting a dev server")
	f.IntVar(&so.tport, "temporal-port", 7233, "port of the dev server")
	f.IntVar(&so.uiPort, "ui-port", 8233, "Temporal web UI port (0 = no UI)")
	config.Lab.StringVar(f, &so.labURL, "use this lab service URL instead of the in-process one")
	labTokenFlag(f, &so.labToken)
	config.FaultRate.Float64Var(f, &so.faultRate, "in-process lab: probability that a run hits an instrument fault")
	f.StringVar(&so.labAddr, "lab-addr", "127.0.0.1:8090", "address of the in-process lab service")
	f.Float64Var(&so.timeScale, "time-scale", 0.01, "lab time scale: real seconds per lab second")
	f.Float64Var(&so.simScale, "sim-time-scale", 0, "simulation time scale (0 = as fast as possible)")
	hpcFlags(f, &so)
	return c
}

func workerCmd(cfg *globals) *cobra.Command {
	var so stackOptions
	c := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker against an existing Temporal and lab service",
		RunE: func(cmd *cobra.Command, args []string) error {
			if so.temporal == "" || so.labURL == "" {
				return fmt.Errorf("a worker needs --temporal HOST:PORT and --lab URL (for everything in one process use `genesis dev`)")
			}
			return untilInterrupted(cfg, so, func(ctx context.Context, _ *challenges.Catalog, st *stack) error {
				fmt.Fprintf(cmd.OutOrStdout(), "worker polling task queue %q on %s; lab %s\n", "genesis", st.temporal, st.labURL)
				<-ctx.Done()
				return nil
			})
		},
	}
	f := c.Flags()
	config.Temporal.StringVar(f, &so.temporal, "")
	config.Lab.StringVar(f, &so.labURL, "")
	labTokenFlag(f, &so.labToken)
	f.Float64Var(&so.simScale, "sim-time-scale", 0, "simulation time scale (0 = as fast as possible)")
	hpcFlags(f, &so)
	return c
}

// untilInterrupted starts a stack with a worker and hands it to serve
// with a context that ends at Ctrl-C or SIGTERM; the stack closes when
// serve returns.
func untilInterrupted(cfg *globals, so stackOptions, serve func(ctx context.Context, cat *challenges.Catalog, st *stack) error) error {
	cat, err := cfg.catalog()
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	so.worker = true
	st, err := startStack(ctx, cfg, cat, so)
	if err != nil {
		return err
	}
	defer st.close()
	return serve(ctx, cat, st)
}
