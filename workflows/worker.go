package workflows

import (
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Register registers the workflows and activities on a worker.
func Register(w worker.Registry, a *Activities) {
	w.RegisterWorkflowWithOptions(CampaignWorkflow, workflow.RegisterOptions{Name: CampaignWorkflowName})
	w.RegisterWorkflowWithOptions(ChatWorkflow, workflow.RegisterOptions{Name: ChatWorkflowName})
	w.RegisterWorkflowWithOptions(PortfolioWorkflow, workflow.RegisterOptions{Name: PortfolioWorkflowName})
	w.RegisterActivity(a)
}

// HeartbeatThrottle is the most a worker's heartbeats are held back
// (worker.Options.MaxHeartbeatThrottleInterval). Heartbeats carry a chat
// reply to an API in another process as the model writes it, so they may
// go often; activities that poll (lab runs, jobs) limit themselves with
// pollHeartbeat.
const HeartbeatThrottle = 500 * time.Millisecond

// WorkerOptions are the options every Genesis worker runs with.
func WorkerOptions() worker.Options {
	return worker.Options{MaxConcurrentActivityExecutionSize: 8, MaxHeartbeatThrottleInterval: HeartbeatThrottle}
}
