package e2e

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// onFinding calls fn when the analyst's findings are written to memory,
// just before the Remember activity (an iteration's last step) completes.
type onFinding struct {
	memory.Store
	fn func()
}

func (o onFinding) Upsert(ctx context.Context, recs []memory.Record) error {
	if len(recs) > 0 && recs[0].Kind == memory.KindFinding {
		o.fn()
	}
	return o.Store.Upsert(ctx, recs)
}

// A stop signal and the completion of an iteration's last activity can
// reach the campaign in one workflow task, the one in which it continues as
// new (after every iteration here, MaxHistory). The stop must not be lost
// with that run: the campaign stops instead of continuing to its budget.
//
// The test makes that happen every time: workflows and activities run on
// separate workers, and while the second iteration's last activity (the
// analyst's findings going to memory) is running, the workflow worker is
// stopped, the stop is sent, the activity completes, and a new workflow
// worker starts: its first task holds both.
func TestStopInTheContinueAsNewTask(t *testing.T) {
	e := newEnv(t)
	c := e.ts.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const id, why = "stop-at-continue", "stopped in the continue-as-new task"
	var findings atomic.Int32
	var wfWorker atomic.Pointer[worker.Worker]
	var acts *workflows.Deps
	acts = e.activities(t, team(0), onFinding{openMemory(t, e.dir), func() {
		if findings.Add(1) != 2 {
			return
		}
		(*wfWorker.Load()).Stop()
		if err := c.SignalWorkflow(ctx, id, "", campaign.SignalStop, why); err != nil {
			t.Error(err)
		}
		go func() {
			// The activity that called this completes first: the new
			// workflow worker's first task then holds both.
			waitNoPendingActivity(t, c, id)
			startWorkflowWorker(t, c, acts, &wfWorker)
		}()
	}})
	aw := worker.New(c, workflows.TaskQueue, worker.Options{DisableWorkflowWorker: true})
	for _, s := range acts.Sets() {
		s.Register(aw)
	}
	if err := aw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(aw.Stop)
	startWorkflowWorker(t, c, acts, &wfWorker)
	t.Cleanup(func() { (*wfWorker.Load()).Stop() })

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, campaign.CampaignWorkflowName,
		campaign.CampaignInput{Challenge: challenges.DefaultID, Model: "scripted", Budget: challenges.Budget{Experiments: 30}, Seed: 1, Patience: -1, NoReport: true, MaxHistory: 5})
	if err != nil {
		t.Fatal(err)
	}
	first := run.GetRunID() // Get moves the run along continue-as-new
	var res campaign.CampaignResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.StopReason != why {
		t.Errorf("stop reason %q after %d experiments in %d iterations: the stop was lost", res.StopReason, len(res.Experiments), res.Iterations)
	}
	if res.Iterations != 2 || len(res.Experiments) >= 30 {
		t.Errorf("%d iterations, %d experiments: want it stopped after the second iteration", res.Iterations, len(res.Experiments))
	}
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if d.WorkflowExecutionInfo.Execution.RunId == first {
		t.Error("the campaign never continued as new: the test did not test anything")
	}
}

// startWorkflowWorker starts a worker that runs workflows (and their local
// activities) only.
// waitNoPendingActivity waits until the workflow has no activity running.
func waitNoPendingActivity(t *testing.T, c client.Client, id string) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		d, err := c.DescribeWorkflowExecution(context.Background(), id, "")
		if err == nil && len(d.GetPendingActivities()) == 0 {
			return
		}
	}
	t.Errorf("%s still runs an activity after a minute", id)
}

// waitActivityRunning waits until the workflow runs an activity of the type.
func waitActivityRunning(t *testing.T, c client.Client, id, activityType string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		d, err := c.DescribeWorkflowExecution(context.Background(), id, "")
		for _, pa := range d.GetPendingActivities() {
			if err == nil && pa.GetActivityType().GetName() == activityType && pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
				return
			}
		}
	}
	t.Fatalf("%s ran no %s activity within a minute", id, activityType)
}

func startWorkflowWorker(t *testing.T, c client.Client, acts *workflows.Deps, into *atomic.Pointer[worker.Worker]) {
	w := worker.New(c, workflows.TaskQueue, worker.Options{LocalActivityWorkerOnly: true})
	workflows.Register(w, acts)
	if err := w.Start(); err != nil {
		t.Error(err)
		return
	}
	into.Store(&w)
}
