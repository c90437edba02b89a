// Command genesis is the Genesis runtime: AI agents running closed-loop
// scientific discovery campaigns, durably, on Temporal.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/tools/sim"
)

// config is the configuration every command shares. Each field is a flag
// with an environment variable behind its default.
type config struct {
	home          string // --home, GENESIS_HOME
	challengesDir string // --challenges-dir, GENESIS_CHALLENGES_DIR
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func defaultHome() string {
	if h := os.Getenv("GENESIS_HOME"); h != "" {
		return h
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".genesis"
	}
	return filepath.Join(home, ".genesis")
}

func (c *config) catalog() (*challenges.Catalog, error) {
	return challenges.Open(c.challengesDir)
}

// stdin is the commands' input (tests replace it).
var stdin io.Reader = os.Stdin

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}

// execute runs the command line and returns the exit code.
func execute(args []string, stdout, stderr io.Writer) int {
	cfg := &config{}
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
	root.PersistentFlags().StringVar(&cfg.home, "home", defaultHome(), "data directory (env GENESIS_HOME)")
	root.PersistentFlags().StringVar(&cfg.challengesDir, "challenges-dir", os.Getenv("GENESIS_CHALLENGES_DIR"), "extra challenge definitions (YAML) to load beside the built-in ones (env GENESIS_CHALLENGES_DIR)")

	root.AddCommand(runCmd(cfg), devCmd(cfg), benchCmd(cfg), workerCmd(cfg), labCmd(cfg), simCmd(), challengesCmd(cfg), evalCmd(cfg), memoryCmd(cfg), tokenCmd(cfg), campaignCmd(cfg), portfolioCmd(cfg), approvalsCmd(cfg), apiCmd(cfg), chatCmd(cfg))
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

// defaultModel is the model used when --model is not given.
func defaultModel() string { return envOr("GENESIS_MODEL", agents.DefaultModel) }
