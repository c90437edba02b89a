package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/scripted"
	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/api/apiclient"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/tools/labclient"
	"github.com/genesis-sci/genesis/workflows/campaign"
	"github.com/genesis-sci/genesis/workflows/chat"
	"github.com/genesis-sci/genesis/workflows/portfolioflow"
)

// The HTTP API starts a campaign as a workflow on the real server, reports
// its live status, stops it on request, and refuses bad input with a JSON error.
func TestAPIStartStatusStop(t *testing.T) {
	e := newEnv(t)
	var mem memory.Store = openMemory(t, e.dir)
	e.worker(t, team(20*time.Millisecond), mem)
	srv := httptest.NewServer((&api.Server{Temporal: e.ts.GetDefaultClient(), Catalog: e.cat, DefaultModel: "scripted"}).Handler())
	defer srv.Close()

	post := func(path, body string) (*http.Response, map[string]any) {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	for _, bad := range []struct {
		body   string
		status int
	}{
		{`{"challenge":"nope"}`, http.StatusUnprocessableEntity},
		{`{"challenge":"crossed-barrel-toughness","budget":-1}`, http.StatusUnprocessableEntity},
		{`{"challenge":`, http.StatusBadRequest},
		{`{"challenge":"crossed-barrel-toughness","colour":"red"}`, http.StatusBadRequest},
	} {
		resp, m := post("/api/v1/campaigns", bad.body)
		if resp.StatusCode != bad.status || m["error"] == nil {
			t.Errorf("%s: status %d body %v, want %d with an error", bad.body, resp.StatusCode, m, bad.status)
		}
	}
	resp, m := post("/api/v1/campaigns", `{"challenge":"crossed-barrel-toughness","budget":40}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start: %d %v", resp.StatusCode, m)
	}
	id, _ := m["id"].(string)
	var st campaign.Status
	deadline := time.Now().Add(time.Minute)
	for st.ExperimentsUsed < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no progress: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
		r, err := http.Get(srv.URL + "/api/v1/campaigns/" + id)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(r.Body).Decode(&st)
		r.Body.Close()
	}
	if resp, _ := post("/api/v1/campaigns/"+id+"/stop", ``); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("stop: %d", resp.StatusCode)
	}
	var res campaign.CampaignResult
	if err := e.ts.GetDefaultClient().GetWorkflow(t.Context(), id, "").Get(t.Context(), &res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.StopReason, "stopped through the API") || len(res.Experiments) >= 40 {
		t.Errorf("stop reason %q after %d experiments", res.StopReason, len(res.Experiments))
	}
	if r, _ := http.Get(srv.URL + "/api/v1/campaigns/no-such-campaign"); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown campaign: %d", r.StatusCode)
	}
}

// Roles, audit, listing and the live watch stream, on a real Temporal server.
func TestAPIAuthWatchAndAudit(t *testing.T) {
	e := newEnv(t)
	e.worker(t, team(5*time.Millisecond), openMemory(t, e.dir))
	home, toks, audit := openAccess(t)
	emb := memory.Hashing{}
	mem := openMemory(t, t.TempDir())
	srv := httptest.NewServer((&api.Server{Temporal: e.ts.GetDefaultClient(), Catalog: e.cat, DefaultModel: "scripted", Tokens: toks, Audit: audit,
		Memory: mem, Embedder: emb, EvalsDir: t.TempDir(), WatchEvery: 50 * time.Millisecond}).Handler())
	defer srv.Close()
	viewer, _ := toks.Create(access.RoleViewer, "v")
	operator, _ := toks.Create(access.RoleOperator, "o")

	call := func(method, path, token, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	start := `{"challenge":"crossed-barrel-toughness","budget":3}`
	for _, c := range []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"no token", "GET", "/api/v1/campaigns", "", "", http.StatusUnauthorized},
		{"bad token", "GET", "/api/v1/campaigns", "gns_wrong", "", http.StatusUnauthorized},
		{"viewer reads", "GET", "/api/v1/challenges", viewer, "", http.StatusOK},
		{"viewer cannot start", "POST", "/api/v1/campaigns", viewer, start, http.StatusForbidden},
		{"viewer cannot make tokens", "POST", "/api/v1/tokens", viewer, `{"role":"admin"}`, http.StatusForbidden},
		{"operator cannot make tokens", "POST", "/api/v1/tokens", operator, `{"role":"admin"}`, http.StatusForbidden},
		{"health is public", "GET", "/health", "", "", http.StatusOK},
		{"openapi is public", "GET", "/openapi.json", "", "", http.StatusOK},
		{"oversized body", "POST", "/api/v1/campaigns", operator, `{"challenge":"` + strings.Repeat("x", 70<<10) + `"}`, http.StatusRequestEntityTooLarge},
		{"malformed JSON", "POST", "/api/v1/campaigns", operator, `{"challenge":`, http.StatusBadRequest},
		{"memory search needs q", "GET", "/api/v1/memory/search", viewer, "", http.StatusBadRequest},
		{"memory search", "GET", "/api/v1/memory/search?q=walls&k=3", viewer, "", http.StatusOK},
		{"unknown eval", "GET", "/api/v1/evals/nope", viewer, "", http.StatusNotFound},
	} {
		if got, m := call(c.method, c.path, c.token, c.body); got != c.want {
			t.Errorf("%s: %d %v, want %d", c.name, got, m, c.want)
		}
	}
	asOperator, _ := apiclient.New(srv.URL, operator)
	asViewer, _ := apiclient.New(srv.URL, viewer)
	started, err := asOperator.StartCampaign(t.Context(), apiclient.StartRequest{Challenge: "crossed-barrel-toughness", Budget: 3})
	if err != nil {
		t.Fatalf("operator start: %v", err)
	}
	id := started.ID

	// Watch: status events as the campaign runs, then done.
	statuses, maxUsed := 0, 0
	reason, err := asViewer.WatchCampaign(t.Context(), id, func(st apiclient.CampaignStatus) {
		statuses++
		maxUsed = max(maxUsed, st.ExperimentsUsed)
	})
	if err != nil || statuses < 2 || maxUsed != 3 {
		t.Errorf("watch saw %d status events, ended %q (%v), %d experiments", statuses, reason, err, maxUsed)
	}
	// List shows it; a viewer cannot stop it.
	if list, err := asViewer.Campaigns(t.Context(), 0); err != nil || !slices.ContainsFunc(list, func(c apiclient.CampaignSummary) bool { return c.ID == id }) {
		t.Errorf("list: %v %+v", err, list)
	}
	if _, err := asViewer.StopCampaign(t.Context(), id); !apiclient.IsStatus(err, http.StatusForbidden) {
		t.Errorf("viewer stop: %v", err)
	}
	// The audit log holds the start (202) and the refusals (403), with who did them.
	b, _ := os.ReadFile(filepath.Join(home, "api", "audit.log"))
	var starts, forbidden int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var a access.AuditEntry
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if a.Method == "POST" && a.Path == "/api/v1/campaigns" && a.Status == 202 && a.Role == access.RoleOperator {
			starts++
		}
		if a.Status == http.StatusForbidden && a.TokenID != "" {
			forbidden++
		}
	}
	if starts != 1 || forbidden < 3 {
		t.Errorf("audit: %d starts, %d refusals\n%s", starts, forbidden, b)
	}
}

// Pause and resume, and approval of lab runs, through the API.
func TestAPIPauseResumeApprove(t *testing.T) {
	e := newEnv(t)
	e.worker(t, team(5*time.Millisecond), openMemory(t, e.dir))
	h := newOperatorAPI(t, e)
	cl, ctx := h.client(), t.Context()
	status := func(id string) campaign.Status {
		st, _ := cl.Campaign(ctx, id)
		return st.Status
	}
	waitFor := func(id, what string, cond func(campaign.Status) bool) campaign.Status {
		deadline := time.Now().Add(time.Minute)
		for {
			st := status(id)
			if cond(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("campaign never %s: %+v", what, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// approve approves the runs pending in st and waits until the status
	// shows them decided, past the API's status cache.
	approve := func(id string, st campaign.Status) {
		it := st.Pending.Iteration
		_, _ = cl.ApproveCampaign(ctx, id, apiclient.CampaignDecision{})
		waitFor(id, "took the approval", func(s campaign.Status) bool { return s.Done || s.Pending == nil || s.Pending.Iteration != it })
	}
	started, err := cl.StartCampaign(ctx, apiclient.StartRequest{Challenge: "crossed-barrel-toughness", Budget: 10, RequireApproval: true})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	id := started.ID
	st := waitFor(id, "asked for approval", func(s campaign.Status) bool { return s.Pending != nil })
	if len(st.Pending.Points) == 0 || st.ExperimentsUsed != 0 {
		t.Fatalf("pending %+v with %d experiments", st.Pending, st.ExperimentsUsed)
	}
	// The list of what waits for a person has it, with where to decide.
	owed, err := cl.PendingDecisions(ctx)
	if err != nil || len(owed.Approvals) != 1 {
		t.Fatalf("approvals: %v %+v", err, owed)
	}
	if a := owed.Approvals[0]; a.Kind != "campaign" || a.Campaign != id || len(a.Points) != len(st.Pending.Points) ||
		a.Reject != "/api/v1/campaigns/"+id+"/reject" || a.Command != "genesis campaign approve|reject "+id || !strings.HasPrefix(a.Why, "lab-operator: ") || a.Iteration != st.Pending.Iteration {
		t.Errorf("approval item %+v", a)
	}
	// A decision about runs other than those pending is refused.
	if _, err := cl.ApproveCampaign(ctx, id, apiclient.CampaignDecision{Iteration: st.Pending.Iteration + 1}); !apiclient.IsStatus(err, http.StatusConflict) {
		t.Fatalf("approving runs that are not pending: %v", err)
	}
	// Reject: nothing runs this iteration; the next one asks again; approve that.
	if _, err := cl.RejectCampaign(ctx, id, apiclient.CampaignDecision{Reason: "too hot"}); err != nil {
		t.Fatalf("reject: %v", err)
	}
	waitFor(id, "asked again", func(s campaign.Status) bool { return s.Pending != nil && s.Pending.Iteration == 2 })
	if st := status(id); st.ExperimentsUsed != 0 {
		t.Errorf("a rejected run ran: %d experiments", st.ExperimentsUsed)
	}
	if _, err := cl.ApproveCampaign(ctx, id, apiclient.CampaignDecision{}); err != nil {
		t.Fatalf("approve: %v", err)
	}
	waitFor(id, "ran the approved runs", func(s campaign.Status) bool { return s.ExperimentsUsed >= 2 })
	// Pause: it stops before the next iteration; resume: it goes on.
	if _, err := cl.PauseCampaign(ctx, id); err != nil {
		t.Fatalf("pause: %v", err)
	}
	// It may first ask about the runs of the iteration under way: approve
	// those; it pauses before the next iteration.
	for {
		st = waitFor(id, "paused", func(s campaign.Status) bool { return s.Phase == "paused" || s.Pending != nil })
		if st.Phase == "paused" {
			break
		}
		approve(id, st)
	}
	// A paused campaign stays put: once its workflow has nothing scheduled,
	// only a signal can move it, and then it still has the runs it paused
	// with.
	used := st.ExperimentsUsed
	if st := settled(t, e.ts.GetDefaultClient(), id); st.ExperimentsUsed != used || st.Phase != "paused" {
		t.Errorf("a paused campaign went on: %+v", st)
	}
	if _, err := cl.ResumeCampaign(ctx, id); err != nil {
		t.Fatalf("resume: %v", err)
	}
	waitFor(id, "resumed", func(s campaign.Status) bool { return !s.Paused && s.Phase != "paused" })
	// Nothing pending now or soon: approving out of turn is a conflict, or it is asked again.
	for {
		st := waitFor(id, "asked or finished", func(s campaign.Status) bool { return s.Pending != nil || s.Done })
		if st.Done {
			break
		}
		approve(id, st)
	}
	if _, err := cl.ApproveCampaign(ctx, id, apiclient.CampaignDecision{}); !apiclient.IsStatus(err, http.StatusConflict) && !apiclient.IsStatus(err, http.StatusNotFound) {
		t.Errorf("approve with nothing pending: %v", err)
	}
}

// BenchmarkAPI measures, on a real Temporal server: status reads
// (GET /api/v1/campaigns/{id}, a workflow query) under 50 concurrent
// clients (p50/p99), and campaign starts per second (10 clients).
//
//	go test ./workflows/e2e -run '^$' -bench BenchmarkAPI -benchtime 2000x
func BenchmarkAPI(b *testing.B) {
	e := newEnv(b)
	e.worker(b, team(2*time.Second), nil) // campaigns stay alive and answer queries
	_, toks, audit := openAccess(b)
	srv := httptest.NewServer((&api.Server{Temporal: e.ts.GetDefaultClient(), Catalog: e.cat, DefaultModel: "scripted", Tokens: toks, Audit: audit, EvalsDir: b.TempDir()}).Handler())
	defer srv.Close()
	op, _ := toks.Create(access.RoleOperator, "bench")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	do := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+op)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	code, body := do("POST", "/api/v1/campaigns", `{"challenge":"crossed-barrel-toughness","budget":30}`)
	if code != 202 {
		b.Fatalf("start: %d %s", code, body)
	}
	var started map[string]string
	_ = json.Unmarshal(body, &started)
	id := started["id"]
	for { // wait until the workflow answers queries
		if code, _ := do("GET", "/api/v1/campaigns/"+id, ""); code == 200 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	t0 := time.Now()
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				s := time.Now()
				if code, body := do("GET", "/api/v1/campaigns/"+id, ""); code != 200 {
					b.Errorf("status read: %d %s", code, body)
					return
				}
				lat[i] = time.Since(s)
			}
		}()
	}
	wg.Wait()
	reads := time.Since(t0)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/reads.Seconds(), "reads/s")
	b.ReportMetric(float64(lat[b.N/2].Microseconds())/1000, "read-p50-ms")
	b.ReportMetric(float64(lat[min(b.N-1, b.N*99/100)].Microseconds())/1000, "read-p99-ms")

	// Campaign starts per second, 10 clients, 100 starts.
	const starts = 100
	var n atomic.Int64
	t0 = time.Now()
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n.Add(1) <= starts {
				if code, body := do("POST", "/api/v1/campaigns", `{"challenge":"crossed-barrel-toughness","budget":1}`); code != 202 {
					b.Errorf("start: %d %s", code, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(starts/time.Since(t0).Seconds(), "starts/s")
}

// A chat through the API: a session, a reply, the conversation; and a
// worker restart in the middle of a turn does not lose the turn.
func TestAPIChatSurvivesWorkerRestart(t *testing.T) {
	e := newEnv(t)
	w1 := e.worker(t, team(time.Second), nil)
	h := newOperatorAPI(t, e)
	cl, ctx := h.client(), t.Context()
	created, err := cl.CreateChat(ctx, "")
	if err != nil {
		t.Fatalf("create chat: %v", err)
	}
	id := created.ID
	if _, err := cl.SendChat(ctx, id, ""); !apiclient.IsStatus(err, http.StatusUnprocessableEntity) {
		t.Errorf("empty message: %v", err)
	}
	done := make(chan chat.ChatReply, 1)
	go func() {
		reply, err := cl.SendChat(ctx, id, "what is the crossed barrel challenge?")
		if err != nil {
			t.Errorf("send: %v", err)
		}
		done <- reply
	}()
	waitActivityRunning(t, e.ts.GetDefaultClient(), id, chat.ChatTurnActivity) // the turn's model call is under way
	w1.Stop()
	e.worker(t, team(time.Second), nil)
	select {
	case reply := <-done:
		if !strings.Contains(reply.Text, "46.7 J") {
			t.Errorf("reply %+v", reply)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the turn was lost in the worker restart")
	}
	if st, err := cl.Chat(ctx, id); err != nil || len(st.Messages) != 2 {
		t.Errorf("conversation: %v %+v", err, st)
	}
}

// The chat sees a campaign waiting for approval and approves it when asked.
func TestChatApprovesPendingRuns(t *testing.T) {
	e := newEnv(t)
	c := e.ts.GetDefaultClient()
	e.worker(t, team(0), nil)
	h := newOperatorAPI(t, e)
	cl, ctx := h.client(), t.Context()
	started, err := cl.StartCampaign(ctx, apiclient.StartRequest{Challenge: "crossed-barrel-toughness", Budget: 2, RequireApproval: true})
	if err != nil {
		t.Fatal(err)
	}
	id := started.ID
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := cl.Campaign(ctx, id)
		if st.Pending != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never pending: %v %+v", err, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	chat, err := cl.CreateChat(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// The message names the campaign: the chat acts only on what it is
	// asked for by name.
	reply, err := cl.SendChat(ctx, chat.ID, "please approve the waiting runs of "+id)
	if err != nil || !strings.Contains(reply.Text, "I approved the lab runs campaign "+id) {
		t.Fatalf("chat reply: %v %+v", err, reply)
	}
	var res campaign.CampaignResult
	if err := c.GetWorkflow(t.Context(), id, "").Get(t.Context(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Experiments) != 2 {
		t.Errorf("after the chat's approval the campaign ran %d experiments, want 2", len(res.Experiments))
	}
}

// The chat decides a portfolio's pending approval for the user, with the
// user's role: an escalated approval is refused for an operator and taken
// for an admin, and the portfolio records who decided.
func TestChatDecidesPortfolioApproval(t *testing.T) {
	e := newEnv(t)
	e.worker(t, team(0), nil)
	h := newOperatorAPI(t, e)
	file := "name: chat\napproval: {lab_runs: review, timeout: 1s, escalation_timeout: 1h}\nstall: {patience: 50}\ncampaigns:\n  - {challenge: crossed-barrel-toughness, strategy: random, budget: {lab_runs: 2}, max_batch: 2}\n"
	cl, ctx := h.client(), t.Context()
	if _, err := cl.StartPortfolio(ctx, []byte(file), "pf-chat"); err != nil {
		t.Fatalf("start: %v", err)
	}
	var st portfolioflow.PortfolioStatus
	deadline := time.Now().Add(time.Minute)
	for st, _ = cl.Portfolio(ctx, "pf-chat"); len(st.Pending) == 0 || st.Pending[0].Role != "admin"; st, _ = cl.Portfolio(ctx, "pf-chat") {
		if time.Now().After(deadline) {
			t.Fatalf("no escalated approval pending: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	aid := st.Pending[0].ID
	ask := func(who *operatorAPI, text string) string {
		chat, err := who.client().CreateChat(ctx, "")
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		reply, err := who.client().SendChat(ctx, chat.ID, text)
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		return reply.Text
	}
	admin := h.as(h.admin)
	// The message must name the approval: the sender's role is spent
	// only on what they asked for.
	if got := ask(admin, "please approve the portfolio's waiting runs"); !strings.Contains(got, "I decided nothing") || !strings.Contains(got, "name it in your message") {
		t.Fatalf("a message that names no approval decided one: %q", got)
	}
	if got := ask(h, "please approve "+aid+" of the portfolio"); !strings.Contains(got, "is not decided") || !strings.Contains(got, "only an admin") {
		t.Fatalf("an operator's chat decided an escalated approval: %q", got)
	}
	if got := ask(admin, "please approve "+aid+" of the portfolio"); !strings.Contains(got, "I approved approval "+aid+" of portfolio pf-chat") {
		t.Fatalf("an admin's chat: %q", got)
	}
	var log []string
	for deadline := time.Now().Add(time.Minute); ; {
		st, _ = cl.Portfolio(ctx, "pf-chat")
		log = log[:0]
		for _, r := range st.Log {
			log = append(log, r.Detail)
		}
		if st.Done || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !st.Done || st.Spent.LabRuns != 2 || !strings.Contains(strings.Join(log, "\n"), aid+" approved by tok-") {
		t.Errorf("after the chat's approval: done %v, %d lab runs, log:\n%s", st.Done, st.Spent.LabRuns, strings.Join(log, "\n"))
	}
}

// operatorAPI is the API with auth over a test env, and a caller holding an
// operator's token.
type operatorAPI struct {
	t   *testing.T
	url string
	tok string
	// admin is the admin token (for calls that need it: as(admin)).
	admin string
}

// as returns the caller with another token.
func (h *operatorAPI) as(tok string) *operatorAPI { c := *h; c.tok = tok; return &c }

// client is the typed API client with the caller's token; call and do
// remain for requests the client would not make (malformed bodies,
// hostile IDs, other methods).
func (h *operatorAPI) client() *apiclient.Client {
	cl, err := apiclient.New(h.url, h.tok)
	if err != nil {
		h.t.Fatal(err)
	}
	return cl
}

func newOperatorAPI(t *testing.T, e *env) *operatorAPI {
	t.Helper()
	home, toks, audit := openAccess(t)
	srv := httptest.NewServer((&api.Server{Temporal: e.ts.GetDefaultClient(), Catalog: e.cat, DefaultModel: "scripted", Tokens: toks, Audit: audit, EvalsDir: t.TempDir()}).Handler())
	t.Cleanup(srv.Close)
	op, _ := toks.Create(access.RoleOperator, "o")
	admin, _ := os.ReadFile(access.AdminTokenFile(home))
	return &operatorAPI{t: t, url: srv.URL, tok: op, admin: strings.TrimSpace(string(admin))}
}

// call sends a request and decodes the JSON answer (safe in goroutines:
// a transport error is reported with Errorf and returns status 0).
func (h *operatorAPI) call(method, path, body string) (int, map[string]any) {
	var m map[string]any
	code := h.do(method, path, body, &m)
	return code, m
}

func (h *operatorAPI) get(path string, out any) int { return h.do("GET", path, "", out) }

func (h *operatorAPI) do(method, path, body string, out any) int {
	req, _ := http.NewRequest(method, h.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Error(err)
		return 0
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(out)
	return resp.StatusCode
}

// roundSizes lists how many lab runs campaign id made in each round of
// each iteration, in order (from the lab's keys: ID/itI/rR/labJ).
func roundSizes(t *testing.T, e *env, id string) []int {
	t.Helper()
	runs, err := labclient.New(e.url, nil).List(t.Context(), labclient.ListOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := map[[2]int]int{}
	for _, r := range runs {
		rest, ok := strings.CutPrefix(r.IdempotencyKey, id+"/")
		if !ok {
			continue
		}
		var it, round, j int
		if _, err := fmt.Sscanf(rest, "it%d/r%d/lab%d", &it, &round, &j); err != nil {
			t.Fatalf("lab key %q: %v", r.IdempotencyKey, err)
		}
		n[[2]int{it, round}]++
	}
	keys := slices.SortedFunc(maps.Keys(n), func(a, b [2]int) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	out := make([]int, len(keys))
	for i, k := range keys {
		out[i] = n[k]
	}
	return out
}

// A bo campaign started through the API with its optimiser settings runs
// to completion on the real server with them: a start design of 2 random
// points, then 2 points chosen together per round; its status, the watch
// stream and the list show the strategy and the settings in effect.
func TestAPIStartsBOCampaign(t *testing.T) {
	e := newEnv(t)
	// The worker's model fails the test if bo calls it.
	e.worker(t, &scripted.Model{Fn: func(llm.Request) (string, error) {
		t.Error("bo called the model")
		return "", errors.New("bo calls no model")
	}}, openMemory(t, e.dir))
	h := newOperatorAPI(t, e)
	cl := h.client()
	started, err := cl.StartCampaign(t.Context(), apiclient.StartRequest{Challenge: "crossed-barrel-toughness", Budget: 15, Strategy: "bo", Acquisition: "ucb", Init: "random:2", Batch: 2})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	id := started.ID
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var res campaign.CampaignResult
	if err := e.ts.GetDefaultClient().GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Strategy != "bo" || res.Model != "" || len(res.Experiments) != 15 || res.ModelCalls != 0 {
		t.Fatalf("strategy %q, model %q, %d experiments, %d model calls; want bo, none, 15, 0", res.Strategy, res.Model, len(res.Experiments), res.ModelCalls)
	}
	// 2 start points, then 13 in rounds of 2 (the last one 1).
	if got := fmt.Sprint(roundSizes(t, e, id)); got != "[2 2 2 2 2 2 2 1]" {
		t.Errorf("lab runs per round %s, want [2 2 2 2 2 2 2 1]", got)
	}
	st, err := cl.Campaign(ctx, id)
	if err != nil || !st.Done || st.Strategy != "bo" || st.Acquisition != "ucb" || st.Init != "random:2" || st.Batch != 2 {
		t.Errorf("status %v: done %v, strategy %q acquisition %q init %q batch %d", err, st.Done, st.Strategy, st.Acquisition, st.Init, st.Batch)
	}
	var watched []apiclient.CampaignStatus
	if _, err := cl.WatchCampaign(ctx, id, func(st apiclient.CampaignStatus) { watched = append(watched, st) }); err != nil || len(watched) == 0 {
		t.Fatalf("watch: %v, %d statuses", err, len(watched))
	}
	if w := watched[len(watched)-1]; w.Strategy != "bo" || w.Acquisition != "ucb" || w.Init != "random:2" || w.Batch != 2 {
		t.Errorf("the watch stream does not show the settings: %+v", w)
	}
	list, err := cl.Campaigns(ctx, 0)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Strategy != "bo" {
		t.Errorf("list %v %+v", err, list)
	}
}

// openAccess opens the tokens (with the first admin's) and the audit log
// of a fresh data directory, home, for an API server; the audit log
// closes when the test ends, after the server.
func openAccess(t testing.TB) (home string, toks *access.Tokens, audit *access.Audit) {
	t.Helper()
	home = t.TempDir()
	toks, err := access.OpenTokens(home)
	if err != nil {
		t.Fatal(err)
	}
	if audit, err = access.OpenAudit(home); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { audit.Close() })
	return home, toks, audit
}
