// Package scripted is a model for unit tests only: it answers each call with
// a function of the request, so tests can drive agents deterministically.
// It is never reachable from the genesis command line.
package scripted

import (
	"context"
	"sync"

	"github.com/genesis-sci/genesis/agents/llm"
)

// Model answers with Fn and counts calls.
type Model struct {
	Fn func(req llm.Request) (string, error)

	mu    sync.Mutex
	calls int
}

var _ llm.Model = (*Model)(nil)

// Generate implements llm.Model. Token usage is a word count of the prompt and reply.
func (m *Model) Generate(ctx context.Context, req llm.Request) (llm.Response, error) {
	m.mu.Lock()
	m.calls++
	m.mu.Unlock()
	out, err := m.Fn(req)
	if err != nil {
		return llm.Response{}, err
	}
	prompt := 0
	for _, msg := range req.Messages {
		prompt += len(msg.Content) / 4
	}
	return llm.Response{Content: out, Usage: llm.Usage{PromptTokens: prompt, CompletionTokens: len(out) / 4}, Model: "scripted"}, nil
}

// Calls is how many times Generate ran.
func (m *Model) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}
