package api

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func (s *Server) listEvals(w http.ResponseWriter, r *http.Request) {
	type item struct {
		ID        string    `json:"id"`
		Generated time.Time `json:"generated"`
	}
	out := []item{}
	ents, _ := os.ReadDir(s.EvalsDir)
	for _, e := range ents {
		if st, err := os.Stat(filepath.Join(s.EvalsDir, e.Name(), "report.json")); err == nil && e.IsDir() {
			out = append(out, item{e.Name(), st.ModTime().UTC()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Generated.After(out[j].Generated) })
	writeJSON(w, http.StatusOK, map[string]any{"evals": out})
}

func (s *Server) getEval(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		writeErr(w, http.StatusBadRequest, "bad_request", "bad eval id")
		return
	}
	b, err := os.ReadFile(filepath.Join(s.EvalsDir, id, "report.json"))
	if err != nil {
		writeErr(w, http.StatusNotFound, "not_found", fmt.Sprintf("no eval report %q; list them with GET /api/v1/evals", id))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
