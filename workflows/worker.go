// Package workflows puts Genesis's workflows and activity sets on a
// worker. Each workflow is a package of its own (campaignflow, with its
// vocabulary in campaign; portfolioflow; chat) and the activities they
// call are sets, one per dependency (package activities, and the sets of
// campaignflow and chat); Deps says what a worker's host has, and Register
// builds each set from only what it needs.
package workflows

import (
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/providers"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/tools/hpc"
	"github.com/genesis-sci/genesis/tools/labclient"
	"github.com/genesis-sci/genesis/workflows/activities"
	"github.com/genesis-sci/genesis/workflows/campaign"
	"github.com/genesis-sci/genesis/workflows/campaignflow"
	"github.com/genesis-sci/genesis/workflows/chat"
	"github.com/genesis-sci/genesis/workflows/portfolioflow"
)

// TaskQueue is the queue Genesis workers poll.
const TaskQueue = campaign.TaskQueue

// Deps is what a worker's host has to run activities with: a worker
// wires it once, and each activity set takes only its part. Zero fields
// leave their dependency off (no lab, no memory, no Temporal client …).
type Deps struct {
	Catalog     *challenges.Catalog
	ModelConfig providers.Config
	// NewModel builds a model from a spec; nil means agents.NewModel.
	NewModel func(spec string) (llm.Model, error)
	Lab      *labclient.Client
	// HPC is the default executor for simulation jobs; Executors names
	// further ones ("local", "slurm") a campaign may pick with its HPC option.
	HPC       hpc.Executor
	Executors map[string]hpc.Executor
	// SimCommand is the program an HPC job runs (genesis sim).
	SimCommand    []string
	ChallengesDir string
	// SimTimeScale makes simulations take their modelled time × scale.
	SimTimeScale float64
	Memory       memory.Store
	Embedder     memory.Embedder
	DataDir      string
	Temperature  float64
	// Poll is how often lab runs and jobs are polled (default 200 ms).
	Poll time.Duration
	// Temporal, when set, lets the chat read campaign state.
	Temporal client.Client
	// Streams, when set, receives chat replies as the model writes them
	// (the API's, in the same process).
	Streams chat.Publisher
}

// ActivitySet is a set of activities with one dependency, registered under
// their recorded names.
type ActivitySet interface {
	Register(r worker.ActivityRegistry)
}

// Sets builds every activity set from the parts of d it needs.
func (d *Deps) Sets() []ActivitySet {
	models := activities.NewModels(d.ModelConfig, d.NewModel)
	mem := activities.NewMemory(d.Catalog, d.Memory, d.Embedder)
	return []ActivitySet{
		activities.NewCatalog(d.Catalog),
		activities.NewAgents(d.Catalog, models, mem, d.DataDir, d.Temperature),
		activities.NewLab(d.Catalog, d.Lab, mem, d.Poll),
		activities.NewHPC(activities.HPCOptions{Default: d.HPC, Named: d.Executors, Command: d.SimCommand,
			ChallengesDir: d.ChallengesDir, TimeScale: d.SimTimeScale, Poll: d.Poll}),
		mem,
		campaignflow.NewReports(d.Catalog, d.DataDir),
		chat.NewTurns(d.Catalog, models, mem, d.Temporal, d.Streams, d.Temperature),
		chat.NewPortfolios(d.Temporal),
	}
}

// Register registers the workflows and every activity set on a worker.
func Register(w worker.Registry, d *Deps) {
	campaignflow.Register(w)
	chat.Register(w)
	portfolioflow.Register(w)
	for _, s := range d.Sets() {
		s.Register(w)
	}
}

// HeartbeatThrottle is the most a worker's heartbeats are held back
// (worker.Options.MaxHeartbeatThrottleInterval). Heartbeats carry a chat
// reply to an API in another process as the model writes it, so they may
// go often; activities that poll (lab runs, jobs) limit themselves.
const HeartbeatThrottle = 500 * time.Millisecond

// WorkerOptions are the options every Genesis worker runs with.
func WorkerOptions() worker.Options {
	return worker.Options{MaxConcurrentActivityExecutionSize: 8, MaxHeartbeatThrottleInterval: HeartbeatThrottle}
}
