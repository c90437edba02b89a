package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/config"
	"github.com/genesis-sci/genesis/devserver"
)

// newAPIServer builds the API over a running stack: tokens (an admin token
// is created on first start), the audit log, memory and eval reports.
func newAPIServer(cfg *globals, st *stack, cat *challenges.Catalog) (*api.Server, func(), error) {
	toks, err := access.OpenTokens(cfg.home)
	if err != nil {
		return nil, nil, err
	}
	audit, err := access.OpenAudit(cfg.home)
	if err != nil {
		return nil, nil, err
	}
	a := &api.Server{Temporal: st.tc, Catalog: cat, DefaultModel: defaultModel(), Tokens: toks, Audit: audit,
		Memory: st.mem, Embedder: st.emb, EvalsDir: filepath.Join(cfg.home, "evals"), Streams: st.streams}
	return a, func() { audit.Close() }, nil
}

// serveAPI serves the API and web UI over a stack on addr; stop shuts the
// server down and closes the audit log.
func serveAPI(cfg *globals, st *stack, cat *challenges.Catalog, addr string) (bound string, stop func(), err error) {
	a, closeAPI, err := newAPIServer(cfg, st, cat)
	if err != nil {
		return "", nil, err
	}
	bound, stopHTTP, err := serveHTTP(addr, a.Handler())
	if err != nil {
		closeAPI()
		return "", nil, err
	}
	return bound, func() { stopHTTP(); closeAPI() }, nil
}

func apiCmd(cfg *globals) *cobra.Command {
	var addr, temporal, qdrantURL, embedder string
	c := &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API and web UI against an existing Temporal (workers run elsewhere)",
		Long: `Serves the API (OpenAPI at /openapi.json) and the web UI (/) for a deployment whose Temporal
and workers run elsewhere. Tokens and the audit log live in $GENESIS_HOME/api. Memory search
works when the memory is in Qdrant (--qdrant); the embedded store belongs to a worker.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := cfg.catalog()
			if err != nil {
				return err
			}
			if temporal == "" {
				return fmt.Errorf("--temporal HOST:PORT is required (or use genesis dev, which starts everything)")
			}
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			tc, err := client.Dial(devserver.ClientOptions(temporal))
			if err != nil {
				return fmt.Errorf("cannot reach Temporal at %s: %w", temporal, err)
			}
			defer tc.Close()
			st := &stack{cfg: cfg, tc: tc}
			if qdrantURL != "" {
				emb, mem, err := openMemory(ctx, cfg.home, embedder, qdrantURL, cfg.models, nil)
				if err != nil {
					return err
				}
				defer mem.Close()
				st.mem, st.emb = mem, emb
			}
			bound, stop, err := serveAPI(cfg, st, cat, addr)
			if err != nil {
				return err
			}
			defer stop()
			fmt.Fprintf(cmd.OutOrStdout(), "Genesis API and web UI on http://%s (Temporal %s; admin token in %s)\n", bound, temporal, access.AdminTokenFile(cfg.home))
			<-ctx.Done()
			return nil
		},
	}
	f := c.Flags()
	config.Addr.StringVar(f, &addr, "")
	config.Temporal.StringVar(f, &temporal, "")
	embedderFlag(f, &embedder, &qdrantURL)
	return c
}
