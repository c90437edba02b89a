package api

import (
	"net/http"

	"github.com/genesis-sci/genesis/api/apiclient"
)

// getChallenge answers a challenge with figures from its data
// (apiclient.ChallengeDetail).
func (s *Server) getChallenge(w http.ResponseWriter, r *http.Request) {
	c, err := s.Catalog.Get(r.PathValue("id"))
	if err != nil {
		writeErr(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"challenge": c, "pool_size": c.Pool().Len(), "finite": c.Finite(),
		"top_size": len(c.TopSet()), "threshold": c.Threshold(), "best_value": c.BestValue()})
}

func (s *Server) listChallenges(w http.ResponseWriter, r *http.Request) {
	var out []apiclient.ChallengeSummary
	for _, c := range s.Catalog.All() {
		out = append(out, apiclient.ChallengeSummary{ID: c.ID, Title: c.Title, Domain: c.Domain, Objective: c.Primary().Name,
			Direction: c.Primary().Direction, PoolSize: c.Pool().Len()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"challenges": out})
}
