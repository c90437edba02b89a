package providers

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/config"
)

// A model spec names a known provider and a model by name only: nothing a
// model server or a file name could take for a path, a second field or a
// command. The factory builds nothing from a spec ParseSpec refuses.
func TestParseSpec(t *testing.T) {
	for spec, want := range map[string]llm.Spec{
		"ollama:smollm2:135m": {Provider: "ollama", Model: "smollm2:135m", Name: "smollm2:135m"},
		"ollama:hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M": {Provider: "ollama", Model: "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M",
			Name: "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"},
		"openai:gpt-4o-mini":                      {Provider: "openai", Model: "gpt-4o-mini", Name: "gpt-4o-mini"},
		" langchaingo:ollama:gemma3:270m":         {Provider: "langchaingo", Model: "ollama:gemma3:270m", Backend: "ollama", Name: "gemma3:270m"},
		"langchaingo:openai:gpt-4o":               {Provider: "langchaingo", Model: "openai:gpt-4o", Backend: "openai", Name: "gpt-4o"},
		"openai:meta-llama/Llama-3.1-8B-Instruct": {Provider: "openai", Model: "meta-llama/Llama-3.1-8B-Instruct", Name: "meta-llama/Llama-3.1-8B-Instruct"},
		"ollama:llama3@sha256-abc":                {Provider: "ollama", Model: "llama3@sha256-abc", Name: "llama3@sha256-abc"},
	} {
		got, err := llm.ParseSpec(spec)
		if err != nil || got != want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
		if _, err := NewModel(spec, Config{OpenAIKey: "sk-test"}); err != nil {
			t.Errorf("NewModel(%q): %v", spec, err)
		}
	}
	for spec, want := range map[string]string{
		"none:x":                             `unknown provider "none"`,
		"ollama:../../etc":                   "must start with a letter or digit",
		"ollama:a/../../etc/passwd":          `may not hold ".."`,
		"ollama:/etc/passwd":                 "must start with a letter or digit",
		"openai:gpt-4o/":                     `end in "/"`,
		"ollama:gemma 3":                     "only ASCII letters",
		"ollama:gemma\n3":                    "only ASCII letters",
		"ollama:gemmа3":                      "only ASCII letters", // a Cyrillic а
		"openai:gpt;rm -rf":                  "only ASCII letters",
		"langchaingo:acme:x":                 "want langchaingo:ollama:MODEL",
		"langchaingo:ollama:":                "want langchaingo:ollama:MODEL",
		"langchaingo:ollama:../x":            "must start with a letter or digit",
		"ollama:" + strings.Repeat("a", 201): "at most 200",
		"gemma":                              "want PROVIDER:MODEL",
	} {
		_, err := llm.ParseSpec(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSpec(%q) = %v; want an error saying %q", spec, err, want)
		}
		if _, err := NewModel(spec, Config{}); err == nil {
			t.Errorf("NewModel(%q) built a model", spec)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("OLLAMA_HOST", "10.0.0.5:11434")
	t.Setenv("OPENAI_BASE_URL", "")
	t.Setenv("OPENAI_API_KEY", "sk-secret")
	c := ConfigFromEnv()
	if c.OllamaHost != "http://10.0.0.5:11434" || c.OpenAIBaseURL != "" || c.OpenAIKey != "sk-secret" {
		t.Errorf("ConfigFromEnv = %+v", c)
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("models", "cfg", c)
	if strings.Contains(b.String(), "sk-secret") || !strings.Contains(b.String(), "openai_key=(set)") {
		t.Errorf("the key reaches the log: %s", b.String())
	}
}

// The configuration table's default model is the factory's.
func TestDefaultModelIsConfigs(t *testing.T) {
	if config.Model.Default != DefaultModel {
		t.Errorf("config.Model.Default %q, providers.DefaultModel %q", config.Model.Default, DefaultModel)
	}
	if _, err := llm.ParseSpec(DefaultModel); err != nil {
		t.Error(err)
	}
}
