package main

import (
	"cmp"
	"fmt"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/genesis-sci/genesis/api/access"
)

// tokenCmd manages API tokens on this machine; each change is written to
// the API's audit log with the OS user who made it.
func tokenCmd(cfg *globals) *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Manage API tokens (stored hashed in $GENESIS_HOME/api/tokens.json)"}
	var role, name string
	create := &cobra.Command{
		Use:   "create --role viewer|operator|admin",
		Short: "Create an API token and print it (it is shown only once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			toks, err := access.OpenTokens(cfg.home)
			if err != nil {
				return err
			}
			tok, entry, err := toks.Issue(role, name)
			if err != nil {
				return err
			}
			if err := auditCLI(cfg.home, "genesis token create", entry.ID, "role "+entry.Role); err != nil {
				return fmt.Errorf("token %s created, but the audit log could not be written: %w", entry.ID, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			fmt.Fprintf(cmd.ErrOrStderr(), "created %s (role %s); revoke it with: genesis token revoke %s\n", entry.ID, entry.Role, entry.ID)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "viewer", "viewer (read), operator (start, stop, approve, chat) or admin (tokens)")
	create.Flags().StringVar(&name, "name", "", fmt.Sprintf("what the token is for (at most %d characters, no control characters)", access.MaxTokenNameLen))
	list := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (IDs, roles, names; never the secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			toks, err := access.OpenTokens(cfg.home)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLE\tCREATED\tNAME")
			for _, t := range toks.List() {
				// %q: a name stored before names were checked may hold
				// control characters; they must not reach the terminal.
				fmt.Fprintf(tw, "%s\t%s\t%s\t%q\n", t.ID, t.Role, t.Created.Local().Format("2006-01-02 15:04"), t.Name)
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token at once (running servers refuse it from their next request)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			toks, err := access.OpenTokens(cfg.home)
			if err != nil {
				return err
			}
			gone, err := toks.Revoke(args[0])
			if err != nil {
				return err
			}
			if err := auditCLI(cfg.home, "genesis token revoke", gone.ID, "revoked token role "+gone.Role); err != nil {
				return fmt.Errorf("token %s revoked, but the audit log could not be written: %w", gone.ID, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s (role %s, %q)\n", gone.ID, gone.Role, gone.Name)
			return nil
		},
	}
	c.AddCommand(create, list, revoke)
	return c
}

// auditCLI writes a command's change to the API's audit log, with the OS
// user and host who ran it.
func auditCLI(home, command, resource, detail string) error {
	a, err := access.OpenAudit(home)
	if err != nil {
		return err
	}
	defer a.Close()
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, _ := os.Hostname()
	return a.Write(access.AuditEntry{Time: time.Now().UTC(), Method: "CLI", Path: command, Resource: resource, Detail: detail,
		Actor: who + "@" + cmp.Or(host, "localhost")})
}
