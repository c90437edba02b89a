// Package ollama is the llm.Model for an Ollama server, through Ollama's own
// Go client. Structured output uses Ollama's `format` field with a JSON
// schema, which constrains decoding so even small local models reply with
// schema-shaped JSON.
package ollama

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/genesis-sci/genesis/agents/llm"
)

// DefaultHost is where Ollama listens unless OLLAMA_HOST says otherwise.
const DefaultHost = "http://127.0.0.1:11434"

// The options every call asks for. They never vary from call to call: a
// runner started with another context size is a new runner, and a new
// runner starts with an empty prompt cache. deploy/ollama starts the
// server with the same values as its defaults (OLLAMA_CONTEXT_LENGTH,
// OLLAMA_KEEP_ALIVE).
const (
	// DefaultNumCtx holds an agent prompt (about 1-2k tokens) and its reply.
	DefaultNumCtx = 4096
	// DefaultKeepAlive keeps the model, and so its prompt cache, loaded
	// between the iterations of a campaign.
	DefaultKeepAlive = 30 * time.Minute
)

// Model calls one Ollama model.
type Model struct {
	client *api.Client
	host   string
	name   string
	// NumCtx is the context window to request; KeepAlive how long the
	// server keeps the model loaded after a call.
	NumCtx    int
	KeepAlive time.Duration

	cache *promptCache
}

// caches holds one prompt cache tracker per server and model: every client
// in the process shares the server's cache, and what one learns (the rate,
// the last prompt) holds for the others.
var caches sync.Map // host + " " + model → *promptCache

// promptCache follows what the server's prompt cache holds, to count the
// prompt tokens each call takes from it. Ollama (v0.17) reports a call's
// whole prompt as evaluated, cached or not, with the time it spent on it;
// the server keeps the last sequence it ran per slot and reuses its
// longest common prefix with the next prompt. So the cached count is that
// prefix's share of the prompt, and the call's own timing tells whether
// the server really reused it (see account).
type promptCache struct {
	mu   sync.Mutex
	last string // the last call's prompt and reply
}

// account fills u's cached count for a call whose prompt was text and
// reply reply, and marks a cache miss the server's timing reveals.
//
// The test compares the call's prompt speed with its own generation
// speed, so it holds on a busy machine: a server reads a prompt in
// batches, a few times faster per token than it writes (3-12× on two
// cores, slower machines and busier ones nearer 12×). A prompt read at
// less than 20× the writing speed was read whole; one nine-tenths cached
// reads at 100× or more. Calls less cached than that are not judged.
func (c *promptCache) account(text, reply string, u *llm.Usage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u.CachedTokens = llm.SharedPrefixTokens(c.last, text, u.PromptTokens)
	c.last = text + "assistant\n" + reply
	if u.CachedTokens >= 64 && 10*u.CachedTokens >= 9*u.PromptTokens && u.CompletionTokens >= 8 && u.PromptSeconds > 0 && u.GenSeconds > 0 {
		read, wrote := float64(u.PromptTokens)/u.PromptSeconds, float64(u.CompletionTokens)/u.GenSeconds
		if read < 20*wrote {
			u.CacheMiss, u.CachedTokens = true, 0
		}
	}
}

// New returns a model client. host is a URL such as http://127.0.0.1:11434;
// empty means DefaultHost.
func New(host, name string) (*Model, error) {
	if host == "" {
		host = DefaultHost
	}
	u, err := url.Parse(host)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("OLLAMA_HOST %q is not a URL such as %s", host, DefaultHost)
	}
	// No client timeout: the activity's context bounds the call.
	c, _ := caches.LoadOrStore(host+" "+name, &promptCache{})
	return &Model{client: api.NewClient(u, &http.Client{}), host: host, name: name, NumCtx: DefaultNumCtx, KeepAlive: DefaultKeepAlive, cache: c.(*promptCache)}, nil
}

// Check verifies that the server answers and has the model, with an error
// that says what to do.
func (m *Model) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := m.client.Version(ctx); err != nil {
		return fmt.Errorf("cannot reach Ollama at %s (%v): start it with `deploy/ollama/install.sh` or point OLLAMA_HOST at a running server", m.host, err)
	}
	if _, err := m.client.Show(ctx, &api.ShowRequest{Model: m.name}); err != nil {
		var se api.StatusError
		if errors.As(err, &se) && se.StatusCode == http.StatusNotFound {
			return fmt.Errorf("no model %q on the Ollama at %s: run `ollama pull %s` (or `deploy/ollama/install.sh` for the default models)", m.name, m.host, m.name)
		}
		return fmt.Errorf("asking Ollama at %s about model %q: %w", m.host, m.name, err)
	}
	return nil
}

// Generate implements llm.Model.
func (m *Model) Generate(ctx context.Context, req llm.Request) (llm.Response, error) {
	return m.generate(ctx, req, nil)
}

// GenerateStream implements llm.Streamer: Ollama streams the reply, and
// each piece goes to onDelta as it arrives.
func (m *Model) GenerateStream(ctx context.Context, req llm.Request, onDelta func(string)) (llm.Response, error) {
	return m.generate(ctx, req, onDelta)
}

func (m *Model) generate(ctx context.Context, req llm.Request, onDelta func(string)) (llm.Response, error) {
	msgs := make([]api.Message, len(req.Messages))
	for i, msg := range req.Messages {
		msgs[i] = api.Message{Role: msg.Role, Content: msg.Content}
	}
	stream := onDelta != nil
	opts := map[string]any{"temperature": req.Temperature, "num_ctx": m.NumCtx}
	if req.Seed != 0 {
		opts["seed"] = req.Seed
	}
	if req.MaxTokens > 0 {
		opts["num_predict"] = req.MaxTokens
	}
	keep := api.Duration{Duration: m.KeepAlive}
	cr := &api.ChatRequest{Model: m.name, Messages: msgs, Stream: &stream, Format: req.Schema, Options: opts, KeepAlive: &keep}
	var out llm.Response
	var reply strings.Builder
	err := m.client.Chat(ctx, cr, func(r api.ChatResponse) error {
		reply.WriteString(r.Message.Content)
		if onDelta != nil && r.Message.Content != "" {
			onDelta(r.Message.Content)
		}
		if r.Done {
			out.Usage = llm.Usage{PromptTokens: r.PromptEvalCount, CompletionTokens: r.EvalCount,
				PromptSeconds: r.PromptEvalDuration.Seconds(), GenSeconds: r.EvalDuration.Seconds()}
			out.Model = r.Model
		}
		return nil
	})
	out.Content = reply.String()
	if err != nil {
		var se api.StatusError
		if errors.As(err, &se) {
			return llm.Response{}, llm.Classify(se.StatusCode, fmt.Errorf("ollama %s: %w", m.name, err))
		}
		if ctx.Err() != nil {
			return llm.Response{}, ctx.Err()
		}
		return llm.Response{}, llm.Unavailable(fmt.Errorf("ollama %s at %s: %w", m.name, m.host, err))
	}
	text := llm.PromptText(req.Messages)
	m.cache.account(text, out.Content, &out.Usage)
	// The runner cuts a prompt that does not fit the window (and shifts
	// the context when the reply runs past it): either way the model did
	// not read what it was sent. A prompt reported at fewer than one token
	// per 8 bytes was cut too (text runs 2-5 bytes per token).
	u := out.Usage
	out.Usage.Truncated = u.PromptTokens+u.CompletionTokens >= m.NumCtx || (u.PromptTokens > 0 && len(text) > 8*u.PromptTokens)
	return out, nil
}

// Embed returns embeddings for texts with an embedding model.
func (m *Model) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	resp, err := m.client.Embed(ctx, &api.EmbedRequest{Model: m.name, Input: texts})
	if err != nil {
		var se api.StatusError
		if errors.As(err, &se) {
			return nil, llm.Classify(se.StatusCode, fmt.Errorf("ollama embed %s: %w", m.name, err))
		}
		return nil, llm.Unavailable(fmt.Errorf("ollama embed %s at %s: %w", m.name, m.host, err))
	}
	return resp.Embeddings, nil
}
