package agents

import (
	"strings"
	"testing"
)

// A model spec names a known provider and a model by name only: nothing a
// model server or a file name could take for a path, a second field or a
// command.
func TestCheckModelSpec(t *testing.T) {
	for _, ok := range []string{"ollama:smollm2:135m", "ollama:hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", "openai:gpt-4o-mini",
		"langchaingo:ollama:gemma3:270m", "langchaingo:openai:gpt-4o", "openai:meta-llama/Llama-3.1-8B-Instruct", "ollama:llama3@sha256-abc"} {
		if err := CheckModelSpec(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
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
		"ollama:" + strings.Repeat("a", 201): "at most 200",
		"gemma":                              "want PROVIDER:MODEL",
	} {
		err := CheckModelSpec(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckModelSpec(%q) = %v; want an error saying %q", spec, err, want)
		}
		if _, err := NewModel(spec, ModelConfig{}); err == nil {
			t.Errorf("NewModel(%q) built a model", spec)
		}
	}
}
