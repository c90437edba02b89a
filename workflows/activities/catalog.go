package activities

import (
	"context"
	"fmt"
	"math"

	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/optimizer"
)

// Catalog is the activity set that needs only the challenge catalog: a
// challenge's summary, the optimiser's suggestions and appraisals, and
// the safety check. All are local activities: fast and deterministic for
// a given catalog.
type Catalog struct {
	cat *challenges.Catalog
}

// NewCatalog returns the set over a catalog.
func NewCatalog(cat *challenges.Catalog) *Catalog { return &Catalog{cat: cat} }

// Register registers the set's activities under their names.
func (s *Catalog) Register(r worker.ActivityRegistry) {
	register(r, LoadChallengeName, s.LoadChallenge)
	register(r, SuggestName, s.Suggest)
	register(r, SafetyCheckName, s.SafetyCheck)
	register(r, AppraiseName, s.Appraise)
}

// ChallengeInfo is what the workflow needs to know about a challenge.
type ChallengeInfo struct {
	ID         string                 `json:"id"`
	Title      string                 `json:"title"`
	Objective  string                 `json:"objective"`
	Unit       string                 `json:"unit"`
	Direction  string                 `json:"direction"`
	PoolSize   int                    `json:"pool_size"`
	Budget     challenges.Budget      `json:"budget"`
	SimCost    float64                `json:"sim_cost"`
	Parameters []challenges.Parameter `json:"parameters"`
	// Objectives and Score describe a multi-objective challenge (empty
	// for a single objective and in histories recorded before they existed).
	Objectives []string               `json:"objectives,omitempty"`
	Score      *challenges.Scalarizer `json:"score,omitempty"`
	// Finite is true when the design space is the measured pool.
	Finite bool `json:"finite,omitempty"`
	// Family and Siblings name the challenge's family and its other
	// members (see challenges.Family).
	Family   string   `json:"family,omitempty"`
	Siblings []string `json:"siblings,omitempty"`
}

// Merit orients a measurement so that higher is better.
func (ci ChallengeInfo) Merit(values []float64) float64 {
	if ci.Score != nil && len(ci.Score.Directions) > 1 {
		return ci.Score.Score(values)
	}
	if len(values) == 0 {
		return math.Inf(-1)
	}
	if ci.Direction == challenges.Minimize {
		return -values[0]
	}
	return values[0]
}

func (ci ChallengeInfo) Challenge() *challenges.Challenge {
	return &challenges.Challenge{ID: ci.ID, Parameters: ci.Parameters}
}

// Key is the canonical key of a point.
func (ci ChallengeInfo) Key(p challenges.Point) string { return ci.Challenge().Key(p) }

// Map renders a point as name → value.
func (ci ChallengeInfo) Map(p challenges.Point) map[string]any { return ci.Challenge().Map(p) }

// LoadChallenge returns a challenge's summary (a local activity).
func (s *Catalog) LoadChallenge(_ context.Context, id string) (ChallengeInfo, error) {
	c, err := lookup(s.cat, id)
	if err != nil {
		return ChallengeInfo{}, err
	}
	o := c.Primary()
	info := ChallengeInfo{ID: c.ID, Title: c.Title, Objective: o.Name, Unit: o.Unit, Direction: o.Direction, PoolSize: c.Pool().Len(),
		Budget: c.Budget, SimCost: c.Simulation.Cost, Parameters: c.Parameters, Finite: c.Finite()}
	if c.Family != nil {
		info.Family = c.Family.Name
		for _, sib := range s.cat.Siblings(c) {
			info.Siblings = append(info.Siblings, sib.ID)
		}
	}
	if c.MultiObjective() {
		sc := c.Scalarizer()
		info.Score = &sc
		for _, o := range c.Objectives {
			info.Objectives = append(info.Objectives, o.Name)
		}
	}
	return info, nil
}

// SuggestInput asks the optimiser for candidates.
type SuggestInput struct {
	Challenge   string       `json:"challenge"`
	Experiments []Experiment `json:"experiments"`
	K           int          `json:"k"`
	Acquisition string       `json:"acquisition,omitempty"`
	// Start and StartSize are the start design (see optimizer.Options):
	// while fewer experiments have results, the suggestions come from it.
	// Empty: 2 random points, as before they existed.
	Start     string `json:"start,omitempty"`
	StartSize int    `json:"start_size,omitempty"`
	// Warm warm-starts the surrogate's fit with earlier hyperparameters.
	Warm *optimizer.Hyper `json:"warm,omitempty"`
	// Related are siblings' measurements (see RecallFamily): the
	// surrogate learns this challenge and theirs together.
	Related []RelatedPoint `json:"related,omitempty"`
	Seed    int            `json:"seed"`
}

// DegenerateNote marks a suggestion whose surrogate fit fell back to its
// priors (optimizer.Result.Note).
const DegenerateNote = "surrogate fit degenerate"

// suggestSample is how many points of a continuous space the optimiser
// chooses among.
const suggestSample = 2000

// Suggest runs the Gaussian-process optimiser over the untested pool, or a
// sample of a continuous space (a local activity: it is fast and
// deterministic). Points the lab would refuse are never suggested.
func (s *Catalog) Suggest(_ context.Context, in SuggestInput) ([]agents.Candidate, error) {
	out, _, err := suggest(s.cat, in)
	return out, err
}

// suggest is Suggest, also returning the surrogate's hyperparameters (nil
// when no model was fitted).
func suggest(cat *challenges.Catalog, in SuggestInput) ([]agents.Candidate, *optimizer.Hyper, error) {
	c, err := lookup(cat, in.Challenge)
	if err != nil {
		return nil, nil, err
	}
	measured := map[string]bool{}
	var obs []optimizer.Observation
	for _, e := range in.Experiments {
		if len(e.Values) == 0 {
			continue
		}
		measured[c.Key(e.Point)] = true
		obs = append(obs, optimizer.Observation{X: c.SearchPoint(e.Point), Y: c.SearchScore(e.Values)})
	}
	// The candidates: the untested pool of a pool lab, or a fresh sample of
	// the design space (reproducible from the seed) for an emulator lab.
	var pts []challenges.Point
	if c.Finite() {
		pts = c.Pool().Points
	} else {
		pts = c.Sample(suggestSample, uint64(in.Seed)+uint64(len(in.Experiments)))
	}
	var cands []challenges.Point
	var xs [][]float64
	for _, p := range pts {
		if !measured[c.Key(p)] && c.CheckSafety(p) == nil {
			cands = append(cands, p)
			xs = append(xs, c.SearchPoint(p))
		}
	}
	if len(xs) == 0 {
		return nil, nil, nil
	}
	start, size := in.Start, in.StartSize
	if start == "" {
		start, size = optimizer.StartRandom, 2
	}
	var related []optimizer.Observation
	for _, r := range in.Related {
		if len(r.Values) == len(c.Objectives) && c.CheckPoint(r.Point) == nil {
			related = append(related, optimizer.Observation{X: c.SearchPoint(r.Point), Y: c.SearchScore(r.Values)})
		}
	}
	res, err := optimizer.Run(obs, xs, min(in.K, len(xs)), optimizer.Options{Acquisition: in.Acquisition, Seed: uint64(in.Seed),
		Space: c.SearchSpace(), Start: start, StartSize: size, Warm: in.Warm, Related: related})
	if err != nil {
		return nil, nil, err
	}
	out := make([]agents.Candidate, len(res.Suggestions))
	for i, s := range res.Suggestions {
		var note string
		switch res.Phase {
		case optimizer.PhaseStart:
			note = "(start design: " + start + ")"
		case optimizer.PhaseRandom:
			note = "(random)"
		default:
			note = fmt.Sprintf("(predicted %.3g ± %.2g)", c.UnwarpScore(s.Mean), s.SD)
			if len(c.Primary().Bounds) == 2 && !c.MultiObjective() {
				note = fmt.Sprintf("(predicted %.3g)", c.UnwarpScore(s.Mean)) // the sd is on the warped scale
			}
			if res.Note != "" {
				note += " (" + res.Note + ")"
			}
		}
		out[i] = agents.Candidate{Point: cands[s.Index], Source: "optimizer", Note: note}
	}
	return out, res.Hyper, nil
}

// SafetyInput asks which points of a challenge the lab would refuse.
type SafetyInput struct {
	Challenge string             `json:"challenge"`
	Points    []challenges.Point `json:"points"`
}

// SafetyCheck says, for each point, why the lab would refuse it ("" when
// it would not): the challenge's safety limits (a local activity: fast and
// deterministic for a given catalog).
func (s *Catalog) SafetyCheck(_ context.Context, in SafetyInput) ([]string, error) {
	c, err := lookup(s.cat, in.Challenge)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(in.Points))
	for i, p := range in.Points {
		if err := c.CheckSafety(p); err != nil {
			out[i] = err.Error()
		}
	}
	return out, nil
}

// dropUnsafe removes the candidates the lab would refuse, with an event

// AppraiseInput asks the surrogate to score candidates.
type AppraiseInput struct {
	Challenge   string             `json:"challenge"`
	Experiments []Experiment       `json:"experiments"`
	Related     []RelatedPoint     `json:"related,omitempty"`
	Points      []challenges.Point `json:"points"`
}

// Appraisal is the surrogate's score of each point (expected improvement
// in units of the score the optimiser models, challenges.SearchScore) and
// the best expected improvement
// over the whole untested pool or a sample of the space.
type Appraisal struct {
	EI     []float64 `json:"ei"`
	BestEI float64   `json:"best_ei"`
	// Range is the spread of the scores measured (max − min): the scale
	// the stopping evidence is judged on.
	Range float64 `json:"range"`
	// Judged is false while there are too few measurements to fit a
	// surrogate (the scores are then zero and mean nothing).
	Judged bool `json:"judged"`
}

// Appraise scores points with the optimiser's surrogate (a local activity:
// fast and deterministic). With fewer than two measurements there is no
// model to judge by: the appraisal is not Judged, and nothing is replaced.
func (s *Catalog) Appraise(_ context.Context, in AppraiseInput) (Appraisal, error) {
	out := Appraisal{EI: make([]float64, len(in.Points))}
	c, err := lookup(s.cat, in.Challenge)
	if err != nil {
		return out, err
	}
	var obs []optimizer.Observation
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, e := range in.Experiments {
		if len(e.Values) == 0 {
			continue
		}
		y := c.SearchScore(e.Values)
		lo, hi = math.Min(lo, y), math.Max(hi, y)
		obs = append(obs, optimizer.Observation{X: c.SearchPoint(e.Point), Y: y})
	}
	if len(obs) < 2 {
		return out, nil
	}
	out.Judged, out.Range = true, hi-lo
	var related []optimizer.Observation
	for _, r := range in.Related {
		if len(r.Values) == len(c.Objectives) && c.CheckPoint(r.Point) == nil {
			related = append(related, optimizer.Observation{X: c.SearchPoint(r.Point), Y: c.SearchScore(r.Values)})
		}
	}
	opt := optimizer.Options{Space: c.SearchSpace(), Related: related}
	pts := make([][]float64, len(in.Points))
	for i, p := range in.Points {
		if err := c.CheckPoint(p); err != nil {
			return out, fmt.Errorf("point %d: %w", i, err)
		}
		pts[i] = c.SearchPoint(p)
	}
	// The best EI anywhere: the optimiser's own first choice.
	best, _, err := suggest(s.cat, SuggestInput{Challenge: c.ID, Experiments: in.Experiments, K: 1, Acquisition: optimizer.AcqEI,
		Start: optimizer.StartMedoids, StartSize: 1, Related: in.Related})
	if err != nil {
		return out, err
	}
	if len(best) > 0 {
		pts = append(pts, c.SearchPoint(best[0].Point))
	}
	ap, err := optimizer.Appraise(obs, pts, opt)
	if err != nil {
		return out, err
	}
	for i := range in.Points {
		out.EI[i] = ap[i].EI
	}
	out.BestEI = 0
	if len(best) > 0 {
		out.BestEI = ap[len(ap)-1].EI
	}
	for _, v := range out.EI {
		out.BestEI = math.Max(out.BestEI, v)
	}
	return out, nil
}
