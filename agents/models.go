package agents

import (
	"context"
	"fmt"
	"os"
	"strings"
	"unicode"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/langchain"
	"github.com/genesis-sci/genesis/agents/llm/ollama"
	"github.com/genesis-sci/genesis/agents/llm/openai"
)

// DefaultModel is the model `genesis run` uses; deploy/ollama provisions it.
const DefaultModel = "ollama:smollm2:135m"

// ModelConfig is where providers are; it comes from the worker's
// environment, never from workflow input, so keys stay out of history.
type ModelConfig struct {
	OllamaHost    string
	OpenAIBaseURL string
	OpenAIKey     string
	// OllamaPIDFile names the pid of the local Ollama server that
	// deploy/ollama started, whose settings CheckServing reads.
	OllamaPIDFile string
}

// ModelConfigFromEnv reads OLLAMA_HOST, OPENAI_BASE_URL and OPENAI_API_KEY.
func ModelConfigFromEnv() ModelConfig {
	host := os.Getenv("OLLAMA_HOST")
	if host != "" && !strings.Contains(host, "://") {
		host = "http://" + host
	}
	return ModelConfig{OllamaHost: host, OpenAIBaseURL: os.Getenv("OPENAI_BASE_URL"), OpenAIKey: os.Getenv("OPENAI_API_KEY")}
}

// MaxModelName bounds the model name of a spec, in bytes.
const MaxModelName = 200

// CheckModelSpec checks a model spec without reaching any server: a known
// provider (and langchaingo backend), and a model name that is only a name
// — letters, digits and . _ : / @ + -, starting with a letter or digit,
// with no ".." and no "/" at its end, at most MaxModelName bytes. The name
// goes to model servers and into file names, so nothing else is taken
// (a spec comes from users, files and the API).
func CheckModelSpec(spec string) error {
	s, err := llm.ParseSpec(spec)
	if err != nil {
		return err
	}
	name := s.Model
	if s.Provider == "langchaingo" {
		backend, model, ok := strings.Cut(name, ":")
		if !ok || model == "" || backend != "ollama" && backend != "openai" {
			return fmt.Errorf("model %q: want langchaingo:ollama:MODEL or langchaingo:openai:MODEL", spec)
		}
		name = model
	}
	bad := ""
	switch {
	case len(name) > MaxModelName:
		bad = fmt.Sprintf("the name is %d bytes; at most %d", len(name), MaxModelName)
	case !unicode.IsLetter(rune(name[0])) && !unicode.IsDigit(rune(name[0])):
		bad = "the name must start with a letter or digit"
	case strings.Contains(name, "..") || strings.HasSuffix(name, "/"):
		bad = `the name may not hold ".." or end in "/"`
	case strings.IndexFunc(name, func(r rune) bool {
		return r > unicode.MaxASCII || !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._:/@+-", r)
	}) >= 0:
		bad = "the name may hold only ASCII letters, digits and . _ : / @ + -"
	}
	if bad != "" {
		return fmt.Errorf("model %q: %s (for example ollama:gemma3:270m or openai:gpt-4o-mini)", shortSpec(spec), bad)
	}
	return nil
}

// shortSpec cuts a spec for an error message.
func shortSpec(spec string) string {
	if len(spec) > 80 {
		return spec[:80] + "…"
	}
	return spec
}

// NewModel builds a model from a spec such as ollama:gemma3:270m,
// openai:gpt-4o-mini or langchaingo:ollama:gemma3:270m.
func NewModel(spec string, cfg ModelConfig) (llm.Model, error) {
	if err := CheckModelSpec(spec); err != nil {
		return nil, err
	}
	s, err := llm.ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	switch s.Provider {
	case "ollama":
		return ollama.New(cfg.OllamaHost, s.Model)
	case "openai":
		return openai.New(cfg.OpenAIBaseURL, cfg.OpenAIKey, s.Model), nil
	default: // langchaingo
		backend, model, ok := strings.Cut(s.Model, ":")
		if !ok || model == "" {
			return nil, fmt.Errorf("model %q: want langchaingo:BACKEND:MODEL, for example langchaingo:ollama:gemma3:270m", spec)
		}
		host := cfg.OllamaHost
		if host == "" {
			host = ollama.DefaultHost
		}
		return langchain.New(backend, model, host, cfg.OpenAIBaseURL, cfg.OpenAIKey)
	}
}

// CheckModel verifies, before a campaign starts, that the model can be
// reached, so a user gets one clear line instead of a stalled campaign.
func CheckModel(ctx context.Context, spec string, cfg ModelConfig) error {
	m, err := NewModel(spec, cfg)
	if err != nil {
		return err
	}
	switch x := m.(type) {
	case *ollama.Model:
		return x.Check(ctx)
	case *langchain.Model:
		s, _ := llm.ParseSpec(spec)
		if backend, name, _ := strings.Cut(s.Model, ":"); backend == "ollama" {
			om, err := ollama.New(cfg.OllamaHost, name)
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
func CheckServing(ctx context.Context, spec string, cfg ModelConfig) (string, []string, error) {
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
