package llm

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Spec is a parsed, checked model spec such as "ollama:gemma3:270m".
// ParseSpec is the one place a spec is read: the factory that builds a
// model (agents/providers) and every check at the door (the API, the
// workflow input, portfolio files) take its result.
type Spec struct {
	Provider string // ollama, openai, langchaingo
	Model    string // the rest; for langchaingo "backend:model"
	// Backend is langchaingo's backend (ollama or openai), else "".
	Backend string
	// Name is the model's name on its server: Model, or for langchaingo
	// the part after the backend.
	Name string
}

// Providers lists the supported provider prefixes.
var Providers = []string{"ollama", "openai", "langchaingo"}

// MaxModelName bounds the model name of a spec, in bytes.
const MaxModelName = 200

// ParseSpec parses and checks PROVIDER:MODEL without reaching any server:
// a known provider (and langchaingo backend), and a model name that is
// only a name — letters, digits and . _ : / @ + -, starting with a letter
// or digit, with no ".." and no "/" at its end, at most MaxModelName
// bytes. The name goes to model servers and into file names, so nothing
// else is taken (a spec comes from users, files and the API).
func ParseSpec(spec string) (Spec, error) {
	prov, model, ok := strings.Cut(strings.TrimSpace(spec), ":")
	if !ok || model == "" {
		return Spec{}, fmt.Errorf("model %q: want PROVIDER:MODEL, for example ollama:gemma3:270m, openai:gpt-4o-mini or langchaingo:ollama:gemma3:270m", shortSpec(spec))
	}
	if !slices.Contains(Providers, prov) {
		return Spec{}, fmt.Errorf("model %q: unknown provider %q; use one of %s", shortSpec(spec), prov, strings.Join(Providers, ", "))
	}
	s := Spec{Provider: prov, Model: model, Name: model}
	if prov == "langchaingo" {
		backend, name, ok := strings.Cut(model, ":")
		if !ok || name == "" || backend != "ollama" && backend != "openai" {
			return Spec{}, fmt.Errorf("model %q: want langchaingo:ollama:MODEL or langchaingo:openai:MODEL", shortSpec(spec))
		}
		s.Backend, s.Name = backend, name
	}
	if bad := badName(s.Name); bad != "" {
		return Spec{}, fmt.Errorf("model %q: %s (for example ollama:gemma3:270m or openai:gpt-4o-mini)", shortSpec(spec), bad)
	}
	return s, nil
}

// badName says what is wrong with a model name, or "".
func badName(name string) string {
	switch {
	case len(name) > MaxModelName:
		return fmt.Sprintf("the name is %d bytes; at most %d", len(name), MaxModelName)
	case !unicode.IsLetter(rune(name[0])) && !unicode.IsDigit(rune(name[0])):
		return "the name must start with a letter or digit"
	case strings.Contains(name, "..") || strings.HasSuffix(name, "/"):
		return `the name may not hold ".." or end in "/"`
	case strings.IndexFunc(name, func(r rune) bool {
		return r > unicode.MaxASCII || !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._:/@+-", r)
	}) >= 0:
		return "the name may hold only ASCII letters, digits and . _ : / @ + -"
	}
	return ""
}

// shortSpec cuts a spec for an error message.
func shortSpec(spec string) string {
	if len(spec) > 80 {
		return spec[:80] + "…"
	}
	return spec
}

func (s Spec) String() string { return s.Provider + ":" + s.Model }
