package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/api/apiclient"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/devserver"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/tools/hpc"
	"github.com/genesis-sci/genesis/tools/labclient"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/campaign"
	"github.com/genesis-sci/genesis/workflows/portfolioflow"
)

const restartPortfolio = `
name: restart
capacity: {lab: 2, hpc: 2, model: 1}
approval: {lab_runs: auto}
stall: {patience: 50}
campaigns:
  - {challenge: crossed-barrel-toughness, priority: 2, budget: {lab_runs: 8, simulations: 8}}
  - {challenge: p3ht-cnt-conductivity, strategy: bo, priority: 1, budget: {lab_runs: 6}}
  - {challenge: agnp-spectrum-loss, strategy: random, priority: 1, budget: {lab_runs: 6}}
`

func parseSpec(t testing.TB, e *env, y string) portfolio.Spec {
	t.Helper()
	s, err := portfolio.Parse([]byte(y), portfolio.Catalog(e.cat))
	if err != nil {
		t.Fatal(err)
	}
	return *s
}

func portfolioStatus(t testing.TB, c client.Client, id string) portfolioflow.PortfolioStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := c.QueryWorkflow(ctx, id, "", portfolioflow.QueryPortfolio)
	if err != nil {
		t.Fatal(err)
	}
	var st portfolioflow.PortfolioStatus
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// checkLedger compares the ledger with the lab's own record: every run
// charged once, none uncharged, budgets held.
func checkLedger(t *testing.T, e *env, st portfolioflow.PortfolioStatus) {
	t.Helper()
	runs, err := labclient.New(e.url, http.DefaultClient).List(context.Background(), labclient.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byReq := map[string]int{}
	for _, r := range runs {
		byReq[r.Requester]++
	}
	for _, c := range st.Campaigns {
		if c.Spent.LabRuns != byReq[c.ID] {
			t.Errorf("%s: ledger %d lab runs, lab %d", c.ID, c.Spent.LabRuns, byReq[c.ID])
		}
		if c.Spent.LabRuns > c.Budget.LabRuns || (c.Budget.Simulations > 0 && c.Spent.Simulations > c.Budget.Simulations) {
			t.Errorf("%s: spent %v over budget %v", c.ID, c.Spent, c.Budget)
		}
	}
}

// A portfolio survives a worker restart mid-way: the campaigns finish,
// the ledger matches the lab, and nothing ran twice.
func TestPortfolioSurvivesWorkerRestart(t *testing.T) {
	e := newEnv(t)
	mem := openMemory(t, e.dir)
	w1 := e.worker(t, team(20*time.Millisecond), mem)
	c := e.ts.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "portfolio-restart", TaskQueue: workflows.TaskQueue},
		portfolioflow.PortfolioWorkflowName, portfolioflow.PortfolioInput{Spec: parseSpec(t, e, restartPortfolio)})
	if err != nil {
		t.Fatal(err)
	}
	waitLabRuns(t, c, "portfolio-restart", 6)
	before := portfolioStatus(t, c, "portfolio-restart")
	w1.Stop()
	e.worker(t, team(0), mem)
	var st portfolioflow.PortfolioStatus
	if err := run.Get(ctx, &st); err != nil {
		t.Fatal(err)
	}
	if st.Spent.LabRuns != 20 || !st.Done {
		t.Fatalf("after the restart: %d lab runs charged (want 20), done %v", st.Spent.LabRuns, st.Done)
	}
	checkLedger(t, e, st)
	if e.lab.Measurements() != 20 {
		t.Errorf("the lab measured %d, want 20", e.lab.Measurements())
	}
	t.Logf("worker stopped at %d lab runs; %d grants in all", before.Spent.LabRuns, st.Grants)
}

func waitLabRuns(t testing.TB, c client.Client, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for portfolioStatus(t, c, id).Spent.LabRuns < n {
		if time.Now().After(deadline) {
			t.Fatal("the portfolio made no progress")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustJSON(v ...any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A portfolio survives restarts of the Temporal server itself (the dev
// server Genesis runs, SQLite on disk). Mid-way: the worker and the server
// stop and start again, and the portfolio finishes with a ledger that
// matches the lab (nothing lost, nothing charged twice). After the end:
// another server restart, and the ledger read back is exactly the same.
func TestPortfolioSurvivesTemporalRestart(t *testing.T) {
	if _, err := devserver.FindBinary(); err != nil {
		t.Skip(err)
	}
	e := newEnv(t)
	mem := openMemory(t, e.dir)
	db, port := filepath.Join(e.dir, "temporal.db"), freePort(t)
	var srv *devserver.Server
	var c client.Client
	restart := func() {
		if srv != nil {
			c.Close()
			if err := srv.Stop(); err != nil {
				t.Logf("stopping the dev server: %v", err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var err error
		if srv, err = devserver.Start(ctx, devserver.Options{DBFile: db, Port: port, LogFile: filepath.Join(e.dir, "temporal.log")}); err != nil {
			t.Fatal(err)
		}
		if c, err = client.Dial(client.Options{HostPort: srv.Addr()}); err != nil {
			t.Fatal(err)
		}
	}
	restart()
	t.Cleanup(func() { c.Close(); _ = srv.Stop() })
	model := team(20 * time.Millisecond)
	w := newWorker(t, e, c, model, mem)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const id = "portfolio-temporal-restart"
	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue},
		portfolioflow.PortfolioWorkflowName, portfolioflow.PortfolioInput{Spec: parseSpec(t, e, restartPortfolio)}); err != nil {
		t.Fatal(err)
	}
	waitLabRuns(t, c, id, 4)
	before := portfolioStatus(t, c, id)
	w.Stop()
	restart()
	w = newWorker(t, e, c, model, mem)
	var st portfolioflow.PortfolioStatus
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, &st); err != nil {
		t.Fatal(err)
	}
	if st.Spent.LabRuns != 20 || st.Spent.LabRuns < before.Spent.LabRuns {
		t.Fatalf("finished with %d lab runs charged (want 20; %d before the restart)", st.Spent.LabRuns, before.Spent.LabRuns)
	}
	checkLedger(t, e, st)
	w.Stop()

	// The finished portfolio's ledger, read back after another restart.
	restart()
	newWorker(t, e, c, model, mem)
	after := portfolioStatus(t, c, id)
	if a, b := mustJSON(after.Spent, after.Campaigns), mustJSON(st.Spent, st.Campaigns); a != b {
		t.Fatalf("the ledger changed across the restart:\n%s\n%s", b, a)
	}
	t.Logf("ledger %v before the mid-way restart; %v at the end, unchanged after another restart", before.Spent, st.Spent)
}

// newWorker is e.worker against another client (the dev server's).
func newWorker(t testing.TB, e *env, c client.Client, model llm.Model, mem memory.Store) worker.Worker {
	t.Helper()
	ex, err := hpc.NewLocal(e.dir+"/jobs", 2)
	if err != nil {
		t.Fatal(err)
	}
	acts := &workflows.Deps{Catalog: e.cat, NewModel: func(string) (llm.Model, error) { return model, nil },
		Lab: labclient.New(e.url, &http.Client{Timeout: 10 * time.Second}), HPC: ex, SimCommand: []string{e.self},
		Memory: mem, Embedder: memory.Hashing{}, DataDir: e.dir, Poll: 10 * time.Millisecond, Temporal: c}
	w := worker.New(c, workflows.TaskQueue, workflows.WorkerOptions())
	workflows.Register(w, acts)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

// Through the API: a bad file is refused with every problem; a good one
// starts; a lab batch outside the routine region waits for an operator,
// still waits after a worker restart, and is approved; the next one times out and is escalated, so an operator
// may no longer decide it but an admin may; the status says who waits for
// what; stop ends the portfolio.
func TestPortfolioThroughAPI(t *testing.T) {
	e := newEnv(t)
	mem := openMemory(t, e.dir)
	w := e.worker(t, team(0), mem)
	h := newOperatorAPI(t, e)
	cl, ctx := h.client(), t.Context()
	_, err := cl.StartPortfolio(ctx, []byte("name: x\ncampaigns:\n  - {challenge: nope}\n  - {challenge: crossed-barrel-toughness, priority: 0.5}\n"), "")
	if !apiclient.IsStatus(err, 422) || !strings.Contains(err.Error(), "not in the catalog") {
		t.Fatalf("bad file: %v", err)
	}
	const file = `
name: api test
approval: {lab_runs: auto_if_routine, timeout: 15s, escalation_timeout: 1h}
stall: {patience: 50}
campaigns:
  - {challenge: crossed-barrel-toughness, strategy: random, budget: {lab_runs: 4}, max_batch: 2, routine: {theta: {max: -1}}}
`
	started, err := cl.StartPortfolio(ctx, []byte(file), "pf-api")
	if err != nil || started.ID != "pf-api" {
		t.Fatalf("start: %v %+v", err, started)
	}
	if _, err := cl.StartPortfolio(ctx, []byte(file), "pf-api"); !apiclient.IsStatus(err, 409) {
		t.Errorf("a second start with the same id: %v", err)
	}
	pending := func(role string) portfolioflow.PortfolioStatus {
		deadline := time.Now().Add(time.Minute)
		for {
			st, _ := cl.Portfolio(ctx, "pf-api")
			if len(st.Pending) > 0 && st.Pending[0].Role == role {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("no approval for an %s: %+v", role, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	st := pending("operator")
	// The approval is workflow state: it survives a worker restart.
	w.Stop()
	e.worker(t, team(0), mem)
	st = pending("operator")
	a := st.Pending[0]
	if !strings.Contains(st.Campaigns[0].Waiting, "operator's approval") || !strings.Contains(a.Reasons[0], "outside the routine region") {
		t.Errorf("waiting %q reasons %v", st.Campaigns[0].Waiting, a.Reasons)
	}
	if _, err := cl.DecidePortfolio(ctx, "pf-api", "a999", true, ""); !apiclient.IsStatus(err, 409) {
		t.Errorf("unknown approval: %v", err)
	}
	if d, err := cl.DecidePortfolio(ctx, "pf-api", a.ID, true, "fine"); err != nil || d.Status != "approved" {
		t.Fatalf("approve: %v %+v", err, d)
	}
	st = pending("admin") // the next batch, after its 15 s
	a = st.Pending[0]
	if _, err := cl.DecidePortfolio(ctx, "pf-api", a.ID, false, ""); !apiclient.IsStatus(err, 403) || !strings.Contains(err.Error(), "only an admin") {
		t.Fatalf("an operator decided an escalated approval: %v", err)
	}
	if _, err := h.as(h.admin).client().DecidePortfolio(ctx, "pf-api", a.ID, true, ""); err != nil {
		t.Fatalf("admin approve: %v", err)
	}
	if _, err := cl.StopPortfolio(ctx, "pf-api"); err != nil {
		t.Fatalf("stop: %v", err)
	}
	var res portfolioflow.PortfolioStatus
	if err := e.ts.GetDefaultClient().GetWorkflow(context.Background(), "pf-api", "").Get(context.Background(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Spent.LabRuns != 4 {
		t.Errorf("two approved batches of 2 should have run: %v, %s", res.Spent, res.Campaigns[0].Reason)
	}
	if list, err := cl.Portfolios(ctx); err != nil || len(list) != 1 || list[0].ID != "pf-api" {
		t.Errorf("list: %v %+v", err, list)
	}
	checkLedger(t, e, res)
}

// BenchmarkPortfolio measures, with the scripted team on a real Temporal
// server, what the portfolio adds: N agent campaigns run once standalone
// and once as a portfolio with capacity to spare (so nothing waits for
// capacity), and the difference is divided by the grants the portfolio
// made. It also reports how fast one worker on this machine gets through
// N concurrent campaigns (GENESIS_BENCH_CAMPAIGNS=10,40,100 picks N).
func BenchmarkPortfolio(b *testing.B) {
	sizes := []int{10, 40}
	if v := os.Getenv("GENESIS_BENCH_CAMPAIGNS"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("GENESIS_BENCH_CAMPAIGNS=%q: want numbers like 10,40", v)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("campaigns=%d", n), func(b *testing.B) {
			e := newEnv(b)
			e.worker(b, team(0), nil)
			c := e.ts.GetDefaultClient()
			var y strings.Builder
			fmt.Fprintf(&y, "name: bench\ncapacity: {lab: %d, hpc: %d, model: %d}\napproval: {lab_runs: auto}\nstall: {patience: 50}\ncampaigns:\n", 4*n, 4*n, 2*n)
			for i := range n {
				fmt.Fprintf(&y, "  - {challenge: crossed-barrel-toughness, seed: %d, budget: {lab_runs: 4, simulations: 4}, max_batch: 2}\n", i+1)
			}
			spec := parseSpec(b, e, y.String())
			ctx := context.Background()
			var alone, inPortfolio time.Duration
			grants := 0
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				runs := make([]client.WorkflowRun, n)
				for k, cs := range spec.Campaigns {
					r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("alone-%d-%d", i, k), TaskQueue: workflows.TaskQueue},
						campaign.CampaignWorkflowName, campaign.CampaignInput{Challenge: cs.Challenge, Model: "scripted", Budget: challenges.Budget{Experiments: 4, Simulations: 4},
							Seed: cs.Seed, MaxBatch: 2, Patience: -1, NoReport: true})
					if err != nil {
						b.Fatal(err)
					}
					runs[k] = r
				}
				for _, r := range runs {
					if err := r.Get(ctx, nil); err != nil {
						b.Fatal(err)
					}
				}
				alone += time.Since(t0)
				t0 = time.Now()
				r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("pf-%d", i), TaskQueue: workflows.TaskQueue},
					portfolioflow.PortfolioWorkflowName, portfolioflow.PortfolioInput{Spec: spec})
				if err != nil {
					b.Fatal(err)
				}
				var st portfolioflow.PortfolioStatus
				if err := r.Get(ctx, &st); err != nil {
					b.Fatal(err)
				}
				inPortfolio += time.Since(t0)
				grants += st.Grants
			}
			per := float64(inPortfolio-alone) / float64(grants) / 1e6
			b.ReportMetric(per, "ms-overhead/grant")
			b.ReportMetric(float64(grants)/float64(b.N), "grants/portfolio")
			b.ReportMetric(inPortfolio.Seconds()/float64(b.N), "s/portfolio")
			b.ReportMetric(alone.Seconds()/float64(b.N), "s/standalone")
			b.ReportMetric(float64(grants)/inPortfolio.Seconds(), "grants/s")
		})
	}
}

// A long portfolio continues as new (here every ~200 events) while its
// campaigns run on; the schedule, the ledger and the waiting requests
// carry over, and the totals match the lab.
func TestPortfolioContinuesAsNew(t *testing.T) {
	e := newEnv(t)
	e.worker(t, team(0), openMemory(t, e.dir))
	c := e.ts.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "portfolio-can", TaskQueue: workflows.TaskQueue},
		portfolioflow.PortfolioWorkflowName, portfolioflow.PortfolioInput{Spec: parseSpec(t, e, restartPortfolio), MaxHistory: 200})
	if err != nil {
		t.Fatal(err)
	}
	var st portfolioflow.PortfolioStatus
	if err := c.GetWorkflow(ctx, "portfolio-can", "").Get(ctx, &st); err != nil {
		dumpPortfolio(t, c, "portfolio-can")
		t.Fatal(err)
	}
	if st.Spent.LabRuns != 20 || !st.Done {
		t.Fatalf("%d lab runs charged (want 20), done %v", st.Spent.LabRuns, st.Done)
	}
	checkLedger(t, e, st)
	d, err := c.DescribeWorkflowExecution(ctx, "portfolio-can", "")
	if err != nil {
		t.Fatal(err)
	}
	if d.WorkflowExecutionInfo.GetExecution().GetRunId() == run.GetRunID() {
		t.Fatal("the portfolio never continued as new")
	}
	t.Logf("%d grants; the last run's history has %d events", st.Grants, d.WorkflowExecutionInfo.GetHistoryLength())
}

// dumpPortfolio logs where a stuck portfolio and its campaigns stand.
func dumpPortfolio(t *testing.T, c client.Client, id string) {
	runID := ""
	for range 3 {
		it := c.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		prev := ""
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				break
			}
			if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
				prev = a.GetContinuedExecutionRunId()
			}
			if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil {
				t.Logf("run %s event %d %s signal %s %s", runID, ev.GetEventId(), ev.GetEventTime().AsTime().Format("05.000"), a.GetSignalName(), shortPayload(a.GetInput().String()))
			} else {
				t.Logf("run %s event %d %s %s", runID, ev.GetEventId(), ev.GetEventTime().AsTime().Format("05.000"), ev.GetEventType())
			}
		}
		if prev == "" {
			break
		}
		runID = prev
	}
	st := portfolioStatus(t, c, id)
	t.Logf("portfolio: in use %+v, queue/pending %d, log tail:", st.InUse, len(st.Pending))
	for _, r := range st.Log[max(0, len(st.Log)-10):] {
		t.Logf("  %s %s %s", r.Kind, r.Campaign, r.Detail)
	}
	for _, ce := range st.Campaigns {
		t.Logf("%s done=%v holding=%+v waiting=%q reason=%q", ce.ID, ce.Done, ce.Holding, ce.Waiting, ce.Reason)
		if !ce.Done {
			cs := status(t, c, ce.ID)
			t.Logf("   campaign phase %q, events tail: %+v", cs.Phase, cs.Events[max(0, len(cs.Events)-3):])
		}
	}
}

func shortPayload(s string) string {
	if i := strings.Index(s, "seq"); i >= 0 {
		return s[max(0, i-60):min(len(s), i+40)]
	}
	return ""
}
