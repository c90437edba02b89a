package challenges

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
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
	probs := c.loadDescriptors(file, dataFS, dir)
	f, err := dataFS.Open(path.Join(dir, c.Data.File))
	if err != nil {
		probs = append(probs, Problem{File: file, Field: "data.file", Msg: fmt.Sprintf("cannot open %q: %v (the path is relative to the definition's directory)", c.Data.File, err)})
		return nil, &InvalidError{probs}
	}
	defer f.Close()
	pool, poolProbs := c.readPool(file, f)
	if probs = append(probs, poolProbs...); len(probs) > 0 {
		return nil, &InvalidError{probs}
	}
	c.pool = pool
	if probs := c.gpSizeProblem(file); len(probs) > 0 {
		return nil, &InvalidError{probs}
	}
	c.emu = &emulatorOnce{}
	c.src = src
	c.file = file
	if pool.Len() < 2 {
		return nil, &InvalidError{[]Problem{{File: file, Field: "data.file", Msg: "the lab needs at least 2 distinct measured points"}}}
	}
	for _, o := range pool.Range {
		if o == 0 {
			return nil, &InvalidError{[]Problem{{File: file, Field: "objectives", Msg: "an objective has the same value at every measured point; nothing can be optimised"}}}
		}
	}
	c.top = c.rankTop()
	c.inTop = make(map[int]bool, len(c.top))
	for _, i := range c.top {
		c.inTop[i] = true
	}
	return &c, nil
}

// checkFinite reports every number of the definition that is not finite,
// and durations beyond MaxDurationSeconds: NaN passes every comparison the
// other checks make and infinity every upper bound, and either would break
// the emulator, the optimiser or the JSON that carries a point.
func (c *Challenge) checkFinite(add addProblem) {
	check := func(field string, vs ...float64) {
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				add(field, "is %g; want a finite number", v)
				return
			}
		}
	}
	ptr := func(field string, v *float64) {
		if v != nil {
			check(field, *v)
		}
	}
	for i, o := range c.Objectives {
		f := fmt.Sprintf("objectives[%d]", i)
		check(f+".weight", o.Weight)
		check(f+".bounds", o.Bounds...)
	}
	for i, p := range c.Parameters {
		f := fmt.Sprintf("parameters[%d]", i)
		ptr(f+".low", p.Low)
		ptr(f+".high", p.High)
		check(f+".values", p.Values...)
	}
	for i, k := range c.Constraints {
		f := fmt.Sprintf("constraints[%d]", i)
		check(f+".value", k.Value)
		check(f+".tolerance", k.Tolerance)
	}
	for i, s := range c.Safety {
		f := fmt.Sprintf("safety[%d]", i)
		ptr(f+".min", s.Min)
		ptr(f+".max", s.Max)
	}
	check("lab.noise_sd", c.Lab.NoiseSD)
	check("simulation.bias", c.Simulation.Bias)
	check("simulation.noise_sd", c.Simulation.NoiseSD)
	check("simulation.cost", c.Simulation.Cost)
	check("scoring.top_fraction", c.Scoring.TopFraction)
	for _, d := range []struct {
		field string
		v     float64
	}{{"lab.duration_seconds", c.Lab.DurationSeconds}, {"simulation.duration_seconds", c.Simulation.DurationSeconds}} {
		if math.IsNaN(d.v) || d.v > MaxDurationSeconds {
			add(d.field, "is %g; want 0 to %d seconds", d.v, MaxDurationSeconds)
		}
	}
}

// addProblem records one problem with a field of a definition; the
// validate steps below share it so every problem carries the file.
type addProblem = func(field, format string, args ...any)

// validate checks a parsed definition field by field and returns every
// problem, in the order of the definition's sections. It also resolves the
// safety rules' `when` conditions, which need the parameters checked first.
func (c *Challenge) validate(file string) []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{File: file, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Family != nil {
		c.Family.validate(add)
	}
	c.validateHeader(add)
	c.validateObjectives(add)
	declared, sound := c.validateParameters(add)
	c.validateConstraints(add)
	c.validateData(add)
	c.validateLab(add)
	c.validateSimulation(add)
	c.validateBudget(add)
	c.checkFinite(add)
	c.validateSafety(add, declared, sound)
	if c.Scoring.TopFraction <= 0 || c.Scoring.TopFraction > 0.5 {
		add("scoring.top_fraction", "%g must be in (0, 0.5] (0.05 means the top 5 %%)", c.Scoring.TopFraction)
	}
	return ps
}

// validateHeader checks what names and describes the challenge.
func (c *Challenge) validateHeader(add addProblem) {
	if c.ID == "" {
		add("id", "is required (lower-case letters, digits and dashes)")
	} else if strings.Trim(c.ID, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		add("id", "%q must use only lower-case letters, digits and dashes", c.ID)
	}
	if c.Title == "" {
		add("title", "is required")
	}
	if c.Domain == "" {
		add("domain", "is required: one of %s", strings.Join(Domains, ", "))
	} else if c.Domain != strings.ToLower(strings.TrimSpace(c.Domain)) {
		add("domain", "%q must be lower-case words, such as %s", c.Domain, strings.Join(Domains, ", "))
	}
	if strings.TrimSpace(c.Description) == "" {
		add("description", "is required: the agents read it")
	}
}

func (c *Challenge) validateObjectives(add addProblem) {
	if len(c.Objectives) == 0 {
		add("objectives", "at least one objective is required")
	}
	objNames := map[string]bool{}
	for i, o := range c.Objectives {
		f := fmt.Sprintf("objectives[%d]", i)
		if o.Name == "" {
			add(f+".name", "is required")
		} else if objNames[o.Name] {
			add(f+".name", "%q is declared twice", o.Name)
		}
		objNames[o.Name] = true
		switch o.Direction {
		case Maximize, Minimize:
		case "":
			add(f+".direction", "is required: %q or %q", Maximize, Minimize)
		default:
			add(f+".direction", "%q must be %q or %q", o.Direction, Maximize, Minimize)
		}
		if o.Weight < 0 {
			add(f+".weight", "%g must be ≥ 0", o.Weight)
		}
		if o.Bounds != nil && (len(o.Bounds) != 2 || !(o.Bounds[0] < o.Bounds[1]) || math.IsInf(o.Bounds[0], 0) || math.IsInf(o.Bounds[1], 0)) {
			add(f+".bounds", "is %v; want [low, high] with low < high, both finite (e.g. [0, 100] for a yield in %%)", o.Bounds)
		}
	}
}

// validateParameters checks every parameter and returns the names declared
// and, per parameter, whether its own definition (name and domain) is sound:
// the safety rules' conditions are parsed only against sound parameters.
func (c *Challenge) validateParameters(add addProblem) (declared map[string]bool, sound []bool) {
	if len(c.Parameters) == 0 {
		add("parameters", "at least one parameter is required")
	}
	declared = map[string]bool{}
	sound = make([]bool, len(c.Parameters))
	for i, p := range c.Parameters {
		f := fmt.Sprintf("parameters[%d]", i)
		ok := true
		addp := func(field, format string, args ...any) {
			ok = false
			add(field, format, args...)
		}
		if p.Name == "" {
			addp(f+".name", "is required")
		} else if declared[p.Name] {
			addp(f+".name", "%q is declared twice", p.Name)
		}
		declared[p.Name] = true
		p.validateDomain(f, addp)
		sound[i] = ok
		if p.Descriptors != nil {
			p.validateDescriptors(f+".descriptors", add)
		}
	}
	return declared, sound
}

// validateDomain checks that the parameter's kind and the values it spans
// agree: bounds for numeric kinds, values for discrete, options for
// categorical.
func (p Parameter) validateDomain(f string, add addProblem) {
	switch p.Kind {
	case Continuous, Integer:
		if p.Low == nil || p.High == nil {
			add(f, "a %s parameter needs low and high", p.Kind)
		} else if !(*p.Low < *p.High) {
			add(f, "low (%g) must be below high (%g)", *p.Low, *p.High)
		}
		if len(p.Values) > 0 || len(p.Options) > 0 {
			add(f, "a %s parameter takes low and high, not values or options", p.Kind)
		}
	case Discrete:
		if len(p.Values) < 2 {
			add(f+".values", "a discrete parameter needs at least 2 values")
		}
		if hasDup(p.Values) {
			add(f+".values", "values must be distinct")
		}
	case Categorical:
		if len(p.Options) < 2 {
			add(f+".options", "a categorical parameter needs at least 2 options (got %d)", len(p.Options))
		}
		if hasDup(p.Options) {
			add(f+".options", "options must be distinct")
		}
		for j, o := range p.Options {
			if strings.TrimSpace(o) == "" {
				add(fmt.Sprintf("%s.options[%d]", f, j), "an option name may not be empty")
			}
		}
	case "":
		add(f+".kind", "is required: one of %s, %s, %s, %s", Continuous, Integer, Discrete, Categorical)
	default:
		add(f+".kind", "%q must be one of %s, %s, %s, %s", p.Kind, Continuous, Integer, Discrete, Categorical)
	}
}

// validateDescriptors checks a categorical parameter's descriptor table
// declaration (the file itself is read with the pool).
func (p Parameter) validateDescriptors(df string, add addProblem) {
	d := p.Descriptors
	if p.Kind != Categorical {
		add(df, "only a categorical parameter takes descriptors (%q is %s)", p.Name, p.Kind)
	}
	if strings.TrimSpace(d.File) == "" {
		add(df+".file", "is required (a CSV file with a header row, relative to the definition)")
	}
	if strings.TrimSpace(d.Source) == "" {
		add(df+".source", "is required: say where the values come from (paper, repository and commit, or the script that computed them)")
	}
	if strings.TrimSpace(d.License) == "" {
		add(df+".license", "is required")
	}
	if hasDup(d.Columns) {
		add(df+".columns", "column names must be distinct")
	}
}

func (c *Challenge) validateConstraints(add addProblem) {
	for i, k := range c.Constraints {
		f := fmt.Sprintf("constraints[%d]", i)
		if k.Kind != ConstraintSum {
			add(f+".kind", "%q must be %q", k.Kind, ConstraintSum)
		}
		if len(k.Parameters) < 2 {
			add(f+".parameters", "a sum constraint needs at least 2 parameters")
		}
		for _, name := range k.Parameters {
			j := c.ParamIndex(name)
			if j < 0 {
				add(f+".parameters", "%q is not a declared parameter", name)
			} else if kind := c.Parameters[j].Kind; kind == Categorical {
				add(f+".parameters", "%q is categorical; only numeric parameters can be summed", name)
			}
		}
		if k.Tolerance < 0 {
			add(f+".tolerance", "%g must be ≥ 0", k.Tolerance)
		}
	}
}

// validateData checks the declaration of the measured data (the file itself
// is read by readPool).
func (c *Challenge) validateData(add addProblem) {
	if c.Data.File == "" {
		add("data.file", "is required (a CSV file, relative to the definition)")
	}
	if c.Data.Source == "" {
		add("data.source", "is required: say where the measurements come from")
	}
	if c.Data.License == "" {
		add("data.license", "is required")
	}
	if hasDup(c.Data.Columns) {
		add("data.columns", "column names must be distinct")
	}
	if c.Data.SkipRows < 0 {
		add("data.skip_rows", "%d must be ≥ 0", c.Data.SkipRows)
	}
}

func (c *Challenge) validateLab(add addProblem) {
	switch c.Lab.Kind {
	case LabPool:
	case LabKNN, LabGP:
		if strings.TrimSpace(c.Lab.Rationale) == "" {
			add("lab.rationale", "is required for an emulator lab: say why %s suits this data", c.Lab.Kind)
		}
	case "":
		add("lab.kind", "is required: %q, %q or %q", LabPool, LabKNN, LabGP)
	default:
		add("lab.kind", "%q must be %q, %q or %q", c.Lab.Kind, LabPool, LabKNN, LabGP)
	}
	if c.Lab.Neighbors < 0 {
		add("lab.neighbors", "%d must be ≥ 0 (0 means 5)", c.Lab.Neighbors)
	}
	switch c.Lab.Noise {
	case NoiseReplicate:
	case NoiseFixed:
		if c.Lab.NoiseSD < 0 || c.Lab.NoiseSD > 0.5 {
			add("lab.noise_sd", "%g must be in [0, 0.5]: a fraction of each objective's range", c.Lab.NoiseSD)
		}
	default:
		add("lab.noise", "%q must be %q or %q", c.Lab.Noise, NoiseReplicate, NoiseFixed)
	}
	if c.Lab.DurationSeconds < 0 {
		add("lab.duration_seconds", "must be ≥ 0")
	}
}

func (c *Challenge) validateSimulation(add addProblem) {
	if c.Simulation.Kind != SimKNN {
		add("simulation.kind", "%q must be %q", c.Simulation.Kind, SimKNN)
	}
	if c.Simulation.Neighbors < 0 {
		add("simulation.neighbors", "%d must be ≥ 0 (0 means 5)", c.Simulation.Neighbors)
	}
	if c.Simulation.Cost <= 0 || c.Simulation.Cost > 1 {
		add("simulation.cost", "%g must be in (0, 1]: a simulation's price as a fraction of a lab run", c.Simulation.Cost)
	}
	if c.Simulation.NoiseSD < 0 {
		add("simulation.noise_sd", "must be ≥ 0")
	}
	if c.Simulation.DurationSeconds < 0 {
		add("simulation.duration_seconds", "must be ≥ 0")
	}
}

func (c *Challenge) validateBudget(add addProblem) {
	if c.Budget.Experiments <= 0 || c.Budget.Experiments > MaxExperiments {
		add("budget.experiments", "%d must be 1 to %d", c.Budget.Experiments, MaxExperiments)
	}
	if c.Budget.Simulations < 0 || c.Budget.Simulations > MaxSimulations {
		add("budget.simulations", "%d must be 0 to %d", c.Budget.Simulations, MaxSimulations)
	}
	if c.Budget.Tokens < 0 || c.Budget.Tokens > MaxTokens {
		add("budget.tokens", "%d must be 0 (no token budget) to %d", c.Budget.Tokens, MaxTokens)
	}
}

// validateSafety checks the safety rules and resolves each rule's `when`
// conditions to parameter indexes and parsed values.
func (c *Challenge) validateSafety(add addProblem, declared map[string]bool, sound []bool) {
	for i, s := range c.Safety {
		f := fmt.Sprintf("safety[%d]", i)
		if !declared[s.Parameter] {
			add(f+".parameter", "%q is not a declared parameter", s.Parameter)
		} else if c.Parameters[c.ParamIndex(s.Parameter)].Kind == Categorical {
			add(f+".parameter", "%q is categorical; forbid an option with `when` on another parameter's range instead", s.Parameter)
		}
		if s.Min == nil && s.Max == nil {
			add(f, "needs min, max or both")
		} else if s.Min != nil && s.Max != nil && *s.Min > *s.Max {
			add(f, "min (%g) is above max (%g)", *s.Min, *s.Max)
		}
		if s.Reason == "" {
			add(f+".reason", "is required: the lab reports it when it refuses")
		}
		c.Safety[i].when = c.resolveWhen(f+".when", s.When, sound, add)
	}
}

// resolveWhen parses a safety rule's conditions; a condition on an unknown,
// unsound or continuous parameter is a problem and is left out.
func (c *Challenge) resolveWhen(f string, when map[string]any, sound []bool, add addProblem) map[int]float64 {
	out := map[int]float64{}
	for name, raw := range when {
		j := c.ParamIndex(name)
		if j < 0 {
			add(f, "%q is not a declared parameter", name)
			continue
		}
		if !sound[j] {
			continue
		}
		if k := c.Parameters[j].Kind; k == Continuous {
			add(f, "%q is continuous; `when` takes categorical, discrete or integer parameters", name)
			continue
		}
		v, err := c.Parameters[j].parse(raw)
		if err != nil {
			add(f, "%v", err)
			continue
		}
		out[j] = v
	}
	return out
}

func hasDup[T comparable](xs []T) bool {
	seen := map[T]bool{}
	for _, x := range xs {
		if seen[x] {
			return true
		}
		seen[x] = true
	}
	return false
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
	if len(probs) == 0 {
		probs = cat.checkFamilies()
	}
	if len(probs) > 0 {
		return nil, &InvalidError{probs}
	}
	return cat, nil
}

// LoadDir loads every definition in a directory on disk; data files are
// resolved relative to the definition.
func LoadDir(dir string) (*Catalog, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("challenges directory: %w", err)
	}
	cat := &Catalog{byID: map[string]*Challenge{}}
	files, err := definitionFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("challenges directory: %w", err)
	}
	var probs []Problem
	for _, f := range files {
		v := validateFile(f)
		probs = append(probs, v.Problems...)
		if v.Challenge == nil {
			continue
		}
		if prev, dup := cat.byID[v.Challenge.ID]; dup {
			probs = append(probs, Problem{File: f, Field: "id", Msg: fmt.Sprintf("%q is already defined (%s)", prev.ID, prev.Title)})
			continue
		}
		cat.byID[v.Challenge.ID] = v.Challenge
	}
	if len(probs) > 0 {
		return nil, &InvalidError{probs}
	}
	return cat, nil
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
	if probs := merged.checkFamilies(); len(probs) > 0 {
		return nil, fmt.Errorf("%s: %w", dir, &InvalidError{probs})
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

// Validated is the outcome of checking one definition file.
type Validated struct {
	File      string
	Challenge *Challenge // nil when the definition is invalid
	Problems  []Problem
	Warnings  []string
}

// ValidatePaths checks the definitions in the given files and directories
// (a directory contributes every *.yaml and *.yml in it). Each file is
// checked on its own, data included; IDs that clash with each other or
// with a built-in challenge are problems too. An unreadable path is a
// problem of that path.
func ValidatePaths(paths []string) []Validated {
	var out []Validated
	ids := map[string]string{}
	builtinSrc := map[string][]byte{}
	if b, err := Builtin(); err == nil {
		for _, c := range b.All() {
			ids[c.ID] = "built-in"
			builtinSrc[c.ID] = c.src
		}
	}
	for _, p := range paths {
		files, err := definitionFiles(p)
		if err != nil {
			out = append(out, Validated{File: p, Problems: []Problem{{File: p, Msg: err.Error()}}})
			continue
		}
		for _, f := range files {
			v := validateFile(f)
			if v.Challenge != nil {
				if src, ok := builtinSrc[v.Challenge.ID]; ok && bytes.Equal(src, v.Challenge.src) {
					// The built-in definition itself (e.g. challenges/catalog/x.yaml
					// in a checkout): validating it is not a clash.
					delete(builtinSrc, v.Challenge.ID)
					ids[v.Challenge.ID] = f
				} else if prev, dup := ids[v.Challenge.ID]; dup {
					v.Problems = append(v.Problems, Problem{File: f, Field: "id", Msg: fmt.Sprintf("%q is already defined (%s); choose another id", v.Challenge.ID, prev)})
					v.Challenge = nil
				} else {
					ids[v.Challenge.ID] = f
				}
			}
			out = append(out, v)
		}
	}
	return out
}

func definitionFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			files = append(files, filepath.Join(p, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.yaml definitions in directory %s", p)
	}
	return files, nil
}

func validateFile(file string) Validated {
	v := Validated{File: file}
	src, err := os.ReadFile(file)
	if err != nil {
		v.Problems = []Problem{{File: file, Msg: err.Error()}}
		return v
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		v.Problems = []Problem{{File: file, Msg: err.Error()}}
		return v
	}
	// Resolve data paths from the file system root so that a definition
	// may point outside its own directory (../data/x.csv).
	dir := strings.TrimPrefix(filepath.ToSlash(filepath.Dir(abs)), "/")
	c, err := Parse(file, src, os.DirFS("/"), dir)
	var inv *InvalidError
	switch {
	case errors.As(err, &inv):
		v.Problems = inv.Problems
	case err != nil:
		v.Problems = []Problem{{File: file, Msg: err.Error()}}
	default:
		v.Challenge = c
		v.Warnings = c.Lint()
	}
	return v
}

// ValidateBuiltin checks the embedded catalog, definition by definition.
func ValidateBuiltin() []Validated {
	entries, err := fs.ReadDir(builtinFS, "catalog")
	if err != nil {
		return []Validated{{File: "catalog", Problems: []Problem{{File: "catalog", Msg: err.Error()}}}}
	}
	var out []Validated
	ids := map[string]string{}
	for _, e := range entries {
		file := path.Join("catalog", e.Name())
		src, err := fs.ReadFile(builtinFS, file)
		v := Validated{File: "builtin:" + file}
		if err != nil {
			v.Problems = []Problem{{File: v.File, Msg: err.Error()}}
		} else if c, err := Parse(v.File, src, builtinFS, "catalog"); err != nil {
			var inv *InvalidError
			if errors.As(err, &inv) {
				v.Problems = inv.Problems
			} else {
				v.Problems = []Problem{{File: v.File, Msg: err.Error()}}
			}
		} else if prev, dup := ids[c.ID]; dup {
			v.Problems = []Problem{{File: v.File, Field: "id", Msg: fmt.Sprintf("%q is already defined (%s)", c.ID, prev)}}
		} else {
			ids[c.ID] = v.File
			v.Challenge = c
			v.Warnings = c.Lint()
		}
		out = append(out, v)
	}
	return out
}

// Lint reports things that are legal but probably not intended.
func (c *Challenge) Lint() []string {
	var w []string
	top := c.TopSet()
	refused := 0
	for _, i := range top {
		if c.CheckSafety(c.pool.Points[i]) != nil {
			refused++
		}
	}
	if refused > 0 {
		w = append(w, fmt.Sprintf("safety limits refuse %d of the %d top-%g%% measured points: a campaign can never find them", refused, len(top), 100*c.Scoring.TopFraction))
	}
	if c.Finite() && c.Budget.Experiments >= c.pool.Len() {
		w = append(w, fmt.Sprintf("budget.experiments (%d) covers the whole pool of %d points: the challenge is exhaustive search", c.Budget.Experiments, c.pool.Len()))
	}
	for _, p := range c.Parameters {
		if p.Descriptors == nil {
			continue
		}
		t := p.Descriptors.Table
		for i := range t {
			for j := i + 1; j < len(t); j++ {
				if slices.Equal(t[i], t[j]) {
					w = append(w, fmt.Sprintf("parameter %q: options %q and %q have identical descriptors in %s; a model that uses them cannot tell the two apart", p.Name, p.Options[i], p.Options[j], p.Descriptors.File))
				}
			}
		}
	}
	if c.Simulation.Neighbors > c.pool.Len()-1 {
		w = append(w, fmt.Sprintf("simulation.neighbors (%d) exceeds the %d other measured points", c.Simulation.Neighbors, c.pool.Len()-1))
	}
	return w
}

// Subset returns a catalog with only the given IDs; an unknown ID is an error.
func (c *Catalog) Subset(ids []string) (*Catalog, error) {
	out := &Catalog{byID: map[string]*Challenge{}}
	for _, id := range ids {
		ch, err := c.Get(strings.TrimSpace(id))
		if err != nil {
			return nil, err
		}
		out.byID[ch.ID] = ch
	}
	return out, nil
}
