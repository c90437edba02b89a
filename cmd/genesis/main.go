// Command genesis is the Genesis runtime: AI agents running closed-loop
// scientific discovery campaigns, durably, on Temporal.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/genesis-sci/genesis/agents/providers"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/config"
	"github.com/genesis-sci/genesis/tools/sim"
)

// globals is what every command shares: the root's flags and the model
// providers' settings, read once from the environment (package config
// declares them all).
type globals struct {
	home          string // config.Home
	challengesDir string // config.ChallengesDir
	models        providers.Config
}

func (c *globals) catalog() (*challenges.Catalog, error) {
	return challenges.Open(c.challengesDir)
}

// stdin is the commands' input (tests replace it).
var stdin io.Reader = os.Stdin

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}

// execute runs the command line and returns the exit code.
func execute(args []string, stdout, stderr io.Writer) int {
	root := rootCmd(&globals{models: providers.ConfigFromEnv()})
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetIn(stdin)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "genesis:", err)
		return 1
	}
	return 0
}

// rootCmd is the command tree.
func rootCmd(cfg *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "genesis",
		Short: "AI agents running closed-loop scientific discovery, durably, on Temporal",
		Long: `Genesis points a team of five LLM agents (planner, hypothesis, simulation-operator,
lab-operator, analyst) at a scientific challenge. They form hypotheses, run simulations on
HPC, run experiments in a (robotic) lab, analyse the results and remember what they learned,
looping until the challenge converges. Every step is a durable Temporal activity.

Quick start:  genesis run            (one campaign on the default challenge, with a local model)
              genesis dev            (Temporal + worker + lab + API, long-running)`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	config.Home.StringVar(root.PersistentFlags(), &cfg.home, "")
	config.ChallengesDir.StringVar(root.PersistentFlags(), &cfg.challengesDir, "")

	root.AddCommand(runCmd(cfg), devCmd(cfg), benchCmd(cfg), workerCmd(cfg), labCmd(cfg), simCmd(), challengesCmd(cfg), evalCmd(cfg), memoryCmd(cfg), tokenCmd(cfg), campaignCmd(cfg), portfolioCmd(cfg), approvalsCmd(cfg), apiCmd(cfg), chatCmd(cfg), configCmd())
	return root
}

func simCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "sim [--input FILE] [--output FILE]",
		Short:              "Evaluate a challenge's simulation model for one point (the program HPC jobs run)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := sim.Main(args, os.Stderr); code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}

// defaultModel is the model used when --model is not given, and by the
// API for campaigns and chats that name none.
func defaultModel() string { return config.Model.Value() }
