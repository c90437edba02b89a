package ollama

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/agents/llm"
)

// The cached count follows the prefix a call shares with the previous
// call's prompt and reply; a call whose timing shows it read that prefix
// again is a cache miss.
func TestPromptCacheAccount(t *testing.T) {
	var c promptCache
	// A first call: nothing is cached.
	u := llm.Usage{PromptTokens: 1000, PromptSeconds: 4.5, CompletionTokens: 60, GenSeconds: 1}
	c.account(strings.Repeat("a", 4000), "reply", &u)
	if u.CachedTokens != 0 || u.CacheMiss {
		t.Fatalf("first call: %+v", u)
	}
	// The next prompt extends it: 19/20 shared, read in a few tenths of a
	// second while writing at 60 tokens/s (a hit, at ~55× the writing speed).
	next := strings.Repeat("a", 4000) + "assistant\nreply" + strings.Repeat("b", 200)
	u = llm.Usage{PromptTokens: 1050, PromptSeconds: 0.3, CompletionTokens: 60, GenSeconds: 1}
	c.account(next, "r2", &u)
	if u.CachedTokens < 990 || u.CacheMiss {
		t.Fatalf("hit: %+v", u)
	}
	// Same shape on a machine four times busier: still a hit.
	third := next + "assistant\nr2" + strings.Repeat("c", 20)
	u = llm.Usage{PromptTokens: 1060, PromptSeconds: 1.2, CompletionTokens: 60, GenSeconds: 4}
	c.account(third, "r3", &u)
	if u.CacheMiss {
		t.Fatalf("busy hit: %+v", u)
	}
	// The server read the whole prompt again (at 220 tokens/s, writing 60).
	fourth := third + "assistant\nr3" + strings.Repeat("d", 20)
	u = llm.Usage{PromptTokens: 1070, PromptSeconds: 4.9, CompletionTokens: 60, GenSeconds: 1}
	c.account(fourth, "r4", &u)
	if !u.CacheMiss || u.CachedTokens != 0 {
		t.Fatalf("miss: %+v", u)
	}
	// A server that reports no timing is taken at its word.
	var d promptCache
	u = llm.Usage{PromptTokens: 100}
	d.account(strings.Repeat("x", 400), "", &u)
	u = llm.Usage{PromptTokens: 100}
	d.account(strings.Repeat("x", 400)+"assistant\n", "", &u)
	if u.CacheMiss || u.CachedTokens == 0 {
		t.Fatalf("no timing: %+v", u)
	}
}

// Generate reports the server's counts and timings, the cached count and
// a truncated prompt, and asks with the fixed options.
func TestGenerateUsage(t *testing.T) {
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		_ = json.NewDecoder(r.Body).Decode(&req)
		got = append(got, req)
		prompt := 400
		if len(got) > 1 {
			prompt = 4090 // the context is full: the server cut the prompt
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"model": "m", "message": map[string]any{"role": "assistant", "content": `{"a":1}`},
			"done": true, "prompt_eval_count": prompt, "eval_count": 7, "prompt_eval_duration": int64(2 * time.Second), "eval_duration": int64(time.Second / 10)})
	}))
	defer srv.Close()
	m, err := New(srv.URL, "m")
	if err != nil {
		t.Fatal(err)
	}
	req := llm.Request{Messages: []llm.Message{{Role: "user", Content: strings.Repeat("x", 1600)}}, MaxTokens: 64}
	resp, err := m.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	u := resp.Usage
	if u.PromptTokens != 400 || u.CompletionTokens != 7 || u.PromptSeconds != 2 || u.GenSeconds != 0.1 || u.Truncated {
		t.Errorf("usage %+v", u)
	}
	opts := got[0]["options"].(map[string]any)
	if opts["num_ctx"] != float64(DefaultNumCtx) || opts["num_predict"] != float64(64) || got[0]["keep_alive"] == nil {
		t.Errorf("request %v", got[0])
	}
	if resp, err = m.Generate(context.Background(), req); err != nil || !resp.Usage.Truncated {
		t.Errorf("a full context is not reported as truncated: %+v %v", resp.Usage, err)
	}
}

// fakeServer answers /api/chat with the given prompt evaluation times, in
// order, and /api/ps with a runner of context ctx.
func fakeServer(t *testing.T, ctx int, promptSeconds ...float64) *httptest.Server {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/ps":
			_ = json.NewEncoder(w).Encode(map[string]any{"models": []map[string]any{{"name": "m", "model": "m", "context_length": ctx,
				"expires_at": time.Now().Add(30 * time.Minute)}}})
		default:
			d := promptSeconds[min(calls, len(promptSeconds)-1)]
			calls++
			_ = json.NewEncoder(w).Encode(map[string]any{"model": "m", "message": map[string]any{"role": "assistant", "content": "ok"},
				"done": true, "prompt_eval_count": 300, "eval_count": 1, "prompt_eval_duration": int64(d * float64(time.Second))})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The start check sends one prompt twice: the second must come back from
// the cache; a server that evaluates it again, or runs the model with
// another context size, is reported with the counts and the fix.
func TestCheckServing(t *testing.T) {
	m, _ := New(fakeServer(t, DefaultNumCtx, 1.4, 0.03).URL, "m")
	s, err := m.CheckServing(context.Background(), "")
	if err != nil || s.CacheUsed == nil || !*s.CacheUsed || len(s.Problems) != 0 || s.ContextLength != DefaultNumCtx {
		t.Fatalf("a healthy server: %+v %v", s, err)
	}
	if !strings.Contains(s.String(), "prompt cache works (a 300-token prompt in 1.40 s, again in 0.03 s)") {
		t.Errorf("summary %q", s.String())
	}
	m, _ = New(fakeServer(t, 2048, 1.4, 1.3).URL, "m")
	s, err = m.CheckServing(context.Background(), "")
	if err != nil || s.CacheUsed == nil || *s.CacheUsed || len(s.Problems) != 2 {
		t.Fatalf("a server without cache: %+v %v", s, err)
	}
	all := strings.Join(s.Problems, "\n")
	for _, want := range []string{"prompt cache not used: the same 300-token prompt took 1.40 s to evaluate, then 1.30 s again", "2048-token context, Genesis asks for 4096"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
}

// A local server's settings come from its environment (the pid file that
// deploy/ollama writes): a server with more than one parallel slot is
// reported.
func TestCheckServingReadsTheServerSettings(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sleep", "30")
	cmd.Env = []string{"OLLAMA_NUM_PARALLEL=4", "OLLAMA_KEEP_ALIVE=30m"}
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pidFile := filepath.Join(t.TempDir(), "ollama.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _ := New(fakeServer(t, DefaultNumCtx, 1.4, 0.03).URL, "m")
	s, err := m.CheckServing(context.Background(), pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if s.Settings["OLLAMA_NUM_PARALLEL"] != "4" || len(s.Problems) != 1 || !strings.Contains(s.Problems[0], "OLLAMA_NUM_PARALLEL=4, deploy/ollama sets 1") {
		t.Errorf("settings %v, problems %q", s.Settings, s.Problems)
	}
}
