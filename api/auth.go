package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Roles, each allowed what the ones before it are.
const (
	RoleViewer   = "viewer"   // read
	RoleOperator = "operator" // start, stop, approve, chat
	RoleAdmin    = "admin"    // tokens, configuration
)

// Roles lists the roles in increasing power.
var Roles = []string{RoleViewer, RoleOperator, RoleAdmin}

func rank(role string) int { return slices.Index(Roles, role) }

// Token is a stored API token: only its SHA-256 is kept.
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Hash    string    `json:"hash"`
	Created time.Time `json:"created"`
}

// Tokens is the token store, a JSON file rewritten atomically. It is
// re-read when the file changes, so `genesis token create` takes effect on
// a running server.
type Tokens struct {
	path string
	mu   sync.Mutex
	mod  time.Time
	list []Token
}

// AdminTokenFile is where the first admin token is written, mode 0600.
func AdminTokenFile(home string) string { return filepath.Join(home, "admin.token") }

// OpenTokens opens the store under home/api. On first use it creates an
// admin token and writes it to AdminTokenFile(home).
func OpenTokens(home string) (*Tokens, error) {
	dir := filepath.Join(home, "api")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	t := &Tokens{path: filepath.Join(dir, "tokens.json")}
	if err := t.reload(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	hasAdmin := slices.ContainsFunc(t.list, func(x Token) bool { return x.Role == RoleAdmin })
	t.mu.Unlock()
	if !hasAdmin {
		tok, err := t.Create(RoleAdmin, "first admin")
		if err != nil {
			return nil, err
		}
		if err := writeSecret(AdminTokenFile(home), tok); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func writeSecret(path, s string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

func (t *Tokens) reload() error {
	st, err := os.Stat(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if st.ModTime().Equal(t.mod) {
		return nil
	}
	b, err := os.ReadFile(t.path)
	if err != nil {
		return err
	}
	var list []Token
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("token store %s: %w", t.path, err)
	}
	t.list, t.mod = list, st.ModTime()
	return nil
}

// Create makes a token with a role and returns it; only its hash is stored.
func (t *Tokens) Create(role, name string) (string, error) {
	if rank(role) < 0 {
		return "", fmt.Errorf("role %q: want one of %s", role, strings.Join(Roles, ", "))
	}
	if err := t.reload(); err != nil {
		return "", err
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := "gns_" + hex.EncodeToString(raw[:])
	var id [4]byte
	_, _ = rand.Read(id[:])
	t.mu.Lock()
	defer t.mu.Unlock()
	t.list = append(t.list, Token{ID: "tok-" + hex.EncodeToString(id[:]), Name: name, Role: role, Hash: hashToken(tok), Created: time.Now().UTC()})
	b, _ := json.MarshalIndent(t.list, "", "  ")
	if err := writeSecret(t.path, string(b)); err != nil {
		return "", err
	}
	if st, err := os.Stat(t.path); err == nil {
		t.mod = st.ModTime()
	}
	return tok, nil
}

// Lookup returns the token entry for a presented token.
func (t *Tokens) Lookup(tok string) (Token, bool) {
	_ = t.reload()
	h := hashToken(strings.TrimSpace(tok))
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, x := range t.list {
		if subtle.ConstantTimeCompare([]byte(x.Hash), []byte(h)) == 1 {
			return x, true
		}
	}
	return Token{}, false
}

// List returns the tokens (hashes only).
func (t *Tokens) List() []Token {
	_ = t.reload()
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Token(nil), t.list...)
}

// Audit appends one JSON line per state-changing call.
type Audit struct {
	mu sync.Mutex
	f  *os.File
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	Time    time.Time `json:"time"`
	TokenID string    `json:"token_id"`
	Role    string    `json:"role"`
	Method  string    `json:"method"`
	Path    string    `json:"path"`
	Status  int       `json:"status"`
	Detail  string    `json:"detail,omitempty"`
}

// OpenAudit opens home/api/audit.log for appending.
func OpenAudit(home string) (*Audit, error) {
	dir := filepath.Join(home, "api")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "audit.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	return &Audit{f: f}, nil
}

// Write records an entry (fsynced: the audit trail must survive a crash).
func (a *Audit) Write(e AuditEntry) error {
	b, _ := json.Marshal(e)
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.f.Write(append(b, '\n')); err != nil {
		return err
	}
	return a.f.Sync()
}

// Close closes the log.
func (a *Audit) Close() error { return a.f.Close() }

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

// require wraps a handler: the caller's bearer token must have at least
// the role; state-changing calls are audited with their outcome.
func (s *Server) require(role string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Tokens == nil { // auth disabled (tests of the bare handlers)
			h(w, r)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(tok) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="genesis"`)
			writeErr(w, http.StatusUnauthorized, "unauthorized", "send \"Authorization: Bearer <token>\": the admin token is in $GENESIS_HOME/admin.token; make others with `genesis token create --role viewer|operator|admin`")
			return
		}
		t, ok := s.Tokens.Lookup(tok)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="genesis", error="invalid_token"`)
			writeErr(w, http.StatusUnauthorized, "unauthorized", "the token is not valid; make one with `genesis token create`")
			return
		}
		if rank(t.Role) < rank(role) {
			writeErr(w, http.StatusForbidden, "forbidden", fmt.Sprintf("this needs the %s role; your token (%s) is %s", role, t.ID, t.Role))
			s.audit(r, t, http.StatusForbidden, "refused: role "+t.Role)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h(rec, r)
		if r.Method != http.MethodGet {
			s.audit(r, t, rec.status, "")
		}
	}
}

func (s *Server) audit(r *http.Request, t Token, status int, detail string) {
	if s.Audit == nil {
		return
	}
	_ = s.Audit.Write(AuditEntry{Time: time.Now().UTC(), TokenID: t.ID, Role: t.Role, Method: r.Method, Path: r.URL.Path, Status: status, Detail: detail})
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// lookupRequest finds the token of a request (nil-safe).
func (t *Tokens) lookupRequest(r *http.Request) (Token, bool) {
	if t == nil {
		return Token{}, false
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return Token{}, false
	}
	return t.Lookup(tok)
}
