// Package challenges defines scientific challenges: what is optimised, over
// which design space, against which measured data, and how the emulated lab
// and the cheaper simulation answer. A challenge is a YAML file plus a data
// file; the built-in catalog is embedded in the binary and users can bring
// their own from a directory.
//
// A design point travels through Genesis as a Point: one float64 per
// parameter in declaration order, with categorical parameters encoded as the
// index of their option. Points are small and deterministic to serialise,
// which keeps workflow history compact.
package challenges

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Parameter kinds.
const (
	Continuous  = "continuous"
	Integer     = "integer"
	Discrete    = "discrete"
	Categorical = "categorical"
)

// Objective directions.
const (
	Maximize = "maximize"
	Minimize = "minimize"
)

// Lab model kinds.
const (
	// LabPool answers only for members of the measured pool, with the pool
	// value plus measurement noise. The design space is the pool.
	LabPool = "pool"
	// LabKNN answers for any point of the space with the inverse-distance
	// weighted mean of the nearest measured points, plus noise.
	LabKNN = "knn"
	// LabGP answers for any point of the space with a Gaussian-process
	// emulator fitted to all measured points, plus noise.
	LabGP = "gp"
)

// Noise models of the lab.
const (
	NoiseReplicate = "replicate"
	NoiseFixed     = "fixed"
)

// Constraint kinds.
const (
	// ConstraintSum requires the listed parameters to sum to Value.
	ConstraintSum = "sum"
)

// Domains are the domain areas of the built-in catalog; a user may name others.
var Domains = []string{"materials", "energy storage", "photovoltaics", "catalysis", "carbon capture",
	"chemical synthesis", "drug formulation", "additive manufacturing", "semiconductors", "lab automation"}

// Simulation model kinds.
const (
	// SimKNN estimates a point from its nearest measured neighbours, leaving
	// the point itself out, then adds a bias and extra noise: cheaper and less
	// faithful than the lab.
	SimKNN = "knn"
)

// Point is a design point: one value per parameter, in declaration order.
// Categorical values are option indices.
type Point []float64

// Parameter is one dimension of the design space.
type Parameter struct {
	Name        string    `yaml:"name" json:"name"`
	Kind        string    `yaml:"kind" json:"kind"`
	Unit        string    `yaml:"unit,omitempty" json:"unit,omitempty"`
	Description string    `yaml:"description,omitempty" json:"description,omitempty"`
	Column      string    `yaml:"column,omitempty" json:"column,omitempty"`
	Low         *float64  `yaml:"low,omitempty" json:"low,omitempty"`
	High        *float64  `yaml:"high,omitempty" json:"high,omitempty"`
	Values      []float64 `yaml:"values,omitempty" json:"values,omitempty"`
	Options     []string  `yaml:"options,omitempty" json:"options,omitempty"`
	// Descriptors gives a categorical parameter's options numeric features.
	Descriptors *Descriptors `yaml:"descriptors,omitempty" json:"descriptors,omitempty"`
}

// Objective is one measured quantity and the direction in which it is better.
type Objective struct {
	Name        string  `yaml:"name" json:"name"`
	Column      string  `yaml:"column,omitempty" json:"column,omitempty"`
	Unit        string  `yaml:"unit,omitempty" json:"unit,omitempty"`
	Direction   string  `yaml:"direction" json:"direction"`
	Weight      float64 `yaml:"weight,omitempty" json:"weight,omitempty"`
	Description string  `yaml:"description,omitempty" json:"description,omitempty"`
	// Bounds, when set, are the values the objective can physically take
	// (a yield between 0 and 100 %): the optimiser then models it through
	// a logit warp, which stretches the crowded ends of a bounded scale.
	Bounds []float64 `yaml:"bounds,omitempty" json:"bounds,omitempty"`
}

// Data names the measured data file and where it came from.
type Data struct {
	File     string `yaml:"file" json:"file"`
	Source   string `yaml:"source" json:"source"`
	License  string `yaml:"license" json:"license"`
	Citation string `yaml:"citation,omitempty" json:"citation,omitempty"`
	// Notes records quirks of the source data and how they were handled.
	Notes string `yaml:"notes,omitempty" json:"notes,omitempty"`
	// Columns names the columns of a file without a header row, in order.
	Columns []string `yaml:"columns,omitempty" json:"columns,omitempty"`
	// SkipRows is the number of rows after the header that are not data.
	SkipRows int `yaml:"skip_rows,omitempty" json:"skip_rows,omitempty"`
}

// Constraint restricts the design space beyond per-parameter bounds.
type Constraint struct {
	Kind       string   `yaml:"kind" json:"kind"`
	Parameters []string `yaml:"parameters" json:"parameters"`
	Value      float64  `yaml:"value" json:"value"`
	Tolerance  float64  `yaml:"tolerance,omitempty" json:"tolerance,omitempty"`
}

func (k Constraint) String() string {
	return fmt.Sprintf("%s = %g (± %g)", strings.Join(k.Parameters, " + "), k.Value, k.Tolerance)
}

// LabModel says how the emulated lab answers.
type LabModel struct {
	Kind string `yaml:"kind" json:"kind"`
	// Neighbors is k for the knn emulator.
	Neighbors int `yaml:"neighbors,omitempty" json:"neighbors,omitempty"`
	// Noise is "replicate" (each point's own replicate standard deviation,
	// falling back to the pooled one) or "fixed" (NoiseSD for every point).
	Noise string `yaml:"noise" json:"noise"`
	// NoiseSD is the fixed noise, as a fraction of each objective's range.
	NoiseSD float64 `yaml:"noise_sd,omitempty" json:"noise_sd,omitempty"`
	// Rationale says why this model suits the data.
	Rationale string `yaml:"rationale,omitempty" json:"rationale,omitempty"`
	// DurationSeconds is how long one run takes at time scale 1.
	DurationSeconds float64 `yaml:"duration_seconds" json:"duration_seconds"`
}

// SimModel says how the cheaper simulation answers.
type SimModel struct {
	Kind      string `yaml:"kind" json:"kind"`
	Neighbors int    `yaml:"neighbors" json:"neighbors"`
	// Bias is added to the estimate, as a fraction of the objective's range.
	Bias float64 `yaml:"bias" json:"bias"`
	// NoiseSD is the simulation's noise, as a fraction of the objective's range.
	NoiseSD float64 `yaml:"noise_sd" json:"noise_sd"`
	// Cost is the price of one simulation as a fraction of a lab run.
	Cost            float64 `yaml:"cost" json:"cost"`
	DurationSeconds float64 `yaml:"duration_seconds" json:"duration_seconds"`
}

// Upper bounds of a budget, wherever one is given: a challenge's, a
// campaign's, a portfolio campaign's. A campaign carries its experiments
// and simulations in its state, across continue-as-new too, so these keep
// that state far below Temporal's 2 MB payload limit (about 1 MB at most);
// the token bound only keeps counts far from overflowing.
const (
	MaxExperiments = 1000
	MaxSimulations = 2000
	MaxTokens      = 1_000_000_000
	// MaxDurationSeconds bounds a lab run's or a simulation's duration
	// (a week).
	MaxDurationSeconds = 7 * 24 * 3600
)

// Budget bounds a campaign.
type Budget struct {
	Experiments int `yaml:"experiments" json:"experiments"`
	Simulations int `yaml:"simulations" json:"simulations"`
	Tokens      int `yaml:"tokens,omitempty" json:"tokens,omitempty"`
}

// SafetyLimit is a parameter range the lab must refuse to run outside of.
// With When, the limit applies only to points whose named parameters take
// the given values (a forbidden combination).
type SafetyLimit struct {
	Parameter string         `yaml:"parameter" json:"parameter"`
	Min       *float64       `yaml:"min,omitempty" json:"min,omitempty"`
	Max       *float64       `yaml:"max,omitempty" json:"max,omitempty"`
	When      map[string]any `yaml:"when,omitempty" json:"when,omitempty"`
	Reason    string         `yaml:"reason" json:"reason"`

	when map[int]float64 // parameter index → required value, resolved at load
}

// Scoring holds the settings evals and convergence use.
type Scoring struct {
	// TopFraction defines the top set: the ceil(TopFraction·N) best pool members.
	TopFraction float64 `yaml:"top_fraction" json:"top_fraction"`
}

// Challenge is one scientific challenge.
type Challenge struct {
	ID          string        `yaml:"id" json:"id"`
	Title       string        `yaml:"title" json:"title"`
	Domain      string        `yaml:"domain" json:"domain"`
	Description string        `yaml:"description" json:"description"`
	Objectives  []Objective   `yaml:"objectives" json:"objectives"`
	Parameters  []Parameter   `yaml:"parameters" json:"parameters"`
	Constraints []Constraint  `yaml:"constraints,omitempty" json:"constraints,omitempty"`
	Data        Data          `yaml:"data" json:"data"`
	Lab         LabModel      `yaml:"lab" json:"lab"`
	Simulation  SimModel      `yaml:"simulation" json:"simulation"`
	Budget      Budget        `yaml:"budget" json:"budget"`
	Safety      []SafetyLimit `yaml:"safety,omitempty" json:"safety,omitempty"`
	Scoring     Scoring       `yaml:"scoring" json:"scoring"`
	// Family, when set, names the challenge's family and its place in it
	// (see Family).
	Family *Family `yaml:"family,omitempty" json:"family,omitempty"`

	pool  *Pool
	top   []int        // TopSet, ranked once at load
	inTop map[int]bool // membership of top
	emu   *emulatorOnce
	src   []byte // the definition as read
	file  string // where it was read from
}

// Primary is the objective a campaign's "best" refers to.
func (c *Challenge) Primary() Objective { return c.Objectives[0] }

// Score orients a measurement so that higher is better. With one objective
// it is the value itself (negated when minimising). With several it is the
// weighted sum of each objective min–max normalised over the measured data
// and oriented (see Scalarizer).
func (c *Challenge) Score(values []float64) float64 {
	return c.Scalarizer().Score(values)
}

// Scalarizer returns the challenge's scoring rule as plain data, so that
// workflows can score deterministically without the challenge.
func (c *Challenge) Scalarizer() Scalarizer {
	s := Scalarizer{Directions: make([]string, len(c.Objectives)), Weights: make([]float64, len(c.Objectives)),
		Low: make([]float64, len(c.Objectives)), Range: make([]float64, len(c.Objectives))}
	var wsum float64
	for k, o := range c.Objectives {
		s.Directions[k] = o.Direction
		s.Weights[k] = o.Weight
		if o.Weight == 0 {
			s.Weights[k] = 1
		}
		wsum += s.Weights[k]
		if c.pool != nil {
			s.Low[k], s.Range[k] = c.pool.Low[k], c.pool.Range[k]
		}
	}
	for k := range s.Weights {
		s.Weights[k] /= wsum
	}
	return s
}

// Scalarizer turns a measurement of every objective into one score where
// higher is better.
type Scalarizer struct {
	Directions []string  `json:"directions"`
	Weights    []float64 `json:"weights"`
	Low        []float64 `json:"low"`
	Range      []float64 `json:"range"`
}

// Score is the scalarised, oriented score of values (−Inf when empty).
func (s Scalarizer) Score(values []float64) float64 {
	if len(values) == 0 || len(s.Directions) == 0 {
		return math.Inf(-1)
	}
	if len(s.Directions) == 1 || len(values) == 1 {
		if s.Directions[0] == Minimize {
			return -values[0]
		}
		return values[0]
	}
	var sum float64
	for k := range min(len(values), len(s.Directions)) {
		r := s.Range[k]
		if r <= 0 {
			r = 1
		}
		v := (values[k] - s.Low[k]) / r
		if s.Directions[k] == Minimize {
			v = 1 - v
		}
		sum += s.Weights[k] * v
	}
	return sum
}

// MultiObjective reports whether the challenge has more than one objective.
func (c *Challenge) MultiObjective() bool { return len(c.Objectives) > 1 }

// Finite reports whether the design space is the measured pool (a pool
// lab) rather than every point within the bounds (an emulator lab).
func (c *Challenge) Finite() bool { return c.Lab.Kind == LabPool }

// Pool returns the measured pool. It is never nil for a loaded challenge.
func (c *Challenge) Pool() *Pool { return c.pool }

// ParamIndex returns the index of the named parameter, or -1.
func (c *Challenge) ParamIndex(name string) int {
	for i, p := range c.Parameters {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// Format renders a point as "name=value name=value".
func (c *Challenge) Format(p Point) string {
	var b strings.Builder
	for i, prm := range c.Parameters {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(prm.Name)
		b.WriteByte('=')
		if i < len(p) {
			b.WriteString(prm.formatValue(p[i]))
		} else {
			b.WriteString("?")
		}
	}
	return b.String()
}

// Key is a canonical string for a point, used for pool lookup and de-duplication.
func (c *Challenge) Key(p Point) string {
	parts := make([]string, len(p))
	for i, v := range p {
		parts[i] = strconv.FormatFloat(v, 'g', 10, 64)
	}
	return strings.Join(parts, "|")
}

func (p Parameter) formatValue(v float64) string {
	if p.Kind == Categorical {
		i := int(v)
		if i >= 0 && i < len(p.Options) && float64(i) == v {
			return p.Options[i]
		}
		return fmt.Sprintf("<option %v>", v)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// Map renders a point as a name → value map for models and APIs. Categorical
// values become their option names.
func (c *Challenge) Map(p Point) map[string]any {
	m := make(map[string]any, len(c.Parameters))
	for i, prm := range c.Parameters {
		if i >= len(p) {
			break
		}
		if prm.Kind == Categorical {
			m[prm.Name] = prm.formatValue(p[i])
		} else {
			m[prm.Name] = p[i]
		}
	}
	return m
}

// ParseMap turns a name → value map (as a model or API gives it) into a
// point, checking names, types, kinds and bounds. The error says which
// parameter is wrong and what is expected.
func (c *Challenge) ParseMap(m map[string]any) (Point, error) {
	p := make(Point, len(c.Parameters))
	var problems []string
	for i, prm := range c.Parameters {
		raw, ok := m[prm.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("missing parameter %q (%s)", prm.Name, prm.expect()))
			continue
		}
		v, err := prm.parse(raw)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		p[i] = v
	}
	var unknown []string
	for k := range m {
		if c.ParamIndex(k) < 0 {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		problems = append(problems, fmt.Sprintf("unknown parameter %q (known: %s)", k, strings.Join(c.paramNames(), ", ")))
	}
	if len(problems) == 0 {
		for _, k := range c.Constraints {
			if err := c.checkConstraint(k, p); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return p, nil
}

func (c *Challenge) paramNames() []string {
	names := make([]string, len(c.Parameters))
	for i, p := range c.Parameters {
		names[i] = p.Name
	}
	return names
}

func (p Parameter) expect() string {
	switch p.Kind {
	case Categorical:
		return "one of " + strings.Join(p.Options, ", ")
	case Discrete:
		vs := make([]string, len(p.Values))
		for i, v := range p.Values {
			vs[i] = strconv.FormatFloat(v, 'g', 6, 64)
		}
		return "one of " + strings.Join(vs, ", ")
	case Integer:
		return fmt.Sprintf("an integer in [%g, %g]", *p.Low, *p.High)
	default:
		return fmt.Sprintf("a number in [%g, %g]", *p.Low, *p.High)
	}
}

func (p Parameter) parse(raw any) (float64, error) {
	if p.Kind == Categorical {
		s, ok := raw.(string)
		if !ok {
			return 0, fmt.Errorf("parameter %q: got %v, want %s", p.Name, raw, p.expect())
		}
		for i, o := range p.Options {
			if strings.EqualFold(o, strings.TrimSpace(s)) {
				return float64(i), nil
			}
		}
		return 0, fmt.Errorf("parameter %q: %q is not an option; want %s", p.Name, s, p.expect())
	}
	var v float64
	switch x := raw.(type) {
	case float64:
		v = x
	case int:
		v = float64(x)
	case int64:
		v = float64(x)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("parameter %q: %q is not a number; want %s", p.Name, x, p.expect())
		}
		v = f
	default:
		return 0, fmt.Errorf("parameter %q: got %v, want %s", p.Name, raw, p.expect())
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("parameter %q: %v is not finite; want %s", p.Name, v, p.expect())
	}
	if err := p.check(v); err != nil {
		return 0, err
	}
	return v, nil
}

// check reports whether v is a legal value of the parameter.
func (p Parameter) check(v float64) error {
	switch p.Kind {
	case Categorical:
		if v != math.Trunc(v) || v < 0 || int(v) >= len(p.Options) {
			return fmt.Errorf("parameter %q: %v is not an option index; want %s", p.Name, v, p.expect())
		}
	case Discrete:
		for _, x := range p.Values {
			if math.Abs(x-v) <= 1e-9*math.Max(1, math.Abs(x)) {
				return nil
			}
		}
		return fmt.Errorf("parameter %q: %g is not allowed; want %s", p.Name, v, p.expect())
	case Integer:
		if v != math.Trunc(v) || v < *p.Low || v > *p.High {
			return fmt.Errorf("parameter %q: %g is out of range; want %s", p.Name, v, p.expect())
		}
	default:
		if v < *p.Low || v > *p.High {
			return fmt.Errorf("parameter %q: %g is out of range; want %s", p.Name, v, p.expect())
		}
	}
	return nil
}

// CheckPoint reports whether p lies in the design space: every value legal
// for its parameter and every constraint met.
func (c *Challenge) CheckPoint(p Point) error {
	if len(p) != len(c.Parameters) {
		return fmt.Errorf("point has %d values, challenge %s has %d parameters", len(p), c.ID, len(c.Parameters))
	}
	for i, prm := range c.Parameters {
		if err := prm.check(p[i]); err != nil {
			return err
		}
	}
	for _, k := range c.Constraints {
		if err := c.checkConstraint(k, p); err != nil {
			return err
		}
	}
	return nil
}

func (c *Challenge) checkConstraint(k Constraint, p Point) error {
	switch k.Kind {
	case ConstraintSum:
		var sum float64
		for _, name := range k.Parameters {
			sum += p[c.ParamIndex(name)]
		}
		if math.Abs(sum-k.Value) > k.Tolerance+1e-9*math.Max(1, math.Abs(k.Value)) {
			return fmt.Errorf("constraint %s: the values sum to %g", k, sum)
		}
	}
	return nil
}

// CheckSafety reports the first safety limit p violates, as the lab would refuse it.
func (c *Challenge) CheckSafety(p Point) error {
	for _, s := range c.Safety {
		i := c.ParamIndex(s.Parameter)
		if i < 0 || i >= len(p) || !s.applies(p) {
			continue
		}
		if s.Min != nil && p[i] < *s.Min || s.Max != nil && p[i] > *s.Max {
			where := ""
			if len(s.When) > 0 {
				where = " when " + s.whenString()
			}
			return fmt.Errorf("safety limit on %q%s (%s): %s is outside [%s, %s]", s.Parameter, where, s.Reason,
				c.Parameters[i].formatValue(p[i]), fmtBound(s.Min), fmtBound(s.Max))
		}
	}
	return nil
}

func (s SafetyLimit) applies(p Point) bool {
	for i, v := range s.when {
		if i >= len(p) || math.Abs(p[i]-v) > 1e-9*math.Max(1, math.Abs(v)) {
			return false
		}
	}
	return true
}

func (s SafetyLimit) whenString() string {
	keys := make([]string, 0, len(s.When))
	for k := range s.When {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, s.When[k])
	}
	return strings.Join(parts, ", ")
}

func fmtBound(b *float64) string {
	if b == nil {
		return "-"
	}
	return strconv.FormatFloat(*b, 'g', 6, 64)
}

// Lower and upper bounds of a numeric parameter, used to normalise.
func (p Parameter) bounds() (lo, hi float64) {
	switch p.Kind {
	case Categorical:
		return 0, float64(max(len(p.Options)-1, 1))
	case Discrete:
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, v := range p.Values {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		return lo, hi
	default:
		return *p.Low, *p.High
	}
}

// Encode maps a point to the feature vector models work in: numeric
// parameters scaled to [0,1], each categorical parameter one-hot (one
// coordinate per option). Distances between encoded points treat every
// pair of distinct options as equally far apart.
func (c *Challenge) Encode(p Point) []float64 {
	out := make([]float64, 0, c.EncodedDim())
	for i, prm := range c.Parameters {
		if prm.Kind == Categorical {
			for j := range prm.Options {
				v := 0.0
				if int(p[i]) == j {
					v = 1
				}
				out = append(out, v)
			}
			continue
		}
		lo, hi := prm.bounds()
		v := 0.0
		if hi > lo {
			v = (p[i] - lo) / (hi - lo)
		}
		out = append(out, v)
	}
	return out
}

// EncodedDim is the length of Encode's vectors.
func (c *Challenge) EncodedDim() int {
	d := 0
	for _, prm := range c.Parameters {
		if prm.Kind == Categorical {
			d += len(prm.Options)
		} else {
			d++
		}
	}
	return d
}
