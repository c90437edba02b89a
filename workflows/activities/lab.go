package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/optimizer"
	"github.com/genesis-sci/genesis/tools/labclient"
)

// Lab is the activity set that needs the lab service: one lab run, and
// the classical strategies' rounds (suggest, then run in the lab). Results
// go to memory when it is on.
type Lab struct {
	cat    *challenges.Catalog
	client *labclient.Client
	mem    *Memory
	poll   time.Duration
}

// NewLab returns the set. A nil client leaves the worker without a lab:
// every run fails, not retried. poll is how often a run is polled (0: 200 ms).
func NewLab(cat *challenges.Catalog, client *labclient.Client, mem *Memory, poll time.Duration) *Lab {
	return &Lab{cat: cat, client: client, mem: mem, poll: pollOrDefault(poll)}
}

// Register registers the set's activities under their names.
func (s *Lab) Register(r worker.ActivityRegistry) {
	register(r, LabRunName, s.LabRun)
	register(r, ClassicalStepName, s.ClassicalStep)
}

// ClassicalStepInput is one iteration of a classical strategy: Rounds
// times, suggest K points and run each in the lab (keys KeyPrefix/rR/labI),
// each round seeing the results of the ones before.
type ClassicalStepInput struct {
	Suggest   SuggestInput `json:"suggest"`
	KeyPrefix string       `json:"key_prefix"`
	Rounds    int          `json:"rounds"`
	// Most caps the points run over all rounds (0: Rounds × K).
	Most      int    `json:"most,omitempty"`
	Requester string `json:"requester"`
	// Chosen, when set, are the points to run (one round; they were
	// suggested before, for the portfolio's approval).
	Chosen []agents.Candidate `json:"chosen,omitempty"`
	// Remember writes each result to memory (in MemoryScope), as agent
	// campaigns do: a challenge in a family does, so that its siblings can
	// start from what it measured. Otherwise classical steps skip the
	// embedding call per run.
	Remember    bool   `json:"remember,omitempty"`
	MemoryScope string `json:"memory_scope,omitempty"`
}

// ClassicalStepResult is what the chosen points measured, in order, with
// the lab key of each.
type ClassicalStepResult struct {
	Chosen  []agents.Candidate `json:"chosen"`
	Results []agents.Result    `json:"results"`
	Keys    []string           `json:"keys"`
	// Hyper are the surrogate's last hyperparameters (to warm-start the
	// next step's first fit).
	Hyper *optimizer.Hyper `json:"hyper,omitempty"`
}

// ClassicalStep runs iterations of the bo or random strategy inside one
// local activity: suggestions from the optimiser, run in the lab
// concurrently within a round (idempotent by key, so a retried step
// measures nothing twice). Few local activities keep the orchestration
// small next to the optimiser's own work.
func (s *Lab) ClassicalStep(ctx context.Context, in ClassicalStepInput) (ClassicalStepResult, error) {
	var out ClassicalStepResult
	sin := in.Suggest
	sin.Experiments = append([]Experiment(nil), in.Suggest.Experiments...)
	for round := range max(in.Rounds, 1) {
		sin.Seed = in.Suggest.Seed + round
		if in.Most > 0 {
			if sin.K = min(in.Suggest.K, in.Most-len(out.Chosen)); sin.K <= 0 {
				break
			}
		}
		sugg := in.Chosen
		if len(sugg) == 0 {
			var err error
			var h *optimizer.Hyper
			if sugg, h, err = suggest(s.cat, sin); err != nil {
				return out, err
			}
			if h != nil {
				out.Hyper, sin.Warm = h, h
			}
		}
		if len(sugg) == 0 {
			break
		}
		res := make([]agents.Result, len(sugg))
		errs := make([]error, len(sugg))
		keys := make([]string, len(sugg))
		var wg sync.WaitGroup
		for i, cand := range sugg {
			keys[i] = fmt.Sprintf("%s/r%d/lab%d", in.KeyPrefix, round, i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i], errs[i] = s.LabRun(ctx, LabRunInput{Challenge: sin.Challenge, Point: cand.Point, Key: keys[i], Requester: in.Requester,
					NoMemory: !in.Remember, MemoryScope: in.MemoryScope})
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return out, err
		}
		out.Chosen = append(out.Chosen, sugg...)
		out.Results = append(out.Results, res...)
		out.Keys = append(out.Keys, keys...)
		for _, r := range res {
			if len(r.Values) > 0 {
				sin.Experiments = append(sin.Experiments, Experiment{Result: r})
			}
		}
	}
	return out, nil
}

// RefusedNote starts the note of a run the lab refused (it did not run).
const RefusedNote = "refused by the lab: "

// LabRunInput is one lab experiment.
type LabRunInput struct {
	Challenge string           `json:"challenge"`
	Point     challenges.Point `json:"point"`
	// Key is the idempotency key: the lab returns the same run for the same key.
	Key       string `json:"key"`
	Requester string `json:"requester"`
	// NoMemory skips writing the result to memory (strategies without agents).
	NoMemory    bool   `json:"no_memory,omitempty"`
	MemoryScope string `json:"memory_scope,omitempty"`
}

// LabRun submits a protocol to the lab service and waits for the result,
// heartbeating. A refused or failed run comes back as a result with a note.
func (s *Lab) LabRun(ctx context.Context, in LabRunInput) (agents.Result, error) {
	c, err := lookup(s.cat, in.Challenge)
	if err != nil {
		return agents.Result{}, err
	}
	if s.client == nil {
		return agents.Result{}, temporal.NewNonRetryableApplicationError("no lab configured on this worker", "NoLab", nil)
	}
	res := agents.Result{Source: "lab", Point: in.Point}
	run, err := s.client.Submit(ctx, labclient.SubmitRequest{Challenge: c.ID, Parameters: c.Map(in.Point), IdempotencyKey: in.Key, Requester: in.Requester})
	if err != nil {
		if labclient.IsRefused(err) {
			res.Note = RefusedNote + err.Error()
			return res, nil
		}
		return res, err
	}
	res.Ref = run.ID
	beat := pollHeartbeat(ctx, 5*time.Second)
	run, err = s.client.Wait(ctx, run.ID, s.poll, func(r labclient.Run) { beat(string(r.Status)) })
	if err != nil {
		return res, err
	}
	if run.Status != labclient.Succeeded || run.Result == nil {
		res.Note = fmt.Sprintf("run %s %s: %s", run.ID, run.Status, run.Error)
		return res, nil
	}
	var parts []string
	for _, o := range c.Objectives {
		v, ok := run.Result.Values[o.Name]
		if !ok {
			res.Note = fmt.Sprintf("run %s has no value for %s", run.ID, o.Name)
			return res, nil
		}
		res.Values = append(res.Values, v)
		parts = append(parts, fmt.Sprintf("%s = %.4g %s", o.Name, v, o.Unit))
	}
	// The measurement goes to memory as a result (keyed by the run's key,
	// so a retry overwrites rather than duplicates).
	if s.mem.Enabled() && !in.NoMemory {
		text := fmt.Sprintf("lab result on %s: %s gave %s", c.ID, c.Format(in.Point), strings.Join(parts, ", "))
		m := &memory.Measurement{Point: c.Map(in.Point), Values: map[string]float64{}}
		for k, o := range c.Objectives {
			m.Values[o.Name] = res.Values[k]
		}
		if err := s.mem.Put(ctx, []memory.Record{{ID: in.Key, Text: text, Kind: memory.KindResult, Campaign: in.Requester, Challenge: c.ID,
			Agent: agents.LabOperator, Source: run.ID, Scope: in.MemoryScope, Measurement: m}}); err != nil {
			activity.GetLogger(ctx).Warn("memory write failed", "error", err)
		}
	}
	return res, nil
}
