// Package langchain bridges any github.com/tmc/langchaingo llms.Model into
// an llm.Model, so every provider langchaingo supports can drive the agents.
// langchaingo has no portable JSON-schema option, so the schema is stated in
// the system message and JSON mode is requested; the agents validate the
// reply against the schema as they do for every provider.
package langchain

import (
	"context"
	"fmt"
	"net/http"

	"github.com/tmc/langchaingo/llms"
	lcollama "github.com/tmc/langchaingo/llms/ollama"
	lcopenai "github.com/tmc/langchaingo/llms/openai"

	"github.com/genesis-sci/genesis/agents/llm"
)

// Model adapts a langchaingo model.
type Model struct {
	LLM  llms.Model
	Name string
}

var _ llm.Streamer = (*Model)(nil)

// New builds a bridged model for "BACKEND:MODEL", where BACKEND is ollama
// (at ollamaHost) or openai (OPENAI_BASE_URL / OPENAI_API_KEY).
func New(backend, model, ollamaHost, openaiBase, openaiKey string) (*Model, error) {
	switch backend {
	case "ollama":
		m, err := lcollama.New(lcollama.WithModel(model), lcollama.WithServerURL(ollamaHost), lcollama.WithHTTPClient(&http.Client{}))
		if err != nil {
			return nil, err
		}
		return &Model{LLM: m, Name: model}, nil
	case "openai":
		opts := []lcopenai.Option{lcopenai.WithModel(model), lcopenai.WithToken(openaiKey), lcopenai.WithHTTPClient(&http.Client{})}
		if openaiBase != "" {
			opts = append(opts, lcopenai.WithBaseURL(openaiBase))
		}
		m, err := lcopenai.New(opts...)
		if err != nil {
			return nil, err
		}
		return &Model{LLM: m, Name: model}, nil
	default:
		return nil, fmt.Errorf("langchaingo backend %q: use langchaingo:ollama:MODEL or langchaingo:openai:MODEL", backend)
	}
}

// Generate implements llm.Model.
func (m *Model) Generate(ctx context.Context, req llm.Request) (llm.Response, error) {
	return m.generate(ctx, req, nil)
}

// GenerateStream implements llm.Streamer through langchaingo's streaming
// callback; the backends report usage at the end as without streaming.
func (m *Model) GenerateStream(ctx context.Context, req llm.Request, onDelta func(string)) (llm.Response, error) {
	return m.generate(ctx, req, onDelta)
}

func (m *Model) generate(ctx context.Context, req llm.Request, onDelta func(string)) (llm.Response, error) {
	var msgs []llms.MessageContent
	for _, msg := range req.Messages {
		role := llms.ChatMessageTypeHuman
		switch msg.Role {
		case "system":
			role = llms.ChatMessageTypeSystem
		case "assistant":
			role = llms.ChatMessageTypeAI
		}
		msgs = append(msgs, llms.TextParts(role, msg.Content))
	}
	opts := []llms.CallOption{llms.WithTemperature(req.Temperature)}
	if req.MaxTokens > 0 {
		opts = append(opts, llms.WithMaxTokens(req.MaxTokens))
	}
	if req.Seed != 0 {
		opts = append(opts, llms.WithSeed(req.Seed))
	}
	streamed := 0 // bytes handed to onDelta
	if onDelta != nil {
		opts = append(opts, llms.WithStreamingFunc(func(_ context.Context, chunk []byte) error {
			if len(chunk) > 0 {
				streamed += len(chunk)
				onDelta(string(chunk))
			}
			return nil
		}))
	}
	if len(req.Schema) > 0 {
		opts = append(opts, llms.WithJSONMode())
		msgs = append([]llms.MessageContent{llms.TextParts(llms.ChatMessageTypeSystem,
			"Reply with one JSON object that validates against this JSON schema, and nothing else:\n"+string(req.Schema))}, msgs...)
	}
	resp, err := m.LLM.GenerateContent(ctx, msgs, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return llm.Response{}, ctx.Err()
		}
		return llm.Response{}, llm.Unavailable(fmt.Errorf("langchaingo %s: %w", m.Name, err))
	}
	if len(resp.Choices) == 0 {
		return llm.Response{}, llm.Unavailable(fmt.Errorf("langchaingo %s: no choices", m.Name))
	}
	ch := resp.Choices[0]
	if streamed > 0 && ch.Content == "" {
		// langchaingo fills the reply in from the stream's last message: a
		// stream cut short streams pieces and ends with none.
		return llm.Response{}, llm.Unavailable(fmt.Errorf("langchaingo %s: the stream ended before the reply was complete", m.Name))
	}
	return llm.Response{
		Content: ch.Content,
		Usage:   llm.Usage{PromptTokens: intInfo(ch.GenerationInfo, "PromptTokens"), CompletionTokens: intInfo(ch.GenerationInfo, "CompletionTokens")},
		Model:   m.Name,
	}, nil
}

func intInfo(info map[string]any, key string) int {
	switch v := info[key].(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		return int(v)
	}
	return 0
}
