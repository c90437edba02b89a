package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/challenges"
)

// genesis token create, list and revoke: a revoked token authenticates
// nothing in a store opened before the revocation (a running server), the
// audit log records who created and revoked which token (never the
// secret), and bad names and the last admin token are refused.
func TestTokenCommands(t *testing.T) {
	home := t.TempDir()
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := execute(append(args, "--home", home), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, tok, errs := run("token", "create", "--role", "operator", "--name", "ci")
	tok = strings.TrimSpace(tok)
	if code != 0 || !strings.HasPrefix(tok, "gns_") || !strings.Contains(errs, "genesis token revoke tok-") {
		t.Fatalf("create: exit %d, %q %q", code, tok, errs)
	}
	server, err := access.OpenTokens(home) // a running server's view
	if err != nil {
		t.Fatal(err)
	}
	entry, ok := server.Lookup(tok)
	if !ok {
		t.Fatal("the created token does not authenticate")
	}
	if code, out, _ := run("token", "list"); code != 0 || !strings.Contains(out, entry.ID) || !strings.Contains(out, `"ci"`) {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	if code, out, errs := run("token", "revoke", entry.ID); code != 0 || !strings.Contains(out, "revoked "+entry.ID) {
		t.Fatalf("revoke: exit %d %q %q", code, out, errs)
	}
	if _, ok := server.Lookup(tok); ok {
		t.Error("a revoked token still authenticates in a store opened before the revocation")
	}
	if code, _, errs := run("token", "revoke", entry.ID); code == 0 || !strings.Contains(errs, "no such token") {
		t.Errorf("revoking twice: exit %d %q", code, errs)
	}
	if code, _, errs := run("token", "create", "--name", "two\nlines"); code == 0 || !strings.Contains(errs, "control") {
		t.Errorf("a name with a newline: exit %d %q", code, errs)
	}
	var adminID string
	for _, tk := range server.List() {
		if tk.Role == access.RoleAdmin {
			adminID = tk.ID
		}
	}
	if code, _, errs := run("token", "revoke", adminID); code == 0 || !strings.Contains(errs, "last admin token") {
		t.Errorf("revoking the last admin: exit %d %q", code, errs)
	}
	b, err := os.ReadFile(filepath.Join(home, "api", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var created, revoked bool
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e access.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		created = created || (e.Method == "CLI" && e.Path == "genesis token create" && e.Resource == entry.ID && e.Actor != "")
		revoked = revoked || (e.Method == "CLI" && e.Path == "genesis token revoke" && e.Resource == entry.ID && e.Actor != "")
	}
	if !created || !revoked || strings.Contains(string(b), tok) {
		t.Errorf("audit log (created %v, revoked %v, secret absent %v):\n%s", created, revoked, !strings.Contains(string(b), tok), b)
	}
}

// The API server of genesis dev and genesis api caps the connections that
// have not shown a valid token: past the cap, a new one is answered 503 at
// once instead of being held, and one that has shown a token still works.
func TestServeAPICapsUnauthenticatedConnections(t *testing.T) {
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	cfg := &globals{home: t.TempDir()}
	bound, stop, err := serveAPI(cfg, &stack{cfg: cfg}, cat, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	admin, _ := os.ReadFile(access.AdminTokenFile(cfg.home))
	authed := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	get := func() int {
		req, _ := http.NewRequest("GET", "http://"+bound+"/api/v1/challenges", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(admin)))
		resp, err := authed.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body) // drained: the connection is kept
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("authenticated: %d", code)
	}
	for range 64 {
		c, err := net.Dial("tcp", bound)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	// The server counts the 64 only once it has accepted them, which the
	// client cannot see: probe until a new silent connection is refused. A
	// probe held instead is closed, which gives its place back, so the test
	// fails only if the cap never refuses.
	probe := func() (*http.Response, error) {
		c, err := net.Dial("tcp", bound)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		return http.ReadResponse(bufio.NewReader(c), nil)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := probe()
		if err == nil && resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the 65th silent connection: %v %v (held instead of refused)", resp, err)
		}
	}
	if code := get(); code != 200 {
		t.Errorf("authenticated while the cap is full: %d", code)
	}
}
