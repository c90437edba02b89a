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
	labclient "github.com/genesis-sci/genesis/tools/lab"
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

// roleOf finds which agent a request is for.
func roleOf(req llm.Request) string {
	sys := req.Messages[0].Content
	for _, r := range agents.Roles {
		if strings.Contains(sys, "Your role: "+r+".") {
			return r
		}
	}
	return ""
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
			return `{"action":"final","output":{"decision":"exploit","lab_runs":2,"simulations":2,"rationale":"refine"}}`, nil
		case agents.Hypothesis:
			// Copy the first suggested point out of the prompt.
			i := strings.Index(user, "suggests (predicted mean ± sd):\n- ")
			if i < 0 {
				return `{"action":"final","output":{"hypotheses":[]}}`, nil
			}
			rest := user[i+len("suggests (predicted mean ± sd):\n- "):]
			pt := rest[:strings.Index(rest, "}")+1]
			return `{"action":"final","output":{"hypotheses":[{"statement":"the optimiser is right","expected":"high","candidates":[` + pt + `]}]}}`, nil
		case agents.SimOperator:
			return `{"action":"final","output":{"simulate":[1,2],"rationale":"cheap check"}}`, nil
		case agents.LabOperator:
			return `{"action":"final","output":{"run":[1,2],"rationale":"best two"}}`, nil
		case agents.Analyst:
			return `{"action":"final","output":{"findings":["thick walls help"],"converged":false,"summary":"progress"}}`, nil
		}
		return "", nil
	}}
}

type fixture struct {
	acts *Activities
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
	return &fixture{lab: ls, srv: srv, acts: &Activities{
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
