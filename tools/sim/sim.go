// Package sim is the simulation program an HPC job runs (`genesis sim`). It
// reads a job's input file, evaluates the challenge's simulation model — a
// cheaper, biased and noisier estimate than the lab — and writes a result
// file. Running it as a separate program keeps the HPC path real: the same
// job runs under the local executor or under Slurm.
package sim

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/genesis-sci/genesis/challenges"
)

// Input is a job's input file.
type Input struct {
	Challenge     string           `json:"challenge"`
	ChallengesDir string           `json:"challenges_dir,omitempty"`
	Point         challenges.Point `json:"point"`
	// Key makes the simulation's noise reproducible (an idempotency key).
	Key string `json:"key"`
	// TimeScale multiplies the model's duration (0 = no waiting).
	TimeScale float64 `json:"time_scale,omitempty"`
}

// Output is a job's result file.
type Output struct {
	Values   []float64 `json:"values"`
	Cost     float64   `json:"cost"`
	Duration float64   `json:"duration_s"`
}

// Main runs the program with args (without the program name) and returns the exit code.
func Main(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("input", "input.json", "job input file (JSON)")
	out := fs.String("output", "result.json", "result file to write (JSON)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: genesis sim [--input FILE] [--output FILE]\n\nEvaluates a challenge's simulation model for one design point; this is the program HPC jobs run.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(stderr, "genesis sim:", err)
		return 1
	}
	return 0
}

func run(inPath, outPath string) error {
	b, err := os.ReadFile(inPath)
	if err != nil {
		return err
	}
	var in Input
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("%s: %w", inPath, err)
	}
	cat, err := challenges.Open(in.ChallengesDir)
	if err != nil {
		return err
	}
	c, err := cat.Get(in.Challenge)
	if err != nil {
		return err
	}
	start := time.Now()
	vals, err := c.Simulate(in.Point, in.Key)
	if err != nil {
		return err
	}
	if in.TimeScale > 0 {
		time.Sleep(time.Duration(c.Simulation.DurationSeconds * in.TimeScale * float64(time.Second)))
	}
	res, _ := json.Marshal(Output{Values: vals, Cost: c.Simulation.Cost, Duration: time.Since(start).Seconds()})
	// Write then rename, so a reader never sees half a result.
	tmp := filepath.Join(filepath.Dir(outPath), "."+filepath.Base(outPath)+".tmp")
	if err := os.WriteFile(tmp, res, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, outPath)
}
