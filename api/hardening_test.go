package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// authServer is an API with tokens and an audit log over a Temporal
// client that records campaign starts (any other Temporal call panics).
type authServer struct {
	url, home string
	admin     string
	toks      *access.Tokens
	rec       *startRecorder
	srv       *Server
}

func newAuthServer(t *testing.T) *authServer {
	t.Helper()
	cat := builtin(t)
	home := t.TempDir()
	toks := openTokens(t, home)
	audit, err := access.OpenAudit(home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { audit.Close() })
	rec := &startRecorder{}
	s := &Server{Temporal: rec, Catalog: cat, DefaultModel: "ollama:tiny", Tokens: toks, Audit: audit, EvalsDir: t.TempDir()}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return &authServer{url: hs.URL, home: home, admin: mustRead(t, access.AdminTokenFile(home)), toks: toks, rec: rec, srv: s}
}

// call makes a request with an Authorization header (none if auth is "")
// and returns the status, the header and the decoded JSON body.
func (a *authServer) call(t *testing.T, method, path, auth, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, resp.Header, m
}

func (a *authServer) auditLog(t *testing.T) []access.AuditEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(a.home, "api", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []access.AuditEntry
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e access.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// The authentication scheme is case-insensitive (RFC 7235); other schemes
// and a scheme without a token are refused.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	a := newAuthServer(t)
	for _, c := range []struct {
		auth string
		want int
	}{
		{"Bearer " + a.admin, 200},
		{"bearer " + a.admin, 200},
		{"BEARER " + a.admin, 200},
		{"bEaReR   " + a.admin + "  ", 200},
		{"Basic " + a.admin, 401},
		{"Bearer" + a.admin, 401},
		{"Bearer ", 401},
		{a.admin, 401},
	} {
		if code, _, m := a.call(t, "GET", "/api/v1/challenges", c.auth, ""); code != c.want {
			t.Errorf("Authorization %q: %d %v, want %d", c.auth[:min(len(c.auth), 12)], code, m, c.want)
		}
	}
}

// A revoked token authenticates nothing from the next request on, in the
// server that revoked it and in one that shares the store (as `genesis
// token revoke` in another process does), however soon after its last
// change; the last admin token cannot be revoked.
func TestTokenRevocationIsImmediate(t *testing.T) {
	a := newAuthServer(t)
	admin := "Bearer " + a.admin
	code, _, m := a.call(t, "POST", "/api/v1/tokens", admin, `{"role":"viewer","name":"dashboard"}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	tok, id := m["token"].(string), m["id"].(string)
	if code, _, _ := a.call(t, "GET", "/api/v1/campaigns/x/watch", "Bearer "+tok, ""); code == 401 {
		t.Fatal("the new token does not authenticate")
	}
	if code, _, m := a.call(t, "DELETE", "/api/v1/tokens/"+id, admin, ""); code != 200 {
		t.Fatalf("revoke: %d %v", code, m)
	}
	if code, _, _ := a.call(t, "GET", "/api/v1/challenges", "Bearer "+tok, ""); code != 401 {
		t.Errorf("a revoked token got %d", code)
	}
	if code, _, m := a.call(t, "DELETE", "/api/v1/tokens/"+id, admin, ""); code != 404 {
		t.Errorf("revoking twice: %d %v", code, m)
	}
	var adminID string
	for _, tk := range a.toks.List() {
		if tk.Role == access.RoleAdmin {
			adminID = tk.ID
		}
	}
	if code, _, m := a.call(t, "DELETE", "/api/v1/tokens/"+adminID, admin, ""); code != 409 {
		t.Errorf("revoking the last admin: %d %v", code, m)
	}
	// Another process: its own store on the same files. Create and revoke
	// within the same clock tick, many times: never missed.
	other, err := access.OpenTokens(a.home)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		tok, entry, err := a.toks.Issue(access.RoleViewer, "quick")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := a.toks.Lookup(tok); !ok {
			t.Fatal("a new token does not authenticate")
		}
		if _, err := other.Revoke(entry.ID); err != nil {
			t.Fatal(err)
		}
		if _, ok := a.toks.Lookup(tok); ok {
			t.Fatalf("round %d: a token revoked by another process still authenticates", i)
		}
	}
	// Writers in two processes do not lose each other's tokens.
	done := make(chan string, 20)
	for i := range 20 {
		s := a.toks
		if i%2 == 1 {
			s = other
		}
		go func() {
			tok, _, err := s.Issue(access.RoleViewer, "concurrent")
			if err != nil {
				t.Error(err)
			}
			done <- tok
		}()
	}
	for range 20 {
		if tok := <-done; tok != "" {
			if _, ok := a.toks.Lookup(tok); !ok {
				t.Error("a token created concurrently was lost")
			}
		}
	}
}

// Token names are checked (API and store): no control or formatting
// characters, at most MaxTokenNameLen characters.
func TestTokenNamesAreChecked(t *testing.T) {
	a := newAuthServer(t)
	admin := "Bearer " + a.admin
	for _, name := range []string{"line\nforged", "esc\x1b[31m", "tab\there", "rtl\u202Eevil", strings.Repeat("x", 60<<10), strings.Repeat("é", access.MaxTokenNameLen+1)} {
		body, _ := json.Marshal(map[string]string{"role": "viewer", "name": name})
		code, _, m := a.call(t, "POST", "/api/v1/tokens", admin, string(body))
		if code != 422 || m["error"].(map[string]any)["code"] != "invalid_name" {
			t.Errorf("name %q: %d %v", name[:min(len(name), 20)], code, m)
		}
		if _, _, err := a.toks.Issue(access.RoleViewer, name); err == nil {
			t.Errorf("the store took name %q", name[:min(len(name), 20)])
		}
	}
	if code, _, m := a.call(t, "POST", "/api/v1/tokens", admin, `{"role":"viewer","name":"Grafana dashboard (ops) – read only"}`); code != 201 {
		t.Errorf("a plain name: %d %v", code, m)
	}
	for _, tk := range a.toks.List() {
		if strings.ContainsAny(tk.Name, "\n\x1b\t\u202E") || len(tk.Name) > 4*access.MaxTokenNameLen {
			t.Errorf("stored name %q", tk.Name)
		}
	}
}

// The audit log records refused unauthenticated calls (with the client's
// address), what a call created (the campaign's or token's ID, never a
// secret) and revocations.
func TestAuditRecordsRefusalsAndCreatedIDs(t *testing.T) {
	a := newAuthServer(t)
	admin := "Bearer " + a.admin
	op, _ := a.toks.Create(access.RoleOperator, "op")
	a.call(t, "GET", "/api/v1/campaigns", "", "")
	a.call(t, "GET", "/api/v1/challenges", "Bearer gns_forged", "")
	code, _, m := a.call(t, "POST", "/api/v1/campaigns", "Bearer "+op, `{"challenge":"crossed-barrel-toughness","strategy":"bo","budget":5}`)
	if code != 202 {
		t.Fatalf("start: %d %v", code, m)
	}
	campaign := m["id"].(string)
	code, _, m = a.call(t, "POST", "/api/v1/tokens", admin, `{"role":"viewer","name":"v"}`)
	if code != 201 {
		t.Fatalf("token: %d %v", code, m)
	}
	secret, tokID := m["token"].(string), m["id"].(string)
	a.call(t, "DELETE", "/api/v1/tokens/"+tokID, admin, "")

	var noToken, badToken, started, created, revoked bool
	for _, e := range a.auditLog(t) {
		switch {
		case e.Status == 401 && e.Path == "/api/v1/campaigns" && strings.Contains(e.Detail, "no bearer token") && e.Remote != "":
			noToken = true
		case e.Status == 401 && e.Path == "/api/v1/challenges" && strings.Contains(e.Detail, "unknown or revoked"):
			badToken = true
		case e.Method == "POST" && e.Path == "/api/v1/campaigns" && e.Status == 202 && e.Resource == campaign && e.Role == access.RoleOperator:
			started = true
		case e.Method == "POST" && e.Path == "/api/v1/tokens" && e.Status == 201 && e.Resource == tokID:
			created = true
		case e.Method == "DELETE" && e.Status == 200 && e.Resource == tokID:
			revoked = true
		}
	}
	if !noToken || !badToken || !started || !created || !revoked {
		t.Errorf("audit: 401 without token %v, 401 bad token %v, start with ID %v, token with ID %v, revocation %v\n%+v",
			noToken, badToken, started, created, revoked, a.auditLog(t))
	}
	if b, _ := os.ReadFile(filepath.Join(a.home, "api", "audit.log")); strings.Contains(string(b), secret) || strings.Contains(string(b), "gns_") {
		t.Error("a token secret reached the audit log")
	}
}

// IDs that cannot name a workflow are refused with 400 before Temporal is
// asked (the recorder panics on any call but a start); bodies that are
// null, hold null fields or trail data are refused with 400.
func TestMalformedRequestsAreRefusedAtTheDoor(t *testing.T) {
	a := newAuthServer(t)
	op, _ := a.toks.Create(access.RoleOperator, "op")
	auth := "Bearer " + op
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/v1/campaigns/a%01b", ""},
		{"GET", "/api/v1/campaigns/%E2%80%AE", ""},
		{"GET", "/api/v1/campaigns/" + strings.Repeat("a", 1001) + "/watch", ""},
		{"POST", "/api/v1/campaigns/a%0Ab/approve", ""},
		{"POST", "/api/v1/chats/%C3%A9/messages", `{"text":"hi"}`},
		{"GET", "/api/v1/portfolios/a%09b", ""},
		{"POST", "/api/v1/portfolios/a%7Fb/stop", ""},
		{"POST", "/api/v1/campaigns", `null`},
		{"POST", "/api/v1/campaigns", `[]`},
		{"POST", "/api/v1/campaigns", `{"challenge":"crossed-barrel-toughness","budget":null}`},
		{"POST", "/api/v1/campaigns", `{"challenge":"crossed-barrel-toughness"} {"challenge":"crossed-barrel-toughness"}`},
		{"GET", "/api/v1/campaigns?limit=", ""},
	} {
		code, _, m := a.call(t, c.method, c.path, auth, c.body)
		if code != 400 {
			t.Errorf("%s %s %s: %d %v, want 400", c.method, c.path[:min(len(c.path), 60)], c.body, code, m)
		}
	}
	if len(a.rec.started) != 0 {
		t.Errorf("started %d campaigns from malformed requests", len(a.rec.started))
	}
}

// Every answer carries the security headers; a known path asked with
// another method gets 405 with Allow (TRACE included).
func TestSecurityHeadersAndMethodNotAllowed(t *testing.T) {
	a := newAuthServer(t)
	for _, path := range []string{"/", "/app.js", "/app.css", "/health", "/api/v1/campaigns", "/nope"} {
		code, h, _ := a.call(t, "GET", path, "", "")
		csp := h.Get("Content-Security-Policy")
		if code == 500 || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d, headers %v", path, code, h)
		}
	}
	if _, h, _ := a.call(t, "GET", "/api/v1/challenges", "Bearer "+a.admin, ""); h.Get("Cache-Control") != "no-store" {
		t.Errorf("API answers may be cached: %v", h)
	}
	for _, c := range []struct{ method, path, allow string }{
		{"TRACE", "/api/v1/campaigns", "GET, POST, HEAD"},
		{"PUT", "/api/v1/campaigns/x", "GET, HEAD"},
		{"GET", "/api/v1/tokens/tok-1", "DELETE"},
		{"POST", "/health", "GET, HEAD"},
		{"DELETE", "/", "GET, HEAD"},
	} {
		code, h, m := a.call(t, c.method, c.path, "Bearer "+a.admin, "")
		if code != 405 || h.Get("Allow") != c.allow || m["error"].(map[string]any)["code"] != "method_not_allowed" {
			t.Errorf("%s %s: %d Allow %q %v", c.method, c.path, code, h.Get("Allow"), m)
		}
	}
}

// The web UI builds the page from data with text nodes only: no HTML
// sinks, no inline script, style or event handlers (the content security
// policy forbids them), and no token read from the page address.
func TestWebUIHasNoHTMLSinks(t *testing.T) {
	js, _ := webFiles.ReadFile("web/app.js")
	html, _ := webFiles.ReadFile("web/index.html")
	for _, re := range []string{`\.innerHTML\b`, `\.outerHTML\b`, `insertAdjacentHTML`, `document\.write`, `\beval\(`, `new Function`, `\.get\('token'\)`, `javascript:`} {
		if loc := regexp.MustCompile(re).FindIndex(js); loc != nil {
			t.Errorf("app.js uses %s: %q", re, js[max(0, loc[0]-40):min(len(js), loc[1]+40)])
		}
	}
	for _, re := range []string{`<script>`, `<script[^>]*>[^<]`, `\sstyle=`, `<style`, `\son[a-z]+=`} {
		if loc := regexp.MustCompile(re).FindIndex(html); loc != nil {
			t.Errorf("index.html has %s: %q", re, html[max(0, loc[0]-40):min(len(html), loc[1]+40)])
		}
	}
}

// Slow and anonymous clients: a client that trickles its headers, stays
// silent or holds an idle connection is cut off; connections that have not
// shown a valid token are capped (the next gets 503 at once), while a
// client that has shown one keeps its connection.
func TestSlowClientsAreCutOff(t *testing.T) {
	if s := NewHTTPServer(http.NotFoundHandler()); s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.IdleTimeout <= 0 {
		t.Fatalf("the API server has no timeouts: %+v", s)
	}
	a := newAuthServer(t)
	dial := func(addr string) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closedWithin says whether the server closes c within d.
	closedWithin := func(c net.Conn, d time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, err := io.ReadAll(c)
		return err == nil // EOF: closed by the server (a timeout is an error)
	}

	// The cap, with timeouts long enough not to interfere.
	capped := &Server{Temporal: a.rec, Catalog: a.srv.Catalog, Tokens: a.toks}
	addr := serveLimits(t, capped.Handler(), Limits{ReadHeader: time.Minute, Read: time.Minute, Idle: time.Minute, MaxUnauthConns: 4})
	authed := dial(addr)
	br := bufio.NewReader(authed)
	get := func() int {
		t.Helper()
		_ = authed.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(authed, "GET /api/v1/challenges HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+a.admin+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("authenticated request: %d", code)
	}
	var silent []net.Conn
	for range 4 {
		silent = append(silent, dial(addr))
	}
	time.Sleep(100 * time.Millisecond) // let the server take them in
	over := dial(addr)
	_ = over.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(over), nil)
	if err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		open, refused := capped.conns.counts()
		t.Fatalf("a connection over the cap: %v %v (%d held, %d refused)", resp, err, open, refused)
	}
	if code := get(); code != 200 {
		t.Errorf("authenticated request while the cap is full: %d", code)
	}
	for _, c := range silent {
		c.Close()
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if open, _ := capped.conns.counts(); open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("closed connections still hold their slots")
		}
	}

	// The timeouts, short.
	short := &Server{Temporal: a.rec, Catalog: a.srv.Catalog, Tokens: a.toks}
	addr = serveLimits(t, short.Handler(), Limits{ReadHeader: 300 * time.Millisecond, Read: time.Second, Idle: 300 * time.Millisecond, MaxUnauthConns: 4})
	// Headers trickled a byte at a time are cut off.
	trickle := dial(addr)
	go func() {
		for _, b := range []byte("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ") {
			if _, err := trickle.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		for {
			if _, err := trickle.Write([]byte("a")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	if !closedWithin(trickle, 10*time.Second) {
		t.Error("a client trickling its headers was not cut off")
	}
	if !closedWithin(dial(addr), 10*time.Second) {
		t.Error("a silent client was not cut off")
	}
	// An idle kept-alive connection is closed after the idle timeout.
	idle := dial(addr)
	if _, err := io.WriteString(idle, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	ibr := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(ibr, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", resp, err)
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	_ = idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := ibr.ReadByte(); err != io.EOF {
		t.Errorf("an idle connection was not closed: %v", err)
	}
}

// serveLimits serves h with limits on a loopback port for the test.
func serveLimits(t *testing.T, h http.Handler, lim Limits) string {
	t.Helper()
	srv := NewHTTPServerLimits(h, lim)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// liveCampaign is a Temporal client with one running campaign whose
// status changes on every query.
type liveCampaign struct {
	client.Client
	n atomic.Int32
}

func (f *liveCampaign) QueryWorkflow(_ context.Context, id, _, query string, _ ...any) (converter.EncodedValue, error) {
	if query != campaign.QueryStatus {
		panic("unexpected query " + query)
	}
	return encoded{campaign.Status{CampaignID: id, Iteration: int(f.n.Add(1))}}, nil
}

func (f *liveCampaign) GetWorkflowHistory(context.Context, string, string, bool, enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return noHistory{}
}

type noHistory struct{}

func (noHistory) HasNext() bool                          { return false }
func (noHistory) Next() (*historypb.HistoryEvent, error) { return nil, io.EOF }

// encoded is a query result.
type encoded struct{ v any }

func (e encoded) HasValue() bool { return true }
func (e encoded) Get(p any) error {
	b, err := json.Marshal(e.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, p)
}

// A watch stream outlives the server's read timeout, which bounds how long
// a client may take to send its request, not how long it may listen (the
// server lifts the deadline once the request is read).
func TestWatchOutlivesTheReadTimeout(t *testing.T) {
	cat := builtin(t)
	s := &Server{Temporal: &liveCampaign{}, Catalog: cat, WatchEvery: 100 * time.Millisecond}
	addr := serveLimits(t, s.Handler(), Limits{ReadHeader: 200 * time.Millisecond, Read: 300 * time.Millisecond, Idle: time.Second, MaxUnauthConns: 4})
	resp, err := http.Get("http://" + addr + "/api/v1/campaigns/campaign-x/watch")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	start, events := time.Now(), 0
	for sc.Scan() && time.Since(start) < 1500*time.Millisecond {
		if strings.HasPrefix(sc.Text(), "event: status") {
			events++
		}
	}
	if elapsed := time.Since(start); elapsed < 1500*time.Millisecond || events < 3 {
		t.Errorf("the stream ended after %s with %d status events (read timeout 300ms): %v", elapsed.Round(time.Millisecond), events, sc.Err())
	}
}

// A watch stream opened with a token ends once the token is revoked.
func TestRevocationEndsAWatch(t *testing.T) {
	cat := builtin(t)
	home := t.TempDir()
	toks := openTokens(t, home)
	s := &Server{Temporal: &liveCampaign{}, Catalog: cat, Tokens: toks, WatchEvery: 50 * time.Millisecond}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	tok, entry, err := toks.Issue(access.RoleViewer, "watcher")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/campaigns/campaign-x/watch", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("watch: %v %v", resp, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "event: status") {
	}
	other, _ := access.OpenTokens(home) // genesis token revoke, in another process
	if _, err := other.Revoke(entry.ID); err != nil {
		t.Fatal(err)
	}
	revokedAt := time.Now()
	var said bool
	for sc.Scan() {
		said = said || strings.Contains(sc.Text(), "the token was revoked")
	}
	if !said || time.Since(revokedAt) > 2*time.Second {
		t.Errorf("the stream went on %s after the revocation (said so: %v)", time.Since(revokedAt).Round(time.Millisecond), said)
	}
}
