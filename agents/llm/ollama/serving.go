package ollama

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/genesis-sci/genesis/agents/llm"
)

// Serving is how the server runs the model, as checked before a campaign:
// the settings the agent loop's speed depends on, and whether the server's
// prompt cache works.
type Serving struct {
	Model string
	// ContextLength is the context window the server's runner holds (it
	// must be the one every call asks for: another one reloads the model,
	// and the cache with it); KeepAlive how long it keeps the model loaded
	// after a call.
	ContextLength int
	KeepAlive     time.Duration
	// Settings are the server's OLLAMA_* settings when it runs on this
	// machine and its environment is readable (empty otherwise).
	Settings map[string]string
	// Probe holds the two identical calls of the cache probe; CacheUsed
	// says whether the second was served from the cache (nil: the server
	// reports no timings to tell).
	Probe     [2]llm.Usage
	CacheUsed *bool
	// Problems says what differs from what the loop needs, and how to fix it.
	Problems []string
}

// Wanted are the server settings deploy/ollama starts Ollama with, and
// what the agent loop needs of them.
var Wanted = map[string]string{
	// One sequence at a time: on a few cores parallel sequences share
	// them (each call slower), and a campaign's calls come one by one.
	"OLLAMA_NUM_PARALLEL": "1",
	// Long enough to keep a model loaded between a campaign's iterations.
	"OLLAMA_KEEP_ALIVE": "30m",
	// The context every call asks for: a call that does not ask gets it too.
	"OLLAMA_CONTEXT_LENGTH": strconv.Itoa(DefaultNumCtx),
}

// probeText is the cache probe's prompt: about 300 tokens, made unique per
// call of CheckServing so no earlier cache holds it.
func probeText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Genesis prompt cache probe %d.\n", time.Now().UnixNano())
	for i := range 30 {
		fmt.Fprintf(&b, "Line %d: the sample at station %d read %d units.\n", i, i*7%13, i*37%101)
	}
	b.WriteString("Reply with the word ok.")
	return b.String()
}

// CheckServing checks how the server runs the model: it sends one prompt
// twice (the second should come from the prompt cache, several times
// faster), then reads the runner's context window and keep-alive from
// /api/ps and, when pidFile names a local server, its settings. Problems
// are reported, not returned as errors: a campaign still runs, only slower.
func (m *Model) CheckServing(ctx context.Context, pidFile string) (Serving, error) {
	s := Serving{Model: m.name}
	req := llm.Request{Messages: []llm.Message{{Role: "user", Content: probeText()}}, MaxTokens: 1}
	for i := range s.Probe {
		resp, err := m.Generate(ctx, req)
		if err != nil {
			return s, err
		}
		s.Probe[i] = resp.Usage
	}
	first, second := s.Probe[0], s.Probe[1]
	if first.PromptSeconds > 0 && second.PromptSeconds > 0 {
		used := second.PromptSeconds < first.PromptSeconds/2
		s.CacheUsed = &used
		if !used {
			s.Problems = append(s.Problems, fmt.Sprintf("prompt cache not used: the same %d-token prompt took %.2f s to evaluate, then %.2f s again; "+
				"each agent call will re-read its whole prompt. Is the server shared with another client that evicts it, or run with OLLAMA_NUM_PARALLEL above 1?",
				second.PromptTokens, first.PromptSeconds, second.PromptSeconds))
		}
	}
	ps, err := m.client.ListRunning(ctx)
	if err != nil {
		return s, fmt.Errorf("asking Ollama at %s what it runs: %w", m.host, err)
	}
	for _, r := range ps.Models {
		if r.Name != m.name && r.Model != m.name && strings.TrimSuffix(r.Name, ":latest") != m.name {
			continue
		}
		s.ContextLength = r.ContextLength
		if !r.ExpiresAt.IsZero() {
			s.KeepAlive = time.Until(r.ExpiresAt).Round(time.Minute)
		}
	}
	fix := "restart it with deploy/ollama/stop.sh && deploy/ollama/install.sh"
	if s.ContextLength != 0 && s.ContextLength != m.NumCtx {
		s.Problems = append(s.Problems, fmt.Sprintf("the server runs %s with a %d-token context, Genesis asks for %d: another client loaded it with other options "+
			"(each switch reloads the model and empties its prompt cache), or the server caps it; %s", m.name, s.ContextLength, m.NumCtx, fix))
	}
	if s.KeepAlive > 0 && s.KeepAlive < m.KeepAlive-2*time.Minute {
		s.Problems = append(s.Problems, fmt.Sprintf("the server keeps %s loaded for %s after a call, Genesis asks for %s: an unloaded model loses its prompt cache; %s",
			m.name, s.KeepAlive, m.KeepAlive, fix))
	}
	if pidFile != "" {
		if env, err := serverEnv(pidFile); err == nil {
			s.Settings = env
			// Unset is Ollama's default: 1 for NUM_PARALLEL, and for the
			// others Genesis' calls ask for their own values.
			if env["OLLAMA_NUM_PARALLEL"] == "" {
				env["OLLAMA_NUM_PARALLEL"] = "1"
			}
			for _, k := range []string{"OLLAMA_NUM_PARALLEL", "OLLAMA_KEEP_ALIVE", "OLLAMA_CONTEXT_LENGTH"} {
				if got := env[k]; got != "" && got != Wanted[k] {
					s.Problems = append(s.Problems, fmt.Sprintf("the server runs with %s=%s, deploy/ollama sets %s; %s", k, got, Wanted[k], fix))
				}
			}
		}
	}
	return s, nil
}

// serverEnv reads the OLLAMA_* settings of the server whose pid is in
// pidFile (deploy/ollama writes it), from /proc.
func serverEnv(pidFile string) (map[string]string, error) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pidFile, err)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, kv := range bytes.Split(raw, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok && strings.HasPrefix(k, "OLLAMA_") {
			env[k] = v
		}
	}
	return env, nil
}

// String is the check's one-line summary.
func (s Serving) String() string {
	var parts []string
	if s.ContextLength > 0 {
		parts = append(parts, fmt.Sprintf("context %d", s.ContextLength))
	}
	if s.KeepAlive > 0 {
		parts = append(parts, "keep-alive "+s.KeepAlive.String())
	}
	if p := s.Settings["OLLAMA_NUM_PARALLEL"]; p != "" {
		parts = append(parts, "parallel "+p)
	}
	first, second := s.Probe[0], s.Probe[1]
	switch {
	case s.CacheUsed == nil:
		parts = append(parts, "prompt cache unknown (no timings)")
	case *s.CacheUsed:
		parts = append(parts, fmt.Sprintf("prompt cache works (a %d-token prompt in %.2f s, again in %.2f s)", first.PromptTokens, first.PromptSeconds, second.PromptSeconds))
	default:
		parts = append(parts, "prompt cache NOT used")
	}
	return s.Model + ": " + strings.Join(parts, ", ")
}
