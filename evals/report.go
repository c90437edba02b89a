package evals

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"html"
	"image/color"
	"iter"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/evals/metrics"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// Num is a float that encodes NaN and ±Inf as JSON null.
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	err := json.Unmarshal(b, &f)
	*n = Num(f)
	return err
}

// Summary aggregates the runs of one (challenge, strategy).
type Summary struct {
	Challenge string `json:"challenge"`
	Strategy  string `json:"strategy"`
	Seeds     int    `json:"seeds"`
	Budget    int    `json:"budget"`
	// Finite is true for pool challenges; PoolSize and TopSize define Top%.
	Finite   bool `json:"finite"`
	PoolSize int  `json:"pool_size"`
	TopSize  int  `json:"top_size"`
	// UsesSimulations says whether the strategy ran simulations (which
	// count in the cost-based metrics at the challenge's price).
	UsesSimulations bool `json:"uses_simulations"`
	// Scalarization describes how several objectives are combined.
	Scalarization string `json:"scalarization,omitempty"`

	// Per lab experiment, at the budget.
	TopFrac Num            `json:"top_frac"`
	EF      Num            `json:"ef"`
	EFAt    map[string]Num `json:"ef_at"`
	AF      Num            `json:"af"`
	// NFirstTop is the median number of experiments to the first top-set hit.
	NFirstTop Num `json:"n_first_top"`
	// TopHitsMedian is the median number of top-set members found (pool
	// challenges) or of experiments beating the top-5 % threshold
	// (emulator challenges) at the budget.
	TopHitsMedian Num `json:"top_hits_median"`
	// BestTrueMedian is the median over seeds of the best primary value
	// found, on the truth of the points measured (the pool value, or the
	// emulator's noise-free value); BestMeasuredMedian the same for the
	// best measurement, which noise biases upwards.
	BestTrueMedian     Num `json:"best_true_median"`
	BestMeasuredMedian Num `json:"best_measured_median"`
	// RegretMedian is the median normalised simple regret at the budget,
	// on the truth; RegretMeasuredMedian on the measurements.
	RegretMedian         Num `json:"regret_median"`
	RegretMeasuredMedian Num `json:"regret_measured_median"`
	// HypervolumeMedian is the median hypervolume of the truth of a run's
	// points (2–3 objectives, each min–max normalised over the data and
	// oriented to maximise, reference point at the worst corner).
	HypervolumeMedian Num `json:"hypervolume_median,omitempty"`
	// RunsOnMeasurements counts runs recorded before runs were scored on
	// the truth whose points could not be recovered: their best and regret
	// are on their measurements.
	RunsOnMeasurements int `json:"runs_scored_on_measurements,omitempty"`

	// Per lab round (experiments chosen together and run at once: what
	// wall-clock time goes by): the median rounds a run took, and Top%
	// after RoundPoints rounds (pool challenges).
	RoundsMedian    Num            `json:"rounds_median"`
	TopFracAtRounds map[string]Num `json:"top_frac_at_rounds,omitempty"`

	// Per total cost (lab runs + simulations × their price) = the budget:
	// the headline comparison, so simulations are not free.
	TopFracCost      Num `json:"top_frac_cost"`
	RegretCostMedian Num `json:"regret_cost_median"`

	TokensMedian        Num `json:"tokens_median"`
	TokensPerExperiment Num `json:"tokens_per_experiment"`
	WallSMedian         Num `json:"wall_s_median"`
	WallSPerExperiment  Num `json:"wall_s_per_experiment"`
}

// Report is report.json.
type Report struct {
	Generated time.Time `json:"generated"`
	Spec      Spec      `json:"spec"`
	// Incomplete is set when the eval stopped before every run finished.
	Incomplete *Incomplete `json:"incomplete,omitempty"`
	// Notes say what a reader must know to trust the figures.
	Notes     []string  `json:"notes,omitempty"`
	Summaries []Summary `json:"summaries"`
	// Transfer compares a family sequence's transfer runs with its cold
	// starts (--sequence).
	Transfer []TransferGain `json:"transfer,omitempty"`
	Runs     []Run          `json:"runs"`
}

// Incomplete describes an eval that stopped early.
type Incomplete struct {
	Finished int    `json:"finished"`
	Planned  int    `json:"planned"`
	Reason   string `json:"reason"`
	// Resume is the command that resumes the eval.
	Resume string `json:"resume"`
}

// EFPoints are the experiment counts at which EF is reported besides the budget.
var EFPoints = []int{10, 30, 50}

// RoundPoints are the lab rounds after which Top% is reported.
var RoundPoints = []int{5, 10, 20}

// Summarize aggregates runs per (challenge, strategy).
func Summarize(cat *challenges.Catalog, spec Spec, runs []Run) []Summary {
	keys, by := group(spec, runs)
	var out []Summary
	for _, k := range keys {
		c, err := cat.Get(k[0])
		if err != nil {
			continue
		}
		out = append(out, summarizeGroup(c, k[1], by[k]))
	}
	return out
}

// runFigures are the per-run figures of one challenge and strategy, the
// samples a Summary's medians are taken over.
type runFigures struct {
	traces, costTraces [][]metrics.Point
	budget             int
	usesSims           bool
	onMeas             int
	first, best, bestMeas, regret, regretMeas, regretCost,
	tokens, wall, hv, tpe, wpe, hits, rounds []float64
}

func figuresOf(c *challenges.Challenge, rs []Run) runFigures {
	f := runFigures{traces: make([][]metrics.Point, len(rs)), costTraces: make([][]metrics.Point, len(rs))}
	bestScore, scoreRange := scoreScale(c)
	for i, r := range rs {
		f.traces[i] = r.Trace
		f.budget = max(f.budget, r.Budget)
		f.usesSims = f.usesSims || r.Simulations > 0
		f.costTraces[i] = withinCost(r.Trace, float64(r.Budget))
		f.first = append(f.first, metrics.FirstTop(r.Trace))
		if r.ScoredOn == ScoredOnMeasured {
			f.onMeas++
		}
		if n := len(r.Trace); n > 0 {
			f.best = append(f.best, r.Trace[n-1].BestTrue)
			f.bestMeas = append(f.bestMeas, r.Trace[n-1].BestMeasured)
			f.hits = append(f.hits, float64(r.Trace[n-1].TopFound))
			if r.Trace[n-1].Round > 0 {
				f.rounds = append(f.rounds, float64(r.Trace[n-1].Round))
			}
			f.tpe = append(f.tpe, float64(r.Tokens)/float64(n))
			f.wpe = append(f.wpe, r.WallS/float64(n))
		}
		f.regret = append(f.regret, metrics.Regret(r.Trace, r.Budget, bestScore, scoreRange))
		f.regretMeas = append(f.regretMeas, metrics.RegretMeasured(r.Trace, r.Budget, bestScore, scoreRange))
		f.regretCost = append(f.regretCost, metrics.Regret(f.costTraces[i], r.Budget, bestScore, scoreRange))
		f.tokens = append(f.tokens, float64(r.Tokens))
		f.wall = append(f.wall, r.WallS)
		if d := len(c.Objectives); d == 2 || d == 3 {
			f.hv = append(f.hv, runHypervolume(c, r.Trace))
		}
	}
	return f
}

// summarizeGroup is the Summary of one challenge and strategy's runs.
func summarizeGroup(c *challenges.Challenge, strategy string, rs []Run) Summary {
	f := figuresOf(c, rs)
	budget, top := f.budget, len(c.TopSet())
	s := Summary{Challenge: c.ID, Strategy: strategy, Seeds: len(rs), Budget: budget, Finite: c.Finite(), PoolSize: c.Pool().Len(),
		TopSize: top, UsesSimulations: f.usesSims, EFAt: map[string]Num{},
		TopFrac: Num(metrics.MeanTopFrac(f.traces, budget, top)), TopFracCost: Num(metrics.MeanTopFrac(f.costTraces, budget, top)),
		NFirstTop: Num(metrics.Median(f.first)), TopHitsMedian: Num(metrics.Median(f.hits)), BestTrueMedian: Num(metrics.Median(f.best)), BestMeasuredMedian: Num(metrics.Median(f.bestMeas)),
		RegretMedian: Num(metrics.Median(f.regret)), RegretMeasuredMedian: Num(metrics.Median(f.regretMeas)), RunsOnMeasurements: f.onMeas,
		RegretCostMedian: Num(metrics.Median(f.regretCost)), TokensMedian: Num(metrics.Median(f.tokens)), WallSMedian: Num(metrics.Median(f.wall)),
		TokensPerExperiment: Num(metrics.Median(f.tpe)), WallSPerExperiment: Num(metrics.Median(f.wpe)), HypervolumeMedian: Num(math.NaN()),
		RoundsMedian: Num(math.NaN())}
	if len(f.rounds) == len(rs) {
		s.RoundsMedian = Num(metrics.Median(f.rounds))
	}
	if c.MultiObjective() {
		var parts []string
		for k, o := range c.Objectives {
			parts = append(parts, fmt.Sprintf("%.2f·%s(%s)", c.Scalarizer().Weights[k], o.Name, o.Direction[:3]))
		}
		s.Scalarization = "weighted sum of min–max normalised objectives: " + strings.Join(parts, " + ")
		if len(f.hv) > 0 {
			s.HypervolumeMedian = Num(metrics.Median(f.hv))
		}
	}
	// EF and AF compare with random's expected n/N, which is defined
	// for a finite pool only.
	s.EF, s.AF = Num(math.NaN()), Num(math.NaN())
	if c.Finite() {
		s.poolFactors(c, f, len(f.rounds) == len(rs))
	}
	return s
}

// poolFactors fills the enhancement and acceleration factors of a pool
// challenge, and Top% after so many rounds when every run counted rounds.
func (s *Summary) poolFactors(c *challenges.Challenge, f runFigures, allRounds bool) {
	budget, top, n := s.Budget, s.TopSize, c.Pool().Len()
	s.EF = Num(metrics.EF(f.traces, budget, top, n))
	s.AF = Num(metrics.AF(f.traces, 0.5, top, n, budget))
	for _, at := range EFPoints {
		if at <= budget {
			s.EFAt[fmt.Sprint(at)] = Num(metrics.EF(f.traces, at, top, n))
		}
	}
	if !allRounds {
		return
	}
	s.TopFracAtRounds = map[string]Num{}
	for _, r := range RoundPoints {
		if float64(r) <= metrics.Median(f.rounds) {
			var sum float64
			for _, tr := range f.traces {
				sum += metrics.TopFracRounds(tr, r, top)
			}
			s.TopFracAtRounds[fmt.Sprint(r)] = Num(sum / float64(len(f.traces)))
		}
	}
}

// withinCost keeps the trace points whose total cost is within budget,
// renumbered so that Top%/regret "at n = budget" read as "at that cost".
func withinCost(trace []metrics.Point, budget float64) []metrics.Point {
	var out []metrics.Point
	for _, p := range trace {
		if p.Cost <= budget+1e-9 {
			out = append(out, p)
		}
	}
	return out
}

// scoreScale is the best measured score and the measured scores' range.
func scoreScale(c *challenges.Challenge) (best, rng float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range c.Pool().Values {
		s := c.Score(v)
		lo, hi = math.Min(lo, s), math.Max(hi, s)
	}
	return hi, hi - lo
}

// runHypervolume is the hypervolume of the truth of a run's points (the
// measurements of a run recorded before truth scoring) in the normalised,
// oriented objective space (reference at the origin = the measured worst
// of every objective).
func runHypervolume(c *challenges.Challenge, trace []metrics.Point) float64 {
	p := c.Pool()
	var pts [][]float64
	for _, t := range trace {
		vals := t.TrueValues
		if len(vals) == 0 {
			vals = t.Values
		}
		if len(vals) != len(c.Objectives) {
			continue
		}
		x := make([]float64, len(vals))
		for k, v := range vals {
			x[k] = (v - p.Low[k]) / p.Range[k]
			if c.Objectives[k].Direction == challenges.Minimize {
				x[k] = 1 - x[k]
			}
		}
		pts = append(pts, x)
	}
	return metrics.Hypervolume(pts, make([]float64, len(c.Objectives)))
}

// WriteReports writes report.json, report.md and report.html of the runs
// into dir.
func WriteReports(dir string, cat *challenges.Catalog, spec Spec, runs []Run) (Report, error) {
	rep := NewReport(cat, spec, runs)
	return rep, rep.Write(dir, cat)
}

// NewReport summarises the runs.
func NewReport(cat *challenges.Catalog, spec Spec, runs []Run) Report {
	rep := Report{Generated: time.Now().UTC(), Spec: spec, Summaries: Summarize(cat, spec, runs), Transfer: transferGains(cat, spec, runs), Runs: runs}
	var onMeas []string
	rescored := 0
	for _, r := range runs {
		if r.ScoredOn == ScoredOnMeasured {
			onMeas = append(onMeas, strings.TrimSuffix(job{challenge: r.Challenge, strategy: r.Strategy, seed: r.Seed, transfer: r.Transfer}.file(), ".json"))
		}
		if r.Rescored {
			rescored++
		}
	}
	if len(onMeas) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d runs were recorded by an older genesis, without the points they measured, and their campaigns' results are no longer on the Temporal server: "+
			"their best and regret are on the noisy measurements, not the truth (%s). Delete their files in runs/ and run the same command again to redo them.", len(onMeas), strings.Join(onMeas, ", ")))
	}
	if rescored > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d runs were recorded by an older genesis without the points they measured; the truth was added from their campaigns' results on the Temporal server.", rescored))
	}
	return rep
}

// Write writes report.json, report.md and report.html into dir.
func (rep Report) Write(dir string, cat *challenges.Catalog) error {
	b, err := json.MarshalIndent(rep, "", " ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "report.json"), b); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "report.md"), []byte(markdown(cat, rep))); err != nil {
		return err
	}
	h, err := htmlReport(cat, rep)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "report.html"), []byte(h))
}

func f(n Num, digits int) string {
	v := float64(n)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.*f", digits, v)
}

func g(n Num) string {
	v := float64(n)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.4g", v)
}

// tableRows renders the per-strategy rows of one challenge.
func tableHeader(finite bool) []string {
	if finite {
		return []string{"strategy", "seeds", "Top% @budget", "Top% @cost", "EF @budget", "EF @10/30/50", "AF @0.5", "n first top", "best true (measured)", "regret @budget", "regret @cost", "rounds", "Top% @5/10/20 rounds", "sims", "tokens/exp", "s/exp"}
	}
	return []string{"strategy", "seeds", "top-threshold hits (median)", "regret @budget", "regret @cost", "n first top", "best true (measured)", "rounds", "sims", "tokens/exp", "s/exp"}
}

func tableRow(s Summary) []string {
	efs := make([]string, 0, 3)
	for _, n := range EFPoints {
		if v, ok := s.EFAt[fmt.Sprint(n)]; ok {
			efs = append(efs, f(v, 1))
		}
	}
	sims := "no"
	if s.UsesSimulations {
		sims = "yes"
	}
	var tfr []string
	for _, r := range RoundPoints {
		if v, ok := s.TopFracAtRounds[fmt.Sprint(r)]; ok {
			tfr = append(tfr, f(v, 3))
		}
	}
	if s.Finite {
		return []string{s.Strategy, fmt.Sprint(s.Seeds), f(s.TopFrac, 3), f(s.TopFracCost, 3), f(s.EF, 2), strings.Join(efs, " / "), f(s.AF, 2),
			f(s.NFirstTop, 1), bestText(s), f(s.RegretMedian, 3), f(s.RegretCostMedian, 3), f(s.RoundsMedian, 0), cmp.Or(strings.Join(tfr, " / "), "–"), sims, f(s.TokensPerExperiment, 0), f(s.WallSPerExperiment, 2)}
	}
	return []string{s.Strategy, fmt.Sprint(s.Seeds), f(s.TopHitsMedian, 1), f(s.RegretMedian, 3), f(s.RegretCostMedian, 3),
		f(s.NFirstTop, 1), bestText(s), f(s.RoundsMedian, 0), sims, f(s.TokensPerExperiment, 0), f(s.WallSPerExperiment, 2)}
}

// bestText is the median best on the truth with the measured one beside
// it, and a mark when some runs could only be scored on measurements.
func bestText(s Summary) string {
	t := g(s.BestTrueMedian) + " (" + g(s.BestMeasuredMedian) + ")"
	if s.RunsOnMeasurements > 0 {
		t += fmt.Sprintf(" [%d of %d runs on measurements]", s.RunsOnMeasurements, s.Seeds)
	}
	return t
}

func markdown(cat *challenges.Catalog, rep Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Genesis eval\n\nGenerated %s. Strategies: %s. Model: `%s`. Seeds: %d. Budget: %s lab experiments.\n\n",
		rep.Generated.Format(time.RFC3339), strings.Join(rep.Spec.Strategies, ", "), modelText(rep.Spec.Model), rep.Spec.Seeds, budgetText(rep.Spec.Budget))
	if inc := rep.Incomplete; inc != nil {
		fmt.Fprintf(&b, "**Incomplete: %d of %d runs finished** (%s). Resume with:\n\n    %s\n\n", inc.Finished, inc.Planned, inc.Reason, inc.Resume)
	}
	for _, n := range rep.Notes {
		b.WriteString("**Note:** " + n + "\n\n")
	}
	b.WriteString(metricsLegend)
	b.WriteString(transferMarkdown(rep))
	for c, rows := range rep.sections(cat) {
		fmt.Fprintf(&b, "\n## %s — %s\n\n", c.ID, c.Title)
		fmt.Fprintf(&b, "%s; top set: %d of %d measured points (threshold %.4g).", challengeLine(c), rows[0].TopSize, rows[0].PoolSize, c.Threshold())
		if rows[0].Scalarization != "" {
			fmt.Fprintf(&b, " Optimised score: %s.", rows[0].Scalarization)
		}
		b.WriteString("\n\n")
		hdr := tableHeader(c.Finite())
		if c.MultiObjective() && len(c.Objectives) <= 3 {
			hdr = append(hdr, "hypervolume")
		}
		b.WriteString("| " + strings.Join(hdr, " | ") + " |\n|" + strings.Repeat("---|", len(hdr)) + "\n")
		for _, s := range rows {
			row := tableRow(s)
			if c.MultiObjective() && len(c.Objectives) <= 3 {
				row = append(row, f(s.HypervolumeMedian, 3))
			}
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		}
	}
	return b.String()
}

const metricsLegend = `Metrics (Liang et al., npj Comput. Mater. 7, 188, 2021): **Top%** is the fraction of the top set (the best 5 % of
the measured points) found, averaged over seeds; random search finds n/N in expectation. **EF** = Top% / (n/N);
**AF** = experiments random needs to reach Top% 0.5 over those the strategy needs. "@cost" counts simulations at the
challenge's price in lab runs and cuts each run at a total cost equal to the budget — the fair, headline comparison.
**regret** is (dataset best − best found) / range of the measured scores. **best** and **regret** are on the truth of
the points measured — the pool value, or the emulator's noise-free value — not on the noisy measurements, whose best
flatters (the winner's curse); the best measured value is shown in brackets. Emulator (continuous) challenges have no
finite pool: a "top hit" is an experiment whose noise-free value beats the measured top-5 % threshold. **rounds** are
lab rounds — experiments chosen together and run at once, what wall-clock time goes by — and "Top% @5/10/20 rounds"
reads the table per batch instead of per experiment.
`

func modelText(m string) string {
	if m == "" {
		return "none (no agent strategy)"
	}
	return m
}

func budgetText(b int) string {
	if b == 0 {
		return "each challenge's own"
	}
	return fmt.Sprint(b)
}

func challengeLine(c *challenges.Challenge) string {
	var objs []string
	for _, o := range c.Objectives {
		objs = append(objs, o.Direction+" "+o.Name)
	}
	space := "pool-based"
	if !c.Finite() {
		space = "continuous space, " + c.Lab.Kind + " emulator lab"
	}
	return strings.Join(objs, ", ") + "; " + space
}

// curve is a per-n band over seeds.
type curve struct {
	n             []float64
	med, lo, hi   []float64
	strategy      string
	strategyIndex int
}

func curves(rs []Run, maxN int, value func(Run, int) float64) curve {
	var cv curve
	for n := 1; n <= maxN; n++ {
		var xs []float64
		for _, r := range rs {
			xs = append(xs, value(r, n))
		}
		cv.n = append(cv.n, float64(n))
		cv.med = append(cv.med, metrics.Median(xs))
		cv.lo = append(cv.lo, metrics.Quantile(xs, 0.05))
		cv.hi = append(cv.hi, metrics.Quantile(xs, 0.95))
	}
	return cv
}

var palette = []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255}}

// plotSVG draws median lines with 5–95 % bands, one per strategy.
func plotSVG(title, ylabel string, cvs []curve) (string, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "lab experiments"
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Legend.Left = true
	for _, cv := range cvs {
		col := palette[cv.strategyIndex%len(palette)]
		band := make(plotter.XYs, 0, 2*len(cv.n))
		for i := range cv.n {
			if !math.IsNaN(cv.lo[i]) {
				band = append(band, plotter.XY{X: cv.n[i], Y: cv.lo[i]})
			}
		}
		for i := len(cv.n) - 1; i >= 0; i-- {
			if !math.IsNaN(cv.hi[i]) {
				band = append(band, plotter.XY{X: cv.n[i], Y: cv.hi[i]})
			}
		}
		if len(band) > 2 {
			poly, err := plotter.NewPolygon(band)
			if err != nil {
				return "", err
			}
			// color.RGBA is premultiplied: a translucent fill must be NRGBA.
			poly.Color = color.NRGBA{R: col.R, G: col.G, B: col.B, A: 45}
			poly.LineStyle.Width = 0
			p.Add(poly)
		}
		line := make(plotter.XYs, 0, len(cv.n))
		for i := range cv.n {
			if !math.IsNaN(cv.med[i]) {
				line = append(line, plotter.XY{X: cv.n[i], Y: cv.med[i]})
			}
		}
		if len(line) > 0 {
			l, err := plotter.NewLine(line)
			if err != nil {
				return "", err
			}
			l.Color = col
			l.Width = vg.Points(1.8)
			p.Add(l)
			p.Legend.Add(cv.strategy, l)
		}
	}
	c := vgsvg.New(5.2*vg.Inch, 3.2*vg.Inch)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", err
	}
	svg := buf.String()
	if i := strings.Index(svg, "<svg"); i > 0 {
		svg = svg[i:] // drop the XML prolog to embed inline
	}
	return svg, nil
}

func htmlReport(cat *challenges.Catalog, rep Report) (string, error) {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>Genesis eval</title><style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}table{border-collapse:collapse;margin:.5em 0 1em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:1em}.note{color:#555;font-size:.9em}.warn{background:#fff4d6;padding:.5em}</style></head><body>`)
	fmt.Fprintf(&b, "<h1>Genesis eval</h1><p>Generated %s. Strategies: %s. Model: <code>%s</code>. Seeds: %d. Budget: %s lab experiments.</p>",
		rep.Generated.Format(time.RFC3339), html.EscapeString(strings.Join(rep.Spec.Strategies, ", ")), html.EscapeString(modelText(rep.Spec.Model)), rep.Spec.Seeds, budgetText(rep.Spec.Budget))
	if inc := rep.Incomplete; inc != nil {
		fmt.Fprintf(&b, "<p class=warn><b>Incomplete: %d of %d runs finished</b> (%s). Resume with: <code>%s</code></p>", inc.Finished, inc.Planned,
			html.EscapeString(inc.Reason), html.EscapeString(inc.Resume))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "<p class=warn><b>Note:</b> %s</p>", html.EscapeString(n))
	}
	fmt.Fprintf(&b, "<p class=note>%s</p>", html.EscapeString(strings.ReplaceAll(metricsLegend, "**", "")))
	_, by := group(rep.Spec, rep.Runs)
	for c, rows := range rep.sections(cat) {
		fmt.Fprintf(&b, "<h2>%s — %s</h2><p>%s; top set: %d of %d measured points (threshold %.4g).</p>", html.EscapeString(c.ID), html.EscapeString(c.Title),
			html.EscapeString(challengeLine(c)), rows[0].TopSize, rows[0].PoolSize, c.Threshold())
		b.WriteString("<table><tr>")
		for _, h := range tableHeader(c.Finite()) {
			fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(h))
		}
		b.WriteString("</tr>")
		for _, s := range rows {
			b.WriteString("<tr>")
			for _, v := range tableRow(s) {
				fmt.Fprintf(&b, "<td>%s</td>", html.EscapeString(v))
			}
			b.WriteString("</tr>")
		}
		b.WriteString("</table><div class=plots>")
		bestScore, rng := scoreScale(c)
		var bestCvs, topCvs []curve
		for _, s := range rows {
			rs := by[[2]string{s.Challenge, s.Strategy}]
			si := slices.Index(campaign.Strategies, strings.TrimSuffix(s.Strategy, TransferSuffix))
			if strings.HasSuffix(s.Strategy, TransferSuffix) {
				si += len(campaign.Strategies) // its own colour
			}
			cb := curves(rs, s.Budget, func(r Run, n int) float64 { return 1 - metrics.Regret(r.Trace, n, bestScore, rng) })
			cb.strategy, cb.strategyIndex = s.Strategy, si
			bestCvs = append(bestCvs, cb)
			ct := curves(rs, s.Budget, func(r Run, n int) float64 { return metrics.TopFrac(r.Trace, n, s.TopSize) })
			ct.strategy, ct.strategyIndex = s.Strategy, si
			topCvs = append(topCvs, ct)
		}
		svg, err := plotSVG("best so far (1 = dataset best)", "normalised best", bestCvs)
		if err != nil {
			return "", err
		}
		b.WriteString(svg)
		ylabel := "Top% (top set found)"
		if !c.Finite() {
			ylabel = "top hits / top-set size"
		}
		if svg, err = plotSVG("Top% vs experiments (median, 5–95 % band)", ylabel, topCvs); err != nil {
			return "", err
		}
		b.WriteString(svg)
		b.WriteString("</div>")
	}
	b.WriteString("</body></html>\n")
	return b.String(), nil
}

// sections yields, in the spec's order, each challenge that has
// summaries with its summaries: the sections of a report.
func (rep Report) sections(cat *challenges.Catalog) iter.Seq2[*challenges.Challenge, []Summary] {
	return func(yield func(*challenges.Challenge, []Summary) bool) {
		for _, id := range rep.Spec.Challenges {
			c, err := cat.Get(id)
			if err != nil {
				continue
			}
			rows := rep.summariesOf(id)
			if len(rows) == 0 {
				continue
			}
			if !yield(c, rows) {
				return
			}
		}
	}
}

// summariesOf returns the summaries of one challenge, in strategy order.
func (rep Report) summariesOf(challenge string) []Summary {
	var rows []Summary
	for _, s := range rep.Summaries {
		if s.Challenge == challenge {
			rows = append(rows, s)
		}
	}
	return rows
}

// LoadReport reads a report.json.
func LoadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
