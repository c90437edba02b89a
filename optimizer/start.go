package optimizer

import (
	"fmt"
	"strconv"
	"strings"
)

// StartSizeFor is the default start-design size for a space of nParams
// parameters and a budget of lab experiments: one more point than there are
// parameters (enough for a first fit to see every direction once), but no
// more than a fifth of the budget, so the model still chooses most
// experiments of a short campaign, and at least 2.
func StartSizeFor(nParams, budget int) int {
	return max(2, min(nParams+1, budget/5))
}

// ParseStart reads a start design as users write it: "auto" or "" (k-medoids,
// size by StartSizeFor: size 0 here), "medoids[:N]", "maximin[:N]" or
// "random:N" (Liang et al.'s protocol is random:2).
func ParseStart(s string) (start string, size int, err error) {
	kind, n, hasN := strings.Cut(strings.ToLower(strings.TrimSpace(s)), ":")
	switch kind {
	case "", "auto":
		if hasN {
			return "", 0, fmt.Errorf("start design %q: auto takes no size (use medoids:N, maximin:N or random:N)", s)
		}
		return StartMedoids, 0, nil
	case StartMedoids, StartMaximin:
	case StartRandom:
		if !hasN {
			return "", 0, fmt.Errorf("start design %q: say how many random points, e.g. random:2", s)
		}
	default:
		return "", 0, fmt.Errorf("start design %q: want auto, medoids[:N], maximin[:N] or random:N", s)
	}
	if hasN {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 || v > 1000 {
			return "", 0, fmt.Errorf("start design %q: the size must be a whole number from 1 to 1000", s)
		}
		size = v
	}
	return kind, size, nil
}
