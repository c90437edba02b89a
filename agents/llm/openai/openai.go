// Package openai is the llm.Model for any OpenAI-compatible chat endpoint,
// through github.com/sashabaranov/go-openai. The base URL and key come from
// OPENAI_BASE_URL and OPENAI_API_KEY on the worker, never from workflow input.
package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/genesis-sci/genesis/agents/llm"
)

// Model calls one model on an OpenAI-compatible server.
type Model struct {
	client *goopenai.Client
	name   string
	base   string
}

var _ llm.Streamer = (*Model)(nil)

// New returns a client for model name at baseURL ("" means OpenAI's).
func New(baseURL, apiKey, name string) *Model {
	cfg := goopenai.DefaultConfig(apiKey)
	if baseURL != "" {
		cfg.BaseURL = baseURL
	}
	cfg.HTTPClient = &http.Client{} // no retries, no timeout: the activity bounds the call
	return &Model{client: goopenai.NewClientWithConfig(cfg), name: name, base: cfg.BaseURL}
}

// Generate implements llm.Model.
func (m *Model) Generate(ctx context.Context, req llm.Request) (llm.Response, error) {
	resp, err := m.client.CreateChatCompletion(ctx, m.request(req))
	if err != nil {
		return llm.Response{}, m.classify(ctx, err)
	}
	if len(resp.Choices) == 0 {
		return llm.Response{}, llm.Unavailable(fmt.Errorf("openai %s: reply had no choices", m.name))
	}
	return llm.Response{
		Content: resp.Choices[0].Message.Content,
		Usage:   llm.Usage{PromptTokens: resp.Usage.PromptTokens, CompletionTokens: resp.Usage.CompletionTokens},
		Model:   resp.Model,
	}, nil
}

// GenerateStream implements llm.Streamer with the endpoint's server-sent
// chunks; the usage comes in the last chunk (stream_options.include_usage).
func (m *Model) GenerateStream(ctx context.Context, req llm.Request, onDelta func(string)) (llm.Response, error) {
	if onDelta == nil {
		onDelta = func(string) {}
	}
	cr := m.request(req)
	cr.StreamOptions = &goopenai.StreamOptions{IncludeUsage: true}
	stream, err := m.client.CreateChatCompletionStream(ctx, cr)
	if err != nil {
		return llm.Response{}, m.classify(ctx, err)
	}
	defer stream.Close()
	var out llm.Response
	var content strings.Builder
	finished := false // a finish reason was seen: a stream cut short has none
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return llm.Response{}, m.classify(ctx, err)
		}
		if chunk.Model != "" {
			out.Model = chunk.Model
		}
		if chunk.Usage != nil {
			out.Usage = llm.Usage{PromptTokens: chunk.Usage.PromptTokens, CompletionTokens: chunk.Usage.CompletionTokens}
		}
		if len(chunk.Choices) == 0 {
			continue
		}
		if d := chunk.Choices[0].Delta.Content; d != "" {
			content.WriteString(d)
			onDelta(d)
		}
		if chunk.Choices[0].FinishReason != "" {
			finished = true
		}
	}
	if !finished {
		return llm.Response{}, llm.Unavailable(fmt.Errorf("openai %s at %s: the stream ended before the reply was complete (no finish reason)", m.name, m.base))
	}
	out.Content = content.String()
	return out, nil
}

// request is the chat completion request for req.
func (m *Model) request(req llm.Request) goopenai.ChatCompletionRequest {
	msgs := make([]goopenai.ChatCompletionMessage, len(req.Messages))
	for i, msg := range req.Messages {
		msgs[i] = goopenai.ChatCompletionMessage{Role: msg.Role, Content: msg.Content}
	}
	cr := goopenai.ChatCompletionRequest{
		Model:       m.name,
		Messages:    msgs,
		Temperature: float32(req.Temperature),
		//lint:ignore SA1019 max_tokens is what most OpenAI-compatible servers (Ollama, vLLM) understand.
		MaxTokens: req.MaxTokens,
	}
	if req.Seed != 0 {
		seed := req.Seed
		cr.Seed = &seed
	}
	if len(req.Schema) > 0 {
		name := req.SchemaName
		if name == "" {
			name = "output"
		}
		cr.ResponseFormat = &goopenai.ChatCompletionResponseFormat{
			Type:       goopenai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &goopenai.ChatCompletionResponseFormatJSONSchema{Name: name, Schema: req.Schema},
		}
	}
	return cr
}

// classify turns a go-openai error, at the start of a call or in the middle
// of a stream, into a classified llm.Error.
func (m *Model) classify(ctx context.Context, err error) error {
	var ae *goopenai.APIError
	var re *goopenai.RequestError
	switch {
	case errors.As(err, &ae):
		return llm.Classify(ae.HTTPStatusCode, fmt.Errorf("openai %s: %w", m.name, err))
	case errors.As(err, &re):
		return llm.Classify(re.HTTPStatusCode, fmt.Errorf("openai %s: %w", m.name, err))
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		return llm.Unavailable(fmt.Errorf("openai %s at %s: %w", m.name, m.base, err))
	}
}

// Embed returns embeddings for texts from an OpenAI-compatible /embeddings endpoint.
func (m *Model) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	resp, err := m.client.CreateEmbeddings(ctx, goopenai.EmbeddingRequestStrings{Input: texts, Model: goopenai.EmbeddingModel(m.name)})
	if err != nil {
		var ae *goopenai.APIError
		if errors.As(err, &ae) {
			return nil, llm.Classify(ae.HTTPStatusCode, fmt.Errorf("openai embeddings %s: %w", m.name, err))
		}
		return nil, llm.Unavailable(fmt.Errorf("openai embeddings %s at %s: %w", m.name, m.base, err))
	}
	out := make([][]float32, len(texts))
	for _, d := range resp.Data {
		if d.Index >= 0 && d.Index < len(out) {
			out[d.Index] = d.Embedding
		}
	}
	for i, v := range out {
		if v == nil {
			return nil, fmt.Errorf("openai embeddings %s: no vector for input %d", m.name, i)
		}
	}
	return out, nil
}
