package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/api/access"
)

// The OpenAPI document and the route table describe the same API.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Security  *[]any `json:"security"`
			Responses map[string]any
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	s := &Server{}
	seen := map[string]bool{}
	for _, rt := range s.routes() {
		ops, ok := doc.Paths[rt.pattern]
		if !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.method, rt.pattern)
			continue
		}
		op, ok := ops[strings.ToLower(rt.method)]
		if !ok {
			t.Errorf("route %s %s: no %s operation in openapi.json", rt.method, rt.pattern, rt.method)
			continue
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public != (rt.role == "") {
			t.Errorf("%s %s: openapi says public=%v, the route needs role %q", rt.method, rt.pattern, public, rt.role)
		}
		// The answers every route of its kind can give are documented.
		var want []string
		if !public {
			want = append(want, "401", "403")
		}
		if strings.Contains(rt.pattern, "{") {
			want = append(want, "404")
		}
		if strings.Contains(rt.pattern, "{id}") && !strings.HasPrefix(rt.pattern, "/api/v1/tokens/") {
			want = append(want, "400")
		}
		for _, prefix := range []string{"/api/v1/campaigns", "/api/v1/portfolios", "/api/v1/chats", "/api/v1/approvals"} {
			if strings.HasPrefix(rt.pattern, prefix) {
				want = append(want, "503") // Temporal or the worker cannot answer
			}
		}
		for _, code := range want {
			if op.Responses[code] == nil {
				t.Errorf("%s %s: %s not documented", rt.method, rt.pattern, code)
			}
		}
		seen[rt.method+" "+rt.pattern] = true
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			if !seen[strings.ToUpper(m)+" "+path] {
				t.Errorf("openapi.json documents %s %s, which no route serves", strings.ToUpper(m), path)
			}
		}
	}
}

func TestTokens(t *testing.T) {
	home := t.TempDir()
	toks := openTokens(t, home)
	admin := mustRead(t, access.AdminTokenFile(home))
	if tk, ok := toks.Lookup(admin); !ok || tk.Role != access.RoleAdmin {
		t.Fatalf("the first admin token does not authenticate: %+v", tk)
	}
	v, err := toks.Create(access.RoleViewer, "dash")
	if err != nil {
		t.Fatal(err)
	}
	// A second process (genesis token create) sees the same store.
	again, _ := access.OpenTokens(home)
	if tk, ok := again.Lookup(v); !ok || tk.Role != access.RoleViewer || tk.Name != "dash" {
		t.Errorf("viewer token: %+v %v", tk, ok)
	}
	if _, ok := again.Lookup("gns_nope"); ok {
		t.Error("an unknown token authenticated")
	}
	for _, tk := range again.List() {
		if strings.Contains(tk.Hash, v) || len(tk.Hash) != 64 {
			t.Errorf("token stored in clear or badly hashed: %+v", tk)
		}
	}
	if _, err := toks.Create("superuser", ""); err == nil {
		t.Error("an unknown role was accepted")
	}
	if again2 := mustRead(t, access.AdminTokenFile(home)); again2 != admin {
		t.Error("reopening the store replaced the admin token")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestPortfolioChallengeFromID(t *testing.T) {
	cat := builtin(t)
	s := &Server{Catalog: cat}
	for id, want := range map[string]string{
		"pf-1-01-crossed-barrel-toughness":                            "crossed-barrel-toughness",
		"portfolio-q4-20261126t052718ab12cd-12-p3ht-cnt-conductivity": "p3ht-cnt-conductivity",
		"pf-01-nope":  "",
		"chat-123":    "",
		"x-1-crossed": "",
	} {
		if got := s.portfolioChallenge(id); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
}
