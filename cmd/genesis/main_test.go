package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/memory/embedded"
	"github.com/genesis-sci/genesis/tools/labclient"
)

// Bad input gets one line that says what to do, a non-zero exit code, and
// nothing written: every case fails before Temporal, the lab or a worker starts.
func TestRunRefusesBadInput(t *testing.T) {
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "broken.yaml"), []byte("id: broken\ntitle: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown challenge", []string{"run", "--challenge", "nope"}, nil, "unknown challenge \"nope\"; known challenges: agnp-spectrum-loss"},
		{"malformed model spec", []string{"run", "--model", "gemma"}, nil, "want PROVIDER:MODEL"},
		{"unknown provider", []string{"run", "--model", "acme:big"}, nil, "unknown provider \"acme\""},
		{"unreachable ollama", []string{"run", "--model", "ollama:smollm2:135m"}, map[string]string{"OLLAMA_HOST": "127.0.0.1:1"}, "cannot reach Ollama at http://127.0.0.1:1"},
		{"openai without a key", []string{"run", "--model", "openai:gpt-4o-mini"}, map[string]string{"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}, "needs OPENAI_API_KEY"},
		{"negative budget", []string{"run", "--budget", "-3"}, nil, "--budget and --token-budget must be ≥ 0"},
		{"unknown strategy", []string{"run", "--strategy", "genetic"}, nil, `strategy "genetic": want one of agents, agents-noopt, bo, random`},
		{"batch for the agents", []string{"run", "--batch", "4"}, nil, "batch applies only to strategy bo, not agents"},
		{"batch for the agents names --max-batch", []string{"run", "--batch", "4"}, nil, "--max-batch bounds the lab runs per iteration"},
		{"acquisition for random", []string{"run", "--strategy", "random", "--acquisition", "ucb"}, nil, "acquisition applies only to strategy bo, not random"},
		{"bad start design", []string{"run", "--strategy", "bo", "--init", "sobol"}, nil, `init: start design "sobol": want auto, medoids[:N], maximin[:N] or random:N`},
		{"bo batch too large", []string{"run", "--strategy", "bo", "--batch", "99"}, nil, "batch 99: want 1 to 64"},
		{"malformed challenge file", []string{"run", "--challenges-dir", bad}, nil, "broken.yaml"},
		{"missing challenges dir", []string{"challenges", "list", "--challenges-dir", filepath.Join(bad, "nowhere")}, nil, "challenges directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "home")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := execute(append(c.args, "--home", home), &out, &errb)
			if code == 0 {
				t.Fatalf("exit 0; stdout %q", out.String())
			}
			if !strings.Contains(errb.String(), c.want) {
				t.Errorf("stderr %q does not say %q", errb.String(), c.want)
			}
			if _, err := os.Stat(home); !os.IsNotExist(err) {
				t.Errorf("the data directory was created (%v): nothing should be written on bad input", err)
			}
		})
	}
}

func TestHelpListsSubcommands(t *testing.T) {
	var out bytes.Buffer
	if code := execute([]string{"--help"}, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, sub := range []string{"run", "dev", "worker", "lab", "sim", "challenges", "portfolio"} {
		if !strings.Contains(out.String(), "\n  "+sub+" ") {
			t.Errorf("--help does not list %q:\n%s", sub, out.String())
		}
	}
}

func TestChallengesCommands(t *testing.T) {
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := execute(append(args, "--home", t.TempDir()), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := run("challenges", "list")
	if code != 0 || !strings.Contains(out, "crossed-barrel-toughness") || !strings.Contains(out, "DESIGN SPACE") {
		t.Fatalf("list: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = run("challenges", "show", "crossed-barrel-toughness")
	for _, want := range []string{"threshold: toughness ≥ 34.47 J", "license:", "Lab model", "Simulation model", "30 lab experiments"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("show: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	if code, _, errs = run("challenges", "show", "nope"); code == 0 || !strings.Contains(errs, "unknown challenge \"nope\"") {
		t.Errorf("show nope: exit %d, %q", code, errs)
	}
	if code, out, errs = run("challenges", "validate", "-q"); code != 0 || !strings.Contains(out, "valid") {
		t.Errorf("validate built-ins: exit %d\n%s%s", code, out, errs)
	}

	// A directory with one good and one broken definition: both reported, exit 1.
	dir := t.TempDir()
	good := `id: tiny
title: Tiny
domain: materials
description: A tiny test challenge.
objectives: [{name: y, direction: maximize}]
parameters: [{name: x, kind: continuous, low: 0, high: 10}]
data: {file: tiny.csv, source: made up, license: CC0}
lab: {kind: knn, noise: fixed, noise_sd: 0.01, rationale: one smooth dimension}
simulation: {kind: knn, neighbors: 2, bias: 0.02, noise_sd: 0.1, cost: 0.1}
budget: {experiments: 3, simulations: 3}
scoring: {top_fraction: 0.2}
`
	broken := strings.Replace(strings.Replace(good, "id: tiny", "id: tiny2", 1), "direction: maximize", "direction: upwards", 1)
	for name, body := range map[string]string{"tiny.yaml": good, "broken.yaml": broken, "tiny.csv": "x,y\n1,2\n2,3\n3,5\n4,4\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs = run("challenges", "validate", dir)
	if code != 1 || !strings.Contains(out, "ok   "+filepath.Join(dir, "tiny.yaml")) ||
		!strings.Contains(out, "FAIL "+filepath.Join(dir, "broken.yaml")) || !strings.Contains(out, `objectives[0].direction: "upwards" must be "maximize" or "minimize"`) {
		t.Errorf("validate dir: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs = run("challenges", "validate", filepath.Join(dir, "absent.yaml")); code != 1 || !strings.Contains(errs, "1 definition invalid") {
		t.Errorf("validate absent: exit %d %q", code, errs)
	}
	// --challenges-dir adds user challenges to every command.
	os.Remove(filepath.Join(dir, "broken.yaml"))
	code, out, errs = run("challenges", "list", "--challenges-dir", dir)
	if code != 0 || !strings.Contains(out, "tiny") {
		t.Errorf("list with --challenges-dir: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run("challenges", "show", "tiny", "--challenges-dir", dir)
	if code != 0 || !strings.Contains(out, "held-out error (4-fold CV) on y") {
		t.Errorf("show tiny: exit %d\n%s%s", code, out, errs)
	}
}

func TestLabToken(t *testing.T) {
	home := t.TempDir()
	t.Setenv("GENESIS_LAB_TOKEN", "")
	if tok, err := labToken(home, "", false); err != nil || tok != "" {
		t.Fatalf("no token and no create: %q %v", tok, err)
	}
	tok, err := labToken(home, "", true)
	if err != nil || len(tok) < 32 {
		t.Fatalf("created token %q %v", tok, err)
	}
	st, err := os.Stat(labTokenFile(home))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	if again, _ := labToken(home, "", true); again != tok {
		t.Error("the token changed on the second start")
	}
	t.Setenv("GENESIS_LAB_TOKEN", "from-env")
	if got, _ := labToken(home, "", true); got != "from-env" {
		t.Errorf("env token ignored: %q", got)
	}
	f := filepath.Join(home, "tok")
	os.WriteFile(f, []byte("  from-file\n"), 0o600)
	if got, _ := labToken(home, f, true); got != "from-file" {
		t.Errorf("file token: %q", got)
	}
	os.WriteFile(f, []byte("\n"), 0o600)
	if _, err := labToken(home, f, true); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty token file: %v", err)
	}
	if _, err := labToken(home, filepath.Join(home, "absent"), true); err == nil {
		t.Error("missing token file accepted")
	}
}

func TestLabStatus(t *testing.T) {
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	s, err := lab.New(lab.Config{Addr: "127.0.0.1:0", Catalog: cat, Token: "tok", TimeScale: 0.001,
		FaultFunc: func(string) string { return labclient.FaultSampleLost }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	url := "http://" + s.Addr().String()
	ch, _ := cat.Get(challenges.DefaultID)
	c := labclient.New(url, nil).WithToken("tok")
	r, err := c.Submit(context.Background(), labclient.SubmitRequest{Challenge: ch.ID, Parameters: ch.Map(ch.Pool().Points[0]), IdempotencyKey: "k", Requester: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(context.Background(), r.ID, 5*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	tf := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tf, []byte("tok\n"), 0o600)
	var out, errb bytes.Buffer
	if code := execute([]string{"lab", "status", "--lab", url, "--token-file", tf, "--home", t.TempDir()}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"robot-1", "online", "1 faults recorded", "sample_lost", r.ID} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	// Without the token: told what to do, exit 1.
	out.Reset()
	errb.Reset()
	t.Setenv("GENESIS_LAB_TOKEN", "")
	if code := execute([]string{"lab", "status", "--lab", url, "--home", t.TempDir()}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "bearer token") {
		t.Errorf("without a token: exit %d %q", code, errb.String())
	}
}

// Bad eval input: one clear line, exit 1, nothing written.
func TestEvalRefusesBadInput(t *testing.T) {
	bad := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown strategy", []string{"eval", "--strategies", "random,genetic"}, `unknown strategy "genetic"`},
		{"unknown challenge", []string{"eval", "--challenges", "nope", "--strategies", "bo"}, `unknown challenge "nope"`},
		{"budget over the pool", []string{"eval", "--challenges", "electrochem-voltage", "--strategies", "bo", "--budget", "50"}, "larger than challenge electrochem-voltage's pool of 30"},
		{"no seeds", []string{"eval", "--strategies", "bo", "--seeds", "0"}, "--seeds 0 must be ≥ 1"},
		{"unreadable challenges dir", []string{"eval", "--strategies", "bo", "--challenges-dir", filepath.Join(bad, "nowhere")}, "challenges directory"},
		{"parallel", []string{"eval", "--strategies", "bo", "--parallel", "0"}, "--parallel 0 must be ≥ 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "home")
			var out, errb bytes.Buffer
			code := execute(append(c.args, "--home", home, "--out", filepath.Join(home, "eval")), &out, &errb)
			if code == 0 || !strings.Contains(errb.String(), c.want) {
				t.Errorf("exit %d, stderr %q, want %q", code, errb.String(), c.want)
			}
			if _, err := os.Stat(home); !os.IsNotExist(err) {
				t.Errorf("something was written under %s", home)
			}
		})
	}
}

// freePort is a TCP port nothing listens on now (for a dev server).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// genesis eval end to end, as a user runs it: its own Temporal dev server
// (the real one, relaxed sync for classical runs), the in-process lab and
// worker, CPUs + 1 runs at a time; then the same command again resumes
// every finished run instead of redoing it.
func TestEvalCommandRunsAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Temporal dev server")
	}
	home := filepath.Join(t.TempDir(), "home")
	port := freePort(t)
	args := []string{"eval", "--challenges", "crossed-barrel-toughness", "--strategies", "random,bo", "--seeds", "1", "--budget", "6",
		"--home", home, "--temporal-port", strconv.Itoa(port), "--ui-port", "0"}
	for i, want := range []string{"eval: 2 runs (0 resumed", "eval: 2 runs (2 resumed"} {
		var out, errb bytes.Buffer
		if code := execute(args, &out, &errb); code != 0 {
			t.Fatalf("run %d: exit %d\nstdout %s\nstderr %s", i+1, code, out.String(), errb.String())
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("run %d: stdout %q does not say %q", i+1, out.String(), want)
		}
		if at := fmt.Sprintf("%d at a time", runtime.NumCPU()+1); !strings.Contains(errb.String(), at) {
			t.Errorf("run %d: stderr %q does not say %q", i+1, errb.String(), at)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(home, "evals", "*", "report.json"))
	if len(matches) != 1 {
		t.Fatalf("report.json files: %v", matches)
	}
	var rep struct {
		Runs []struct {
			Strategy string            `json:"strategy"`
			Trace    []json.RawMessage `json:"trace"`
		} `json:"runs"`
	}
	b, err := os.ReadFile(matches[0])
	if err == nil {
		err = json.Unmarshal(b, &rep)
	}
	if err != nil || len(rep.Runs) != 2 {
		t.Fatalf("report.json: %v, %d runs", err, len(rep.Runs))
	}
	for _, r := range rep.Runs {
		if len(r.Trace) != 6 {
			t.Errorf("%s: %d experiments, want 6", r.Strategy, len(r.Trace))
		}
	}
	// The eval's server ran SQLite in WAL mode (header bytes 18–19 are 2).
	if db, err := os.ReadFile(filepath.Join(home, "temporal.db")); err != nil || len(db) < 100 || db[18] != 2 {
		t.Errorf("temporal.db is not in WAL mode (err %v)", err)
	}
}

// genesis run --strategy bo runs Bayesian optimisation with no model: the
// start design is 2 random points, then the optimiser chooses 2 points per
// round (lab keys .../itI/rR/labJ, J < 2).
func TestRunBO(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Temporal dev server")
	}
	home := filepath.Join(t.TempDir(), "home")
	port := freePort(t)
	var out, errb bytes.Buffer
	// No model server is reachable: bo must not need one.
	t.Setenv("OLLAMA_HOST", "127.0.0.1:1")
	args := []string{"run", "--challenge", "crossed-barrel-toughness", "--strategy", "bo", "--init", "random:2", "--batch", "2", "--budget", "8",
		"--quiet", "--home", home, "--temporal-port", strconv.Itoa(port), "--ui-port", "0"}
	if code := execute(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out.String(), errb.String())
	}
	files, _ := filepath.Glob(filepath.Join(home, "campaigns", "*", "result.json"))
	if len(files) != 1 {
		t.Fatalf("result files: %v", files)
	}
	var res struct {
		Result struct {
			Strategy string `json:"strategy"`
			Model    string `json:"model"`
		} `json:"result"`
		Experiments []struct {
			Key string `json:"key"`
		} `json:"experiments"`
	}
	b, err := os.ReadFile(files[0])
	if err == nil {
		err = json.Unmarshal(b, &res)
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Result.Strategy != "bo" || res.Result.Model != "" || len(res.Experiments) != 8 {
		t.Fatalf("strategy %q, model %q, %d experiments; want bo, no model, 8", res.Result.Strategy, res.Result.Model, len(res.Experiments))
	}
	rounds := map[string]int{}
	for _, e := range res.Experiments {
		i := strings.LastIndex(e.Key, "/lab")
		rounds[e.Key[:i]]++
	}
	for r, n := range rounds {
		if n != 2 {
			t.Errorf("round %s ran %d experiments, want 2 (batch 2, start design random:2)", r, n)
		}
	}
}

func TestMemoryCommands(t *testing.T) {
	home := t.TempDir()
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := execute(append(args, "--home", home), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, _, errs := run("memory", "stats"); code == 0 || !strings.Contains(errs, "no memory") {
		t.Errorf("stats on an empty home: %d %q", code, errs)
	}
	emb := memory.Hashing{}
	st, err := embedded.Open(filepath.Join(home, "memory", "hashing"), emb.Dim(), emb.Name())
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"thicker walls absorb more energy", "the gripper jammed during transfer", "twisted columns buckle early"}
	vecs, _ := emb.Embed(context.Background(), texts)
	for i, tx := range texts {
		kind := memory.KindFinding
		if i == 1 {
			kind = memory.KindObservation
		}
		scope := ""
		if i == 2 {
			scope = "eval-x/run-1"
		}
		if err := st.Upsert(context.Background(), []memory.Record{{ID: fmt.Sprint(i), Text: tx, Vector: vecs[i], Kind: kind, Challenge: "crossed-barrel-toughness", Agent: "analyst", Scope: scope}}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	code, out, errs := run("memory", "stats")
	if code != 0 || !strings.Contains(out, "3 records") || !strings.Contains(out, "finding 2") {
		t.Errorf("stats: %d\n%s%s", code, out, errs)
	}
	code, out, errs = run("memory", "search", "walls absorb energy", "--k", "1")
	if code != 0 || !strings.Contains(out, "thicker walls absorb more energy") || strings.Contains(out, "gripper") {
		t.Errorf("search: %d\n%s%s", code, out, errs)
	}
	code, out, _ = run("memory", "search", "walls", "--kind", "observation")
	if code != 0 || !strings.Contains(out, "gripper") || strings.Contains(out, "thicker") {
		t.Errorf("search --kind: %d\n%s", code, out)
	}
	code, out, _ = run("memory", "search", "walls", "--scope", "eval-x/run-1")
	if code != 0 || !strings.Contains(out, "twisted columns") || !strings.Contains(out, "scope eval-x/run-1") || strings.Contains(out, "thicker") {
		t.Errorf("search --scope: %d\n%s", code, out)
	}
	if code, _, errs = run("memory", "search", "x", "--kind", "gossip"); code == 0 || !strings.Contains(errs, `--kind "gossip"`) {
		t.Errorf("bad kind: %d %q", code, errs)
	}
	if code, _, errs = run("memory", "search", "x", "--embedder", "ollama:nope"); code == 0 || !strings.Contains(errs, "no memory store built with embedder") {
		t.Errorf("unknown store: %d %q", code, errs)
	}
}

func TestTokenCreate(t *testing.T) {
	home := t.TempDir()
	var out, errb bytes.Buffer
	if code := execute([]string{"token", "create", "--role", "operator", "--name", "ci", "--home", home}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	tok := strings.TrimSpace(out.String())
	toks, err := access.OpenTokens(home)
	if err != nil {
		t.Fatal(err)
	}
	if tk, ok := toks.Lookup(tok); !ok || tk.Role != access.RoleOperator || tk.Name != "ci" {
		t.Errorf("created token does not authenticate as operator: %+v", tk)
	}
	if code := execute([]string{"token", "create", "--role", "root", "--home", home}, &out, &errb); code == 0 || !strings.Contains(errb.String(), `role "root"`) {
		t.Errorf("bad role: exit %d %q", code, errb.String())
	}
	if code := execute([]string{"campaign", "list", "--api", "http://127.0.0.1:1", "--home", home}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "cannot reach the Genesis API") {
		t.Errorf("unreachable API: exit %d %q", code, errb.String())
	}
}

// The campaign commands talk to the API: paths, methods, token and bodies.
func TestCampaignCommands(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+strings.TrimSpace(string(body)))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "POST" && r.URL.Path == "/api/v1/campaigns":
			w.WriteHeader(202)
			fmt.Fprint(w, `{"id":"campaign-x-1"}`)
		case r.Method == "GET" && r.URL.Path == "/api/v1/campaigns":
			fmt.Fprint(w, `{"campaigns":[{"id":"campaign-x-1","status":"running","started":"2026-12-07T10:00:00Z","strategy":"bo"},{"id":"campaign-y-2","status":"completed","started":"2026-12-07T09:00:00Z"}]}`)
		case r.URL.Path == "/api/v1/campaigns/campaign-x-1":
			fmt.Fprint(w, `{"campaign_id":"campaign-x-1","challenge":"x","phase":"awaiting approval","pending":{"iteration":1,"points":[{"n":6}]},"strategy":"bo","acquisition":"ucb","init":"random:2","batch":2}`)
		case strings.HasSuffix(r.URL.Path, "/approve"):
			w.WriteHeader(202)
			fmt.Fprint(w, `{"status":"approved"}`)
		default:
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":{"code":"not_found","message":"no such thing"}}`)
		}
	}))
	defer srv.Close()
	run := apiRunner(t, srv.URL)
	if code, out, errs := run("campaign", "start", "--challenge", "x", "--budget", "5", "--require-approval"); code != 0 || !strings.Contains(out, "started campaign-x-1") {
		t.Fatalf("start: %d %q %q", code, out, errs)
	}
	if !strings.Contains(got[0], `POST /api/v1/campaigns Bearer gns_test`) || !strings.Contains(got[0], `"require_approval":true`) || !strings.Contains(got[0], `"budget":5`) {
		t.Errorf("start request %q", got[0])
	}
	if code, out, _ := run("campaign", "status", "campaign-x-1"); code != 0 || !strings.Contains(out, "await approval") || !strings.Contains(out, `{"n":6}`) ||
		!strings.Contains(out, "strategy bo (acquisition ucb, init random:2, batch 2)") {
		t.Errorf("status: %d %q", code, out)
	}
	if code, out, errs := run("campaign", "start", "--challenge", "x", "--strategy", "bo", "--acquisition", "ucb", "--init", "random:2", "--batch", "2"); code != 0 || !strings.Contains(out, "started") {
		t.Fatalf("start bo: %d %q %q", code, out, errs)
	}
	if last := got[len(got)-1]; !strings.Contains(last, `"strategy":"bo","acquisition":"ucb","init":"random:2","batch":2`) {
		t.Errorf("bo start request %q", last)
	}
	if code, out, _ := run("campaign", "list"); code != 0 || !regexp.MustCompile(`ID +STRATEGY +STATUS +STARTED\ncampaign-x-1 +bo +running +2026-12-07 .*\ncampaign-y-2 +\? +completed `).MatchString(out) {
		t.Errorf("list: %d %q", code, out)
	}
	if code, out, _ := run("campaign", "approve", "campaign-x-1", "--reason", "looks safe"); code != 0 || !strings.Contains(out, "approved") {
		t.Errorf("approve: %d %q", code, out)
	}
	if last := got[len(got)-1]; !strings.Contains(last, "POST /api/v1/campaigns/campaign-x-1/approve") || !strings.Contains(last, `"reason":"looks safe"`) {
		t.Errorf("approve request %q", last)
	}
	if code, _, errs := run("campaign", "stop", "nope"); code == 0 || !strings.Contains(errs, "no such thing (not_found)") {
		t.Errorf("stop unknown: %d %q", code, errs)
	}
}

// genesis campaign start against the real API handler: settings the API
// refuses come back as one line naming the field and what is allowed, and
// nothing starts (the handler has no Temporal to start anything with).
func TestCampaignStartRefusedByAPI(t *testing.T) {
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&api.Server{Catalog: cat}).Handler())
	defer srv.Close()
	run := apiRunner(t, srv.URL)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--strategy", "genetic"}, `strategy "genetic": want one of agents, agents-noopt, bo, random (default agents) (invalid_strategy)`},
		{[]string{"--batch", "2"}, "batch applies only to strategy bo, not agents"},
		{[]string{"--strategy", "bo", "--acquisition", "pi"}, `acquisition "pi": want ei`},
		{[]string{"--strategy", "bo", "--init", "random"}, "say how many random points, e.g. random:2 (invalid_init)"},
		{[]string{"--strategy", "bo", "--batch", "65"}, "batch 65: want 1 to 64"},
	} {
		code, out, errs := run(append([]string{"campaign", "start", "--challenge", "crossed-barrel-toughness"}, c.args...)...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want it to say %q", c.args, code, out, errs, c.want)
		}
	}
}

func TestChatCommand(t *testing.T) {
	var sent []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "POST" && r.URL.Path == "/api/v1/chats":
			w.WriteHeader(201)
			fmt.Fprint(w, `{"id":"chat-1","model":"scripted"}`)
		case r.Method == "POST" && r.URL.Path == "/api/v1/chats/chat-1/messages":
			sent = append(sent, string(body))
			fmt.Fprint(w, `{"text":"Crossed barrel is about toughness."}`)
		case r.URL.Path == "/api/v1/chats/chat-1":
			fmt.Fprint(w, `{"id":"chat-1","messages":[{"role":"user","text":"hello","time":"2026-11-26T00:00:00Z"},{"role":"assistant","text":"Crossed barrel is about toughness.","time":"2026-11-26T00:00:01Z"}]}`)
		default:
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":{"code":"not_found","message":"nope"}}`)
		}
	}))
	defer srv.Close()
	t.Setenv("GENESIS_TOKEN", "gns_test")
	stdin = strings.NewReader("hello\n\n/history\n/help\n/quit\n")
	defer func() { stdin = os.Stdin }()
	var out, errb bytes.Buffer
	if code := execute([]string{"chat", "--api", srv.URL, "--home", t.TempDir()}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"chat chat-1 with the Genesis team", "team> Crossed barrel is about toughness.", "you  hello", "/campaigns", "genesis chat --session chat-1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if len(sent) != 1 || !strings.Contains(sent[0], `"text":"hello"`) {
		t.Errorf("sent %v", sent)
	}
}

func TestPortfolioCommands(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Content-Type")+" "+string(body))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "POST" && r.URL.Path == "/api/v1/portfolios":
			w.WriteHeader(202)
			fmt.Fprint(w, `{"id":"pf-1","campaigns":2}`)
		case r.URL.Path == "/api/v1/portfolios/pf-1":
			fmt.Fprint(w, `{"id":"pf-1","name":"demo","capacity":{"lab":2,"hpc":4,"model":2},"in_use":{"lab":1},"grants":7,
				"spent":{"lab_runs":3,"cost":3},"budget":{"lab_runs":20},
				"campaigns":[{"id":"pf-1-01-crossed-barrel-toughness","challenge":"crossed-barrel-toughness","priority":3,"base_priority":3,
				  "budget":{"lab_runs":10},"spent":{"lab_runs":3,"cost":3},"iteration":2,"best":31.5,"waiting":"an operator's approval of 2 lab (a4, until 10:00:00)"}],
				"pending":[{"id":"a4","campaign":"pf-1-01-crossed-barrel-toughness","request":{"kind":"lab","n":2},"cost":2,"reasons":["run 1 is outside the routine region (theta = 175)"],"role":"operator","deadline":"2026-11-26T10:00:00Z"}],
				"log":[{"seq":1,"time":"2026-11-26T09:30:00Z","kind":"approval","campaign":"pf-1-01-crossed-barrel-toughness","detail":"a4 waits for an operator"}]}`)
		case strings.HasSuffix(r.URL.Path, "/approvals/a4/approve"):
			fmt.Fprint(w, `{"status":"approved"}`)
		case r.Method == "POST" && (r.URL.Path == "/api/v1/portfolios/pf-1/pause" || r.URL.Path == "/api/v1/portfolios/pf-1/resume"):
			w.WriteHeader(202)
			fmt.Fprint(w, `{"id":"pf-1"}`)
		default:
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":{"code":"not_found","message":"no such thing"}}`)
		}
	}))
	defer srv.Close()
	run := apiRunner(t, srv.URL)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: demo\ncampaigns:\n  - {challenge: crossed-barrel-toughness, routine: {theta2: {max: 1}}}\n"), 0o644)
	if code, _, errs := run("portfolio", "start", bad); code == 0 || !strings.Contains(errs, "bad.yaml") || !strings.Contains(errs, "campaigns[0].routine.theta2: is not a parameter") || len(got) != 0 {
		t.Fatalf("a bad file must be refused before any request: %d %q %v", code, errs, got)
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("name: demo\ncampaigns:\n  - {challenge: crossed-barrel-toughness, priority: 3}\n  - {challenge: p3ht-cnt-conductivity}\n"), 0o644)
	if code, out, errs := run("portfolio", "start", good, "--id", "pf-1"); code != 0 || !strings.Contains(out, "started pf-1 with 2 campaigns") {
		t.Fatalf("start: %d %q %q", code, out, errs)
	}
	if !strings.Contains(got[0], "POST /api/v1/portfolios?id=pf-1 application/yaml name: demo") {
		t.Errorf("start request %q", got[0])
	}
	code, out, _ := run("portfolio", "status", "pf-1")
	for _, want := range []string{"pf-1 — demo (running)", "lab 1/2", "3/10", "31.5", "operator's approval", "genesis portfolio approve|reject pf-1 a4", "outside the routine region"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status lacks %q: %d\n%s", want, code, out)
		}
	}
	if code, out, _ := run("portfolio", "approve", "pf-1", "a4", "--reason", "ok"); code != 0 || !strings.Contains(out, "approved a4 of pf-1") || !strings.Contains(got[len(got)-1], `{"reason":"ok"}`) {
		t.Errorf("approve: %d %q %q", code, out, got[len(got)-1])
	}
	if code, _, errs := run("portfolio", "status", "nope"); code == 0 || !strings.Contains(errs, "no such thing") {
		t.Errorf("unknown portfolio: %d %q", code, errs)
	}
	for _, verb := range []string{"pause", "resume"} {
		if code, out, errs := run("portfolio", verb, "pf-1"); code != 0 || !strings.Contains(out, verb+"d pf-1") || !strings.HasPrefix(got[len(got)-1], "POST /api/v1/portfolios/pf-1/"+verb) {
			t.Errorf("%s: %d %q %q %q", verb, code, out, errs, got[len(got)-1])
		}
	}
	if code, _, errs := run("portfolio", "pause", "nope"); code == 0 || !strings.Contains(errs, "no such thing") {
		t.Errorf("pausing an unknown portfolio: %d %q", code, errs)
	}
}

// apiRunner runs genesis commands against a fake API at url, with a token.
func apiRunner(t *testing.T, url string) func(args ...string) (int, string, string) {
	t.Setenv("GENESIS_TOKEN", "gns_test")
	return func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := execute(append(args, "--api", url, "--home", t.TempDir()), &out, &errb)
		return code, out.String(), errb.String()
	}
}

func TestApprovalsCommand(t *testing.T) {
	body := `{"approvals":[]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/approvals" || r.Header.Get("Authorization") != "Bearer gns_test" {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":{"code":"not_found","message":"no such thing"}}`)
			return
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	run := apiRunner(t, srv.URL)
	if code, out, _ := run("approvals"); code != 0 || !strings.Contains(out, "nothing is waiting") {
		t.Errorf("empty: %d %q", code, out)
	}
	body = `{"approvals":[
		{"kind":"portfolio","campaign":"pf-01-crossed-barrel-toughness","challenge":"crossed-barrel-toughness","portfolio":"pf","approval":"a3","what":"2 lab run(s), cost 2",
		 "points":[{"theta":175}],"why":"run 1 is outside the routine region (theta = 175)","role":"admin","deadline":"2026-11-26T12:00:00Z","command":"genesis portfolio approve|reject pf a3"},
		{"kind":"campaign","campaign":"campaign-x-1","challenge":"x","what":"1 lab run(s)","points":[{"t":1.2}],"command":"genesis campaign approve|reject campaign-x-1"}]}`
	code, out, _ := run("approvals")
	for _, want := range []string{"portfolio pf, approval a3 for pf-01-crossed-barrel-toughness: 2 lab run(s), cost 2 — an admin decides, until 2026-11-26 12:00 UTC",
		`{"theta":175}`, "why: run 1 is outside", "decide: genesis portfolio approve|reject pf a3", "campaign campaign-x-1 (x): 1 lab run(s)", "decide: genesis campaign approve|reject campaign-x-1"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("output lacks %q: %d\n%s", want, code, out)
		}
	}
	if code, out, _ := run("approvals", "--json"); code != 0 || !strings.Contains(out, `"approval": "a3"`) {
		t.Errorf("--json: %d %s", code, out)
	}
}

// --watch prints only what is new at each listing, rides out a passing
// failure of the API, and ends when the API keeps failing.
func TestApprovalsWatch(t *testing.T) {
	answers := []string{`{"approvals":[]}`, "fail",
		`{"approvals":[{"kind":"campaign","campaign":"campaign-x-1","challenge":"x","what":"1 lab run(s)","iteration":2,"command":"genesis campaign approve|reject campaign-x-1"}]}`,
		`{"approvals":[{"kind":"campaign","campaign":"campaign-x-1","challenge":"x","what":"1 lab run(s)","iteration":2,"command":"genesis campaign approve|reject campaign-x-1"}]}`}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n >= len(answers) || answers[n] == "fail" {
			n++
			w.WriteHeader(503)
			fmt.Fprint(w, `{"error":{"code":"temporal_unavailable","message":"gone"}}`)
			return
		}
		fmt.Fprint(w, answers[n])
		n++
	}))
	defer srv.Close()
	run := apiRunner(t, srv.URL)
	code, out, errs := run("approvals", "--watch", "--every", "500ms")
	if code == 0 || !strings.Contains(errs, "gone") || !strings.Contains(errs, "(retrying)") {
		t.Errorf("the watch should retry, then end with the API's error: %d %q", code, errs)
	}
	if strings.Count(out, "campaign campaign-x-1 (x)") != 1 || !strings.Contains(out, "nothing is waiting; watching") || !strings.Contains(out, "1 new, 1 waiting in all") {
		t.Errorf("watch output:\n%s", out)
	}
	if code, _, errs := run("approvals", "--watch", "--json"); code == 0 || !strings.Contains(errs, "do not go together") {
		t.Errorf("--watch --json: %d %q", code, errs)
	}
}
