package config

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite the README's configuration table")

// The README's table is Markdown(): a setting added, renamed or given a
// new default shows there. `go test ./config -run README -update`
// rewrites it.
func TestREADMETableIsCurrent(t *testing.T) {
	const path = "../README.md"
	const begin, end = "<!-- config table: generated from package config; go test ./config -run README -update -->\n", "<!-- end of config table -->\n"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q block", path, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	fresh := s[:i+len(begin)] + Markdown() + s[j:]
	if fresh == s {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(fresh), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the configuration table in %s is stale: run go test ./config -run README -update", path)
}

// Each setting says where it comes from and what it means; secrets never
// come from a flag; every flag registers.
func TestSettingsDescribeThemselves(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range All() {
		if v.Title == "" || v.Usage == "" || (v.Flag == "" && v.Env == "" && v.FileFlag == "") {
			t.Errorf("%+v: a setting needs a title, a meaning and a flag or a variable", v)
		}
		if v.Env != "" {
			if seen[v.Env] {
				t.Errorf("%s is in the table twice", v.Env)
			}
			seen[v.Env] = true
		}
		if v.Secret && v.Flag != "" {
			t.Errorf("%s: a secret must not be a flag (it would show in the process list)", v.Title)
		}
		f := pflag.NewFlagSet("x", pflag.ContinueOnError)
		var s string
		var x float64
		switch {
		case v.Title == FaultRate.Title:
			v.Float64Var(f, &x, "")
		case v.Flag != "":
			v.StringVar(f, &s, "")
		case v.FileFlag != "":
			v.FileVar(f, &s, "a file")
		}
	}
}

func TestValueAndString(t *testing.T) {
	t.Setenv("GENESIS_HPC", "  slurm ")
	t.Setenv("GENESIS_ADDR", "")
	t.Setenv("OPENAI_API_KEY", "sk-secret")
	if HPC.Value() != "slurm" || Addr.Value() != "127.0.0.1:8080" {
		t.Errorf("values %q %q: the variable (trimmed) wins, an empty one counts as unset", HPC.Value(), Addr.Value())
	}
	if s := OpenAIKey.String(); strings.Contains(s, "sk-secret") || s != "OPENAI_API_KEY=(set, redacted)" {
		t.Errorf("secret shown: %s", s)
	}
	f := pflag.NewFlagSet("x", pflag.ContinueOnError)
	var hpc, addr string
	HPC.StringVar(f, &hpc, "")
	Addr.StringVar(f, &addr, "listen here (env GENESIS_ADDR)")
	if err := f.Parse([]string{"--addr", ":9"}); err != nil {
		t.Fatal(err)
	}
	if hpc != "slurm" || addr != ":9" {
		t.Errorf("flags %q %q: the variable gives the default, the flag wins", hpc, addr)
	}
	if u := f.Lookup("hpc").Usage; !strings.HasSuffix(u, "(env GENESIS_HPC)") {
		t.Errorf("usage %q does not name the variable", u)
	}
	if u := f.Lookup("addr").Usage; strings.Count(u, "GENESIS_ADDR") != 1 {
		t.Errorf("usage %q names the variable twice", u)
	}
	t.Setenv("GENESIS_HOME", "")
	if !strings.HasSuffix(Home.Value(), ".genesis") {
		t.Errorf("home %q", Home.Value())
	}
}
