// Package config is Genesis's configuration in one typed table: every
// setting a command-line flag or an environment variable can give, with
// its flag, its variable, its default and what it means (the model is
// Ollama's envconfig). Commands register their flags from it, so a flag's
// name, its variable and its default are written once; the README's
// configuration table is generated from it (`genesis config --markdown`,
// and a test fails when the README's copy is stale).
//
// An environment variable gives a flag's default; the flag, when given,
// wins. A variable that is set but empty counts as unset. Secrets (API
// keys, tokens) are read from the environment or from files only, never
// from flags (they would show in the process list), and are never printed.
//
// The package reads the environment and nothing else: it sits below every
// other package and imports none of Genesis's.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Var is one setting.
type Var struct {
	// Title names the setting in the README's table.
	Title string
	// Flag is the command-line flag, without dashes ("" = environment
	// only); Commands lists the commands that take it. Some flags mean the
	// same setting in several commands.
	Flag     string
	Commands string
	// FileFlag, for a secret, is the flag naming a file that holds it.
	FileFlag string
	// Env is the environment variable ("" = flag only).
	Env string
	// Default is the value when neither is given ("" = none); Shown, when
	// set, is what the README says instead (a default that depends on
	// other settings or is computed at run time).
	Default string
	Shown   string
	// Usage says what the setting means (the flag's help text, unless a
	// command says it in its own words).
	Usage string
	// Secret settings are never taken from a flag and never printed.
	Secret bool

	defaultFunc func() string
}

// Value is the environment variable's value when it is set and not
// empty (surrounding space trimmed), else the default.
func (v Var) Value() string {
	if v.Env != "" {
		if s := strings.TrimSpace(os.Getenv(v.Env)); s != "" {
			return s
		}
	}
	if v.defaultFunc != nil {
		return v.defaultFunc()
	}
	return v.Default
}

// String shows the setting and its value, with secrets redacted.
func (v Var) String() string {
	name := v.Env
	if name == "" {
		name = "--" + v.Flag
	}
	val := v.Value()
	if v.Secret && val != "" {
		val = "(set, redacted)"
	}
	return name + "=" + val
}

// usage is the flag's help text: the command's own words (or the
// setting's) with the variable that gives the default.
func (v Var) usage(text string) string {
	if text == "" {
		text = v.Usage
	}
	if v.Env != "" && !strings.Contains(text, v.Env) {
		text += " (env " + v.Env + ")"
	}
	return text
}

func (v Var) mustFlag() {
	if v.Flag == "" || v.Secret {
		// A programming error, caught by the package's tests.
		panic(fmt.Sprintf("config: %s has no flag", v.Title))
	}
}

// WithDefault is v with another default, for a command whose flag has a
// default of its own (genesis lab status asks the usual lab address).
func (v Var) WithDefault(def string) Var {
	v.Default, v.defaultFunc = def, nil
	return v
}

// StringVar registers v's flag on f, storing into p; its default is
// v.Value(). usage is the command's own help text ("" = v.Usage); the
// variable is named in it when it is not already.
func (v Var) StringVar(f *pflag.FlagSet, p *string, usage string) {
	v.mustFlag()
	f.StringVar(p, v.Flag, v.Value(), v.usage(usage))
}

// Float64Var registers v's flag as a number (v.Default must be one).
func (v Var) Float64Var(f *pflag.FlagSet, p *float64, usage string) {
	v.mustFlag()
	def, err := strconv.ParseFloat(v.Value(), 64)
	if err != nil {
		panic(fmt.Sprintf("config: %s: default %q is not a number", v.Title, v.Value()))
	}
	f.Float64Var(p, v.Flag, def, v.usage(usage))
}

// FileVar registers a secret's FileFlag on f: the flag names a file that
// holds the secret (see Secret).
func (v Var) FileVar(f *pflag.FlagSet, p *string, usage string) {
	if v.FileFlag == "" {
		panic(fmt.Sprintf("config: %s has no file flag", v.Title))
	}
	f.StringVar(p, v.FileFlag, "", usage)
}

// The settings, in the README's order.
var (
	Home = Var{Title: "data directory (Temporal DB, lab DB, memory, transcripts, reports, logs, tokens)", Flag: "home", Commands: "all",
		Env: "GENESIS_HOME", Shown: "`~/.genesis`", Usage: "data directory", defaultFunc: defaultHome}
	ChallengesDir = Var{Title: "extra challenge definitions", Flag: "challenges-dir", Commands: "all", Env: "GENESIS_CHALLENGES_DIR",
		Usage: "extra challenge definitions (YAML) to load beside the built-in ones"}
	Model = Var{Title: "model", Flag: "model", Commands: "run, eval", Env: "GENESIS_MODEL", Default: "ollama:smollm2:135m",
		Shown: "`ollama:smollm2:135m` (`make run`); dev and api use it for campaigns and chats that name none",
		Usage: "model spec: ollama:MODEL, openai:MODEL or langchaingo:ollama|openai:MODEL"}
	OllamaHost = Var{Title: "Ollama server", Env: "OLLAMA_HOST", Shown: "`http://127.0.0.1:11434`",
		Usage: "Ollama server, HOST:PORT or URL"}
	OpenAIBaseURL = Var{Title: "OpenAI-compatible server", Env: "OPENAI_BASE_URL", Shown: "OpenAI",
		Usage: "OpenAI-compatible server for openai: models and embedders"}
	OpenAIKey = Var{Title: "OpenAI-compatible server's key", Env: "OPENAI_API_KEY", Secret: true,
		Usage: "key for the OpenAI-compatible server"}
	Temporal = Var{Title: "external Temporal", Flag: "temporal", Commands: "run, eval, dev, worker, api",
		Env: "TEMPORAL_ADDRESS", Shown: "start the dev server on :7233 (run, eval: a free port when taken; `dev`: the running `genesis dev`'s); worker and api need one",
		Usage: "Temporal frontend HOST:PORT"}
	Lab = Var{Title: "external lab service", Flag: "lab", Commands: "run, dev, worker, lab status", Env: "GENESIS_LAB_URL",
		Shown: "in-process (lab status: `http://127.0.0.1:8090`); worker needs one", Usage: "lab service URL"}
	LabToken = Var{Title: "lab bearer token", FileFlag: "lab-token-file", Commands: "run, dev, worker; `--token-file` in lab serve, lab status",
		Env: "GENESIS_LAB_TOKEN", Secret: true, Shown: "`$GENESIS_HOME/lab.token`, created on first start",
		Usage: "the lab's bearer token"}
	LabAddr = Var{Title: "lab service address", Flag: "addr", Commands: "lab serve", Env: "GENESIS_LAB_ADDR", Default: "127.0.0.1:8090",
		Usage: "listen address"}
	FaultRate = Var{Title: "lab faults", Flag: "fault-rate", Commands: "lab serve, dev", Default: "0",
		Usage: "probability that a run hits an instrument fault"}
	HPC = Var{Title: "simulation executor", Flag: "hpc", Commands: "run, dev, worker", Env: "GENESIS_HPC", Default: "local",
		Usage: "executor for simulation jobs: local (subprocesses) or slurm (sbatch on the cluster this machine submits to)"}
	SlurmDir = Var{Title: "Slurm job directory", Flag: "slurm-dir", Commands: "run, dev, worker", Env: "GENESIS_SLURM_DIR",
		Shown: "`$GENESIS_HOME/slurm-jobs`", Usage: "Slurm job directories, on a file system the compute nodes share"}
	SlurmPartition = Var{Title: "Slurm partition", Flag: "slurm-partition", Commands: "run, dev, worker", Env: "GENESIS_SLURM_PARTITION",
		Shown: "the cluster's default", Usage: "Slurm partition for simulation jobs"}
	SlurmAccount = Var{Title: "Slurm account", Flag: "slurm-account", Commands: "run, dev, worker", Env: "GENESIS_SLURM_ACCOUNT",
		Shown: "the user's default", Usage: "Slurm account to charge"}
	Embedder = Var{Title: "memory embedder", Flag: "embedder", Commands: "run, eval, dev, worker, api", Env: "GENESIS_EMBEDDER", Default: "auto",
		Shown: "`auto`: Ollama's `all-minilm` when it answers, else `hashing`",
		Usage: "memory embedder: auto (Ollama's all-minilm when it answers, else hashing), hashing, ollama:MODEL or openai:MODEL"}
	Qdrant = Var{Title: "memory in Qdrant", Flag: "qdrant", Commands: "run, eval, dev, worker, api", Env: "GENESIS_QDRANT_URL",
		Shown: "the embedded store, `$GENESIS_HOME/memory/<embedder>`",
		Usage: "keep the memory in Qdrant at this gRPC URL (e.g. http://127.0.0.1:6334; key from QDRANT_API_KEY) instead of the embedded store"}
	QdrantAPIKey = Var{Title: "Qdrant's key", Env: "QDRANT_API_KEY", Secret: true, Usage: "Qdrant API key"}
	Addr         = Var{Title: "HTTP API and web UI", Flag: "addr", Commands: "dev, api", Env: "GENESIS_ADDR", Default: "127.0.0.1:8080",
		Usage: "listen address"}
	API = Var{Title: "the API the client commands call", Flag: "api", Commands: "campaign, portfolio, approvals, chat", Env: "GENESIS_API",
		Default: "http://127.0.0.1:8080", Usage: "Genesis API URL"}
	Token = Var{Title: "API token of those commands", FileFlag: "token-file", Commands: "campaign, portfolio, approvals, chat", Env: "GENESIS_TOKEN", Secret: true,
		Shown: "`$GENESIS_HOME/admin.token`, written by the first `genesis dev`", Usage: "API token"}
)

// All lists every setting, in the README's order.
func All() []Var {
	return []Var{Home, ChallengesDir, Model, OllamaHost, OpenAIBaseURL, OpenAIKey, Temporal, Lab, LabToken, LabAddr, FaultRate,
		HPC, SlurmDir, SlurmPartition, SlurmAccount, Embedder, Qdrant, QdrantAPIKey, Addr, API, Token}
}

func defaultHome() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".genesis"
	}
	return filepath.Join(home, ".genesis")
}

// Markdown is the README's configuration table.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| setting | flag | environment | default |\n|---|---|---|---|\n")
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, v := range All() {
		flag := "—"
		switch {
		case v.Flag != "":
			flag = "`--" + v.Flag + "`"
		case v.FileFlag != "":
			flag = "`--" + v.FileFlag + " FILE`"
		}
		if v.Commands != "" && v.Commands != "all" {
			flag += " (" + v.Commands + ")"
		}
		env := "—"
		if v.Env != "" {
			env = "`" + v.Env + "`"
		}
		def := v.Shown
		switch {
		case def != "":
		case v.Default != "":
			def = "`" + v.Default + "`"
		default:
			def = "none"
		}
		if v.Secret {
			def += " (secret: never a flag, never printed)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", esc(v.Title), esc(flag), env, esc(def))
	}
	return b.String()
}
