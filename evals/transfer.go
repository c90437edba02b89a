package evals

import (
	"fmt"
	"math"
	"strings"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/evals/metrics"
)

// TransferGain compares, for one member of a family sequence and one
// strategy, the runs that started from their siblings' measurements with
// the cold starts, at a few experiment counts. Regret is on the truth;
// gain is cold − transfer regret, so positive means transfer helped.
type TransferGain struct {
	Challenge string `json:"challenge"`
	Order     int    `json:"order"`
	Strategy  string `json:"strategy"`
	// Points is the median number of sibling measurements the transfer
	// runs started from.
	Points Num          `json:"points"`
	At     []TransferAt `json:"at"`
}

// TransferAt is the comparison after N experiments (medians over seeds).
type TransferAt struct {
	N              int `json:"n"`
	RegretCold     Num `json:"regret_cold"`
	RegretTransfer Num `json:"regret_transfer"`
	Gain           Num `json:"gain"`
	// Top-set hits (pool) or top-threshold hits (emulator), means.
	TopCold     Num `json:"top_cold"`
	TopTransfer Num `json:"top_transfer"`
}

// TransferPoints are the experiment counts the transfer table reports
// (besides the budget).
var TransferPoints = []int{1, 3, 5, 10}

func transferGains(cat *challenges.Catalog, spec Spec, runs []Run) []TransferGain {
	if spec.Sequence == "" {
		return nil
	}
	_, by := group(spec, runs)
	var out []TransferGain
	for _, id := range spec.Challenges {
		c, err := cat.Get(id)
		if err != nil || c.Family == nil {
			continue
		}
		bestScore, rng := scoreScale(c)
		for _, st := range spec.Strategies {
			cold, warm := by[[2]string{id, st}], by[[2]string{id, st + TransferSuffix}]
			if len(cold) == 0 || len(warm) == 0 {
				continue
			}
			g := TransferGain{Challenge: id, Order: c.Family.Order, Strategy: st}
			var pts []float64
			budget := 0
			for _, r := range warm {
				pts = append(pts, float64(r.TransferPoints))
				budget = max(budget, r.Budget)
			}
			g.Points = Num(metrics.Median(pts))
			ns := append([]int(nil), TransferPoints...)
			if budget > ns[len(ns)-1] {
				ns = append(ns, budget)
			}
			for _, n := range ns {
				if n > budget {
					continue
				}
				regret := func(rs []Run) (float64, float64) {
					var rg []float64
					var top float64
					for _, r := range rs {
						rg = append(rg, metrics.Regret(r.Trace, n, bestScore, rng))
						hits := 0
						for _, p := range r.Trace {
							if p.N <= n {
								hits = p.TopFound
							}
						}
						top += float64(hits)
					}
					return metrics.Median(rg), top / float64(len(rs))
				}
				rc, tc := regret(cold)
				rw, tw := regret(warm)
				g.At = append(g.At, TransferAt{N: n, RegretCold: Num(rc), RegretTransfer: Num(rw), Gain: Num(rc - rw), TopCold: Num(tc), TopTransfer: Num(tw)})
			}
			out = append(out, g)
		}
	}
	return out
}

// transferMarkdown renders the transfer table.
func transferMarkdown(rep Report) string {
	if len(rep.Transfer) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Transfer along family %s\n\nEach member ran twice per seed: cold, and after the members before it in one shared memory scope, "+
		"starting from what they measured (STRATEGY%s). Regret is median normalised regret on the truth (lower is better); gain = cold − transfer. "+
		"Top hits are means.\n\n", rep.Spec.Sequence, TransferSuffix)
	b.WriteString("| member (order) | strategy | sibling points | n | regret cold | regret transfer | gain | top hits cold | top hits transfer |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, g := range rep.Transfer {
		for _, a := range g.At {
			fmt.Fprintf(&b, "| %s (%d) | %s | %s | %d | %s | %s | %s | %s | %s |\n", g.Challenge, g.Order, g.Strategy, f(g.Points, 0), a.N,
				f(a.RegretCold, 3), f(a.RegretTransfer, 3), signed(a.Gain), f(a.TopCold, 2), f(a.TopTransfer, 2))
		}
	}
	return b.String() + "\n"
}

func signed(n Num) string {
	if math.IsNaN(float64(n)) {
		return "–"
	}
	return fmt.Sprintf("%+.3f", float64(n))
}
