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
	"time"

	"github.com/ollama/ollama/api"

	"github.com/genesis-sci/genesis/agents/llm"
)

// DefaultHost is where Ollama listens unless OLLAMA_HOST says otherwise.
const DefaultHost = "http://127.0.0.1:11434"

// Model calls one Ollama model.
type Model struct {
	client *api.Client
	host   string
	name   string
	// NumCtx is the context window to request.
	NumCtx int
}

var _ llm.Model = (*Model)(nil)

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
	return &Model{client: api.NewClient(u, &http.Client{}), host: host, name: name, NumCtx: 4096}, nil
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
	keep := api.Duration{Duration: 30 * time.Minute}
	cr := &api.ChatRequest{Model: m.name, Messages: msgs, Stream: &stream, Format: req.Schema, Options: opts, KeepAlive: &keep}
	var out llm.Response
	err := m.client.Chat(ctx, cr, func(r api.ChatResponse) error {
		out.Content += r.Message.Content
		if onDelta != nil && r.Message.Content != "" {
			onDelta(r.Message.Content)
		}
		if r.Done {
			out.Usage = llm.Usage{PromptTokens: r.PromptEvalCount, CompletionTokens: r.EvalCount}
			out.Model = r.Model
		}
		return nil
	})
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
