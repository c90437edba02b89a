package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/evals/metrics"
	"github.com/genesis-sci/genesis/evals/search"
	"github.com/genesis-sci/genesis/optimizer"
)

func benchCmd(cfg *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks that print figures (search quality and speed)",
	}
	c.AddCommand(benchSearchCmd(cfg))
	return c
}

// searchConfigs are the optimiser configurations genesis bench search knows.
var searchConfigs = []string{"bo", "bo-ei", "bo-ucb", "bo-nodesc", "bo-select", "bo-onehot", "random"}

// searchConfig builds a named configuration with the command's settings.
func searchConfig(name, acq string, init optimizerInit, batch int) (search.Config, error) {
	sc := search.Config{Name: name, Batch: batch, Start: init.Start, StartSize: init.Size}
	switch name {
	case "bo":
		sc.Options.Acquisition = acq
	case "bo-ei":
		sc.Options.Acquisition = optimizer.AcqEI
	case "bo-ucb":
		sc.Options.Acquisition = optimizer.AcqUCB
	case "bo-nodesc":
		sc.Options.Acquisition = acq
		sc.NoDescriptors = true
	case "bo-select":
		sc.Options.Acquisition = acq
		sc.Options.Descriptors = optimizer.DescriptorsSelect
	case "bo-onehot":
		// The optimiser before the mixed-space surrogate, as the bo
		// strategy ran it: one-hot GP, UCB κ = 2 after 2 random points.
		sc = search.Config{Name: name, Batch: batch, Start: optimizer.StartRandom, StartSize: 2,
			Options: optimizer.Options{Surrogate: optimizer.SurrogateOneHot, Acquisition: optimizer.AcqUCB}}
	case "random":
		sc.Options.Acquisition = optimizer.AcqRandom
	default:
		return sc, fmt.Errorf("unknown configuration %q (want one of %s)", name, strings.Join(searchConfigs, ", "))
	}
	return sc, nil
}

// optimizerInit is a parsed --init (see optimizer.ParseStart).
type optimizerInit struct {
	Start string
	Size  int
}

func parseInit(s string) (optimizerInit, error) {
	start, size, err := optimizer.ParseStart(s)
	if err != nil {
		return optimizerInit{}, fmt.Errorf("--init: %w", err)
	}
	return optimizerInit{Start: start, Size: size}, nil
}

// benchChallenges resolves --challenges: IDs, or the sets pools (every pool
// challenge), categorical (pool challenges with a categorical parameter)
// or all.
func benchChallenges(cat *challenges.Catalog, list string) ([]*challenges.Challenge, error) {
	var out []*challenges.Challenge
	for _, id := range splitList(list) {
		switch id {
		case "all", "pools", "categorical":
			for _, c := range cat.All() {
				if id != "all" && !c.Finite() {
					continue
				}
				if id == "categorical" && !slices.ContainsFunc(c.Parameters, func(p challenges.Parameter) bool { return p.Kind == challenges.Categorical }) {
					continue
				}
				out = append(out, c)
			}
		default:
			c, err := cat.Get(id)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--challenges selects no challenge")
	}
	return out, nil
}

// benchRow is one challenge × configuration of genesis bench search.
type benchRow struct {
	Challenge string `json:"challenge"`
	Config    string `json:"config"`
	Finite    bool   `json:"finite"`
	Seeds     int    `json:"seeds"`
	// At maps n to the mean Top%(n), the share of seeds that found a
	// top-5 % point by n, and the mean best (noise-free) score by n.
	At map[int]benchAt `json:"at"`
	// Rounds maps a number of batches to Top% after them (batch > 1).
	Rounds         map[int]float64 `json:"rounds,omitempty"`
	MsPerSuggest   float64         `json:"ms_per_suggestion"`
	DegenerateFits int             `json:"degenerate_fits,omitempty"`
	Picks          [][]int         `json:"-"`
}

type benchAt struct {
	TopFrac  float64 `json:"top_frac"`
	PTop     float64 `json:"p_top"`
	BestMean float64 `json:"best_mean"`
}

func summarise(c *challenges.Challenge, name string, traces [][]metrics.Point, budget, batch, start int) benchRow {
	row := benchRow{Challenge: c.ID, Config: name, Finite: c.Finite(), Seeds: len(traces), At: map[int]benchAt{}}
	top := len(c.TopSet())
	for _, n := range []int{5, 10, 20, 30, 50, 100} {
		if n > budget {
			continue
		}
		var at benchAt
		for _, tr := range traces {
			if metrics.TopFrac(tr, n, top) > 0 {
				at.PTop++
			}
			at.BestMean += metrics.BestAt(tr, n)
		}
		at.PTop /= float64(len(traces))
		at.BestMean /= float64(len(traces))
		at.TopFrac = metrics.MeanTopFrac(traces, n, top)
		row.At[n] = at
	}
	if batch > 1 {
		row.Rounds = map[int]float64{}
		for r := 1; ; r++ {
			// The start design is one round; then batch experiments per round.
			n := start + (r-1)*batch
			if n > budget {
				break
			}
			row.Rounds[r] = metrics.MeanTopFrac(traces, n, top)
		}
	}
	return row
}

// benchSearchOptions are genesis bench search's flags.
type benchSearchOptions struct {
	chList, cfgList, acq, initS, exportF, picksF, jsonF string
	seeds, budget, batch, parallel                      int
	noisy                                               bool
}

func benchSearchCmd(cfg *globals) *cobra.Command {
	var o benchSearchOptions
	c := &cobra.Command{
		Use:   "search",
		Short: "Search quality and speed of the optimiser on the catalog's pools, side by side with references",
		Long: `Runs the optimiser alone (no workflows, no lab service) on each challenge for every seed and
prints, per challenge and configuration: the mean fraction of the top 5 % found (Top%) after n
experiments, the share of seeds that found at least one top-5 % point (P(top)), the mean best
noise-free score, and the optimiser's CPU time per suggestion. Scores are on the truth (the pool's
values), never on noisy measurements. genesis eval measures the same through real campaigns.

Configurations:
  bo         the bo strategy's optimiser: mixed-space GP with priors, --acquisition, --init, --batch
  bo-ei      the same with expected improvement (q-EI for batches)
  bo-ucb     the same with UCB (GP-BUCB for batches)
  bo-nodesc  bo without the challenges' descriptor tables
  bo-select  bo choosing, at every fit, with the descriptor tables or without, by the evidence
  bo-onehot  the optimiser before the mixed-space GP (one-hot categoricals, no priors, UCB,
             2 random start points): the baseline the new one is judged against
  random     uniform over the untested pool

Reference optimisers outside Genesis (BoTorch) are compared on the same pools, seeds and starts:
--export writes the pools and each seed's start points, evals/reference/botorch.sh runs BoTorch on
them, and --picks scores what it picked beside the configurations above.`,
		Example: `  genesis bench search --challenges categorical --configs random,bo-onehot,bo --seeds 50 --budget 20
  genesis bench search --challenges crossed-barrel-toughness --configs bo-ei,bo-ucb --init random:2 --budget 50
  genesis bench search --challenges categorical --export pools.json --seeds 20 --budget 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := cfg.catalog()
			if err != nil {
				return err
			}
			chs, err := benchChallenges(cat, o.chList)
			if err != nil {
				return err
			}
			cfgs, err := o.configs()
			if err != nil {
				return err
			}
			if o.exportF != "" {
				return exportPools(cmd.ErrOrStderr(), o.exportF, chs, cfgs, o.seeds, o.budget, o.batch)
			}
			var picks *referencePicks
			if o.picksF != "" {
				if picks, err = readPicks(o.picksF, o.budget); err != nil {
					return err
				}
			}
			clock := wallClock()
			var rows []benchRow
			w := cmd.OutOrStdout()
			for _, ch := range chs {
				for _, sc := range cfgs {
					row, err := o.simulate(w, cmd.ErrOrStderr(), ch, sc, clock)
					if err != nil {
						return err
					}
					rows = append(rows, row)
				}
				if picks != nil {
					refs, err := o.scorePicks(w, ch, picks)
					if err != nil {
						return err
					}
					rows = append(rows, refs...)
				}
			}
			return o.writeJSON(rows)
		},
	}
	o.flags(c.Flags())
	return c
}

// configs checks the run settings and makes the configurations named.
func (o *benchSearchOptions) configs() ([]search.Config, error) {
	if o.seeds < 1 || o.budget < 2 || o.batch < 1 {
		return nil, fmt.Errorf("--seeds (%d) must be ≥ 1, --budget (%d) ≥ 2 and --batch (%d) ≥ 1", o.seeds, o.budget, o.batch)
	}
	init, err := parseInit(o.initS)
	if err != nil {
		return nil, err
	}
	var cfgs []search.Config
	for _, n := range splitList(o.cfgList) {
		sc, err := searchConfig(n, o.acq, init, o.batch)
		if err != nil {
			return nil, err
		}
		sc.Noisy = o.noisy
		cfgs = append(cfgs, sc)
	}
	return cfgs, nil
}

// simulate runs every seed of one configuration on ch and prints the sum;
// how long it took goes to stderr.
func (o *benchSearchOptions) simulate(w, stderr io.Writer, ch *challenges.Challenge, sc search.Config, clock func() float64) (benchRow, error) {
	t0 := time.Now()
	runs, err := search.SimulateSeeds(ch, sc, o.budget, o.seeds, o.parallel, clock)
	if err != nil {
		return benchRow{}, err
	}
	traces, secs, deg := search.Gather(runs)
	start := sc.StartSize
	if start == 0 {
		start = optimizer.StartSizeFor(len(ch.Parameters), o.budget)
	}
	row := summarise(ch, sc.Name, traces, o.budget, o.batch, start)
	row.DegenerateFits = deg
	row.MsPerSuggest = 1000 * secs / float64(max(1, suggestions(runs, start, o.batch)))
	printBenchRow(w, row, o.budget)
	fmt.Fprintf(stderr, "  (%s %s: %d seeds in %s)\n", ch.ID, sc.Name, o.seeds, time.Since(t0).Round(time.Millisecond))
	return row, nil
}

// scorePicks scores and prints a reference optimiser's picks on ch.
func (o *benchSearchOptions) scorePicks(w io.Writer, ch *challenges.Challenge, picks *referencePicks) ([]benchRow, error) {
	var rows []benchRow
	for _, name := range picks.configs(ch.ID) {
		var traces [][]metrics.Point
		var secs float64
		for _, r := range picks.runs(ch.ID, name) {
			tr, err := search.ScorePicks(ch, r.Picks)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", o.picksF, err)
			}
			traces = append(traces, tr)
			secs += r.Seconds
		}
		row := summarise(ch, name, traces, o.budget, picks.Batch, 0)
		row.MsPerSuggest = 1000 * secs / float64(max(1, len(traces)*(o.budget-2)))
		rows = append(rows, row)
		printBenchRow(w, row, o.budget)
	}
	return rows, nil
}

// writeJSON writes the figures to --json, when given.
func (o *benchSearchOptions) writeJSON(rows []benchRow) error {
	if o.jsonF == "" {
		return nil
	}
	b, err := json.MarshalIndent(map[string]any{"seeds": o.seeds, "budget": o.budget, "batch": o.batch, "init": o.initS,
		"acquisition": o.acq, "noisy": o.noisy, "rows": rows}, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(o.jsonF, b)
}

func (o *benchSearchOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.chList, "challenges", "pools", "challenge IDs, comma-separated, or pools, categorical, all")
	f.StringVar(&o.cfgList, "configs", "random,bo-onehot,bo", "configurations, comma-separated: "+strings.Join(searchConfigs, ", "))
	f.StringVar(&o.acq, "acquisition", optimizer.AcqEI, "the bo configuration's acquisition: ei or ucb")
	f.StringVar(&o.initS, "init", "auto", "start design: auto (k-medoids, size by optimizer.StartSizeFor), medoids[:N], maximin[:N] or random:N")
	f.IntVar(&o.seeds, "seeds", 20, "seeds per challenge and configuration")
	f.IntVar(&o.budget, "budget", 20, "experiments per run")
	f.IntVar(&o.batch, "batch", 1, "experiments chosen together (a round)")
	f.IntVar(&o.parallel, "parallel", runtime.NumCPU(), "seeds run at a time")
	f.BoolVar(&o.noisy, "noisy", false, "measure with the lab's noise model (scores stay on the truth)")
	f.StringVar(&o.exportF, "export", "", "write the pools and every seed's start points (of the first configuration) to this JSON file for a reference optimiser, and stop")
	f.StringVar(&o.picksF, "picks", "", "score a reference optimiser's picks (JSON from evals/reference/botorch_pools.py) beside the configurations")
	f.StringVar(&o.jsonF, "json", "", "also write the figures to this JSON file")
}

// suggestions is how many optimiser calls the runs made (the start design
// is one call; then one per batch).
func suggestions(runs []search.Run, start, batch int) int {
	n := 0
	for _, r := range runs {
		n += 1 + (max(len(r.Trace)-start, 0)+batch-1)/batch
	}
	return n
}

func printBenchRow(w io.Writer, r benchRow, budget int) {
	var b strings.Builder
	fmt.Fprintf(&b, "%-26s %-14s", shortID(r.Challenge), r.Config)
	for _, n := range []int{10, 20, 50, 100} {
		if at, ok := r.At[n]; ok {
			if r.Finite {
				fmt.Fprintf(&b, "  n=%d Top%% %.3f P(top) %.2f", n, at.TopFrac, at.PTop)
			} else {
				fmt.Fprintf(&b, "  n=%d P(top) %.2f best %.4g", n, at.PTop, at.BestMean)
			}
		}
	}
	if len(r.Rounds) > 0 {
		keys := make([]int, 0, len(r.Rounds))
		for k := range r.Rounds {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		last := keys[len(keys)-1]
		fmt.Fprintf(&b, "  after %d rounds Top%% %.3f", last, r.Rounds[last])
	}
	fmt.Fprintf(&b, "  %.1f ms/suggestion", r.MsPerSuggest)
	if r.DegenerateFits > 0 {
		fmt.Fprintf(&b, "  %d degenerate fits", r.DegenerateFits)
	}
	fmt.Fprintln(w, b.String())
}

// poolExport is what a reference optimiser reads (see
// evals/reference/botorch_pools.py).
type poolExport struct {
	Seeds  int          `json:"seeds"`
	Budget int          `json:"budget"`
	Batch  int          `json:"batch"`
	Pools  []exportPool `json:"pools"`
}

type exportPool struct {
	ID    string      `json:"id"`
	Dims  []exportDim `json:"dims"`
	X     [][]float64 `json:"x"`
	Score []float64   `json:"score"`
	// Starts maps a seed to the pool indices of its start design.
	Starts map[string][]int `json:"starts"`
}

type exportDim struct {
	Name   string `json:"name"`
	Levels int    `json:"levels"`
	// Components are the descriptor components the optimiser uses, per option.
	Components [][]float64 `json:"components,omitempty"`
}

func exportPools(w io.Writer, file string, chs []*challenges.Challenge, cfgs []search.Config, seeds, budget, batch int) error {
	if len(cfgs) == 0 {
		return errors.New("--export needs a configuration whose start points to export")
	}
	out := poolExport{Seeds: seeds, Budget: budget, Batch: batch}
	for _, ch := range chs {
		if !ch.Finite() {
			fmt.Fprintf(w, "export: skipping %s (not a pool challenge)\n", ch.ID)
			continue
		}
		space := ch.SearchSpace()
		ep := exportPool{ID: ch.ID, Starts: map[string][]int{}}
		for j, d := range space.Dims {
			ed := exportDim{Name: d.Name, Levels: d.Levels}
			if d.Features != nil {
				ed.Components = optimizer.DescriptorComponents(space, j)
			}
			ep.Dims = append(ep.Dims, ed)
		}
		sc := ch.Scalarizer()
		for i, p := range ch.Pool().Points {
			ep.X = append(ep.X, ch.SearchPoint(p))
			ep.Score = append(ep.Score, sc.Score(ch.Pool().Values[i]))
		}
		start := cfgs[0].StartSize
		if start == 0 {
			start = optimizer.StartSizeFor(len(ch.Parameters), budget)
		}
		for s := 1; s <= seeds; s++ {
			run, err := search.Simulate(ch, cfgs[0], start, s, func() float64 { return 0 })
			if err != nil {
				return err
			}
			ep.Starts[strconv.Itoa(s)] = run.Picks
		}
		out.Pools = append(out.Pools, ep)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(file, b); err != nil {
		return err
	}
	fmt.Fprintf(w, "export: %d pools, %d seeds, start points of %s → %s\n", len(out.Pools), seeds, cfgs[0].Name, file)
	return nil
}

type referencePicks struct {
	Budget int            `json:"budget"`
	Batch  int            `json:"batch"`
	Runs   []referenceRun `json:"runs"`
	byKey  map[string][]referenceRun
	order  map[string][]string
}

type referenceRun struct {
	Challenge string  `json:"challenge"`
	Config    string  `json:"config"`
	Seed      int     `json:"seed"`
	Picks     []int   `json:"picks"`
	Seconds   float64 `json:"seconds"`
}

func readPicks(file string, budget int) (*referencePicks, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var p referencePicks
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if p.Budget != budget {
		return nil, fmt.Errorf("%s: picks for budget %d, but --budget is %d", file, p.Budget, budget)
	}
	p.Batch = max(p.Batch, 1)
	p.byKey, p.order = map[string][]referenceRun{}, map[string][]string{}
	for _, r := range p.Runs {
		k := r.Challenge + "\x00" + r.Config
		if _, ok := p.byKey[k]; !ok {
			p.order[r.Challenge] = append(p.order[r.Challenge], r.Config)
		}
		p.byKey[k] = append(p.byKey[k], r)
	}
	return &p, nil
}

func (p *referencePicks) configs(ch string) []string { return p.order[ch] }

func (p *referencePicks) runs(ch, cfg string) []referenceRun { return p.byKey[ch+"\x00"+cfg] }

// wallClock returns seconds since it was made. With --parallel at most the
// number of CPUs, a suggestion's wall time is its own work.
func wallClock() func() float64 {
	start := time.Now()
	return func() float64 { return time.Since(start).Seconds() }
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
