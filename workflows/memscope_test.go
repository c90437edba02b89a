package workflows

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/scripted"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// A campaign with a memory scope recalls only its scope's records — both
// what the prompt is given and what the memory_recall tool returns — and
// writes every record with its scope; one without recalls everything, as
// before scopes. Four campaigns share one memory store, as the runs of an
// eval share a worker's.
func TestMemoryScopeIsolatesCampaigns(t *testing.T) {
	var mu sync.Mutex
	marker := ""      // what this campaign's analyst finds
	var seen []string // every prompt of the current campaign
	inner := scriptedTeam()
	model := &scripted.Model{Fn: func(req llm.Request) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		var all strings.Builder
		for _, m := range req.Messages {
			all.WriteString(m.Content)
		}
		seen = append(seen, all.String())
		user := req.Messages[1].Content
		switch roleOf(req) {
		case agents.Planner:
			if !strings.Contains(user, "Tool results so far") {
				return `{"action":"call_tool","tool":"memory_recall","input":{"query":"finding walls","k":8}}`, nil
			}
		case agents.Analyst:
			return `{"action":"final","output":{"findings":["` + marker + ` thick walls help"],"converged":false,"summary":"the campaign made progress"}}`, nil
		}
		return inner.Fn(req)
	}}
	f := newFixture(t, model)
	run := func(id, scope, mark string) string {
		t.Helper()
		mu.Lock()
		marker, seen = mark, nil
		mu.Unlock()
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		env.SetWorkerOptions(worker.Options{EnableSessionWorker: false})
		env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: id})
		// The default 3 s guards against deadlocks; simulations run as
		// subprocesses, which on a loaded machine under -race take longer.
		env.SetTestTimeout(2 * time.Minute)
		Register(env, f.acts)
		env.ExecuteWorkflow(campaign.CampaignWorkflowName, campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Model: "scripted", Budget: challenges.Budget{Experiments: 4}, Seed: 3, MemoryScope: scope})
		if err := env.GetWorkflowError(); err != nil || !env.IsWorkflowCompleted() {
			t.Fatalf("%s: %v", id, err)
		}
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(seen, "\n")
	}
	count := func(f2 memory.Filter) int {
		t.Helper()
		n, err := f.acts.Memory.Count(context.Background(), f2)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	run("eval-run-1", "eval-k/run-1", "ALPHA")
	if n, all := count(memory.Filter{Scope: "eval-k/run-1"}), count(memory.Filter{Campaign: "eval-run-1"}); n == 0 || n != all {
		t.Fatalf("run 1 wrote %d records, %d of them in its scope", all, n)
	}
	// Another run of the same eval: its own scope, blind to run 1.
	prompts := run("eval-run-2", "eval-k/run-2", "BETA")
	if strings.Contains(prompts, "ALPHA") || strings.Contains(prompts, "eval-run-1") {
		t.Error("run 2 recalled a memory of run 1")
	}
	if n, all := count(memory.Filter{Scope: "eval-k/run-2"}), count(memory.Filter{Campaign: "eval-run-2"}); n == 0 || n != all {
		t.Errorf("run 2 wrote %d records, %d of them in its scope", all, n)
	}
	// A campaign sharing run 1's scope (a family sequence) reads run 1's
	// findings, through the prompt and the tool alike.
	prompts = run("family-next", "eval-k/run-1", "GAMMA")
	if !strings.Contains(prompts, "ALPHA") || strings.Contains(prompts, "BETA") {
		t.Error("a campaign in run 1's scope did not recall run 1's findings (or saw run 2's)")
	}
	if !strings.Contains(prompts, "finding by analyst: ALPHA") {
		t.Error("the memory_recall tool did not return run 1's finding in its scope")
	}
	// An ordinary campaign (no scope) recalls from every record, as
	// before scopes, and writes unscoped records.
	prompts = run("ordinary", "", "DELTA")
	if !strings.Contains(prompts, "ALPHA") && !strings.Contains(prompts, "BETA") {
		t.Error("an unscoped campaign saw none of the earlier findings")
	}
	if n := count(memory.Filter{Campaign: "ordinary"}); n == 0 {
		t.Error("the ordinary campaign wrote nothing")
	}
	for _, s := range []string{"eval-k/run-1", "eval-k/run-2"} {
		if n := count(memory.Filter{Campaign: "ordinary", Scope: s}); n != 0 {
			t.Errorf("the ordinary campaign wrote %d records into scope %s", n, s)
		}
	}
}
