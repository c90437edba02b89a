package campaign

import (
	"cmp"

	"github.com/genesis-sci/genesis/optimizer"
)

// ClassicalRounds is how many sequential bo rounds one local activity runs.
const ClassicalRounds = 25

// ClassicalPlan is the next iteration of a classical strategy after done
// experiments: k points per round, chosen by acq ("random", "ei" or "ucb"),
// in rounds rounds inside one local activity, at most most points in all
// (0: rounds × k); start and startSize are the optimiser's start design. in
// carries the campaign's defaults; nParams is the challenge's number of
// parameters; related says the campaign starts from its family's
// measurements, so it skips the start design. ver reports whether a change (a workflow.GetVersion change
// ID) applies: ClassicalPlan asks "random-rounds" only when random could
// batch its rounds and "search-v2" for bo; callers outside a workflow
// answer true.
//
// Since search-v2, bo starts with the campaign's start design (Init: by
// default k-medoids, optimizer.StartSizeFor points, in one round), then
// chooses Batch points per round (default 1) by Acquisition (default EI,
// q-EI for batches). Before it, bo ran InitialRandom random points, then
// UCB one point at a time, as Liang et al.'s GP-LCB2.
func ClassicalPlan(in CampaignInput, done, nParams int, related bool, ver func(change string) bool) (k int, acq string, rounds, most int, start string, startSize int) {
	left := in.Budget.Experiments - done
	k, acq, rounds = min(left, in.MaxBatch), "random", 1
	switch {
	case in.Strategy == StrategyBO && ver("search-v2"):
		start, startSize = in.StartDesign(nParams)
		if related {
			startSize = 0
		}
		if done < startSize {
			// The whole start design in one round.
			return min(startSize-done, left), cmp.Or(in.Acquisition, optimizer.AcqEI), 1, 0, start, startSize
		}
		k, acq = min(max(in.Batch, 1), left), cmp.Or(in.Acquisition, optimizer.AcqEI)
		if in.Portfolio == "" {
			rounds = min((left+k-1)/k, ClassicalRounds)
			most = left
		}
	case in.Strategy == StrategyBO:
		k, acq = 1, "ucb"
		initial := cmp.Or(in.InitialRandom, 2)
		start, startSize = optimizer.StartRandom, initial
		if n := initial - done; n > 0 {
			k, acq = min(n, left), "random"
		} else if in.Portfolio == "" {
			// Sequential bo runs several rounds (suggest one, measure it)
			// inside one local activity; the workflow records them together.
			rounds = min(left, ClassicalRounds)
		}
	case in.Strategy == StrategyRandom && in.Patience < 0 && in.Portfolio == "" && ver("random-rounds"):
		// Random draws do not depend on results. With patience off and no
		// portfolio, nothing between two batches could change the course,
		// so one local activity draws and runs the batches left (fewer
		// markers, less orchestration per experiment, as in an eval).
		rounds, most = min((left+k-1)/k, ClassicalRounds), left
	}
	return k, acq, rounds, most, start, startSize
}
