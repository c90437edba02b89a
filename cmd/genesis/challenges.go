package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/genesis-sci/genesis/challenges"
)

func challengesCmd(cfg *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "challenges",
		Short: "List, inspect and validate challenges",
		Long: `A challenge is a YAML definition plus measured data: what is optimised, over which design
space, and how the emulated lab and the cheaper simulation answer. The built-in catalog is
compiled into genesis; add your own with --challenges-dir DIR (see challenges/README.md).`,
	}
	c.AddCommand(challengesListCmd(cfg), challengesShowCmd(cfg), challengesValidateCmd(cfg))
	return c
}

func challengesListCmd(cfg *globals) *cobra.Command {
	var asJSON bool
	var domain string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the challenges (built-in and from --challenges-dir)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := cfg.catalog()
			if err != nil {
				return err
			}
			var chs []*challenges.Challenge
			for _, ch := range cat.All() {
				if domain == "" || strings.EqualFold(ch.Domain, domain) {
					chs = append(chs, ch)
				}
			}
			if domain != "" && len(chs) == 0 {
				return fmt.Errorf("no challenge in domain %q; domains: %s", domain, strings.Join(domains(cat), ", "))
			}
			w := cmd.OutOrStdout()
			if asJSON {
				type item struct {
					ID         string   `json:"id"`
					Title      string   `json:"title"`
					Domain     string   `json:"domain"`
					Objectives []string `json:"objectives"`
					Space      string   `json:"space"`
					Lab        string   `json:"lab"`
					Source     string   `json:"source"`
				}
				out := make([]item, len(chs))
				for i, ch := range chs {
					out[i] = item{ch.ID, ch.Title, ch.Domain, objectiveList(ch), spaceSummary(ch), ch.Lab.Kind, shortSource(ch)}
				}
				return printJSON(w, out)
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tDOMAIN\tOBJECTIVES\tDESIGN SPACE\tLAB\tDATA SOURCE\tTITLE")
			for _, ch := range chs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ch.ID, ch.Domain, strings.Join(objectiveList(ch), ", "),
					spaceSummary(ch), ch.Lab.Kind, shortSource(ch), ch.Title)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(w, "\n%d challenges. Details: genesis challenges show ID\n", len(chs))
			if fams := cat.Families(); len(fams) > 0 {
				var parts []string
				for _, name := range fams {
					members, _ := cat.Family(name)
					var ids []string
					for _, m := range members {
						ids = append(ids, m.ID)
					}
					parts = append(parts, name+" ("+strings.Join(ids, " → ")+")")
				}
				fmt.Fprintf(w, "Families (genesis eval --sequence NAME): %s\n", strings.Join(parts, "; "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.Flags().StringVar(&domain, "domain", "", "only challenges in this domain area (e.g. catalysis)")
	return cmd
}

func domains(cat *challenges.Catalog) []string {
	seen := map[string]bool{}
	var out []string
	for _, ch := range cat.All() {
		if !seen[ch.Domain] {
			seen[ch.Domain] = true
			out = append(out, ch.Domain)
		}
	}
	return out
}

func objectiveList(ch *challenges.Challenge) []string {
	out := make([]string, len(ch.Objectives))
	for i, o := range ch.Objectives {
		out[i] = o.Direction[:3] + " " + o.Name
	}
	return out
}

// spaceSummary describes the design space's size and kind.
func spaceSummary(ch *challenges.Challenge) string {
	counts := map[string]int{}
	for _, p := range ch.Parameters {
		counts[p.Kind]++
	}
	var kinds []string
	for _, k := range []string{challenges.Continuous, challenges.Integer, challenges.Discrete, challenges.Categorical} {
		if counts[k] > 0 {
			kinds = append(kinds, fmt.Sprintf("%d %s", counts[k], abbrevKind[k]))
		}
	}
	desc := strings.Join(kinds, "+")
	if ch.Finite() {
		return fmt.Sprintf("%d points (%s)", ch.Pool().Len(), desc)
	}
	return fmt.Sprintf("%d-d (%s)", len(ch.Parameters), desc)
}

var abbrevKind = map[string]string{challenges.Continuous: "cont", challenges.Integer: "int", challenges.Discrete: "disc", challenges.Categorical: "cat"}

// shortSource is the data source up to the first parenthesis or semicolon.
func shortSource(ch *challenges.Challenge) string {
	s := ch.Data.Source
	if i := strings.IndexAny(s, "(;"); i > 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ","))
	if len(s) > 40 {
		s = s[:39] + "…"
	}
	return s
}

func challengesShowCmd(cfg *globals) *cobra.Command {
	var asJSON, noHoldout bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a challenge's full definition, data provenance, top-5% threshold and models",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := cfg.catalog()
			if err != nil {
				return err
			}
			ch, err := cat.Get(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), ch)
			}
			return showChallenge(cmd.OutOrStdout(), ch, !noHoldout)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the definition as JSON")
	cmd.Flags().BoolVar(&noHoldout, "no-holdout", false, "skip the emulator's cross-validation (it takes a few seconds for a GP lab)")
	return cmd
}

func showChallenge(w io.Writer, ch *challenges.Challenge, holdout bool) error {
	showAbout(w, ch)
	showObjectives(w, ch)
	showDesignSpace(w, ch)
	showDescriptors(w, ch)
	showData(w, ch)
	showScoring(w, ch)
	showBudget(w, ch)
	if err := showLabModel(w, ch, holdout); err != nil {
		return err
	}
	showSimulation(w, ch)
	showSafety(w, ch)
	return nil
}

// showAbout: the title, domain, family and description.
func showAbout(w io.Writer, ch *challenges.Challenge) {
	fmt.Fprintf(w, "%s — %s\n", ch.ID, ch.Title)
	fmt.Fprintf(w, "domain: %s\n", ch.Domain)
	if f := ch.Family; f != nil {
		fmt.Fprintf(w, "family: %s, member %d (a campaign starts from what memory holds of its siblings; genesis eval --sequence %s)\n", f.Name, f.Order, f.Name)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, wrap(strings.TrimSpace(ch.Description), 96, ""))
}

// showObjectives: each objective with its measured range (and weight, for
// several).
func showObjectives(w io.Writer, ch *challenges.Challenge) {
	pool := ch.Pool()
	fmt.Fprintln(w, "\nObjectives")
	sc := ch.Scalarizer()
	for k, o := range ch.Objectives {
		line := fmt.Sprintf("  %-8s %s", o.Direction, o.Name)
		if o.Unit != "" {
			line += " [" + o.Unit + "]"
		}
		line += fmt.Sprintf("  measured %.4g … %.4g", pool.Low[k], pool.Low[k]+pool.Range[k])
		if ch.MultiObjective() {
			line += fmt.Sprintf("  weight %.2f", sc.Weights[k])
		}
		if o.Description != "" {
			line += " — " + o.Description
		}
		fmt.Fprintln(w, line)
	}
	if ch.MultiObjective() {
		fmt.Fprintln(w, "  score: weighted sum of the objectives, each min–max normalised over the measured data and oriented so higher is better")
	}
}

// showDesignSpace: the parameters and their domains, the constraints, and
// which points the lab runs.
func showDesignSpace(w io.Writer, ch *challenges.Challenge) {
	fmt.Fprintln(w, "\nDesign space")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range ch.Parameters {
		dom := domainText(p)
		if p.Unit != "" {
			dom += " " + p.Unit
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.Name, p.Kind, shorten(dom, 70), p.Description)
	}
	_ = tw.Flush()
	for _, k := range ch.Constraints {
		fmt.Fprintf(w, "  constraint: %s\n", k)
	}
	if ch.Finite() {
		fmt.Fprintf(w, "  the lab runs only the %d measured points (pool-based)\n", ch.Pool().Len())
	} else {
		fmt.Fprintf(w, "  the lab runs any point inside the bounds (emulated from %d measured points)\n", ch.Pool().Len())
	}
}

// domainText is a parameter's options, values or bounds.
func domainText(p challenges.Parameter) string {
	switch p.Kind {
	case challenges.Categorical:
		return fmt.Sprintf("%d options: %s", len(p.Options), strings.Join(p.Options, ", "))
	case challenges.Discrete:
		vs := make([]string, len(p.Values))
		for i, v := range p.Values {
			vs[i] = fmt.Sprint(v)
		}
		return strings.Join(vs, ", ")
	default:
		return fmt.Sprintf("[%g, %g]", *p.Low, *p.High)
	}
}

// showData: the data file, its source, license and citation.
func showData(w io.Writer, ch *challenges.Challenge) {
	pool := ch.Pool()
	fmt.Fprintln(w, "\nData")
	fmt.Fprintf(w, "  file:      %s (%d rows, %d distinct points, %d with replicates)\n", ch.Data.File, pool.Rows, pool.Len(), pool.Replicated)
	fmt.Fprintf(w, "  source:    %s\n", wrap(ch.Data.Source, 84, "             "))
	fmt.Fprintf(w, "  license:   %s\n", ch.Data.License)
	if ch.Data.Citation != "" {
		fmt.Fprintf(w, "  cite:      %s\n", wrap(ch.Data.Citation, 84, "             "))
	}
	if ch.Data.Notes != "" {
		fmt.Fprintf(w, "  notes:     %s\n", wrap(strings.TrimSpace(ch.Data.Notes), 84, "             "))
	}
}

// showScoring: the top set and the threshold a campaign must reach.
func showScoring(w io.Writer, ch *challenges.Challenge) {
	pool := ch.Pool()
	top := ch.TopSet()
	fmt.Fprintf(w, "\nScoring\n  top set: the %d best of %d measured points (top %g%%)\n", len(top), pool.Len(), 100*ch.Scoring.TopFraction)
	o := ch.Primary()
	if ch.MultiObjective() {
		fmt.Fprintf(w, "  threshold: score ≥ %.4g; best measured score %.4g (%s = %.4g)\n", ch.Threshold(), ch.Score(pool.Values[top[0]]), o.Name, ch.BestValue())
		return
	}
	cmp := "≥"
	if o.Direction == challenges.Minimize {
		cmp = "≤"
	}
	fmt.Fprintf(w, "  threshold: %s %s %.4g %s; best measured %.4g %s\n", o.Name, cmp, ch.Threshold(), o.Unit, ch.BestValue(), o.Unit)
}

func showBudget(w io.Writer, ch *challenges.Challenge) {
	fmt.Fprintf(w, "\nBudget\n  %d lab experiments, %d simulations", ch.Budget.Experiments, ch.Budget.Simulations)
	if ch.Budget.Tokens > 0 {
		fmt.Fprintf(w, ", %d model tokens", ch.Budget.Tokens)
	}
	fmt.Fprintln(w)
}

// showLabModel: how the lab answers, its noise and duration, and with
// holdout the emulator's cross-validated error.
func showLabModel(w io.Writer, ch *challenges.Challenge, holdout bool) error {
	pool := ch.Pool()
	fmt.Fprintln(w, "\nLab model")
	switch ch.Lab.Kind {
	case challenges.LabPool:
		fmt.Fprintln(w, "  pool lookup: the measured value of the point (mean of its unique replicate values)")
	case challenges.LabKNN:
		fmt.Fprintf(w, "  knn emulator: inverse-distance-weighted mean of the %d nearest measured points\n", max(ch.Lab.Neighbors, 1))
	case challenges.LabGP:
		fmt.Fprintln(w, "  gp emulator: Gaussian process (Matérn-5/2, ARD, categoricals one-hot) fitted to every measured point")
	}
	if ch.Lab.Rationale != "" {
		fmt.Fprintf(w, "  why: %s\n", wrap(ch.Lab.Rationale, 90, "       "))
	}
	switch {
	case ch.Lab.Noise != challenges.NoiseReplicate:
		fmt.Fprintf(w, "  noise: fixed, %.3g × each objective's range\n", ch.Lab.NoiseSD)
	case pool.NoiseCV[0] > 0:
		fmt.Fprintf(w, "  noise: a replicated point's own SD; otherwise %.3g × its value (median coefficient of variation)\n", pool.NoiseCV[0])
	default:
		fmt.Fprintf(w, "  noise: a replicated point's own SD; otherwise the median replicate SD %s\n", fmtList(pool.MedianSD))
	}
	fmt.Fprintf(w, "  one run takes %gs (at time scale 1)\n", ch.Lab.DurationSeconds)
	if !holdout || ch.Finite() {
		return nil
	}
	h, err := ch.Holdout(5)
	if err != nil {
		return err
	}
	for k, o := range ch.Objectives {
		fmt.Fprintf(w, "  held-out error (%d-fold CV) on %s: RMSE %.4g (%.1f%% of range), R² %.2f\n", h.Folds, o.Name, h.RMSE[k], 100*h.NRMSE[k], h.R2[k])
	}
	if h.Tested < pool.Len() {
		fmt.Fprintf(w, "  (predicted at %d of the %d measured points, a fixed random sample)\n", h.Tested, pool.Len())
	}
	return nil
}

func showSimulation(w io.Writer, ch *challenges.Challenge) {
	fmt.Fprintln(w, "\nSimulation model")
	s := ch.Simulation
	fmt.Fprintf(w, "  %s: leave-one-out estimate from the %d nearest measured points, bias %+.3g and noise SD %.3g (fractions of the range)\n", s.Kind, s.Neighbors, s.Bias, s.NoiseSD)
	fmt.Fprintf(w, "  cost %.3g of a lab run; one job takes %gs\n", s.Cost, s.DurationSeconds)
}

// showSafety: the limits the lab refuses to cross. A limit's conditions
// are listed in name order, so the output is the same every time.
func showSafety(w io.Writer, ch *challenges.Challenge) {
	if len(ch.Safety) == 0 {
		return
	}
	fmt.Fprintln(w, "\nSafety limits (the lab refuses)")
	for _, l := range ch.Safety {
		lo, hi := "-∞", "+∞"
		if l.Min != nil {
			lo = fmt.Sprint(*l.Min)
		}
		if l.Max != nil {
			hi = fmt.Sprint(*l.Max)
		}
		cond := ""
		if len(l.When) > 0 {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(l.When)) {
				parts = append(parts, fmt.Sprintf("%s=%v", k, l.When[k]))
			}
			cond = " when " + strings.Join(parts, ", ")
		}
		fmt.Fprintf(w, "  %s outside [%s, %s]%s: %s\n", l.Parameter, lo, hi, cond, l.Reason)
	}
}

// showDescriptors lists, for each categorical parameter, the numeric
// features its options carry (or that it has none).
func showDescriptors(w io.Writer, ch *challenges.Challenge) {
	header := false
	for _, p := range ch.Parameters {
		if p.Kind != challenges.Categorical {
			continue
		}
		if !header {
			fmt.Fprintln(w, "\nDescriptors (numeric features of categorical options, for surrogate models)")
			header = true
		}
		d := p.Descriptors
		if d == nil {
			fmt.Fprintf(w, "  %s: none (models see the %d options one-hot)\n", p.Name, len(p.Options))
			continue
		}
		const indent = "               "
		fmt.Fprintf(w, "  %s: %d features for %d options, from %s\n", p.Name, len(d.Names), len(p.Options), d.File)
		fmt.Fprintf(w, "    features:  %s\n", wrap(strings.Join(d.Names, ", "), 84, indent))
		if len(d.Dropped) > 0 {
			fmt.Fprintf(w, "    dropped:   %s (the same for every option)\n", wrap(strings.Join(d.Dropped, ", "), 84, indent))
		}
		fmt.Fprintf(w, "    source:    %s\n", wrap(d.Source, 84, indent))
		fmt.Fprintf(w, "    license:   %s\n", d.License)
		if d.Notes != "" {
			fmt.Fprintf(w, "    notes:     %s\n", wrap(strings.TrimSpace(d.Notes), 84, indent))
		}
	}
}

func fmtList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.3g", x)
	}
	return strings.Join(parts, ", ")
}

func shorten(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// wrap breaks s into lines of at most width characters; continuation lines
// start with indent.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	for pi, para := range strings.Split(s, "\n") {
		if pi > 0 {
			b.WriteString("\n" + indent)
		}
		n := 0
		for i, word := range strings.Fields(para) {
			if i > 0 && n+1+len(word) > width {
				b.WriteString("\n" + indent)
				n = 0
			} else if i > 0 {
				b.WriteByte(' ')
				n++
			}
			b.WriteString(word)
			n += len(word)
		}
	}
	return b.String()
}

func challengesValidateCmd(cfg *globals) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "validate [PATH...]",
		Short: "Check challenge definitions (the built-in ones, or the files and directories given)",
		Long: `Checks every definition: required fields, parameter kinds and bounds, objectives and
directions, the data file and its column mapping, every data row against the design space
and constraints, models, budgets and safety limits. Every problem is reported with its file
and field. Warnings (e.g. a safety limit that refuses some of the best measured points) do
not fail validation. Exit code 1 when anything is wrong.

Without PATH it checks the built-in catalog and --challenges-dir.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var results []challenges.Validated
			if len(args) == 0 {
				results = challenges.ValidateBuiltin()
				if cfg.challengesDir != "" {
					results = append(results, challenges.ValidatePaths([]string{cfg.challengesDir})...)
				}
			} else {
				results = challenges.ValidatePaths(args)
			}
			w := cmd.OutOrStdout()
			bad := 0
			for _, r := range results {
				if len(r.Problems) > 0 {
					bad++
					fmt.Fprintf(w, "FAIL %s\n", r.File)
					for _, p := range r.Problems {
						field := p.Field
						if field == "" {
							field = "(file)"
						}
						fmt.Fprintf(w, "  %s: %s\n", field, p.Msg)
					}
					continue
				}
				if !quiet {
					fmt.Fprintf(w, "ok   %s (%s, %s)\n", r.File, r.Challenge.ID, spaceSummary(r.Challenge))
				}
				for _, warn := range r.Warnings {
					fmt.Fprintf(w, "  warning: %s\n", warn)
				}
			}
			if bad > 0 {
				return errors.New(plural(bad, "definition") + " invalid (see above)")
			}
			fmt.Fprintf(w, "%s valid\n", plural(len(results), "definition"))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only problems and warnings")
	return cmd
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
