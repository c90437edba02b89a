package workflows

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/scripted"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/memory/embedded"
	"github.com/genesis-sci/genesis/tools/hpc"
	"github.com/genesis-sci/genesis/tools/labclient"
	"github.com/genesis-sci/genesis/tools/sim"
)

// The test binary doubles as the simulation program HPC jobs run, so the
// local executor starts a real subprocess.
func TestMain(m *testing.M) {
	if os.Getenv("GENESIS_SIM_HELPER") == "1" {
		os.Exit(sim.Main(os.Args[1:], os.Stderr))
	}
	os.Setenv("GENESIS_SIM_HELPER", "1")
	os.Exit(m.Run())
}

// roleOf finds which agent a request is for, by its schema's name.
func roleOf(req llm.Request) string {
	for _, r := range agents.Roles {
		if req.SchemaName == strings.ReplaceAll(r, "-", "_") {
			return r
		}
	}
	return ""
}

// firstSuggestion is the first point the optimiser suggests in a prompt.
func firstSuggestion(user string) (string, bool) {
	i := strings.Index(user, "The optimiser suggests")
	if i < 0 {
		return "", false
	}
	rest := user[i:]
	j := strings.Index(rest, "\n- ")
	if j < 0 {
		return "", false
	}
	rest = rest[j+3:]
	return rest[:strings.Index(rest, "}")+1], true
}

// scriptedTeam is a scripted model that answers like a competent team: the
// planner first queries the dataset, the hypothesis agent proposes the
// optimiser's first suggestion from its prompt, operators pick candidates 1-2.
func scriptedTeam() *scripted.Model {
	return &scripted.Model{Fn: func(req llm.Request) (string, error) {
		user := req.Messages[1].Content
		switch roleOf(req) {
		case agents.Planner:
			if !strings.Contains(user, "Tool results so far") {
				return `{"action":"call_tool","tool":"dataset_query","input":{"sql":"SELECT count(*) FROM candidates WHERE measured = 0"}}`, nil
			}
			return `{"action":"final","output":{"decision":"exploit","lab_runs":2,"simulations":2,"rationale":"Refine around the best point."}}`, nil
		case agents.Hypothesis:
			pt, ok := firstSuggestion(user)
			if !ok {
				return `{"action":"final","output":{"hypotheses":[]}}`, nil
			}
			return `{"action":"final","output":{"hypotheses":[{"statement":"The optimiser's pick is the best bet.","expected":"a high value","candidates":[` + pt + `]}]}}`, nil
		case agents.SimOperator:
			return `{"action":"final","output":{"simulate":[1,2],"rationale":"A cheap check of the first two."}}`, nil
		case agents.LabOperator:
			return `{"action":"final","output":{"run":[1,2],"rationale":"The best two candidates so far."}}`, nil
		case agents.Analyst:
			return `{"action":"final","output":{"findings":["Thick walls help toughness."],"converged":false,"summary":"The campaign is making progress."}}`, nil
		}
		return "", nil
	}}
}

type fixture struct {
	acts *Deps
	lab  *lab.Server
	srv  *httptest.Server
}

func newFixture(t *testing.T, model llm.Model) *fixture {
	t.Helper()
	return newFixtureWithLab(t, model, lab.Config{})
}

// newFixtureWithLab is newFixture with lab settings (faults, token); the
// catalog and time scale are filled in.
func newFixtureWithLab(t *testing.T, model llm.Model, lcfg lab.Config) *fixture {
	t.Helper()
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	lcfg.Catalog, lcfg.TimeScale = cat, 0.0002
	if lcfg.Logger == nil {
		lcfg.Logger = slog.New(slog.DiscardHandler)
	}
	ls, err := lab.New(lcfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ls.Handler())
	t.Cleanup(func() { srv.Close(); ls.Close() })
	dir := t.TempDir()
	ex, err := hpc.NewLocal(dir+"/jobs", 2)
	if err != nil {
		t.Fatal(err)
	}
	emb := memory.Hashing{}
	mem, err := embedded.Open(dir+"/memory", emb.Dim(), emb.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	self, _ := os.Executable()
	return &fixture{lab: ls, srv: srv, acts: &Deps{
		Catalog: cat, NewModel: func(string) (llm.Model, error) { return model, nil },
		Lab: labclient.New(srv.URL, srv.Client()).WithToken(lcfg.Token), HPC: ex, SimCommand: []string{self},
		Memory: mem, Embedder: emb, DataDir: dir, Poll: 5 * time.Millisecond,
	}}
}

func countRuns(t *testing.T, f *fixture) (int, map[string]int) {
	t.Helper()
	runs, err := f.acts.Lab.List(context.Background(), labclient.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]int{}
	for _, r := range runs {
		keys[r.IdempotencyKey]++
	}
	return len(runs), keys
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
