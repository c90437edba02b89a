package challenges

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed catalog data
var builtinFS embed.FS

// DefaultID is the challenge `genesis run` uses when none is given.
const DefaultID = "crossed-barrel-toughness"

// Problem is one thing wrong with a challenge definition.
type Problem struct {
	File  string
	Field string
	Msg   string
}

func (p Problem) String() string {
	if p.Field == "" {
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", p.File, p.Field, p.Msg)
}

// InvalidError lists every problem found in one or more definitions.
type InvalidError struct{ Problems []Problem }

func (e *InvalidError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Parse reads one definition. dataFS resolves the data file named in it,
// relative to dir.
func Parse(file string, src []byte, dataFS fs.FS, dir string) (*Challenge, error) {
	var c Challenge
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, &InvalidError{[]Problem{{File: file, Msg: "not a valid challenge definition: " + err.Error()}}}
	}
	if probs := c.validate(file); len(probs) > 0 {
		return nil, &InvalidError{probs}
	}
	f, err := dataFS.Open(path.Join(dir, c.Data.File))
	if err != nil {
		return nil, &InvalidError{[]Problem{{File: file, Field: "data.file", Msg: fmt.Sprintf("cannot open %q: %v (the path is relative to the definition's directory)", c.Data.File, err)}}}
	}
	defer f.Close()
	pool, err := c.readPool(f)
	if err != nil {
		return nil, &InvalidError{[]Problem{{File: file, Field: "data", Msg: err.Error()}}}
	}
	c.pool = pool
	if c.Lab.Kind == LabPool && pool.Len() < 2 {
		return nil, &InvalidError{[]Problem{{File: file, Field: "data", Msg: "a pool lab needs at least 2 distinct measured points"}}}
	}
	return &c, nil
}

func (c *Challenge) validate(file string) []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{File: file, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if c.ID == "" {
		add("id", "is required (lower-case letters, digits and dashes)")
	} else if strings.Trim(c.ID, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		add("id", "%q must use only lower-case letters, digits and dashes", c.ID)
	}
	if c.Title == "" {
		add("title", "is required")
	}
	if c.Domain == "" {
		add("domain", "is required (for example materials, catalysis, chemical synthesis)")
	}
	if strings.TrimSpace(c.Description) == "" {
		add("description", "is required: the agents read it")
	}
	if len(c.Objectives) == 0 {
		add("objectives", "at least one objective is required")
	}
	for i, o := range c.Objectives {
		f := fmt.Sprintf("objectives[%d]", i)
		if o.Name == "" {
			add(f+".name", "is required")
		}
		if o.Direction != Maximize && o.Direction != Minimize {
			add(f+".direction", "%q must be %q or %q", o.Direction, Maximize, Minimize)
		}
	}
	if len(c.Parameters) == 0 {
		add("parameters", "at least one parameter is required")
	}
	seen := map[string]bool{}
	for i, p := range c.Parameters {
		f := fmt.Sprintf("parameters[%d]", i)
		if p.Name == "" {
			add(f+".name", "is required")
		} else if seen[p.Name] {
			add(f+".name", "%q is declared twice", p.Name)
		}
		seen[p.Name] = true
		switch p.Kind {
		case Continuous, Integer:
			if p.Low == nil || p.High == nil {
				add(f, "a %s parameter needs low and high", p.Kind)
			} else if *p.Low >= *p.High {
				add(f, "low (%g) must be below high (%g)", *p.Low, *p.High)
			}
		case Discrete:
			if len(p.Values) < 2 {
				add(f+".values", "a discrete parameter needs at least 2 values")
			}
		case Categorical:
			if len(p.Options) < 2 {
				add(f+".options", "a categorical parameter needs at least 2 options")
			}
		default:
			add(f+".kind", "%q must be one of %s, %s, %s, %s", p.Kind, Continuous, Integer, Discrete, Categorical)
		}
	}
	if c.Data.File == "" {
		add("data.file", "is required (a CSV file with a header row, relative to the definition)")
	}
	if c.Data.Source == "" {
		add("data.source", "is required: say where the measurements come from")
	}
	if c.Data.License == "" {
		add("data.license", "is required")
	}
	if c.Lab.Kind != LabPool {
		add("lab.kind", "%q must be %q", c.Lab.Kind, LabPool)
	}
	switch c.Lab.Noise {
	case "replicate":
	case "fixed":
		if c.Lab.NoiseSD < 0 {
			add("lab.noise_sd", "must be ≥ 0")
		}
	default:
		add("lab.noise", "%q must be \"replicate\" or \"fixed\"", c.Lab.Noise)
	}
	if c.Lab.DurationSeconds < 0 {
		add("lab.duration_seconds", "must be ≥ 0")
	}
	if c.Simulation.Kind != SimKNN {
		add("simulation.kind", "%q must be %q", c.Simulation.Kind, SimKNN)
	}
	if c.Simulation.Cost <= 0 || c.Simulation.Cost > 1 {
		add("simulation.cost", "%g must be in (0, 1]: a simulation's price as a fraction of a lab run", c.Simulation.Cost)
	}
	if c.Simulation.NoiseSD < 0 {
		add("simulation.noise_sd", "must be ≥ 0")
	}
	if c.Budget.Experiments <= 0 {
		add("budget.experiments", "must be > 0")
	}
	if c.Budget.Simulations < 0 {
		add("budget.simulations", "must be ≥ 0")
	}
	if c.Budget.Tokens < 0 {
		add("budget.tokens", "must be ≥ 0 (0 means no token budget)")
	}
	for i, s := range c.Safety {
		f := fmt.Sprintf("safety[%d]", i)
		if !seen[s.Parameter] {
			add(f+".parameter", "%q is not a declared parameter", s.Parameter)
		}
		if s.Min == nil && s.Max == nil {
			add(f, "needs min, max or both")
		}
		if s.Reason == "" {
			add(f+".reason", "is required: the lab reports it when it refuses")
		}
	}
	if c.Scoring.TopFraction < 0 || c.Scoring.TopFraction > 0.5 {
		add("scoring.top_fraction", "%g must be in (0, 0.5]", c.Scoring.TopFraction)
	}
	return ps
}

// Catalog is a set of challenges by ID.
type Catalog struct {
	byID map[string]*Challenge
}

var (
	builtinOnce sync.Once
	builtin     *Catalog
	builtinErr  error
)

// Builtin returns the embedded catalog.
func Builtin() (*Catalog, error) {
	builtinOnce.Do(func() {
		builtin, builtinErr = loadFS(builtinFS, "catalog", "")
	})
	return builtin, builtinErr
}

// loadFS loads every *.yaml under dir of fsys; data paths are resolved
// relative to dir joined with dataRel ("" for the same directory).
func loadFS(fsys fs.FS, dir, dataRel string) (*Catalog, error) {
	cat := &Catalog{byID: map[string]*Challenge{}}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var probs []Problem
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		file := path.Join(dir, e.Name())
		src, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, err
		}
		c, err := Parse(file, src, fsys, path.Clean(path.Join(dir, dataRel)))
		var inv *InvalidError
		if errors.As(err, &inv) {
			probs = append(probs, inv.Problems...)
			continue
		} else if err != nil {
			return nil, err
		}
		if prev, dup := cat.byID[c.ID]; dup {
			probs = append(probs, Problem{File: file, Field: "id", Msg: fmt.Sprintf("%q is already defined (%s)", c.ID, prev.Title)})
			continue
		}
		cat.byID[c.ID] = c
	}
	if len(probs) > 0 {
		return nil, &InvalidError{probs}
	}
	return cat, nil
}

// LoadDir loads every definition in a directory on disk; data files are
// resolved relative to that directory.
func LoadDir(dir string) (*Catalog, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("challenges directory: %w", err)
	}
	return loadFS(os.DirFS(abs), ".", "")
}

// Open returns the built-in catalog merged with the definitions in dir
// (when dir is not empty); a user's definition may not reuse a built-in ID.
func Open(dir string) (*Catalog, error) {
	b, err := Builtin()
	if err != nil {
		return nil, fmt.Errorf("built-in challenges: %w", err)
	}
	if dir == "" {
		return b, nil
	}
	u, err := LoadDir(dir)
	if err != nil {
		return nil, err
	}
	merged := &Catalog{byID: map[string]*Challenge{}}
	for id, c := range b.byID {
		merged.byID[id] = c
	}
	for id, c := range u.byID {
		if _, dup := merged.byID[id]; dup {
			return nil, fmt.Errorf("%s: id %q clashes with a built-in challenge; choose another id", dir, id)
		}
		merged.byID[id] = c
	}
	return merged, nil
}

// Get returns the challenge with the given ID, or an error listing the known ones.
func (c *Catalog) Get(id string) (*Challenge, error) {
	if ch, ok := c.byID[id]; ok {
		return ch, nil
	}
	return nil, fmt.Errorf("unknown challenge %q; known challenges: %s (see `genesis challenges list`)", id, strings.Join(c.IDs(), ", "))
}

// IDs lists the catalog's IDs in order.
func (c *Catalog) IDs() []string {
	ids := make([]string, 0, len(c.byID))
	for id := range c.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// All returns the challenges in ID order.
func (c *Catalog) All() []*Challenge {
	out := make([]*Challenge, 0, len(c.byID))
	for _, id := range c.IDs() {
		out = append(out, c.byID[id])
	}
	return out
}
