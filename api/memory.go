package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/genesis-sci/genesis/memory"
)

func (s *Server) searchMemory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := strings.TrimSpace(q.Get("q"))
	if query == "" {
		writeErr(w, http.StatusBadRequest, "bad_request", "q is required: what to look for")
		return
	}
	if s.Memory == nil || s.Embedder == nil {
		writeErr(w, http.StatusServiceUnavailable, "memory_unavailable", "this server has no memory store")
		return
	}
	f := memory.Filter{Kind: q.Get("kind"), Challenge: q.Get("challenge"), Campaign: q.Get("campaign"), Agent: q.Get("agent")}
	if q.Has("kind") && !contains(memory.Kinds, f.Kind) {
		writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("kind %q: want one of %s", f.Kind, strings.Join(memory.Kinds, ", ")))
		return
	}
	k := 5
	if q.Has("k") {
		v := q.Get("k")
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 50 {
			writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("k %q must be an integer in [1, 50]", v))
			return
		}
		k = n
	}
	vecs, err := s.Embedder.Embed(r.Context(), []string{query})
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, "embedder_unavailable", err.Error())
		return
	}
	hits, err := s.Memory.Search(r.Context(), vecs[0], f, k)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	for i := range hits {
		hits[i].Vector = nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"hits": hits})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
