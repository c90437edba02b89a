package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/genesis-sci/genesis/api/access"
)

// stillValid says whether the request's token (if the server checks
// tokens) still authenticates: a long stream checks it as it goes.
func (s *Server) stillValid(r *http.Request) bool {
	if s.Tokens == nil {
		return true
	}
	_, ok := lookupRequest(s.Tokens, r)
	return ok
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	list := s.Tokens.List()
	for i := range list {
		list[i].Hash = ""
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": list})
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Role string `json:"role"`
		Name string `json:"name"`
	}
	if !decodeBody(w, r, &req, false, `JSON like {"role": "viewer", "name": "dashboard"}`) {
		return
	}
	if access.Rank(req.Role) < 0 {
		writeErr(w, http.StatusUnprocessableEntity, "invalid_role", fmt.Sprintf("role %q: want one of %s", req.Role, strings.Join(access.Roles, ", ")))
		return
	}
	if err := access.ValidateTokenName(req.Name); err != nil {
		writeErr(w, http.StatusUnprocessableEntity, "invalid_name", err.Error())
		return
	}
	tok, entry, err := s.Tokens.Issue(req.Role, req.Name)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "internal", "could not store the token: "+err.Error())
		return
	}
	noteCreated(r, entry.ID, "token role "+entry.Role)
	writeJSON(w, http.StatusCreated, map[string]string{"token": tok, "id": entry.ID, "role": entry.Role, "name": entry.Name})
}

// revokeToken deletes a token; from the next request on it authenticates
// nothing (streams it opened end at their next check).
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	gone, err := s.Tokens.Revoke(id)
	switch {
	case errors.Is(err, access.ErrNoToken):
		writeErr(w, http.StatusNotFound, "not_found", err.Error())
		return
	case errors.Is(err, access.ErrLastAdmin):
		writeErr(w, http.StatusConflict, "last_admin", err.Error())
		return
	case err != nil:
		writeErr(w, http.StatusInternalServerError, "internal", "could not update the token store: "+err.Error())
		return
	}
	noteCreated(r, gone.ID, "revoked token role "+gone.Role)
	gone.Hash = ""
	writeJSON(w, http.StatusOK, map[string]any{"revoked": gone})
}
