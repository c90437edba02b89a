package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/genesis-sci/genesis/config"
)

// configCmd shows the settings as the environment gives them.
func configCmd() *cobra.Command {
	var markdown bool
	c := &cobra.Command{
		Use:   "config",
		Short: "Show every setting, the flag and environment variable that give it, and its value here (secrets redacted)",
		Long: `Every setting Genesis reads, as package config declares it: its flag, its environment variable and
the value the environment gives it now (a flag, when given to a command, wins). Secrets are shown
only as set or not. --markdown prints the table the README carries.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if markdown {
				fmt.Fprint(w, config.Markdown())
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SETTING\tFLAG\tVARIABLE\tVALUE")
			for _, v := range config.All() {
				flag := v.Flag
				if flag == "" {
					flag = v.FileFlag
				}
				if flag != "" {
					flag = "--" + flag
				}
				val := v.Value()
				switch {
				case v.Secret && val != "":
					val = "(set, redacted)"
				case val == "":
					val = "-"
				}
				title, _, _ := strings.Cut(v.Title, " (")
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", title, orDash(flag), orDash(v.Env), val)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&markdown, "markdown", false, "print the README's configuration table")
	return c
}
