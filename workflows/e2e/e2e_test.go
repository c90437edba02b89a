// Package e2e runs campaigns against a real Temporal server started
// in-process (go.temporal.io/server/temporaltest), a real lab service over
// HTTP on loopback and real `genesis sim` subprocesses. It is kept apart
// from the unit tests because the server packages take minutes to build.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/scripted"
	"github.com/genesis-sci/genesis/agents/providers"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/memory/embedded"
	"github.com/genesis-sci/genesis/tools"
	"github.com/genesis-sci/genesis/tools/hpc"
	"github.com/genesis-sci/genesis/tools/labclient"
	"github.com/genesis-sci/genesis/tools/sim"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

func TestMain(m *testing.M) {
	if os.Getenv("GENESIS_SIM_HELPER") == "1" {
		os.Exit(sim.Main(os.Args[1:], os.Stderr))
	}
	os.Setenv("GENESIS_SIM_HELPER", "1")
	os.Exit(m.Run())
}

// team answers like a sensible team; delay slows each model call so a
// worker can be stopped mid-campaign. It tells the callers apart by the
// reply schema they ask for, never by their prompt's wording, so rewording a
// prompt cannot change which reply a caller gets.
func team(delay time.Duration) *scripted.Model {
	return &scripted.Model{Fn: func(req llm.Request) (string, error) {
		time.Sleep(delay)
		sys, user := req.Messages[0].Content, req.Messages[1].Content
		switch req.SchemaName {
		case "chat_reply":
			last := req.Messages[len(req.Messages)-1].Content
			if strings.Contains(last, "approve") && strings.Contains(last, "portfolio") {
				// Approve the portfolio approval the context lists.
				for _, line := range strings.Split(sys, "\n") {
					if rest, ok := strings.CutPrefix(line, "- portfolio "); ok {
						f := strings.Fields(strings.NewReplacer(",", "").Replace(rest))
						return `{"reply":"Approving.","action":{"kind":"approve_approval","portfolio_id":"` + f[0] + `","approval_id":"` + f[2] + `"}}`, nil
					}
				}
				return `{"reply":"No portfolio approval is waiting.","action":{"kind":"none"}}`, nil
			}
			if strings.Contains(last, "approve") {
				// Approve the campaign the context says is waiting.
				for _, line := range strings.Split(sys, "\n") {
					if rest, ok := strings.CutPrefix(line, "- campaign "); ok && strings.Contains(line, "waits for approval") {
						id := strings.Fields(rest)[0]
						return `{"reply":"Approving.","action":{"kind":"approve_runs","campaign_id":"` + id + `"}}`, nil
					}
				}
				return `{"reply":"Nothing is waiting for approval.","action":{"kind":"none"}}`, nil
			}
			return `{"reply":"Crossed-barrel toughness is maximised; the best measured structure absorbs 46.7 J.","action":{"kind":"none"}}`, nil
		case "planner":
			return `{"action":"final","output":{"decision":"exploit","lab_runs":2,"simulations":2,"rationale":"Refine around the best point."}}`, nil
		case "hypothesis":
			i := strings.Index(user, "The optimiser suggests")
			if i < 0 {
				return `not json`, nil
			}
			rest := user[i:]
			rest = rest[strings.Index(rest, "\n- ")+3:]
			return `{"action":"final","output":{"hypotheses":[{"statement":"The optimiser's pick is the best bet.","expected":"a high value","candidates":[` + rest[:strings.Index(rest, "}")+1] + `]}]}}`, nil
		case "simulation_operator":
			return `{"action":"final","output":{"simulate":[1,2],"rationale":"A cheap check of the first two."}}`, nil
		case "lab_operator":
			return `{"action":"final","output":{"run":[1,2],"rationale":"The best two candidates so far."}}`, nil
		case "analyst":
			return `{"action":"final","output":{"findings":["Thick walls help toughness."],"converged":false,"summary":"The campaign is making progress."}}`, nil
		default:
			return "", fmt.Errorf("scripted team: no reply for schema %q", req.SchemaName)
		}
	}}
}

type env struct {
	ts   *temporaltest.TestServer
	lab  *lab.Server
	url  string
	cat  *challenges.Catalog
	dir  string
	self string
}

func newEnv(t testing.TB) *env { return newEnvScale(t, 0.0005) }

// newEnvScale is newEnv with the lab's time scale (real seconds per lab second).
func newEnvScale(t testing.TB, scale float64) *env { return newEnvWith(t, scale, false) }

// newEnvWith is newEnvScale, without the in-process Temporal server when
// noServer is set (for tests that start their own).
func newEnvWith(t testing.TB, scale float64, noServer bool) *env {
	t.Helper()
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := lab.New(lab.Config{Catalog: cat, TimeScale: scale})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ls.Handler())
	t.Cleanup(func() { srv.Close(); ls.Close() })
	self, _ := os.Executable()
	e := &env{lab: ls, url: srv.URL, cat: cat, dir: t.TempDir(), self: self}
	if !noServer {
		if tt, ok := t.(*testing.T); ok {
			e.ts = temporaltest.NewServer(temporaltest.WithT(tt))
		} else {
			e.ts = temporaltest.NewServer()
			t.Cleanup(e.ts.Stop)
		}
	}
	return e
}

func (e *env) worker(t testing.TB, model llm.Model, mem memory.Store) worker.Worker {
	t.Helper()
	acts := e.activities(t, model, mem)
	return e.ts.NewWorkerWithOptions(workflows.TaskQueue, func(r worker.Registry) { workflows.Register(r, acts) }, workflows.WorkerOptions())
}

// activities are a worker's activities on this environment.
func (e *env) activities(t testing.TB, model llm.Model, mem memory.Store) *workflows.Deps {
	t.Helper()
	ex, err := hpc.NewLocal(e.dir+"/jobs", 2)
	if err != nil {
		t.Fatal(err)
	}
	return &workflows.Deps{Catalog: e.cat, NewModel: func(string) (llm.Model, error) { return model, nil },
		Lab: labclient.New(e.url, &http.Client{Timeout: 10 * time.Second}), HPC: ex, SimCommand: []string{e.self},
		Memory: mem, Embedder: memory.Hashing{}, DataDir: e.dir, Poll: 10 * time.Millisecond, Temporal: e.ts.GetDefaultClient()}
}

func openMemory(t *testing.T, dir string) memory.Store {
	m, err := embedded.Open(dir+"/memory", memory.Hashing{}.Dim(), "hashing")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func status(t *testing.T, c client.Client, id string) campaign.Status {
	v, err := c.QueryWorkflow(context.Background(), id, "", campaign.QueryStatus)
	if err != nil {
		return campaign.Status{}
	}
	var s campaign.Status
	_ = v.Get(&s)
	return s
}

// settled waits until workflow id has nothing scheduled (no activity and
// no workflow task pending), so that only a signal or a timer can move it,
// and returns its status as the workflow reports it.
func settled(t *testing.T, c client.Client, id string) campaign.Status {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := c.DescribeWorkflowExecution(t.Context(), id, "")
		if err == nil && len(d.GetPendingActivities()) == 0 && d.GetPendingWorkflowTask() == nil {
			return status(t, c, id)
		}
		if time.Now().After(deadline) {
			t.Fatalf("workflow %s never settled: %v %+v", id, err, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runCampaign starts a campaign workflow under id and waits for its result.
func runCampaign(t *testing.T, c client.Client, id string, in campaign.CampaignInput, timeout time.Duration) campaign.CampaignResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, campaign.CampaignWorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	var res campaign.CampaignResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func checkNoDuplicates(t *testing.T, e *env, res campaign.CampaignResult) {
	t.Helper()
	runs, err := labclient.New(e.url, nil).List(context.Background(), labclient.ListOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, r := range runs {
		if keys[r.IdempotencyKey] {
			t.Errorf("key %s has two runs", r.IdempotencyKey)
		}
		keys[r.IdempotencyKey] = true
	}
	seen := map[string]bool{}
	for _, id := range res.Experiments {
		if seen[id] {
			t.Errorf("experiment %s listed twice", id)
		}
		seen[id] = true
	}
	if int(e.lab.Measurements()) != len(runs) || len(runs) != len(res.Experiments)+res.Refused {
		t.Errorf("lab measured %d times, holds %d runs; campaign lists %d experiments (+%d refused)", e.lab.Measurements(), len(runs), len(res.Experiments), res.Refused)
	}
}

func TestCampaignOnRealTemporal(t *testing.T) {
	e := newEnv(t)
	e.worker(t, team(0), openMemory(t, e.dir))
	c := e.ts.GetDefaultClient()
	res := runCampaign(t, c, "campaign-e2e", campaign.CampaignInput{Challenge: challenges.DefaultID, Model: "scripted", Budget: challenges.Budget{Experiments: 10}, Seed: 5}, 3*time.Minute)
	ctx := context.Background()
	if len(res.Experiments) != 10 || res.Best == nil {
		t.Fatalf("result %+v", res)
	}
	checkNoDuplicates(t, e, res)
	// Results persist: the report is on disk, and the workflow's history keeps the result.
	if _, err := os.Stat(res.Report); err != nil {
		t.Errorf("report: %v", err)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, "campaign-e2e", "")
	if err != nil || desc.WorkflowExecutionInfo.Status.String() != "Completed" {
		t.Errorf("describe: %v %v", desc, err)
	}
	if s := status(t, c, "campaign-e2e"); !s.Done || s.ExperimentsUsed != 10 {
		t.Errorf("status after completion: %+v", s)
	}
}

// A worker stopped mid-campaign and a new one started later complete the
// same campaign with no experiment run twice.
func TestWorkerRestartMidCampaign(t *testing.T) {
	e := newEnv(t)
	mem := openMemory(t, e.dir)
	w1 := e.worker(t, team(30*time.Millisecond), mem)
	c := e.ts.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "campaign-restart", TaskQueue: workflows.TaskQueue},
		campaign.CampaignWorkflowName, campaign.CampaignInput{Challenge: challenges.DefaultID, Model: "scripted", Budget: challenges.Budget{Experiments: 12}, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	before := 0
	for before < 4 {
		if time.Now().After(deadline) {
			t.Fatal("campaign made no progress")
		}
		time.Sleep(20 * time.Millisecond)
		before = status(t, c, "campaign-restart").ExperimentsUsed
	}
	w1.Stop()
	if before >= 12 {
		t.Fatalf("campaign finished before the worker stopped (%d)", before)
	}
	e.worker(t, team(0), mem)
	var res campaign.CampaignResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Experiments) != 12 {
		t.Fatalf("experiments %d, want 12", len(res.Experiments))
	}
	checkNoDuplicates(t, e, res)
	t.Logf("worker stopped after %d experiments; campaign finished with %d", before, len(res.Experiments))
}

// A short campaign driven by the real local model through a real Ollama:
// it completes, and every final answer the model gave validates against its
// agent's schema (the transcripts are checked again here, independently).
// realModel is the real local model the models tier tests (skipped unless
// GENESIS_OLLAMA_TEST=1; GENESIS_TEST_MODEL names it, default the default model).
func realModel(t testing.TB) (string, llm.Model) {
	t.Helper()
	if os.Getenv("GENESIS_OLLAMA_TEST") != "1" {
		t.Skip("set GENESIS_OLLAMA_TEST=1 (make models-test does) to run against a real Ollama")
	}
	spec := os.Getenv("GENESIS_TEST_MODEL")
	if spec == "" {
		spec = providers.DefaultModel
	}
	cfg := providers.ConfigFromEnv()
	if err := providers.CheckModel(context.Background(), spec, cfg); err != nil {
		t.Fatal(err)
	}
	model, err := providers.NewModel(spec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return spec, model
}

func TestCampaignWithRealModel(t *testing.T) {
	spec, model := realModel(t)
	e := newEnv(t)
	e.worker(t, model, openMemory(t, e.dir))
	start := time.Now()
	res := runCampaign(t, e.ts.GetDefaultClient(), "campaign-real-model",
		campaign.CampaignInput{Challenge: challenges.DefaultID, Model: spec, Budget: challenges.Budget{Experiments: 2}, MaxBatch: 2, Seed: 1}, 25*time.Minute)
	if len(res.Experiments) != 2 || res.Best == nil {
		t.Fatalf("result %+v", res)
	}
	checkNoDuplicates(t, e, res)
	ch, _ := e.cat.Get(challenges.DefaultID)
	files, _ := filepath.Glob(filepath.Join(e.dir, "transcripts", "campaign-real-model", "*.json"))
	finals := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tr struct {
			Role, Kind, Reply string
		}
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatal(err)
		}
		if tr.Kind != agents.KindFinal {
			continue
		}
		finals++
		var env struct {
			Output json.RawMessage `json:"output"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(tr.Reply)), &env); err != nil {
			t.Errorf("%s: final reply is not JSON: %v", f, err)
			continue
		}
		sch, _ := tools.Compile(agents.OutputSchema(tr.Role, ch))
		if err := tools.Validate(sch, env.Output); err != nil {
			t.Errorf("%s: %s output %v", f, tr.Role, err)
		}
	}
	if finals == 0 {
		t.Errorf("the model never gave a valid final answer in %d steps", len(files))
	}
	t.Logf("%s: %d model calls, %d final answers, %d tokens, fallbacks %v, best %.3g, %.0fs", spec, res.ModelCalls, finals, res.Tokens, res.Fallbacks, res.Best.Value, time.Since(start).Seconds())
}

// BenchmarkAgentStepOverhead measures what Temporal and Genesis add to one
// agent step when the model answers instantly: the time from scheduling an
// AgentStep activity to its completion, plus the workflow task that leads to
// the next step, read from the workflow's history. Reports p50 and p95.
func BenchmarkAgentStepOverhead(b *testing.B) {
	cat, _ := challenges.Builtin()
	ls, err := lab.New(lab.Config{Catalog: cat, TimeScale: 0.00001})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(ls.Handler())
	defer func() { srv.Close(); ls.Close() }()
	ts := temporaltest.NewServer()
	defer ts.Stop()
	dir := b.TempDir()
	self, _ := os.Executable()
	ex, _ := hpc.NewLocal(dir+"/jobs", 2)
	acts := &workflows.Deps{Catalog: cat, NewModel: func(string) (llm.Model, error) { return team(0), nil },
		Lab: labclient.New(srv.URL, nil), HPC: ex, SimCommand: []string{self}, DataDir: dir, Poll: 2 * time.Millisecond}
	ts.NewWorker(workflows.TaskQueue, func(r worker.Registry) { workflows.Register(r, acts) })
	c := ts.GetDefaultClient()
	var gaps []time.Duration
	for i := 0; i < b.N; i++ {
		id := "bench-" + time.Now().Format("150405.000000")
		run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue},
			campaign.CampaignWorkflowName, campaign.CampaignInput{Challenge: challenges.DefaultID, Model: "scripted", Budget: challenges.Budget{Experiments: 10}, Seed: i + 1})
		if err != nil {
			b.Fatal(err)
		}
		if err := run.Get(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		gaps = append(gaps, stepOverheads(b, c, id)...)
	}
	if len(gaps) == 0 {
		b.Fatal("no agent steps found")
	}
	slices.Sort(gaps)
	b.ReportMetric(float64(gaps[len(gaps)/2].Microseconds())/1000, "ms/step-p50")
	b.ReportMetric(float64(gaps[len(gaps)*95/100].Microseconds())/1000, "ms/step-p95")
	b.ReportMetric(float64(len(gaps))/float64(b.N), "steps/campaign")
}

// stepOverheads reads, for each AgentStep activity, scheduled → completed
// plus completed → the next workflow task's completion.
func stepOverheads(b *testing.B, c client.Client, id string) []time.Duration {
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	sched := map[int64]time.Time{}
	var out []time.Duration
	var pending []time.Time // completions of agent steps awaiting the next workflow task completion
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			b.Fatal(err)
		}
		ts := ev.GetEventTime().AsTime()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "AgentStep" {
				sched[ev.GetEventId()] = ts
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			if s, ok := sched[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]; ok {
				pending = append(pending, s)
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			for _, s := range pending {
				out = append(out, ts.Sub(s))
			}
			pending = pending[:0]
		}
	}
	return out
}
