// Package providers builds models and embedders from their specs: the one
// factory that knows every provider (agents/llm/ollama, openai, langchain),
// so the agent team (package agents) and the workflows depend only on the
// llm.Model interface. Workers call it with a Config read once from the
// environment (ConfigFromEnv), never from workflow input, so keys stay out
// of Temporal's history.
package providers

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/langchain"
	"github.com/genesis-sci/genesis/agents/llm/ollama"
	"github.com/genesis-sci/genesis/agents/llm/openai"
	"github.com/genesis-sci/genesis/config"
)

// DefaultModel is the model `genesis run` uses; deploy/ollama provisions
// it. config.Model's default is the same (a test checks).
const DefaultModel = "ollama:smollm2:135m"

// Config is where the providers are.
type Config struct {
	OllamaHost    string
	OpenAIBaseURL string
	OpenAIKey     string
	// OllamaPIDFile names the pid of the local Ollama server that
	// deploy/ollama started, whose settings CheckServing reads.
	OllamaPIDFile string
}

// ConfigFromEnv reads config.OllamaHost (a bare HOST:PORT gets http://),
// config.OpenAIBaseURL and config.OpenAIKey.
func ConfigFromEnv() Config {
	host := config.OllamaHost.Value()
	if host != "" && !strings.Contains(host, "://") {
		host = "http://" + host
	}
	return Config{OllamaHost: host, OpenAIBaseURL: config.OpenAIBaseURL.Value(), OpenAIKey: config.OpenAIKey.Value()}
}

// LogValue keeps the key out of logs.
func (c Config) LogValue() slog.Value {
	key := ""
	if c.OpenAIKey != "" {
		key = "(set)"
	}
	return slog.GroupValue(slog.String("ollama_host", c.OllamaHost), slog.String("openai_base_url", c.OpenAIBaseURL), slog.String("openai_key", key))
}

// NewModel builds a model from a spec such as ollama:gemma3:270m,
// openai:gpt-4o-mini or langchaingo:ollama:gemma3:270m.
func NewModel(spec string, cfg Config) (llm.Model, error) {
	s, err := llm.ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	return New(s, cfg)
}

// New builds the model of a parsed spec.
func New(s llm.Spec, cfg Config) (llm.Model, error) {
	switch s.Provider {
	case "ollama":
		return ollama.New(cfg.OllamaHost, s.Name)
	case "openai":
		return openai.New(cfg.OpenAIBaseURL, cfg.OpenAIKey, s.Name), nil
	case "langchaingo":
		host := cfg.OllamaHost
		if host == "" {
			host = ollama.DefaultHost
		}
		return langchain.New(s.Backend, s.Name, host, cfg.OpenAIBaseURL, cfg.OpenAIKey)
	}
	return nil, fmt.Errorf("model %s: unknown provider %q; use one of %s", s, s.Provider, strings.Join(llm.Providers, ", "))
}

// CheckModel verifies, before a campaign starts, that the model can be
// reached, so a user gets one clear line instead of a stalled campaign.
func CheckModel(ctx context.Context, spec string, cfg Config) error {
	s, err := llm.ParseSpec(spec)
	if err != nil {
		return err
	}
	m, err := New(s, cfg)
	if err != nil {
		return err
	}
	switch x := m.(type) {
	case *ollama.Model:
		return x.Check(ctx)
	case *langchain.Model:
		if s.Backend == "ollama" {
			om, err := ollama.New(cfg.OllamaHost, s.Name)
			if err != nil {
				return err
			}
			return om.Check(ctx)
		}
	case *openai.Model:
		if cfg.OpenAIKey == "" && cfg.OpenAIBaseURL == "" {
			return fmt.Errorf("model %q needs OPENAI_API_KEY (and OPENAI_BASE_URL for a server other than OpenAI's)", spec)
		}
	}
	return nil
}

// CheckServing checks, before a campaign, how the model server runs the
// model: the settings the agent loop's speed depends on (context window,
// keep-alive, parallel slots) and whether its prompt cache works (one
// prompt sent twice). It returns a one-line summary and the problems found,
// each with its fix; a server it cannot check (not Ollama) gives neither.
func CheckServing(ctx context.Context, spec string, cfg Config) (string, []string, error) {
	m, err := NewModel(spec, cfg)
	if err != nil {
		return "", nil, err
	}
	om, ok := m.(*ollama.Model)
	if !ok {
		return "", nil, nil
	}
	s, err := om.CheckServing(ctx, cfg.OllamaPIDFile)
	if err != nil {
		return "", nil, err
	}
	return s.String(), s.Problems, nil
}
