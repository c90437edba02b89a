package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/tools/hpc"
	"github.com/genesis-sci/genesis/tools/sim"
)

// HPCOptions are what the simulation set needs.
type HPCOptions struct {
	// Default is the executor for simulation jobs; Named are further ones
	// ("local", "slurm") a campaign may pick with its HPC option.
	Default hpc.Executor
	Named   map[string]hpc.Executor
	// Command is the program an HPC job runs (genesis sim); ChallengesDir
	// is where it finds the catalog's files.
	Command       []string
	ChallengesDir string
	// TimeScale makes simulations take their modelled time × scale.
	TimeScale float64
	// Poll is how often a job is polled (0: 200 ms).
	Poll time.Duration
}

// HPC is the activity set that needs an HPC executor: simulation jobs.
type HPC struct {
	o HPCOptions
}

// NewHPC returns the set.
func NewHPC(o HPCOptions) *HPC {
	o.Poll = pollOrDefault(o.Poll)
	return &HPC{o: o}
}

// Register registers the set's activities under their names.
func (s *HPC) Register(r worker.ActivityRegistry) {
	register(r, SimulateName, s.Simulate)
}

// SimInput is one simulation job.
type SimInput struct {
	Challenge string           `json:"challenge"`
	Point     challenges.Point `json:"point"`
	// Executor names the HPC backend ("" for the worker's default).
	Executor string `json:"executor,omitempty"`
	// Key names the job; a retried activity finds the job it submitted.
	Key string `json:"key"`
}

// Simulate submits a `genesis sim` job to the HPC executor and waits for it.
// A job that fails comes back as a result with a note, for the agents.
func (s *HPC) Simulate(ctx context.Context, in SimInput) (agents.Result, error) {
	ex, err := s.executor(in.Executor)
	if err != nil {
		return agents.Result{}, err
	}
	input, _ := json.Marshal(sim.Input{Challenge: in.Challenge, ChallengesDir: s.o.ChallengesDir, Point: in.Point, Key: in.Key, TimeScale: s.o.TimeScale})
	cmd := append(append([]string(nil), s.o.Command...), "--input", "input.json", "--output", "result.json")
	// Submission is idempotent by name (the key), so a retry after a
	// worker crash finds the job instead of starting another.
	start := time.Now()
	job, err := ex.Submit(ctx, hpc.JobSpec{Name: in.Key, Command: cmd, Files: map[string][]byte{"input.json": input}, CPUs: 1, MemoryMB: 256, TimeLimit: portfolio.SimJobLimit})
	if err != nil {
		return agents.Result{}, err
	}
	id := job.ID
	beat := pollHeartbeat(ctx, 5*time.Second)
	job, err = hpc.Wait(ctx, ex, id, s.o.Poll, func(j hpc.Job) { beat(j.ID + " " + j.State) })
	if err != nil {
		// Cancelled by the campaign (it was stopped): cancel the job too.
		// A worker shutting down leaves the job running; the retried
		// activity on the next worker finds it and waits again.
		if ctx.Err() != nil && !workerStopping(ctx) {
			if cerr := ex.Cancel(context.WithoutCancel(ctx), id); cerr != nil {
				activity.GetLogger(ctx).Warn("cancelling the job of a cancelled simulation", "job", id, "err", cerr)
			}
		}
		return agents.Result{}, err
	}
	// The node time is measured from this attempt's submit (or find) to
	// the job's end: one CPU, so node-seconds are seconds.
	res := agents.Result{Source: "sim", Point: in.Point, Ref: job.ID, Seconds: time.Since(start).Seconds()}
	if job.State != hpc.Completed {
		res.Note = fmt.Sprintf("job %s %s (exit %d): %s", job.ID, job.State, job.ExitCode, job.Reason)
		return res, nil
	}
	b, err := ex.ReadFile(ctx, job.ID, "result.json")
	if err != nil {
		res.Note = "job completed without a result file: " + err.Error()
		return res, nil
	}
	var out sim.Output
	if err := json.Unmarshal(b, &out); err != nil {
		res.Note = "unreadable result file: " + err.Error()
		return res, nil
	}
	res.Values = out.Values
	return res, nil
}

// executor returns the named HPC backend, or the default.
func (s *HPC) executor(name string) (hpc.Executor, error) {
	if len(s.o.Command) == 0 {
		return nil, temporal.NewNonRetryableApplicationError("no simulation program configured on this worker", "NoExecutor", nil)
	}
	if name == "" {
		if s.o.Default == nil {
			return nil, temporal.NewNonRetryableApplicationError("no HPC executor configured on this worker", "NoExecutor", nil)
		}
		return s.o.Default, nil
	}
	if ex, ok := s.o.Named[name]; ok {
		return ex, nil
	}
	names := make([]string, 0, len(s.o.Named))
	for n := range s.o.Named {
		names = append(names, n)
	}
	sort.Strings(names)
	return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("this worker has no %q HPC executor (it has: %s); start the worker with --hpc %s", name, strings.Join(names, ", "), name), "NoExecutor", nil)
}
