package api

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/genesis-sci/genesis/api/access"
)

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header. The scheme is case-insensitive (RFC 7235 section 2.1).
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimLeft(r.Header.Get("Authorization"), " "), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// auditNote carries what a handler created to the audit entry of its call.
type auditNote struct{ resource, detail string }

type auditNoteKey struct{}

// noteCreated records, for the audit log, the ID of what the call created
// or removed, and a detail (never a secret).
func noteCreated(r *http.Request, id, detail string) {
	if n, ok := r.Context().Value(auditNoteKey{}).(*auditNote); ok {
		n.resource, n.detail = id, detail
	}
}

// require wraps a handler: the caller's bearer token must have at least
// the role. State-changing calls are audited with their outcome and what
// they created; refusals (401 and 403) are audited whatever the method.
func (s *Server) require(role string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Tokens == nil { // auth disabled (tests of the bare handlers)
			h(w, r)
			return
		}
		tok, ok := bearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="genesis"`)
			writeErr(w, http.StatusUnauthorized, "unauthorized", "send \"Authorization: Bearer <token>\": the admin token is in $GENESIS_HOME/admin.token; make others with `genesis token create --role viewer|operator|admin`")
			s.audit(r, access.Token{}, http.StatusUnauthorized, "refused: no bearer token", "", false)
			return
		}
		t, ok := s.Tokens.Lookup(tok)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="genesis", error="invalid_token"`)
			writeErr(w, http.StatusUnauthorized, "unauthorized", "the token is not valid (unknown or revoked); make one with `genesis token create`")
			s.audit(r, access.Token{}, http.StatusUnauthorized, "refused: unknown or revoked token", "", false)
			return
		}
		s.conns.authenticated(r)
		if access.Rank(t.Role) < access.Rank(role) {
			writeErr(w, http.StatusForbidden, "forbidden", fmt.Sprintf("this needs the %s role; your token (%s) is %s", role, t.ID, t.Role))
			s.audit(r, t, http.StatusForbidden, "refused: role "+t.Role, "", true)
			return
		}
		note := &auditNote{}
		r = r.WithContext(context.WithValue(r.Context(), auditNoteKey{}, note))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h(rec, r)
		if r.Method != http.MethodGet {
			s.audit(r, t, rec.status, note.detail, note.resource, true)
		}
	}
}

// audit writes an entry for a call. Refusals of unauthenticated calls are
// not fsynced: anyone can make them, and a flood must not become a flood
// of disk flushes.
func (s *Server) audit(r *http.Request, t access.Token, status int, detail, resource string, sync bool) {
	if s.Audit == nil {
		return
	}
	_ = s.Audit.Record(access.AuditEntry{Time: time.Now().UTC(), TokenID: t.ID, Role: t.Role, Method: r.Method, Path: r.URL.Path, Status: status,
		Detail: detail, Resource: resource, Remote: r.RemoteAddr}, sync)
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// lookupRequest finds the token of a request (nil-safe).
func lookupRequest(t *access.Tokens, r *http.Request) (access.Token, bool) {
	if t == nil {
		return access.Token{}, false
	}
	tok, ok := bearerToken(r)
	if !ok {
		return access.Token{}, false
	}
	return t.Lookup(tok)
}
