package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/api/apiclient"
	"github.com/genesis-sci/genesis/config"
)

// clientFunc makes the API client of a command from its flags (after
// they are parsed).
type clientFunc func() (*apiclient.Client, error)

// apiClientFlags adds --api and --token-file to f and returns how to make
// the client they describe.
func apiClientFlags(cfg *globals, f *pflag.FlagSet) clientFunc {
	var base, tokenFile string
	config.API.StringVar(f, &base, "")
	config.Token.FileVar(f, &tokenFile, "file with an API token (default GENESIS_TOKEN, else $GENESIS_HOME/admin.token)")
	return func() (*apiclient.Client, error) { return newAPIClient(cfg, base, tokenFile) }
}

// newAPIClient is a client of the API at base with the token from
// tokenFile, else GENESIS_TOKEN, else the admin token `genesis dev` wrote.
func newAPIClient(cfg *globals, base, tokenFile string) (*apiclient.Client, error) {
	tok := config.Token.Value()
	if tokenFile == "" && tok == "" {
		tokenFile = access.AdminTokenFile(cfg.home)
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("API token: %w (set GENESIS_TOKEN, pass --token-file, or start `genesis dev` once to create %s)", err, access.AdminTokenFile(cfg.home))
		}
		tok = strings.TrimSpace(string(b))
	}
	return apiclient.New(base, tok)
}

// actionCmd is a command taking the arguments named in use after its
// name: it calls act (with --reason when withReason) and prints done(args).
func actionCmd(client clientFunc, use, short string, withReason bool,
	act func(ctx context.Context, cl *apiclient.Client, args []string, reason string) error, done func(args []string) string) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(len(strings.Fields(use)) - 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			if err := act(cmd.Context(), cl, args, reason); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), done(args))
			return nil
		},
	}
	if withReason {
		cmd.Flags().StringVar(&reason, "reason", "", "why (goes into the record and the audit log)")
	}
	return cmd
}

// idCmd is the command `VERB ID`: it calls act on the ID and prints
// "DONE ID".
func idCmd(client clientFunc, verb, short, done string, withReason bool, act func(ctx context.Context, cl *apiclient.Client, id, reason string) error) *cobra.Command {
	return actionCmd(client, verb+" ID", short, withReason,
		func(ctx context.Context, cl *apiclient.Client, args []string, reason string) error {
			return act(ctx, cl, args[0], reason)
		},
		func(args []string) string { return done + " " + args[0] })
}

// listed is one line of a list of campaigns or portfolios.
type listed struct {
	ID       string
	Strategy string // campaigns only
	Status   string
	Started  time.Time
}

// listCmd lists campaigns or portfolios, as list reads them.
func listCmd(short string, client clientFunc, campaigns bool, list func(context.Context, *apiclient.Client) ([]listed, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			items, err := list(cmd.Context(), cl)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			if campaigns {
				fmt.Fprintln(tw, "ID\tSTRATEGY\tSTATUS\tSTARTED")
			} else {
				fmt.Fprintln(tw, "ID\tSTATUS\tSTARTED")
			}
			for _, s := range items {
				if campaigns {
					fmt.Fprintf(tw, "%s\t%s\t", s.ID, s.Strategy)
				} else {
					fmt.Fprintf(tw, "%s\t", s.ID)
				}
				fmt.Fprintf(tw, "%s\t%s\n", s.Status, s.Started.Local().Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	}
}

// printPoints writes design points as JSON, one per indented line.
func printPoints(w io.Writer, points []map[string]any) {
	for _, p := range points {
		b, _ := json.Marshal(p)
		fmt.Fprintf(w, "    %s\n", b)
	}
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
