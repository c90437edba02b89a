package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/tools/hpc"
	"github.com/genesis-sci/genesis/tools/labclient"
	"github.com/genesis-sci/genesis/tools/sim"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/activities"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// hpcWorker is a worker whose simulations run on ex (and, by name, on the
// executors in more), each taking simScale × the challenge's modelled time.
func (e *env) hpcWorker(t *testing.T, model llm.Model, ex hpc.Executor, more map[string]hpc.Executor, simScale float64) worker.Worker {
	t.Helper()
	acts := &workflows.Deps{Catalog: e.cat, NewModel: func(string) (llm.Model, error) { return model, nil },
		Lab: labclient.New(e.url, &http.Client{Timeout: 10 * time.Second}), HPC: ex, Executors: more, SimCommand: []string{e.self},
		SimTimeScale: simScale, Memory: openMemory(t, t.TempDir()), Embedder: memory.Hashing{}, DataDir: e.dir, Poll: 20 * time.Millisecond}
	return e.ts.NewWorker(workflows.TaskQueue, func(r worker.Registry) { workflows.Register(r, acts) })
}

// slurmExecutor is the real cluster from deploy/slurm/install.sh, or a skip.
func slurmExecutor(t *testing.T, root string) *hpc.Slurm {
	t.Helper()
	if _, err := exec.LookPath("sbatch"); err != nil {
		if os.Getenv("GENESIS_SLURM_TEST") == "1" {
			t.Fatal("GENESIS_SLURM_TEST=1 but there is no sbatch; run deploy/slurm/install.sh")
		}
		t.Skip("no Slurm here (deploy/slurm/install.sh starts one; make test does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := hpc.NewSlurm(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startCampaign(t *testing.T, c client.Client, id string, in campaign.CampaignInput) client.WorkflowRun {
	t.Helper()
	run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, campaign.CampaignWorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func waitPhase(t *testing.T, c client.Client, id, phase string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for status(t, c, id).Phase != phase {
		if time.Now().After(deadline) {
			t.Fatalf("campaign %s never reached phase %q (now %+v)", id, phase, status(t, c, id).Phase)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jobDirs lists the simulation job directories under root.
// waitJobRunning waits until a simulation job under root runs.
func waitJobRunning(t *testing.T, ex hpc.Executor, root string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		for _, d := range jobDirs(t, root) {
			jid := filepath.Base(d)
			if b, err := os.ReadFile(filepath.Join(d, ".slurm_job_id")); err == nil {
				jid = strings.TrimSpace(string(b))
			}
			if j, err := ex.Status(context.Background(), jid); err == nil && j.State == hpc.Running {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no simulation job under %s ran within a minute", root)
		}
	}
}

func jobDirs(t *testing.T, root string) []string {
	t.Helper()
	ents, _ := os.ReadDir(root)
	var out []string
	for _, e := range ents {
		if e.IsDir() && strings.Contains(e.Name(), "sim") {
			out = append(out, filepath.Join(root, e.Name()))
		}
	}
	return out
}

// A campaign whose simulations run on the real Slurm cluster, picked by the
// campaign's HPC option.
func TestCampaignOnSlurm(t *testing.T) {
	e := newEnv(t)
	root := filepath.Join(e.dir, "slurm-jobs")
	sl := slurmExecutor(t, root)
	local, _ := hpc.NewLocal(filepath.Join(e.dir, "jobs"), 2)
	e.hpcWorker(t, team(0), local, map[string]hpc.Executor{"local": local, "slurm": sl}, 0)
	c := e.ts.GetDefaultClient()
	res := runCampaign(t, c, "campaign-slurm", campaign.CampaignInput{Challenge: challenges.DefaultID, Model: "scripted", Budget: challenges.Budget{Experiments: 4}, Seed: 2, HPC: "slurm"}, 3*time.Minute)
	if len(res.Experiments) != 4 || res.Simulations == 0 {
		t.Fatalf("result %+v", res)
	}
	dirs := jobDirs(t, root)
	if len(dirs) != res.Simulations {
		t.Errorf("%d Slurm job directories for %d simulations", len(dirs), res.Simulations)
	}
	for _, d := range dirs {
		id, err := os.ReadFile(filepath.Join(d, ".slurm_job_id"))
		if err != nil {
			t.Errorf("%s: no Slurm job ID: %v", d, err)
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "result.json")); err != nil {
			t.Errorf("Slurm job %s wrote no result: %v", strings.TrimSpace(string(id)), err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(e.dir, "jobs")); len(ents) != 0 {
		t.Errorf("%d jobs ran on the local executor; the campaign asked for Slurm", len(ents))
	}
}

// Stopping a campaign while its simulations run cancels the jobs, on the
// local executor and on Slurm (scancel).
func TestStopCancelsSimulationJobs(t *testing.T) {
	for _, backend := range []string{"local", "slurm"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t)
			root := filepath.Join(e.dir, backend+"-jobs")
			var ex hpc.Executor
			if backend == "slurm" {
				ex = slurmExecutor(t, root)
			} else {
				ex, _ = hpc.NewLocal(root, 2)
			}
			// Simulations take 5 s × 60 = 5 minutes: only a cancel ends them.
			e.hpcWorker(t, team(0), ex, nil, 60)
			c := e.ts.GetDefaultClient()
			id := "campaign-stop-" + backend
			run := startCampaign(t, c, id, campaign.CampaignInput{Challenge: challenges.DefaultID, Model: "scripted", Budget: challenges.Budget{Experiments: 4}, Seed: 2})
			waitPhase(t, c, id, "simulating")
			waitJobRunning(t, ex, root)
			if err := c.SignalWorkflow(context.Background(), id, "", campaign.SignalStop, "test stop"); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var res campaign.CampaignResult
			if err := run.Get(ctx, &res); err != nil {
				t.Fatalf("campaign did not end after stop: %v", err)
			}
			if !strings.Contains(res.StopReason, "test stop") {
				t.Errorf("stop reason %q", res.StopReason)
			}
			dirs := jobDirs(t, root)
			if len(dirs) == 0 {
				t.Fatal("no simulation job was submitted")
			}
			for _, d := range dirs {
				deadline := time.Now().Add(30 * time.Second)
				var j hpc.Job
				for {
					jid := filepath.Base(d)
					if b, err := os.ReadFile(filepath.Join(d, ".slurm_job_id")); err == nil {
						jid = strings.TrimSpace(string(b))
					}
					j, _ = ex.Status(context.Background(), jid)
					if hpc.Terminal(j.State) || time.Now().After(deadline) {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				if j.State != hpc.Cancelled {
					t.Errorf("job %s is %s after the stop, want CANCELLED", filepath.Base(d), j.State)
				}
			}
		})
	}
}

// A worker that stops while a simulation job runs leaves the job running;
// the next worker adopts it (no second job) and the campaign completes.
func TestSimulationSurvivesWorkerRestart(t *testing.T) {
	e := newEnv(t)
	root := filepath.Join(e.dir, "jobs")
	ex1, _ := hpc.NewLocal(root, 2)
	w1 := e.hpcWorker(t, team(0), ex1, nil, 0.6) // 3 s simulations
	c := e.ts.GetDefaultClient()
	id := "campaign-sim-restart"
	run := startCampaign(t, c, id, campaign.CampaignInput{Challenge: challenges.DefaultID, Model: "scripted", Budget: challenges.Budget{Experiments: 2}, Seed: 4})
	waitPhase(t, c, id, "simulating")
	waitJobRunning(t, ex1, root)
	w1.Stop()
	before := jobDirs(t, root)
	ex2, _ := hpc.NewLocal(root, 2) // a new worker process's executor
	e.hpcWorker(t, team(0), ex2, nil, 0.6)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var res campaign.CampaignResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Experiments) != 2 {
		t.Fatalf("result %+v", res)
	}
	for _, d := range before {
		rec, err := os.ReadFile(filepath.Join(d, ".exit"))
		if err != nil || !strings.HasPrefix(string(rec), hpc.Completed) {
			t.Errorf("job %s interrupted by the worker stop: %q %v", filepath.Base(d), rec, err)
		}
	}
	if res.Simulations < len(before) {
		t.Errorf("%d simulations recorded, %d jobs were running at the restart", res.Simulations, len(before))
	}
}

// simOnce is a one-activity workflow: the Simulate activity alone, for
// measuring what Temporal adds around a job.
func simOnce(ctx workflow.Context, in activities.SimInput) (agents.Result, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, HeartbeatTimeout: 10 * time.Second})
	var r agents.Result
	err := workflow.ExecuteActivity(ctx, "Simulate", in).Get(ctx, &r)
	return r, err
}

// BenchmarkSimulateActivityOverhead compares one simulation job submitted
// and awaited directly on the local executor with the same job run as the
// Simulate activity of a workflow on a real Temporal server (start the
// workflow → its result). The difference is what the durable activity
// adds: scheduling, heartbeats, polling and result recording.
//
//	go test ./workflows/e2e -run '^$' -bench SimulateActivityOverhead -benchtime 20x
func BenchmarkSimulateActivityOverhead(b *testing.B) {
	cat, _ := challenges.Builtin()
	ts := temporaltest.NewServer()
	defer ts.Stop()
	dir := b.TempDir()
	self, _ := os.Executable()
	ex, _ := hpc.NewLocal(dir+"/jobs", 2)
	acts := &workflows.Deps{Catalog: cat, HPC: ex, SimCommand: []string{self}, DataDir: dir, Poll: 10 * time.Millisecond}
	ts.NewWorker(workflows.TaskQueue, func(r worker.Registry) {
		workflows.Register(r, acts)
		r.RegisterWorkflowWithOptions(simOnce, workflow.RegisterOptions{Name: "SimOnce"})
	})
	c := ts.GetDefaultClient()
	ch, _ := cat.Get(challenges.DefaultID)
	pt := ch.Pool().Points[7]
	input, _ := json.Marshal(sim.Input{Challenge: ch.ID, Point: pt, Key: "direct"})
	var direct, viaActivity time.Duration
	for i := range b.N {
		t0 := time.Now()
		j, err := ex.Submit(context.Background(), hpc.JobSpec{Name: fmt.Sprintf("direct-%d", i), Command: []string{self, "--input", "input.json", "--output", "result.json"},
			Files: map[string][]byte{"input.json": input}})
		if err != nil {
			b.Fatal(err)
		}
		if j, err = hpc.Wait(context.Background(), ex, j.ID, 10*time.Millisecond, nil); err != nil || j.State != hpc.Completed {
			b.Fatalf("%+v %v", j, err)
		}
		direct += time.Since(t0)

		t0 = time.Now()
		run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: fmt.Sprintf("sim-once-%d", i), TaskQueue: workflows.TaskQueue},
			"SimOnce", activities.SimInput{Challenge: ch.ID, Point: pt, Key: fmt.Sprintf("activity-%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		var r agents.Result
		if err := run.Get(context.Background(), &r); err != nil || len(r.Values) == 0 {
			b.Fatalf("%+v %v", r, err)
		}
		viaActivity += time.Since(t0)
	}
	n := float64(b.N)
	b.ReportMetric(float64(direct.Milliseconds())/n, "ms/direct-job")
	b.ReportMetric(float64(viaActivity.Milliseconds())/n, "ms/activity-job")
	b.ReportMetric(float64((viaActivity-direct).Milliseconds())/n, "ms/overhead")
}
