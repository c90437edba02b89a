package lab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/tools/labclient"
)

const cb = "crossed-barrel-toughness"

func catalog(t *testing.T) *challenges.Catalog {
	t.Helper()
	cat, err := challenges.Open("testdata/challenges")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func challenge(t *testing.T, id string) *challenges.Challenge {
	t.Helper()
	c, err := catalog(t).Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// env is a lab server behind a real HTTP listener on 127.0.0.1 and a client for it.
type env struct {
	s  *lab.Server
	ts *httptest.Server
	c  *labclient.Client
}

func (e *env) close(t *testing.T) {
	t.Helper()
	e.ts.Close()
	if err := e.s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	noRunGoroutines(t)
}

// start runs a lab with cfg; zero fields get test defaults (a fresh DB
// file, time scale 0.001, the built-in plus test catalog).
func start(t *testing.T, cfg lab.Config) *env {
	t.Helper()
	if cfg.Catalog == nil {
		cfg.Catalog = catalog(t)
	}
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(t.TempDir(), "lab.db")
	}
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 0.001
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := lab.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	e := &env{s: s, ts: ts, c: labclient.New(ts.URL, ts.Client())}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { e.close(t) }) })
	return e
}

// get sends GET path with the Authorization header auth (none when
// empty) and reads the error body, if the answer is one.
func (e *env) get(t *testing.T, path, auth string) (*http.Response, labclient.ErrorBody) {
	t.Helper()
	rq, _ := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
	if auth != "" {
		rq.Header.Set("Authorization", auth)
	}
	resp, err := e.ts.Client().Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb labclient.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&eb)
	return resp, eb
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// noRunGoroutines fails if a run goroutine outlived Close.
func noRunGoroutines(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	if strings.Contains(string(buf), "lab.(*Server).execute") {
		t.Errorf("run goroutine still alive after Close:\n%s", buf)
	}
}

func req(c *challenges.Challenge, pt challenges.Point, key string) labclient.SubmitRequest {
	return labclient.SubmitRequest{Challenge: c.ID, Parameters: c.Map(pt), IdempotencyKey: key, Requester: "test"}
}

func status(err error) int {
	if e, ok := err.(*labclient.Error); ok {
		return e.Status
	}
	return 0
}

func TestSubmitAndWait(t *testing.T) {
	e := start(t, lab.Config{})
	c := challenge(t, cb)
	i := c.TopSet()[0]
	pt := c.Pool().Points[i]

	run, err := e.c.Submit(ctx(t), req(c, pt, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if run.ID == "" || run.Status.Terminal() || run.Instrument == "" || run.Challenge != cb || run.IdempotencyKey != "k1" {
		t.Fatalf("submitted run: %+v", run)
	}
	polls := 0
	done, err := e.c.Wait(ctx(t), run.ID, 5*time.Millisecond, func(labclient.Run) { polls++ })
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != labclient.Succeeded || done.Result == nil || polls == 0 {
		t.Fatalf("finished run: %+v (polls %d)", done, polls)
	}
	got := done.Result.Values["toughness"]
	want, _ := c.Measure(pt, "k1")
	if got != want[0] {
		t.Errorf("measured %v, want the lab model's %v", got, want[0])
	}
	if sd := c.Pool().SD[i][0]; math.Abs(got-c.Pool().Values[i][0]) > 5*sd+1e-9 {
		t.Errorf("measured %v, too far from pool value %v (sd %v)", got, c.Pool().Values[i][0], sd)
	}
	if done.Attempts != 1 || done.StartedAt == nil || done.FinishedAt == nil || done.FinishedAt.Before(*done.StartedAt) {
		t.Errorf("bookkeeping: %+v", done)
	}
	if d := done.FinishedAt.Sub(*done.StartedAt); d < 60*time.Millisecond {
		t.Errorf("run took %v, want ≥ 60 s × 0.001", d)
	}
	if m := e.s.Measurements(); m != 1 {
		t.Errorf("%d measurements, want 1", m)
	}
	h, err := e.c.Health(ctx(t))
	if err != nil || h.Status != "ok" || h.Measurements != 1 || h.TimeScale != 0.001 {
		t.Errorf("health %+v, %v", h, err)
	}
}

func TestIdempotentResubmit(t *testing.T) {
	e := start(t, lab.Config{})
	c := challenge(t, cb)
	pt := c.Pool().Points[7]

	// Many concurrent submissions of one key make one run.
	var wg sync.WaitGroup
	ids := make([]string, 10)
	errs := make([]error, 10)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.c.Submit(ctx(t), req(c, pt, "same"))
			ids[i], errs[i] = r.ID, err
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("submission %d: id %q err %v, want id %q", i, ids[i], errs[i], ids[0])
		}
	}
	first, err := e.c.Wait(ctx(t), ids[0], 5*time.Millisecond, nil)
	if err != nil || first.Status != labclient.Succeeded {
		t.Fatalf("%+v %v", first, err)
	}
	again, err := e.c.Submit(ctx(t), req(c, pt, "same"))
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || again.Status != labclient.Succeeded || again.Result.Values["toughness"] != first.Result.Values["toughness"] {
		t.Errorf("resubmission gave %+v, want %+v", again, first)
	}
	if m := e.s.Measurements(); m != 1 {
		t.Errorf("%d measurements, want exactly 1", m)
	}
	runs, err := e.c.List(ctx(t), labclient.ListOptions{})
	if err != nil || len(runs) != 1 {
		t.Errorf("stored runs %d (%v), want 1", len(runs), err)
	}
}

func TestKeyReuseConflict(t *testing.T) {
	e := start(t, lab.Config{})
	c := challenge(t, cb)
	if _, err := e.c.Submit(ctx(t), req(c, c.Pool().Points[0], "k")); err != nil {
		t.Fatal(err)
	}
	f := challenge(t, "lab-test-furnace")
	for name, r := range map[string]labclient.SubmitRequest{
		"other parameters": req(c, c.Pool().Points[1], "k"),
		"other challenge":  req(f, f.Pool().Points[0], "k"),
		"other requester":  {Challenge: cb, Parameters: c.Map(c.Pool().Points[0]), IdempotencyKey: "k", Requester: "someone-else"},
	} {
		_, err := e.c.Submit(ctx(t), r)
		if status(err) != http.StatusConflict || labclient.ErrorCode(err) != labclient.CodeIdempotencyConflict || !labclient.IsRefused(err) {
			t.Errorf("%s: got %v, want 409 idempotency_conflict", name, err)
		}
	}
	if runs, _ := e.c.List(ctx(t), labclient.ListOptions{}); len(runs) != 1 {
		t.Errorf("%d runs stored, want 1", len(runs))
	}
}

// notInPool returns a design of the crossed-barrel space that was never measured.
func notInPool(t *testing.T, c *challenges.Challenge) challenges.Point {
	for _, n := range c.Parameters[0].Values {
		for _, th := range c.Parameters[1].Values {
			for _, r := range c.Parameters[2].Values {
				for _, tt := range c.Parameters[3].Values {
					pt := challenges.Point{n, th, r, tt}
					if _, ok := c.Pool().Lookup(c, pt); !ok {
						return pt
					}
				}
			}
		}
	}
	t.Fatal("the whole design space is in the pool")
	return nil
}

func TestRefusals(t *testing.T) {
	e := start(t, lab.Config{})
	c := challenge(t, cb)
	f := challenge(t, "lab-test-furnace")
	good := c.Map(c.Pool().Points[0])
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		req    labclient.SubmitRequest
		status int
		code   string
		says   string
	}{
		{"unknown challenge", labclient.SubmitRequest{Challenge: "nope", Parameters: good, IdempotencyKey: "a", Requester: "t"}, 422, labclient.CodeUnknownChallenge, cb},
		{"value not allowed", labclient.SubmitRequest{Challenge: cb, Parameters: with("n", 7.0), IdempotencyKey: "a", Requester: "t"}, 422, labclient.CodeInvalidParameters, `"n": 7 is not allowed`},
		{"missing parameter", labclient.SubmitRequest{Challenge: cb, Parameters: with("theta", nil), IdempotencyKey: "a", Requester: "t"}, 422, labclient.CodeInvalidParameters, `missing parameter "theta"`},
		{"unknown parameter", labclient.SubmitRequest{Challenge: cb, Parameters: with("zeta", 1.0), IdempotencyKey: "a", Requester: "t"}, 422, labclient.CodeInvalidParameters, `unknown parameter "zeta"`},
		{"safety limit", req(f, challenges.Point{900, 1}, "a"), 422, labclient.CodeSafetyLimit, "furnace lining"},
		{"forbidden combination", req(f, challenges.Point{700, 1}, "a"), 422, labclient.CodeSafetyLimit, "when gas=nitrogen"},
		{"not in pool", req(c, notInPool(t, c), "a"), 422, labclient.CodeNotInPool, "measured pool"},
		{"unknown instrument", labclient.SubmitRequest{Challenge: cb, Parameters: good, IdempotencyKey: "a", Requester: "t", Instrument: "robot-9"}, 422, labclient.CodeUnknownInstrument, "robot-1"},
		{"no key", labclient.SubmitRequest{Challenge: cb, Parameters: good, Requester: "t"}, 400, labclient.CodeMalformedRequest, "idempotency_key"},
		{"no requester", labclient.SubmitRequest{Challenge: cb, Parameters: good, IdempotencyKey: "a"}, 400, labclient.CodeMalformedRequest, "requester"},
	} {
		_, err := e.c.Submit(ctx(t), tc.req)
		if status(err) != tc.status || labclient.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.says) || !labclient.IsRefused(err) {
			t.Errorf("%s: got %v, want %d %s mentioning %q", tc.name, err, tc.status, tc.code, tc.says)
		}
	}

	// Raw bodies the client would never send.
	valid := `{"challenge":"crossed-barrel-toughness","parameters":{"n":6,"theta":0,"r":1.5,"t":0.7},"idempotency_key":"raw","requester":"t"`
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		says              string
	}{
		{"malformed JSON", "application/json", `{"challenge": "crossed-barrel-toughness",`, 400, "not valid JSON"},
		{"not an object", "application/json", `[1,2]`, 400, "must be a JSON object"},
		{"wrong field type", "application/json", `{"challenge": 5}`, 400, `"challenge" must be a string`},
		{"unknown field", "application/json", valid + `,"priority":1}`, 400, `unknown field "priority"`},
		{"trailing data", "application/json", valid + `}{}`, 400, "trailing data"},
		{"empty body", "application/json", ``, 400, "empty"},
		{"not JSON content type", "text/plain", valid + `}`, 415, "application/json"},
		{"too large", "application/json", valid + `,"pad":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "larger than"},
	} {
		resp, err := http.Post(e.ts.URL+"/runs", tc.ctype, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var eb labclient.ErrorBody
		if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code != labclient.CodeMalformedRequest && tc.status == 400 ||
			resp.StatusCode != tc.status || !strings.Contains(eb.Error.Message, tc.says) ||
			resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s, want %d mentioning %q", tc.name, resp.StatusCode, b, tc.status, tc.says)
		}
	}

	// Nothing was stored, queued or measured.
	runs, err := e.c.List(ctx(t), labclient.ListOptions{})
	if err != nil || len(runs) != 0 {
		t.Errorf("stored runs: %v %v", runs, err)
	}
	ins, err := e.c.Instruments(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range ins {
		if in.Queued != 0 || in.Busy != 0 {
			t.Errorf("instrument %+v is not idle", in)
		}
	}
	if e.s.Measurements() != 0 {
		t.Error("a refused request was measured")
	}
	// The refused key is still free.
	if r, err := e.c.Submit(ctx(t), labclient.SubmitRequest{Challenge: cb, Parameters: good, IdempotencyKey: "a", Requester: "t"}); err != nil || r.ID == "" {
		t.Errorf("key of a refused request: %v", err)
	}
}

func TestRestartMidRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lab.db")
	one := []lab.Instrument{{Name: "solo", Capacity: 1, Challenges: []string{cb}}}
	c := challenge(t, cb)
	ptA, ptB := c.Pool().Points[3], c.Pool().Points[4]

	// A 60 s run at time scale 1: it is still running when the lab stops.
	e1 := start(t, lab.Config{DBPath: db, TimeScale: 1, Instruments: one})
	a, err := e1.c.Submit(ctx(t), req(c, ptA, "a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := e1.c.Submit(ctx(t), req(c, ptB, "b"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run a to start", func() bool {
		r, err := e1.c.Get(ctx(t), a.ID)
		return err == nil && r.Status == labclient.Running
	})
	if r, _ := e1.c.Get(ctx(t), b.ID); r.Status != labclient.Queued {
		t.Fatalf("run b is %s, want queued behind a", r.Status)
	}
	e1.close(t)
	if e1.s.Measurements() != 0 {
		t.Fatal("a run finished before the restart")
	}

	// Same database, fast clock: both runs complete.
	e2 := start(t, lab.Config{DBPath: db, Instruments: one})
	for _, r := range []struct {
		run      labclient.Run
		pt       challenges.Point
		attempts int
	}{{a, ptA, 2}, {b, ptB, 1}} {
		done, err := e2.c.Wait(ctx(t), r.run.ID, 5*time.Millisecond, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := c.Measure(r.pt, r.run.IdempotencyKey)
		if done.Status != labclient.Succeeded || done.Result.Values["toughness"] != want[0] || done.Attempts != r.attempts {
			t.Errorf("after restart: %+v, want succeeded with %v after %d attempts", done, want[0], r.attempts)
		}
	}
	// The idempotency key survived the restart too.
	again, err := e2.c.Submit(ctx(t), req(c, ptA, "a"))
	if err != nil || again.ID != a.ID {
		t.Errorf("resubmitting after restart: %+v %v", again, err)
	}
	if m := e2.s.Measurements(); m != 2 {
		t.Errorf("%d measurements, want 2", m)
	}
}

func TestConcurrentSubmits(t *testing.T) {
	e := start(t, lab.Config{})
	c := challenge(t, cb)
	const n = 50
	runs := make([]labclient.Run, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.c.Submit(ctx(t), req(c, c.Pool().Points[i], fmt.Sprintf("c%d", i)))
			if err != nil {
				t.Error(err)
				return
			}
			runs[i], err = e.c.Wait(ctx(t), r.ID, 5*time.Millisecond, nil)
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	type event struct {
		at    time.Time
		delta int
	}
	byInst := map[string][]event{}
	ids := map[string]bool{}
	for i, r := range runs {
		want, _ := c.Measure(c.Pool().Points[i], r.IdempotencyKey)
		if r.Status != labclient.Succeeded || r.Result.Values["toughness"] != want[0] {
			t.Errorf("run %d: %+v", i, r)
		}
		ids[r.ID] = true
		byInst[r.Instrument] = append(byInst[r.Instrument], event{*r.StartedAt, +1}, event{*r.FinishedAt, -1})
	}
	if len(ids) != n || e.s.Measurements() != n {
		t.Errorf("%d distinct runs, %d measurements; want %d", len(ids), e.s.Measurements(), n)
	}
	if len(byInst) != 2 {
		t.Errorf("runs used instruments %v, want both", byInst)
	}
	// No instrument ever ran more than its capacity at once.
	for name, evs := range byInst {
		sort.Slice(evs, func(i, j int) bool {
			return evs[i].at.Before(evs[j].at) || evs[i].at.Equal(evs[j].at) && evs[i].delta < evs[j].delta
		})
		busy, peak := 0, 0
		for _, ev := range evs {
			busy += ev.delta
			peak = max(peak, busy)
		}
		if peak > 2 {
			t.Errorf("instrument %s ran %d runs at once, capacity 2", name, peak)
		}
	}
}

func TestAbort(t *testing.T) {
	one := []lab.Instrument{{Name: "solo", Capacity: 1, Challenges: []string{cb}}}
	db := filepath.Join(t.TempDir(), "lab.db")
	e := start(t, lab.Config{DBPath: db, TimeScale: 1, Instruments: one})
	c := challenge(t, cb)
	a, _ := e.c.Submit(ctx(t), req(c, c.Pool().Points[0], "a"))
	b, _ := e.c.Submit(ctx(t), req(c, c.Pool().Points[1], "b"))
	waitFor(t, "run a to start", func() bool {
		r, _ := e.c.Get(ctx(t), a.ID)
		return r.Status == labclient.Running
	})

	// Abort the queued run, then the running one.
	for _, id := range []string{b.ID, a.ID} {
		r, err := e.c.Abort(ctx(t), id)
		if err != nil || r.Status != labclient.Aborted || r.FinishedAt == nil || r.Error == "" {
			t.Fatalf("abort %s: %+v %v", id, r, err)
		}
		done, err := e.c.Wait(ctx(t), id, 5*time.Millisecond, nil)
		if err != nil || done.Status != labclient.Aborted || done.Result != nil {
			t.Errorf("after abort: %+v %v", done, err)
		}
	}
	waitFor(t, "the slot to be freed", func() bool {
		ins, err := e.c.Instruments(ctx(t))
		return err == nil && ins[0].Busy == 0 && ins[0].Queued == 0
	})
	if _, err := e.c.Abort(ctx(t), a.ID); status(err) != http.StatusConflict || labclient.ErrorCode(err) != labclient.CodeRunFinished {
		t.Errorf("aborting twice: %v, want 409 run_finished", err)
	}
	if _, err := e.c.Abort(ctx(t), "run-nope"); !labclient.IsNotFound(err) {
		t.Errorf("aborting an unknown run: %v, want 404", err)
	}
	// The freed slot takes the next run.
	d, _ := e.c.Submit(ctx(t), req(c, c.Pool().Points[2], "d"))
	waitFor(t, "run d to start", func() bool {
		r, _ := e.c.Get(ctx(t), d.ID)
		return r.Status == labclient.Running
	})
	if m := e.s.Measurements(); m != 0 {
		t.Errorf("%d measurements, want 0", m)
	}
	// After a restart aborted runs stay aborted; the interrupted one re-runs.
	e.close(t)
	e2 := start(t, lab.Config{DBPath: db, Instruments: one})
	if r, err := e2.c.Wait(ctx(t), d.ID, 5*time.Millisecond, nil); err != nil || r.Status != labclient.Succeeded {
		t.Errorf("run d after restart: %+v %v", r, err)
	}
	for _, id := range []string{a.ID, b.ID} {
		if r, err := e2.c.Get(ctx(t), id); err != nil || r.Status != labclient.Aborted {
			t.Errorf("run %s after restart: %+v %v", id, r, err)
		}
	}
	if m := e2.s.Measurements(); m != 1 {
		t.Errorf("%d measurements after restart, want 1", m)
	}
}

func TestListAndInstruments(t *testing.T) {
	e := start(t, lab.Config{})
	c := challenge(t, cb)
	f := challenge(t, "lab-test-furnace")
	for i, who := range []string{"alice", "bob", "alice"} {
		r, err := e.c.Submit(ctx(t), labclient.SubmitRequest{Challenge: cb, Parameters: c.Map(c.Pool().Points[i]), IdempotencyKey: fmt.Sprint(i), Requester: who})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Wait(ctx(t), r.ID, 5*time.Millisecond, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.c.Submit(ctx(t), labclient.SubmitRequest{Challenge: f.ID, Parameters: f.Map(f.Pool().Points[0]), IdempotencyKey: "f", Requester: "bob", Instrument: "robot-2"}); err != nil {
		t.Fatal(err)
	}
	alice, err := e.c.List(ctx(t), labclient.ListOptions{Requester: "alice"})
	if err != nil || len(alice) != 2 || alice[0].IdempotencyKey != "0" || alice[1].IdempotencyKey != "2" {
		t.Errorf("alice's runs: %+v %v", alice, err)
	}
	done, err := e.c.List(ctx(t), labclient.ListOptions{Status: labclient.Succeeded, Challenge: cb, Limit: 2})
	if err != nil || len(done) != 2 {
		t.Errorf("succeeded runs: %d %v", len(done), err)
	}
	for _, q := range []string{"status=finished", "limit=0", "requestor=alice"} {
		resp, err := http.Get(e.ts.URL + "/runs?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /runs?%s: %d, want 400", q, resp.StatusCode)
		}
	}
	ins, err := e.c.Instruments(ctx(t))
	if err != nil || len(ins) != 2 || ins[0].Name != "robot-1" || ins[0].Capacity != 2 || !slices.Contains(ins[0].Challenges, cb) ||
		!slices.Contains(ins[0].Challenges, "lab-test-furnace") || ins[0].Status != labclient.Online {
		t.Errorf("instruments: %+v %v", ins, err)
	}
	if _, err := e.c.Get(ctx(t), "run-nope"); !labclient.IsNotFound(err) || !labclient.IsRefused(err) {
		t.Errorf("unknown run: %v", err)
	}
}

func TestRoutingErrorsAreJSON(t *testing.T) {
	e := start(t, lab.Config{})
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"PUT", "/runs", 405},
		{"POST", "/runs/x", 405},
		{"POST", "/health", 405},
		{"GET", "/nope", 404},
		{"GET", "/runs/", 404},
	} {
		rq, _ := http.NewRequest(tc.method, e.ts.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), `"code"`) || !strings.Contains(string(b), "openapi.json") {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, b)
		}
		if tc.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", tc.method, tc.path)
		}
	}
}

func TestStartAndServe(t *testing.T) {
	s, err := lab.New(lab.Config{Addr: "127.0.0.1:0", Catalog: catalog(t), Logger: slog.New(slog.DiscardHandler), TimeScale: 0.001})
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(context.Background())
	if err := s.Start(c); err != nil {
		t.Fatal(err)
	}
	cl := labclient.New("http://"+s.Addr().String(), nil)
	if h, err := cl.Health(ctx(t)); err != nil || h.Status != "ok" {
		t.Fatalf("health %+v %v", h, err)
	}
	ch := challenge(t, cb)
	r, err := cl.Submit(ctx(t), req(ch, ch.Pool().Points[0], "x"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := cl.Wait(ctx(t), r.ID, 5*time.Millisecond, nil); err != nil || r.Status != labclient.Succeeded {
		t.Fatalf("%+v %v", r, err)
	}
	cancel() // stops the server
	waitFor(t, "the server to stop", func() bool {
		_, err := cl.Health(ctx(t))
		return err != nil && !labclient.IsRefused(err)
	})
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	noRunGoroutines(t)
}

func TestConfigErrors(t *testing.T) {
	cat := catalog(t)
	for name, cfg := range map[string]lab.Config{
		"no catalog":        {},
		"negative scale":    {Catalog: cat, TimeScale: -1},
		"zero capacity":     {Catalog: cat, Instruments: []lab.Instrument{{Name: "x", Capacity: 0}}},
		"duplicate":         {Catalog: cat, Instruments: []lab.Instrument{{Name: "x", Capacity: 1}, {Name: "x", Capacity: 1}}},
		"unknown challenge": {Catalog: cat, Instruments: []lab.Instrument{{Name: "x", Capacity: 1, Challenges: []string{"nope"}}}},
		"empty":             {Catalog: cat, Instruments: []lab.Instrument{}},
	} {
		if s, err := lab.New(cfg); err == nil {
			s.Close()
			t.Errorf("%s: no error", name)
		}
	}
}
