// Package realtest checks every model provider against a real model served
// by a real Ollama: the native API (ollama), Ollama's OpenAI-compatible
// endpoint (openai, through go-openai) and langchaingo's Ollama client
// (langchain). It runs when GENESIS_OLLAMA_TEST=1; `make test` sets it after
// provisioning Ollama. The model is GENESIS_TEST_MODEL (default the
// project's default model).
package realtest

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/ollama"
	"github.com/genesis-sci/genesis/agents/providers"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/tools"
)

func host() string {
	cfg := providers.ConfigFromEnv()
	if cfg.OllamaHost == "" {
		return ollama.DefaultHost
	}
	return cfg.OllamaHost
}

func modelName(t *testing.T) string {
	if os.Getenv("GENESIS_OLLAMA_TEST") != "1" {
		t.Skip("set GENESIS_OLLAMA_TEST=1 (make models-test does) to run against a real Ollama")
	}
	spec := os.Getenv("GENESIS_TEST_MODEL")
	if spec == "" {
		spec = providers.DefaultModel
	}
	s, err := llm.ParseSpec(spec)
	if err != nil || s.Provider != "ollama" {
		t.Fatalf("GENESIS_TEST_MODEL %q must be an ollama:MODEL spec", spec)
	}
	return s.Model
}

type answer struct {
	Decision string `json:"decision" jsonschema:"enum=explore,enum=exploit,enum=stop"`
	LabRuns  int    `json:"lab_runs" jsonschema:"minimum=0,maximum=8"`
}

var prompt = []llm.Message{
	{Role: "system", Content: "You plan experiments. Reply with JSON only."},
	{Role: "user", Content: `We have used 3 of 30 experiments and the best result is improving. Decide: explore, exploit or stop, and how many lab runs (0-8). Example: {"decision": "exploit", "lab_runs": 2}`},
}

func check(t *testing.T, m llm.Model, strictSchema bool) {
	t.Helper()
	schema := tools.SchemaFor(answer{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	resp, err := m.Generate(ctx, llm.Request{Messages: prompt, Schema: schema, SchemaName: "plan", Temperature: 0.1, Seed: 1, MaxTokens: 64})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage.CompletionTokens == 0 {
		t.Errorf("no token usage reported: %+v", resp.Usage)
	}
	var a answer
	if err := json.Unmarshal([]byte(resp.Content), &a); err != nil {
		t.Fatalf("reply is not JSON: %q", resp.Content)
	}
	if strictSchema {
		c, _ := tools.Compile(schema)
		if err := tools.Validate(c, []byte(resp.Content)); err != nil {
			t.Errorf("reply %q %v", resp.Content, err)
		}
	}
	t.Logf("reply %s (%d+%d tokens)", resp.Content, resp.Usage.PromptTokens, resp.Usage.CompletionTokens)
}

func TestOllamaNative(t *testing.T) {
	name := modelName(t)
	m, err := ollama.New(host(), name)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	check(t, m, true)
}

func TestOpenAICompatibleEndpoint(t *testing.T) {
	name := modelName(t)
	m, err := providers.NewModel("openai:"+name, providers.Config{OpenAIBaseURL: host() + "/v1", OpenAIKey: "ollama"})
	if err != nil {
		t.Fatal(err)
	}
	check(t, m, true)
}

func TestLangchaingoBridge(t *testing.T) {
	name := modelName(t)
	m, err := providers.NewModel("langchaingo:ollama:"+name, providers.Config{OllamaHost: host()})
	if err != nil {
		t.Fatal(err)
	}
	// langchaingo only offers JSON mode, not a schema: the reply must be JSON;
	// the agents validate the schema themselves.
	check(t, m, false)
}

func TestUnknownModelIsNotRetryable(t *testing.T) {
	modelName(t)
	m, _ := ollama.New(host(), "no-such-model:1b")
	err := m.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ollama pull no-such-model:1b") {
		t.Fatalf("want advice to pull the model, got %v", err)
	}
	_, err = m.Generate(context.Background(), llm.Request{Messages: prompt})
	e, ok := llm.AsError(err)
	if !ok || e.Retryable || e.Kind != llm.KindNotFound {
		t.Fatalf("want a non-retryable %s, got %v", llm.KindNotFound, err)
	}
}

// Needs no server: nothing listens on the port.
func TestUnreachableOllamaIsRetryable(t *testing.T) {
	m, _ := ollama.New("http://127.0.0.1:1", "x")
	_, err := m.Generate(context.Background(), llm.Request{Messages: prompt})
	e, ok := llm.AsError(err)
	if !ok || !e.Retryable {
		t.Fatalf("want a retryable error, got %v", err)
	}
	if err := m.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot reach Ollama") {
		t.Fatalf("want a clear message, got %v", err)
	}
}

// The embedders against the real embedding model deploy/ollama provisions,
// natively and through Ollama's OpenAI-compatible /v1/embeddings: vectors
// of the model's dimension that place related texts closer than unrelated ones.
func TestEmbedders(t *testing.T) {
	modelName(t) // skips unless GENESIS_OLLAMA_TEST=1
	for _, c := range []struct {
		spec string
		cfg  providers.Config
	}{
		{providers.DefaultEmbedder, providers.Config{OllamaHost: host()}},
		{"openai:all-minilm", providers.Config{OpenAIBaseURL: host() + "/v1", OpenAIKey: "ollama"}},
	} {
		t.Run(c.spec, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			emb, err := providers.NewEmbedder(ctx, c.spec, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if emb.Dim() != 384 {
				t.Errorf("dimension %d, want 384 (all-minilm)", emb.Dim())
			}
			vs, err := emb.Embed(ctx, []string{"thicker walls absorb more energy before failure", "increasing wall thickness raises toughness", "the robot's gripper jammed"})
			if err != nil {
				t.Fatal(err)
			}
			related, unrelated := memory.Cosine(vs[0], vs[1]), memory.Cosine(vs[0], vs[2])
			t.Logf("related %.3f, unrelated %.3f", related, unrelated)
			if related <= unrelated {
				t.Errorf("related texts (%.3f) are not closer than unrelated ones (%.3f)", related, unrelated)
			}
		})
	}
	if _, err := providers.NewEmbedder(context.Background(), "ollama:no-such-embedder", providers.Config{OllamaHost: host()}); err == nil {
		t.Error("a missing embedding model was accepted")
	}
}

// Every provider streams against the real model: natively, through
// Ollama's OpenAI-compatible endpoint (go-openai), and through langchaingo
// (its Ollama and OpenAI backends). The reply arrives in several pieces
// that add up to the whole, which is JSON, with the token usage reported.
func TestProvidersStream(t *testing.T) {
	name := modelName(t)
	cfg := providers.Config{OllamaHost: host(), OpenAIBaseURL: host() + "/v1", OpenAIKey: "ollama"}
	for _, spec := range []string{"ollama:" + name, "openai:" + name, "langchaingo:ollama:" + name, "langchaingo:openai:" + name} {
		t.Run(spec, func(t *testing.T) {
			m, err := providers.NewModel(spec, cfg)
			if err != nil {
				t.Fatal(err)
			}
			sm, ok := m.(llm.Streamer)
			if !ok {
				t.Fatalf("%T does not stream", m)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var pieces []string
			resp, err := sm.GenerateStream(ctx, llm.Request{Messages: prompt, Schema: tools.SchemaFor(answer{}), SchemaName: "plan", Temperature: 0.1, Seed: 1, MaxTokens: 64},
				func(d string) { pieces = append(pieces, d) })
			if err != nil {
				t.Fatal(err)
			}
			if len(pieces) < 3 || strings.Join(pieces, "") != resp.Content {
				t.Fatalf("%d pieces %q do not add up to %q", len(pieces), pieces, resp.Content)
			}
			var a map[string]any
			if err := json.Unmarshal([]byte(resp.Content), &a); err != nil || resp.Usage.CompletionTokens == 0 || resp.Usage.PromptTokens == 0 {
				t.Fatalf("reply %q (%v), usage %+v", resp.Content, err, resp.Usage)
			}
			t.Logf("%d pieces, %d+%d tokens: %s", len(pieces), resp.Usage.PromptTokens, resp.Usage.CompletionTokens, resp.Content)
		})
	}
}
