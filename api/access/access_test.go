package access

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The store on its own, as genesis token and the server use it: the first
// open writes one admin token (mode 0600); tokens authenticate until
// revoked, by this store or another on the same file; the last admin
// stays; only hashes reach the file.
func TestTokenStore(t *testing.T) {
	home := t.TempDir()
	s, err := OpenTokens(home)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(AdminTokenFile(home))
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(b))
	if fi, _ := os.Stat(AdminTokenFile(home)); fi.Mode().Perm() != 0o600 {
		t.Errorf("admin token file mode %v", fi.Mode().Perm())
	}
	if tk, ok := s.Lookup(admin); !ok || tk.Role != RoleAdmin {
		t.Fatalf("the first admin token: %+v %v", tk, ok)
	}
	again, err := OpenTokens(home) // a second process: no second admin
	if err != nil || len(again.List()) != 1 {
		t.Fatalf("reopen: %v, %d tokens", err, len(again.List()))
	}
	tok, entry, err := s.Issue(RoleViewer, "dashboard")
	if err != nil {
		t.Fatal(err)
	}
	if tk, ok := again.Lookup(tok); !ok || tk.ID != entry.ID || tk.Role != RoleViewer {
		t.Errorf("another store does not see the new token: %+v %v", tk, ok)
	}
	if _, err := again.Revoke(entry.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(tok); ok {
		t.Error("a token revoked by another store still authenticates")
	}
	if _, err := s.Revoke(entry.ID); !errors.Is(err, ErrNoToken) {
		t.Errorf("revoking twice: %v", err)
	}
	adminID := s.List()[0].ID
	if _, err := s.Revoke(adminID); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("revoking the last admin: %v", err)
	}
	if _, _, err := s.Issue("root", "x"); err == nil || !strings.Contains(err.Error(), `role "root"`) {
		t.Errorf("unknown role: %v", err)
	}
	if _, _, err := s.Issue(RoleViewer, "a\nforged line"); err == nil {
		t.Error("a name with a newline was taken")
	}
	raw, _ := os.ReadFile(filepath.Join(home, "api", "tokens.json"))
	if strings.Contains(string(raw), admin) || strings.Contains(string(raw), tok) {
		t.Error("a secret reached the store file")
	}
	if !(Rank(RoleViewer) < Rank(RoleOperator) && Rank(RoleOperator) < Rank(RoleAdmin) && Rank("root") < 0) {
		t.Error("roles out of order")
	}
}

// Each entry is one JSON line, appended.
func TestAuditLog(t *testing.T) {
	home := t.TempDir()
	a, err := OpenAudit(home)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Write(AuditEntry{TokenID: "tok-1", Role: RoleAdmin, Method: "CLI", Path: "token create", Resource: "tok-2"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Record(AuditEntry{Method: "GET", Path: "/api/v1/campaigns", Status: 401, Remote: "10.0.0.1:5"}, false); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(home, "api", "audit.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), b)
	}
	var e AuditEntry
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Status != 401 || e.Remote != "10.0.0.1:5" {
		t.Errorf("line 2 %q: %+v %v", lines[1], e, err)
	}
}
