package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/evals"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// chromium returns Debian's Chromium, or skips (fails when
// GENESIS_BROWSER_TEST=1, as make test sets after installing it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GENESIS_BROWSER_TEST") == "1" {
		t.Fatal("GENESIS_BROWSER_TEST=1 but there is no chromium; make test installs it (apt-get install chromium)")
	}
	t.Skip("no Chromium here (make test installs it)")
	return ""
}

// browser starts a headless Chromium for the test (closed at its end).
func browser(t *testing.T, exe string) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless,
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.NoFirstRun)
	actx, cancel1 := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel2 := chromedp.NewContext(actx)
	bctx := ctx
	// Start the browser on its own context, so that it belongs to that
	// context and not to the timeout derived from it.
	if err := chromedp.Run(bctx); err != nil {
		cancel2()
		cancel1()
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancel3 := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		// Close the browser and wait for its process to exit before the
		// test removes its profile directory.
		_ = chromedp.Cancel(bctx)
		cancel3()
		cancel2()
		cancel1()
	})
	return ctx
}

// openUI opens the web UI at hash and enters the token as a person does
// (the page takes no token from its address).
func openUI(base, tok, hash string) chromedp.Tasks {
	return chromedp.Tasks{chromedp.Navigate(base + "/" + hash), chromedp.WaitReady(`#save-token`, chromedp.ByQuery),
		chromedp.SetValue(`#token`, tok, chromedp.ByQuery), chromedp.Click(`#save-token`, chromedp.ByQuery)}
}

// The web UI in a real headless Chromium: start a campaign that needs
// approval from the page, approve its lab runs, watch the convergence plot
// fill in live, stop the campaign, and chat with the team.
func TestWebUIInChromium(t *testing.T) {
	exe := chromium(t)
	e := newEnv(t)
	e.worker(t, team(150*time.Millisecond), openMemory(t, e.dir))
	_, toks, audit := openAccess(t)
	srv := httptest.NewServer((&api.Server{Temporal: e.ts.GetDefaultClient(), Catalog: e.cat, DefaultModel: "scripted", Tokens: toks, Audit: audit,
		EvalsDir: t.TempDir(), WatchEvery: 100 * time.Millisecond}).Handler())
	defer srv.Close()
	op, _ := toks.Create(access.RoleOperator, "browser")

	ctx := browser(t, exe)
	var options int
	if err := chromedp.Run(ctx,
		openUI(srv.URL, op, ""),
		chromedp.WaitReady(`#challenge option[value="crossed-barrel-toughness"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#challenge option').length`, &options),
	); err != nil {
		var errText string
		_ = chromedp.Run(ctx, chromedp.Text(`#error`, &errText, chromedp.ByQuery))
		t.Fatalf("load the page: %v (page error %q)", err, errText)
	}
	if options != len(e.cat.IDs()) {
		t.Errorf("%d challenges offered, want %d", options, len(e.cat.IDs()))
	}
	var started string
	if err := chromedp.Run(ctx,
		chromedp.SetValue(`#budget`, "12", chromedp.ByQuery),
		chromedp.Click(`#approval`, chromedp.ByQuery),
		chromedp.Click(`#start`, chromedp.ByQuery),
		chromedp.WaitVisible(`#campaign`, chromedp.ByQuery),
		chromedp.Text(`#start-result`, &started, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("start from the page: %v", err)
	}
	if !strings.HasPrefix(started, "started campaign-") {
		t.Fatalf("start result %q", started)
	}
	// The lab runs wait for approval; approve them from the page.
	var pendingText string
	if err := chromedp.Run(ctx,
		chromedp.WaitVisible(`#pending`, chromedp.ByQuery),
		chromedp.Text(`#pending-points`, &pendingText, chromedp.ByQuery),
		chromedp.Click(`#approve`, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("approve from the page: %v", err)
	}
	if !strings.Contains(pendingText, `"theta"`) {
		t.Errorf("pending runs shown as %q", pendingText)
	}
	// The plot updates live: measured points appear as the campaign runs.
	var points int
	deadline := time.Now().Add(2 * time.Minute)
	for points < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the plot never showed 2 measurements (has %d)", points)
		}
		if err := chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll('#plot circle.measured').length`, &points)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var hasBest bool
	if err := chromedp.Run(ctx, chromedp.Evaluate(`document.querySelector('#plot polyline.best') !== null`, &hasBest)); err != nil || !hasBest {
		t.Errorf("no best-so-far line: %v", err)
	}
	// Stop it from the page; the summary says it ended.
	var summary string
	if err := chromedp.Run(ctx, chromedp.Click(`#stop`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(summary, "done:") {
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed the campaign ending: %q", summary)
		}
		if err := chromedp.Run(ctx, chromedp.Text(`#c-summary`, &summary, chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(summary, "stopped through the API") {
		t.Errorf("summary %q does not say it was stopped", summary)
	}
	// Chat with the team from the page.
	var chatLog string
	if err := chromedp.Run(ctx,
		chromedp.SetValue(`#chat-input`, "what is the crossed barrel challenge about?", chromedp.ByQuery),
		chromedp.Click(`#chat-send`, chromedp.ByQuery),
		chromedp.WaitVisible(`#chat-log .msg.assistant`, chromedp.ByQuery),
		chromedp.Text(`#chat-log`, &chatLog, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("chat from the page: %v", err)
	}
	if !strings.Contains(chatLog, "46.7 J") || !strings.Contains(chatLog, "you: what is the crossed barrel") {
		t.Errorf("chat log %q", chatLog)
	}
	var events string
	_ = chromedp.Run(ctx, chromedp.Text(`#events`, &events, chromedp.ByQuery))
	if !strings.Contains(events, "lab-operator") {
		t.Errorf("recent actions missing: %q", events)
	}
}

// The start form in a real headless Chromium: the strategy select offers
// every strategy (agents first), the optimiser's settings appear for bo
// only, a bad batch comes back as the API's message, and a bo campaign
// started from the form runs with its settings, which its page shows.
func TestStartBOFromWebUI(t *testing.T) {
	exe := chromium(t)
	e := newEnv(t)
	e.worker(t, team(0), openMemory(t, e.dir))
	h := newOperatorAPI(t, e)
	ctx := browser(t, exe)
	var offered []string
	var boHidden bool
	if err := chromedp.Run(ctx,
		openUI(h.url, h.tok, ""),
		chromedp.WaitReady(`#challenge option[value="crossed-barrel-toughness"]`, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll('#strategy option')].map(o => o.value)`, &offered),
		chromedp.Evaluate(`document.getElementById('bo-settings').hidden && document.getElementById('strategy').value === 'agents'`, &boHidden),
	); err != nil {
		t.Fatalf("load the page: %v", err)
	}
	if !slices.Equal(offered, campaign.Strategies) || !boHidden {
		t.Fatalf("strategies offered %v (want %v), bo settings hidden for agents: %v", offered, campaign.Strategies, boHidden)
	}
	// choose picks a strategy as a person does (the page listens for change).
	choose := func(v string) chromedp.Action {
		return chromedp.Evaluate(`(() => { const s = document.getElementById('strategy'); s.value = '`+v+`'; s.dispatchEvent(new Event('change')); })()`, nil)
	}
	var errText string
	if err := chromedp.Run(ctx, choose("bo"), chromedp.WaitVisible(`#bo-settings`, chromedp.ByQuery),
		chromedp.SetValue(`#budget`, "8", chromedp.ByQuery),
		chromedp.SetValue(`#batch`, "99", chromedp.ByQuery),
		chromedp.Click(`#start`, chromedp.ByQuery),
		chromedp.Poll(`document.getElementById('error').textContent !== ''`, nil),
		chromedp.Text(`#error`, &errText, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("start with a bad batch: %v", err)
	}
	if !strings.Contains(errText, "batch 99: want 1 to 64") {
		t.Errorf("the page shows %q for batch 99", errText)
	}
	// Back to agents and again to bo: the settings hide and come back.
	if err := chromedp.Run(ctx, choose("agents"), chromedp.WaitNotVisible(`#bo-settings`, chromedp.ByQuery), choose("bo"),
		chromedp.WaitVisible(`#bo-settings`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	var started string
	if err := chromedp.Run(ctx,
		chromedp.SetValue(`#batch`, "2", chromedp.ByQuery),
		chromedp.SetValue(`#init`, "random:2", chromedp.ByQuery),
		chromedp.SetValue(`#acquisition`, "ucb", chromedp.ByQuery),
		chromedp.Click(`#start`, chromedp.ByQuery),
		chromedp.WaitVisible(`#campaign`, chromedp.ByQuery),
		chromedp.Text(`#start-result`, &started, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("start bo from the page: %v", err)
	}
	id, ok := strings.CutPrefix(started, "started ")
	if !ok {
		t.Fatalf("start result %q", started)
	}
	var summary, strategy string
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(summary, "done:") {
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed the campaign ending: %q", summary)
		}
		time.Sleep(100 * time.Millisecond)
		if err := chromedp.Run(ctx, chromedp.Text(`#c-summary`, &summary, chromedp.ByQuery), chromedp.Text(`#c-strategy`, &strategy, chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}
	}
	if strategy != "strategy bo (acquisition ucb, init random:2, batch 2)" || !strings.Contains(summary, "8/8 experiments") {
		t.Errorf("campaign page: %q / %q", strategy, summary)
	}
	if got := fmt.Sprint(roundSizes(t, e, id)); got != "[2 2 2 2]" {
		t.Errorf("lab runs per round %s, want [2 2 2 2] (random:2, then batches of 2)", got)
	}
	var row string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`(() => { loadCampaigns(); })()`, nil),
		chromedp.Poll(`[...document.querySelectorAll('#campaigns tbody tr')].some(r => r.cells.length === 4 && r.cells[1].textContent === 'bo')`, nil),
		chromedp.Text(`#campaigns tbody`, &row, chromedp.ByQuery)); err != nil {
		t.Fatalf("the campaign list never showed strategy bo: %v", err)
	}
	if !strings.Contains(row, id) {
		t.Errorf("campaign list %q lacks %s", row, id)
	}
}

// The portfolio page in a real headless Chromium: it lists the portfolio,
// shows each campaign's spend against budget and what it waits for, and an
// operator approves a pending lab batch from the page.
func TestPortfolioPageInChromium(t *testing.T) {
	exe := chromium(t)
	e := newEnv(t)
	e.worker(t, team(50*time.Millisecond), openMemory(t, e.dir))
	h := newOperatorAPI(t, e)
	file := `
name: browser
approval: {lab_runs: auto_if_routine, timeout: 1h}
stall: {patience: 50}
campaigns:
  - {challenge: crossed-barrel-toughness, strategy: random, priority: 3, budget: {lab_runs: 2}, max_batch: 2, routine: {theta: {max: -1}}}
  - {challenge: agnp-spectrum-loss, strategy: random, budget: {lab_runs: 4}}
`
	if _, err := h.client().StartPortfolio(t.Context(), []byte(file), "pf-ui"); err != nil {
		t.Fatalf("start: %v", err)
	}
	ctx := browser(t, exe)
	var waiting string
	if err := chromedp.Run(ctx,
		openUI(h.url, h.tok, "#portfolio=pf-ui"),
		chromedp.WaitVisible(`#pf-pending`, chromedp.ByQuery),
		chromedp.Text(`#pf-campaigns`, &waiting, chromedp.ByQuery),
	); err != nil {
		var errText string
		_ = chromedp.Run(ctx, chromedp.Text(`#error`, &errText, chromedp.ByQuery))
		t.Fatalf("the portfolio page never showed a pending approval: %v (page error %q)", err, errText)
	}
	if !strings.Contains(waiting, "operator's approval") {
		t.Errorf("the campaigns table does not say who it waits for: %q", waiting)
	}
	var summary, table string
	// until refreshes the page's summary and campaigns table until ok.
	until := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("the page never showed %s: %q / %q", what, summary, table)
			}
			time.Sleep(200 * time.Millisecond)
			if err := chromedp.Run(ctx, chromedp.Text(`#pf-summary`, &summary, chromedp.ByQuery), chromedp.Text(`#pf-campaigns`, &table, chromedp.ByQuery)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Pause, then approve: the approved runs wait for the resume.
	var listed string
	if err := chromedp.Run(ctx, chromedp.Text(`#portfolios`, &listed, chromedp.ByQuery), chromedp.Click(`#pf-pause`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(listed, "pf-ui") {
		t.Errorf("portfolio list %q", listed)
	}
	until("the portfolio paused", func() bool { return strings.HasPrefix(summary, "paused by tok-") })
	// The approval is also in the page-wide list of what waits for a
	// decision; approve it from there.
	var owed string
	if err := chromedp.Run(ctx, chromedp.WaitVisible(`#pf-resume`, chromedp.ByQuery), chromedp.WaitVisible(`#waiting`, chromedp.ByQuery),
		chromedp.Text(`#waiting`, &owed, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(owed, "Waiting for your decision (1)") || !strings.Contains(owed, "portfolio pf-ui") || !strings.Contains(owed, "outside the routine region") {
		t.Errorf("the waiting list shows %q", owed)
	}
	if err := chromedp.Run(ctx, chromedp.Click(`button.w-approve`, chromedp.ByQuery), chromedp.WaitNotVisible(`#waiting`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	until("the approved campaign waiting for the resume", func() bool { return strings.Contains(table, "the portfolio to resume") })
	if err := chromedp.Run(ctx, chromedp.Click(`#pf-resume`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	until("the portfolio done", func() bool { return strings.HasPrefix(summary, "done") })
	if !strings.Contains(table, "2/2") || !strings.Contains(table, "4/4") || !strings.Contains(summary, "spent 6 lab runs") {
		t.Errorf("spend against budget: %q / %q", summary, table)
	}
	var bars int
	if err := chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll('#pf-campaigns .bar').length`, &bars)); err != nil || bars < 2 {
		t.Errorf("no spend bars (%d): %v", bars, err)
	}
}

// The eval report in a real headless Chromium: a small eval through real
// campaign workflows, then report.html renders its tables and both inline
// SVG plots per challenge with a curve for each strategy.
func TestEvalReportInChromium(t *testing.T) {
	exe := chromium(t)
	e := newEnvScale(t, 1e-6)
	e.worker(t, nil, nil)
	es := evals.Spec{Challenges: []string{challenges.DefaultID}, Strategies: []string{"random", "bo"}, Seeds: 2, Budget: 8}
	if err := es.Validate(e.cat); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	r := &evals.Runner{Catalog: e.cat, Campaigns: viaTemporal{e.ts.GetDefaultClient()}, Out: out, Parallel: 2}
	runs, err := r.Execute(context.Background(), es)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evals.WriteReports(out, e.cat, es, runs); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t, exe)
	var svgs, paths, rows int
	var title string
	if err := chromedp.Run(ctx,
		chromedp.Navigate("file://"+filepath.Join(out, "report.html")),
		chromedp.WaitReady(`body`, chromedp.ByQuery),
		chromedp.Title(&title),
		chromedp.Evaluate(`document.querySelectorAll('svg').length`, &svgs),
		chromedp.Evaluate(`document.querySelectorAll('svg path').length`, &paths),
		chromedp.Evaluate(`document.querySelectorAll('table tr').length`, &rows),
	); err != nil {
		t.Fatal(err)
	}
	if svgs < 2 || paths < 4 || rows < 3 {
		t.Errorf("report %q renders %d SVG plots with %d paths and %d table rows", title, svgs, paths, rows)
	}
	var box struct{ W, H float64 }
	if err := chromedp.Run(ctx, chromedp.Evaluate(`(() => { const r = document.querySelector('svg').getBoundingClientRect(); return {W: r.width, H: r.height}; })()`, &box)); err != nil || box.W < 200 || box.H < 100 {
		t.Errorf("the first plot is %vx%v px: %v", box.W, box.H, err)
	}
}
