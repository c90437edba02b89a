package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/agents/llm"
)

// sse serves one chat completion stream: chunks are the data lines in order.
func sse(t *testing.T, got *map[string]any, chunks ...string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		if got != nil {
			if err := json.NewDecoder(r.Body).Decode(got); err != nil {
				t.Errorf("request body: %v", err)
			}
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range chunks {
			fmt.Fprintf(w, "data: %s\n\n", c)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func delta(s, finish string) string {
	b, _ := json.Marshal(map[string]any{"model": "m1", "choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": s}, "finish_reason": finish}}})
	return string(b)
}

var req = llm.Request{Messages: []llm.Message{{Role: "user", Content: "hi"}}, Schema: json.RawMessage(`{"type":"object"}`), SchemaName: "plan", MaxTokens: 20}

func TestGenerateStreamAssemblesTheReply(t *testing.T) {
	var body map[string]any
	srv := sse(t, &body, delta(`{"a":`, ""), delta(` 1}`, "stop"),
		`{"model":"m1","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}`, "[DONE]")
	var pieces []string
	resp, err := New(srv.URL+"/v1", "k", "m1").GenerateStream(context.Background(), req, func(d string) { pieces = append(pieces, d) })
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != `{"a": 1}` || strings.Join(pieces, "|") != `{"a":| 1}` || resp.Usage != (llm.Usage{PromptTokens: 7, CompletionTokens: 3}) || resp.Model != "m1" {
		t.Fatalf("got %+v from pieces %q", resp, pieces)
	}
	if body["stream"] != true || body["stream_options"].(map[string]any)["include_usage"] != true {
		t.Errorf("request did not ask for a stream with usage: %v", body)
	}
	if rf, _ := body["response_format"].(map[string]any); rf["type"] != "json_schema" {
		t.Errorf("request lost the schema: %v", body["response_format"])
	}
}

// A stream that stops without a finish reason (the server or the network
// dropped it) is an error to retry, not a short reply.
func TestGenerateStreamCutShortIsRetryable(t *testing.T) {
	srv := sse(t, nil, delta(`{"a":`, ""))
	_, err := New(srv.URL+"/v1", "k", "m1").GenerateStream(context.Background(), req, func(string) {})
	if e, ok := llm.AsError(err); !ok || !e.Retryable || !strings.Contains(err.Error(), "before the reply was complete") {
		t.Fatalf("want a retryable error for a cut stream, got %v", err)
	}
}

// An error the server sends inside the stream is classified, not taken as
// text.
func TestGenerateStreamErrorInTheStream(t *testing.T) {
	srv := sse(t, nil, delta("x", ""), `{"error":{"message":"model crashed","type":"server_error"}}`)
	_, err := New(srv.URL+"/v1", "k", "m1").GenerateStream(context.Background(), req, func(string) {})
	if _, ok := llm.AsError(err); !ok || !strings.Contains(err.Error(), "model crashed") {
		t.Fatalf("want the server's error, got %v", err)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	for _, c := range []struct {
		status    int
		kind      string
		retryable bool
	}{
		{404, llm.KindNotFound, false},
		{401, llm.KindAuth, false},
		{429, llm.KindRateLimited, true},
		{503, llm.KindUnavailable, true},
		{400, llm.KindBadRequest, false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(c.status)
			fmt.Fprintf(w, `{"error":{"message":"status %d","type":"x"}}`, c.status)
		}))
		m := New(srv.URL+"/v1", "k", "m1")
		for name, call := range map[string]func() error{
			"generate": func() error { _, err := m.Generate(context.Background(), req); return err },
			"stream":   func() error { _, err := m.GenerateStream(context.Background(), req, func(string) {}); return err },
		} {
			e, ok := llm.AsError(call())
			if !ok || e.Kind != c.kind || e.Retryable != c.retryable {
				t.Errorf("%s, status %d: got %v, want %s (retryable %v)", name, c.status, e, c.kind, c.retryable)
			}
		}
		srv.Close()
	}
	_, err := New("http://127.0.0.1:1/v1", "k", "m1").GenerateStream(context.Background(), req, func(string) {})
	if e, ok := llm.AsError(err); !ok || !e.Retryable {
		t.Errorf("unreachable server: want a retryable error, got %v", err)
	}
}
