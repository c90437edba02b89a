// Package access is who may call the API and what they did: API tokens
// with a role each (viewer < operator < admin), kept as SHA-256 hashes in a
// JSON file that the server and the CLI (genesis token) share, and the
// audit log of every state-changing call. It knows nothing of HTTP: the
// API's middleware (package api) reads the bearer token and asks Lookup.
package access

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// Roles, each allowed what the ones before it are.
const (
	RoleViewer   = "viewer"   // read
	RoleOperator = "operator" // start, stop, approve, chat
	RoleAdmin    = "admin"    // tokens, configuration
)

// Roles lists the roles in increasing power.
var Roles = []string{RoleViewer, RoleOperator, RoleAdmin}

// Rank orders the roles (-1: not a role).
func Rank(role string) int { return slices.Index(Roles, role) }

// Token is a stored API token: only its SHA-256 is kept.
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Hash    string    `json:"hash"`
	Created time.Time `json:"created"`
}

// Tokens is the token store, a JSON file rewritten atomically under an
// exclusive lock (the server and `genesis token` may write at once). It is
// re-read whenever the file changes, so `genesis token create` and
// `genesis token revoke` take effect on a running server at its next request.
type Tokens struct {
	path string
	mu   sync.Mutex
	// info is the file the list was read from (nil: none yet): a rewrite
	// is a new file (rename), so identity, time and size tell a change.
	info os.FileInfo
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
	if hasAdmin {
		return t, nil
	}
	// Under the store's lock, so two processes starting at once make one
	// first admin between them.
	err := t.update(func(list []Token) ([]Token, error) {
		if slices.ContainsFunc(list, func(x Token) bool { return x.Role == RoleAdmin }) {
			return list, nil
		}
		tok, entry, err := newToken(RoleAdmin, "first admin")
		if err != nil {
			return nil, err
		}
		if err := writeSecret(AdminTokenFile(home), tok); err != nil {
			return nil, err
		}
		return append(list, entry), nil
	})
	if err != nil {
		return nil, err
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

// readTokens reads the store file (none: an empty list).
func readTokens(path string) ([]Token, os.FileInfo, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var list []Token
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, nil, fmt.Errorf("token store %s: %w (restore it from a backup, or delete it: the next start makes a new admin token)", path, err)
	}
	return list, st, nil
}

// sameFile says whether a and b are the same unchanged file.
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

func (t *Tokens) reload() error {
	st, err := os.Stat(t.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		st = nil
	case err != nil:
		return err
	}
	t.mu.Lock()
	unchanged := sameFile(st, t.info)
	t.mu.Unlock()
	if unchanged {
		return nil
	}
	list, info, err := readTokens(t.path)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.list, t.info = list, info
	t.mu.Unlock()
	return nil
}

// update rewrites the store under an exclusive lock on home/api/tokens.lock:
// change gets the list as it is on disk now, so a concurrent writer's
// tokens are never lost.
func (t *Tokens) update(change func([]Token) ([]Token, error)) error {
	lf, err := os.OpenFile(t.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lf.Close() // closing releases the lock
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking the token store: %w", err)
	}
	list, _, err := readTokens(t.path)
	if err != nil {
		return err
	}
	list, err = change(list)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if err := writeSecret(t.path, string(b)); err != nil {
		return err
	}
	st, err := os.Stat(t.path)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.list, t.info = list, st
	t.mu.Unlock()
	return nil
}

// MaxTokenNameLen bounds a token's name (in characters).
const MaxTokenNameLen = 100

// ValidateTokenName checks a token's name: printable text (no control or
// formatting characters, which could forge lines in listings and logs) of
// at most MaxTokenNameLen characters.
func ValidateTokenName(name string) error {
	switch {
	case !utf8.ValidString(name):
		return errors.New("the token name is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxTokenNameLen:
		return fmt.Errorf("the token name has %d characters; use at most %d", utf8.RuneCountInString(name), MaxTokenNameLen)
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
		return errors.New("the token name must not contain control or formatting characters (newlines, tabs, escapes, direction marks)")
	}
	return nil
}

// Create makes a token with a role and returns it; only its hash is stored.
func (t *Tokens) Create(role, name string) (string, error) {
	tok, _, err := t.Issue(role, name)
	return tok, err
}

// Issue makes a token with a role and name and returns the secret (shown
// once: only its hash is stored) and the stored entry.
func (t *Tokens) Issue(role, name string) (string, Token, error) {
	if Rank(role) < 0 {
		return "", Token{}, fmt.Errorf("role %q: want one of %s", role, strings.Join(Roles, ", "))
	}
	if err := ValidateTokenName(name); err != nil {
		return "", Token{}, err
	}
	tok, entry, err := newToken(role, name)
	if err != nil {
		return "", Token{}, err
	}
	if err := t.update(func(list []Token) ([]Token, error) { return append(list, entry), nil }); err != nil {
		return "", Token{}, err
	}
	return tok, entry, nil
}

// newToken makes a secret and its entry (hash only).
func newToken(role, name string) (string, Token, error) {
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Token{}, err
	}
	tok := "gns_" + hex.EncodeToString(raw[:])
	var id [4]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", Token{}, err
	}
	return tok, Token{ID: "tok-" + hex.EncodeToString(id[:]), Name: name, Role: role, Hash: hashToken(tok), Created: time.Now().UTC()}, nil
}

// Errors of Revoke.
var (
	ErrNoToken   = errors.New("no such token")
	ErrLastAdmin = errors.New("it is the last admin token")
)

// Revoke deletes the token with the given ID: from the next request on it
// authenticates nothing, in this process and in a server reading the same
// store. The last admin token cannot be revoked (make another first).
func (t *Tokens) Revoke(id string) (Token, error) {
	var gone Token
	err := t.update(func(list []Token) ([]Token, error) {
		i := slices.IndexFunc(list, func(x Token) bool { return x.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("%w %q; list them with `genesis token list` or GET /api/v1/tokens", ErrNoToken, id)
		}
		gone = list[i]
		if gone.Role == RoleAdmin && !slices.ContainsFunc(list, func(x Token) bool { return x.Role == RoleAdmin && x.ID != id }) {
			return nil, fmt.Errorf("%s: %w; create another admin token first (genesis token create --role admin)", id, ErrLastAdmin)
		}
		return slices.Delete(list, i, i+1), nil
	})
	return gone, err
}

// Lookup returns the token entry for a presented token. When the store
// cannot be read it authenticates nothing (a revocation must not be
// missed).
func (t *Tokens) Lookup(tok string) (Token, bool) {
	if err := t.reload(); err != nil {
		return Token{}, false
	}
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
