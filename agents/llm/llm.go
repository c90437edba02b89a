// Package llm is the small interface every model provider implements:
// one chat call that may be constrained by a JSON schema and reports its
// token usage. Providers live in subpackages named by what they depend on
// (ollama, openai, langchain); a scripted model for unit tests lives in
// scripted. Providers never retry: Temporal's activity retry policy is the
// one layer that retries, so provider errors are classified instead.
package llm

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
)

// Message is one chat message.
type Message struct {
	Role    string `json:"role"` // system, user or assistant
	Content string `json:"content"`
}

// Request is one model call.
type Request struct {
	Messages []Message
	// Schema, when set, constrains the reply to JSON matching it.
	Schema json.RawMessage
	// SchemaName names the schema for providers that need one.
	SchemaName  string
	Temperature float64
	Seed        int
	// MaxTokens bounds the reply; 0 means the provider's default.
	MaxTokens int
}

// Usage is token and time accounting for one call. Providers fill what
// their server reports; zero means "not reported".
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	// CachedTokens is the part of PromptTokens the server took from its
	// prompt cache instead of evaluating it again.
	CachedTokens int `json:"cached_tokens,omitempty"`
	// PromptSeconds is the server's time evaluating the prompt (what the
	// cache saves), GenSeconds its time generating the reply.
	PromptSeconds float64 `json:"prompt_s,omitempty"`
	GenSeconds    float64 `json:"gen_s,omitempty"`
	// CacheMiss is set when the prompt shared a prefix with what the server
	// had just evaluated, but the server's timing shows it evaluated the
	// whole prompt again: its prompt cache was not used.
	CacheMiss bool `json:"cache_miss,omitempty"`
	// Truncated is set when the prompt and reply did not fit the context
	// window the call asked for, so the server cut the prompt.
	Truncated bool `json:"truncated,omitempty"`
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// Evaluated is the prompt tokens the server evaluated (not from its cache).
func (u Usage) Evaluated() int { return u.PromptTokens - u.CachedTokens }

// Add accumulates o into u (flags are or-ed).
func (u *Usage) Add(o Usage) {
	u.PromptTokens += o.PromptTokens
	u.CompletionTokens += o.CompletionTokens
	u.CachedTokens += o.CachedTokens
	u.PromptSeconds += o.PromptSeconds
	u.GenSeconds += o.GenSeconds
	u.CacheMiss = u.CacheMiss || o.CacheMiss
	u.Truncated = u.Truncated || o.Truncated
}

// PromptText is the messages of a request as one text, in the order a chat
// template lays them out, for comparing what two calls share.
func PromptText(msgs []Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(m.Role)
		b.WriteByte('\n')
		b.WriteString(m.Content)
		b.WriteByte('\n')
	}
	return b.String()
}

// SharedPrefixTokens is how many of a prompt's tokens a prompt cache that
// holds prev can serve: the longest common prefix's share of the prompt's
// bytes, in tokens, less the one token that may straddle the point where
// the two part; at least one token is always evaluated. It is an estimate
// to within a token or two: token boundaries are not byte boundaries.
func SharedPrefixTokens(prev, prompt string, tokens int) int {
	n := 0
	for n < len(prev) && n < len(prompt) && prev[n] == prompt[n] {
		n++
	}
	if n == 0 || len(prompt) == 0 || tokens <= 0 {
		return 0
	}
	return max(0, min(tokens*n/len(prompt)-1, tokens-1))
}

// Response is a model's reply.
type Response struct {
	Content string
	Usage   Usage
	Model   string
}

// Model is a chat model. Implementations must be safe for concurrent use.
type Model interface {
	Generate(ctx context.Context, req Request) (Response, error)
}

// Streamer is a model that can also hand over its reply as it is
// generated: onDelta receives each new piece of text, in order, and the
// whole reply is returned at the end as from Generate.
type Streamer interface {
	Model
	GenerateStream(ctx context.Context, req Request, onDelta func(string)) (Response, error)
}

// Error kinds, stable strings used as Temporal application error types.
const (
	KindUnavailable = "ModelUnavailable" // network error, 5xx, timeout: retry
	KindRateLimited = "ModelRateLimited" // 429: retry
	KindNotFound    = "ModelNotFound"    // unknown model: do not retry
	KindBadRequest  = "ModelBadRequest"  // other 4xx: do not retry
	KindAuth        = "ModelAuth"        // 401/403: do not retry
)

// Error is a classified provider error.
type Error struct {
	Kind      string
	Retryable bool
	Err       error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Classify maps an HTTP status to a classified error.
func Classify(status int, err error) *Error {
	switch {
	case status == 404:
		return &Error{Kind: KindNotFound, Err: err}
	case status == 401 || status == 403:
		return &Error{Kind: KindAuth, Err: err}
	case status == 429:
		return &Error{Kind: KindRateLimited, Retryable: true, Err: err}
	case status >= 500 || status == 0 || status == 408:
		return &Error{Kind: KindUnavailable, Retryable: true, Err: err}
	default:
		return &Error{Kind: KindBadRequest, Err: err}
	}
}

// Unavailable wraps a transport error (connection refused, timeout).
func Unavailable(err error) *Error { return &Error{Kind: KindUnavailable, Retryable: true, Err: err} }

// AsError returns the classified error inside err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
