package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.temporal.io/sdk/client"

	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/api/apiclient"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/workflows"
	"github.com/genesis-sci/genesis/workflows/campaign"
	"github.com/genesis-sci/genesis/workflows/portfolioflow"
)

// smallPortfolio is a portfolio file that finishes quickly.
const smallPortfolio = `
name: small
campaigns:
  - {challenge: crossed-barrel-toughness, strategy: random, budget: {lab_runs: 2}}
`

// IDs that cannot name a workflow, and IDs of another kind, on a real
// Temporal server: 400 and 404, never 503; a portfolio may not take the ID
// of a finished campaign (which would vanish from the lists) nor a chat's;
// methods a path does not serve get 405 with Allow.
func TestAPIHostileAndForeignIDs(t *testing.T) {
	e := newEnv(t)
	e.worker(t, team(0), openMemory(t, e.dir))
	h := newOperatorAPI(t, e)
	cl := h.client()
	started, err := cl.StartCampaign(t.Context(), apiclient.StartRequest{Challenge: "crossed-barrel-toughness", Strategy: "random", Budget: 2})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	campaign := started.ID
	if err := e.ts.GetDefaultClient().GetWorkflow(t.Context(), campaign, "").Get(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	created, err := cl.CreateChat(t.Context(), "")
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	chat := created.ID

	for _, c := range []struct {
		method, path, body string
		want               int
		code               string
	}{
		{"GET", "/api/v1/campaigns/a%01b", "", 400, "invalid_id"},
		{"GET", "/api/v1/campaigns/a%01b/watch", "", 400, "invalid_id"},
		{"POST", "/api/v1/campaigns/a%01b/stop", "", 400, "invalid_id"},
		{"GET", "/api/v1/campaigns/%C3%A9t%C3%A9", "", 400, "invalid_id"},
		{"GET", "/api/v1/campaigns/" + strings.Repeat("x", 1001), "", 400, "invalid_id"},
		{"GET", "/api/v1/chats/a%7Fb", "", 400, "invalid_id"},
		{"GET", "/api/v1/portfolios/%0A", "", 400, "invalid_id"},
		{"POST", "/api/v1/portfolios/a%00b/approvals/x/approve", "", 400, "invalid_id"},
		// Another kind's ID: the route's kind does not exist under it.
		{"GET", "/api/v1/campaigns/" + chat, "", 404, "not_found"},
		{"GET", "/api/v1/campaigns/" + chat + "/watch", "", 404, "not_found"},
		{"POST", "/api/v1/campaigns/" + chat + "/approve", "", 404, "not_found"},
		{"GET", "/api/v1/chats/" + campaign, "", 404, "not_found"},
		{"POST", "/api/v1/chats/" + campaign + "/messages", `{"text":"hello"}`, 404, "not_found"},
		{"GET", "/api/v1/portfolios/" + campaign, "", 404, "not_found"},
		{"POST", "/api/v1/portfolios/" + chat + "/approvals/a1/approve", "", 404, "not_found"},
		// A portfolio may not take another workflow's ID, nor one of their shape.
		{"POST", "/api/v1/portfolios?id=" + url.QueryEscape(campaign), smallPortfolio, 409, "id_taken"},
		{"POST", "/api/v1/portfolios?id=" + url.QueryEscape(chat), smallPortfolio, 409, "id_taken"},
		{"POST", "/api/v1/portfolios?id=chat-unused", smallPortfolio, 422, "reserved_id"},
		{"POST", "/api/v1/portfolios?id=pf-01-crossed-barrel-toughness", smallPortfolio, 422, "reserved_id"},
		// Malformed bodies.
		{"POST", "/api/v1/campaigns", `null`, 400, "malformed_request"},
		{"POST", "/api/v1/campaigns", `{"challenge":"crossed-barrel-toughness","model":null}`, 400, "malformed_request"},
		{"POST", "/api/v1/campaigns/" + campaign + "/approve", `{"reason":"ok"} {}`, 400, "malformed_request"},
		// Methods a path does not serve.
		{"TRACE", "/api/v1/campaigns", "", 405, "method_not_allowed"},
		{"DELETE", "/api/v1/campaigns/" + campaign, "", 405, "method_not_allowed"},
		{"PUT", "/health", "", 405, "method_not_allowed"},
	} {
		code, m := h.call(c.method, c.path, c.body)
		got, _ := m["error"].(map[string]any)
		if code != c.want || got["code"] != c.code {
			t.Errorf("%s %s: %d %v, want %d %s", c.method, c.path, code, m, c.want, c.code)
		}
	}
	// The finished campaign is still listed and readable.
	var list struct{ Campaigns []api.CampaignSummary }
	if code := h.get("/api/v1/campaigns", &list); code != 200 || len(list.Campaigns) != 1 || list.Campaigns[0].ID != campaign || list.Campaigns[0].Status != "completed" {
		t.Errorf("campaigns after the refused portfolio: %d %+v", code, list.Campaigns)
	}
	if code, m := h.call("GET", "/api/v1/campaigns/"+campaign, ""); code != 200 {
		t.Errorf("the finished campaign: %d %v", code, m)
	}
	// 405 names what the path serves.
	req, _ := http.NewRequest("TRACE", h.url+"/api/v1/campaigns", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.Header.Get("Allow") != "GET, POST, HEAD" {
		t.Errorf("Allow on a 405: %v %v", resp.Header, err)
	}
}

// The web UI in a real headless Chromium with hostile IDs and text
// everywhere it shows them (the campaign list, the campaign page and its
// pending runs, the list of decisions owed, the portfolio list, the chat):
// everything is shown as text, nothing becomes markup, nothing runs. The
// page refuses a token in its address and is served with a content
// security policy that forbids inline script and framing.
func TestWebUIHostileIDsInChromium(t *testing.T) {
	exe := chromium(t)
	e := newEnv(t)
	e.worker(t, team(0), openMemory(t, e.dir))
	_, toks, audit := openAccess(t)
	base := serve(t, api.NewHTTPServer((&api.Server{Temporal: e.ts.GetDefaultClient(), Catalog: e.cat, DefaultModel: "scripted", Tokens: toks,
		Audit: audit, EvalsDir: t.TempDir(), WatchEvery: 100 * time.Millisecond}).Handler()))
	op, _ := toks.Create(access.RoleOperator, "browser")

	// Workflows whose IDs are markup, started straight on Temporal (the
	// API makes its own IDs; anyone with Temporal access can choose one).
	const payload = `<img src=x onerror="window.pwned=1">`
	hostileCampaign := `campaign-"><script>window.pwned=2</script>` + payload
	hostilePortfolio := `pf-<svg onload="window.pwned=3">` + payload
	tc := e.ts.GetDefaultClient()
	ctx := context.Background()
	if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: hostileCampaign, TaskQueue: workflows.TaskQueue}, campaign.CampaignWorkflowName,
		campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Model: "scripted", Budget: challenges.Budget{Experiments: 6}, RequireApproval: true}); err != nil {
		t.Fatal(err)
	}
	spec, err := portfolio.Parse([]byte(`
name: hostile
approval: {lab_runs: review, timeout: 1h}
campaigns:
  - {challenge: crossed-barrel-toughness, strategy: random, budget: {lab_runs: 2}}
`), portfolio.Catalog(e.cat))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: hostilePortfolio, TaskQueue: workflows.TaskQueue}, portfolioflow.PortfolioWorkflowName,
		portfolioflow.PortfolioInput{Spec: *spec}); err != nil {
		t.Fatal(err)
	}

	// The headers of the page and of the API.
	for _, path := range []string{"/", "/app.js", "/api/v1/campaigns"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
	}

	b := browser(t, exe)
	// A token in the address is not used, not kept, and the address is cleaned.
	var errText, stored, search string
	if err := chromedp.Run(b,
		chromedp.Navigate(base+"/?token="+op),
		chromedp.Poll(`document.getElementById('error').textContent !== ''`, nil),
		chromedp.Text(`#error`, &errText, chromedp.ByQuery),
		chromedp.Evaluate(`localStorage.getItem('genesis-token') || ''`, &stored),
		chromedp.Evaluate(`location.search`, &search),
	); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errText, "token in the page address is not used") || stored != "" || search != "" {
		t.Errorf("a token in the address: error %q, stored %q, address query %q", errText, stored, search)
	}
	// With the token entered as a person does, the lists fill with hostile IDs.
	var campaigns, waiting, portfolios string
	if err := chromedp.Run(b,
		chromedp.SetValue(`#token`, op, chromedp.ByQuery),
		chromedp.Click(`#save-token`, chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('#campaigns tbody').textContent.includes('campaign-"><script>')`, nil),
		chromedp.Poll(`document.querySelector('#portfolios tbody').textContent.includes('pf-<svg')`, nil),
		chromedp.Poll(`document.querySelectorAll('#waiting-list tr.waiting-item').length >= 2`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Text(`#campaigns tbody`, &campaigns, chromedp.ByQuery),
		chromedp.Text(`#waiting-list`, &waiting, chromedp.ByQuery),
		chromedp.Text(`#portfolios tbody`, &portfolios, chromedp.ByQuery),
	); err != nil {
		var main string
		_ = chromedp.Run(b, chromedp.Text(`#error`, &errText, chromedp.ByQuery), chromedp.OuterHTML(`main`, &main, chromedp.ByQuery))
		t.Fatalf("the page never listed the hostile workflows: %v (page error %q)\n%s", err, errText, main)
	}
	if !strings.Contains(campaigns, hostileCampaign) || !strings.Contains(waiting, hostileCampaign) || !strings.Contains(waiting, hostilePortfolio) ||
		!strings.Contains(portfolios, hostilePortfolio) {
		t.Errorf("hostile IDs not shown as text:\ncampaigns %q\nwaiting %q\nportfolios %q", campaigns, waiting, portfolios)
	}
	// Open the hostile campaign and portfolio from their links, and send
	// markup in the chat.
	var title, pfTitle, chatLog string
	if err := chromedp.Run(b,
		chromedp.Evaluate(`[...document.querySelectorAll('#campaigns tbody a')].find(a => a.textContent.startsWith('campaign-')).click()`, nil),
		chromedp.WaitVisible(`#pending`, chromedp.ByQuery),
		chromedp.Text(`#c-title`, &title, chromedp.ByQuery),
		chromedp.Click(`#portfolios tbody a`, chromedp.ByQuery),
		chromedp.Poll(`document.getElementById('pf-title').textContent !== ''`, nil),
		chromedp.Text(`#pf-title`, &pfTitle, chromedp.ByQuery),
		chromedp.SetValue(`#chat-input`, payload, chromedp.ByQuery),
		chromedp.Click(`#chat-send`, chromedp.ByQuery),
		chromedp.WaitVisible(`#chat-log .msg.assistant`, chromedp.ByQuery),
		chromedp.Text(`#chat-log`, &chatLog, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("open the hostile workflows: %v", err)
	}
	if title != hostileCampaign || !strings.HasPrefix(pfTitle, hostilePortfolio) || !strings.Contains(chatLog, payload) {
		t.Errorf("titles %q / %q, chat %q", title, pfTitle, chatLog)
	}
	// The same page opened from a link to the hostile campaign.
	if err := chromedp.Run(b, chromedp.Navigate(base+"/#"+url.PathEscape(hostileCampaign)),
		chromedp.Poll(`document.getElementById('c-title').textContent !== ''`, nil), chromedp.Text(`#c-title`, &title, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if title != hostileCampaign {
		t.Errorf("opened from its link, the campaign page is titled %q", title)
	}
	// Nothing became markup and nothing ran.
	var injected int
	var pwned bool
	if err := chromedp.Run(b,
		chromedp.Evaluate(`document.querySelectorAll('img, main script, [onerror], [onload], svg:not(#plot)').length`, &injected),
		chromedp.Evaluate(`window.pwned !== undefined`, &pwned),
	); err != nil {
		t.Fatal(err)
	}
	if injected != 0 || pwned {
		var html string
		_ = chromedp.Run(b, chromedp.OuterHTML(`main`, &html, chromedp.ByQuery))
		t.Errorf("hostile text became markup: %d injected elements, script ran: %v\n%s", injected, pwned, html)
	}
	// The hostile campaign's runs can still be decided from the page.
	status := func() *campaign.Pending {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/api/v1/campaigns/"+url.PathEscape(hostileCampaign), nil)
		req.Header.Set("Authorization", "Bearer "+op)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st struct {
			Pending *campaign.Pending `json:"pending"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 200 {
			t.Fatalf("status of the hostile campaign: %d %v", resp.StatusCode, err)
		}
		return st.Pending
	}
	before := status()
	if before == nil {
		t.Fatal("the hostile campaign has no pending runs")
	}
	if err := chromedp.Run(b, chromedp.Click(`#approve`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if p := status(); p == nil || p.Iteration != before.Iteration {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("approving from the page did not decide the hostile campaign's runs")
		}
	}
}
