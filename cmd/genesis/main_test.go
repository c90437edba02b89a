package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input gets one line that says what to do, a non-zero exit code, and
// nothing written: every case fails before Temporal, the lab or a worker starts.
func TestRunRefusesBadInput(t *testing.T) {
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "broken.yaml"), []byte("id: broken\ntitle: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown challenge", []string{"run", "--challenge", "nope"}, nil, "unknown challenge \"nope\"; known challenges: crossed-barrel-toughness"},
		{"malformed model spec", []string{"run", "--model", "gemma"}, nil, "want PROVIDER:MODEL"},
		{"unknown provider", []string{"run", "--model", "acme:big"}, nil, "unknown provider \"acme\""},
		{"unreachable ollama", []string{"run", "--model", "ollama:smollm2:135m"}, map[string]string{"OLLAMA_HOST": "127.0.0.1:1"}, "cannot reach Ollama at http://127.0.0.1:1"},
		{"openai without a key", []string{"run", "--model", "openai:gpt-4o-mini"}, map[string]string{"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}, "needs OPENAI_API_KEY"},
		{"negative budget", []string{"run", "--budget", "-3"}, nil, "--budget and --token-budget must be ≥ 0"},
		{"malformed challenge file", []string{"run", "--challenges-dir", bad}, nil, "broken.yaml"},
		{"missing challenges dir", []string{"challenges", "list", "--challenges-dir", filepath.Join(bad, "nowhere")}, nil, "challenges directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "home")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := execute(append(c.args, "--home", home), &out, &errb)
			if code == 0 {
				t.Fatalf("exit 0; stdout %q", out.String())
			}
			if !strings.Contains(errb.String(), c.want) {
				t.Errorf("stderr %q does not say %q", errb.String(), c.want)
			}
			if _, err := os.Stat(home); !os.IsNotExist(err) {
				t.Errorf("the data directory was created (%v): nothing should be written on bad input", err)
			}
		})
	}
}

func TestHelpListsSubcommands(t *testing.T) {
	var out bytes.Buffer
	if code := execute([]string{"--help"}, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, sub := range []string{"run", "dev", "worker", "lab", "sim", "challenges"} {
		if !strings.Contains(out.String(), "\n  "+sub+" ") {
			t.Errorf("--help does not list %q:\n%s", sub, out.String())
		}
	}
}
