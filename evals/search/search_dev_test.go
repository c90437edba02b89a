package search

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/evals/metrics"
	"github.com/genesis-sci/genesis/optimizer"
)

var devConfigs = map[string]Config{
	"legacy":       {Options: optimizer.Options{Surrogate: optimizer.SurrogateOneHot, Acquisition: "ucb"}, Start: "random", StartSize: 2},
	"legacyei":     {Options: optimizer.Options{Surrogate: optimizer.SurrogateOneHot, Acquisition: "ei"}, Start: "random", StartSize: 2},
	"random":       {Options: optimizer.Options{Acquisition: "random"}, Start: "random", StartSize: 2},
	"gp-ucb-r2":    {Options: optimizer.Options{Acquisition: "ucb"}, Start: "random", StartSize: 2},
	"gp-ei-r2":     {Options: optimizer.Options{Acquisition: "ei"}, Start: "random", StartSize: 2},
	"gp-ei":        {Options: optimizer.Options{Acquisition: "ei"}, Start: "maximin"},
	"gp-ucb":       {Options: optimizer.Options{Acquisition: "ucb"}, Start: "maximin"},
	"gp-ei-rs":     {Options: optimizer.Options{Acquisition: "ei"}, Start: "random"},
	"gp-ei-r2-xi0": {Options: optimizer.Options{Acquisition: "ei", Xi: 1e-9}, Start: "random", StartSize: 2},
	"gp-ei-r2-xi1": {Options: optimizer.Options{Acquisition: "ei", Xi: 0.1}, Start: "random", StartSize: 2},
	"gp-ei-full":   {Options: optimizer.Options{Acquisition: "ei", FitSubset: -1}, Start: "medoids"},
	"gp-ei-md":     {Options: optimizer.Options{Acquisition: "ei"}, Start: "medoids"},
	"gp-ucb-md":    {Options: optimizer.Options{Acquisition: "ucb"}, Start: "medoids"},
	"gp-ei-md-xi0": {Options: optimizer.Options{Acquisition: "ei", Xi: 1e-9}, Start: "medoids"},
	"gp-ei-md-nd":  {Options: optimizer.Options{Acquisition: "ei"}, Start: "medoids", NoDescriptors: true},
	"gp-ei-md-sel": {Options: optimizer.Options{Acquisition: "ei", Descriptors: optimizer.DescriptorsSelect}, Start: "medoids"},
	"gp-ei-nd":     {Options: optimizer.Options{Acquisition: "ei"}, Start: "maximin", NoDescriptors: true},
}

func TestSearchDev(t *testing.T) {
	if os.Getenv("GENESIS_SEARCH_DEV") == "" {
		t.Skip("set GENESIS_SEARCH_DEV=config,config to run")
	}
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.Split(os.Getenv("GENESIS_SEARCH_IDS"), ",")
	seeds, _ := strconv.Atoi(os.Getenv("GENESIS_SEARCH_SEEDS"))
	budget, _ := strconv.Atoi(os.Getenv("GENESIS_SEARCH_BUDGET"))
	seeds, budget = max(seeds, 10), max(budget, 20)
	start := time.Now()
	clock := func() float64 { return time.Since(start).Seconds() }
	for _, id := range ids {
		c, err := cat.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range strings.Split(os.Getenv("GENESIS_SEARCH_DEV"), ",") {
			base, mods, _ := strings.Cut(name, "+")
			cfg, ok := devConfigs[base]
			if !ok {
				t.Fatalf("no config %q", base)
			}
			if ss := strings.TrimPrefix(mods, "ss="); ss != mods {
				cfg.StartSize, _ = strconv.Atoi(ss)
				mods = ""
			}
			if mods != "" {
				cfg.Options.Priors = func(nNum, nCat int) optimizer.Priors {
					p := optimizer.DefaultPriors(nNum, nCat)
					for _, m := range strings.Split(mods, "+") {
						k, v, _ := strings.Cut(m, "=")
						f, _ := strconv.ParseFloat(v, 64)
						switch k {
						case "cat":
							p.Cat.Mu += f
						case "ls":
							p.LS.Mu += f
						case "sig":
							p.Signal.Sigma = f
						case "sigmu":
							p.Signal.Mu = f
						case "noise":
							p.Noise.Mu = f
						case "lsd":
							p.LS.Sigma = f
						case "catsd":
							p.Cat.Sigma = f
						}
					}
					return p
				}
			}
			cfg.Noisy = os.Getenv("GENESIS_SEARCH_NOISY") != ""
			runs, err := SimulateSeeds(c, cfg, budget, seeds, 2, clock)
			if err != nil {
				t.Fatal(err)
			}
			traces, secs, notes := Gather(runs)
			top := len(c.TopSet())
			line := fmt.Sprintf("%-26s %-10s", id, name)
			for _, n := range []int{10, 20, 50, 100, 200, 250} {
				if n > budget {
					continue
				}
				var hit, best float64
				for _, tr := range traces {
					if metrics.TopFrac(tr, n, top) > 0 {
						hit++
					}
					best += metrics.BestAt(tr, n)
				}
				line += fmt.Sprintf(" | n=%d top%% %.3f P(top) %.2f best %.4g", n, metrics.MeanTopFrac(traces, n, top), hit/float64(len(traces)), best/float64(len(traces)))
			}
			line += fmt.Sprintf(" | %.1f ms/sugg", 1000*secs/float64(seeds*budget))
			if notes > 0 {
				line += fmt.Sprintf(" | %d degenerate", notes)
			}
			fmt.Println(line)
			_ = math.Inf
		}
	}
}
