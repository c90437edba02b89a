package labclient_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/tools/labclient"
)

func TestIsRefused(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&labclient.Error{Status: 400}, true},
		{&labclient.Error{Status: 404}, true},
		{&labclient.Error{Status: 409}, true},
		{fmt.Errorf("wrapped: %w", &labclient.Error{Status: 422}), true},
		{&labclient.Error{Status: 408}, false},
		{&labclient.Error{Status: 429}, false},
		{&labclient.Error{Status: 500}, false},
		{&labclient.Error{Status: 503}, false},
		{errors.New("connection refused"), false},
		{context.DeadlineExceeded, false},
		{nil, false},
	} {
		if got := labclient.IsRefused(tc.err); got != tc.want {
			t.Errorf("IsRefused(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestErrorsCarryStatusAndCode(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/runs/json":
			w.WriteHeader(http.StatusUnprocessableEntity)
			w.Write([]byte(`{"error":{"code":"safety_limit","message":"too hot; cool it"}}`))
		default:
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("upstream down"))
		}
	}))
	defer ts.Close()
	c := labclient.New(ts.URL+"/", ts.Client())
	_, err := c.Get(context.Background(), "json")
	var e *labclient.Error
	if !errors.As(err, &e) || e.Status != 422 || e.Code != "safety_limit" || e.Message != "too hot; cool it" || !labclient.IsRefused(err) {
		t.Errorf("JSON error: %#v", err)
	}
	_, err = c.Get(context.Background(), "text")
	if !errors.As(err, &e) || e.Status != 502 || e.Message != "upstream down" || labclient.IsRefused(err) {
		t.Errorf("text error: %#v", err)
	}
}

// flaky serves a run that is running for the first polls, with failures
// in between, then succeeded.
func flaky(t *testing.T, failures []int) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1))
		for _, f := range failures {
			if i == f {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`{"error":{"code":"unavailable","message":"retry later"}}`))
				return
			}
		}
		st := labclient.Running
		if i >= 6 {
			st = labclient.Succeeded
		}
		fmt.Fprintf(w, `{"id":"r1","status":%q,"submitted_at":"2026-01-01T00:00:00Z"}`, st)
	}))
	t.Cleanup(ts.Close)
	return ts, &n
}

func TestWaitRidesOutTransientErrors(t *testing.T) {
	ts, n := flaky(t, []int{2, 3, 4})
	var polls []labclient.Status
	r, err := labclient.New(ts.URL, ts.Client()).Wait(context.Background(), "r1", time.Millisecond, func(r labclient.Run) { polls = append(polls, r.Status) })
	if err != nil || r.Status != labclient.Succeeded {
		t.Fatalf("%+v %v", r, err)
	}
	if n.Load() != 6 || len(polls) != 3 || polls[2] != labclient.Succeeded {
		t.Errorf("%d requests, polls %v", n.Load(), polls)
	}
}

func TestWaitGivesUp(t *testing.T) {
	var fails []int
	for i := 1; i <= 20; i++ {
		fails = append(fails, i)
	}
	ts, n := flaky(t, fails)
	_, err := labclient.New(ts.URL, ts.Client()).Wait(context.Background(), "r1", time.Millisecond, nil)
	if err == nil || labclient.IsRefused(err) || int(n.Load()) != labclient.WaitErrorBudget+1 {
		t.Errorf("after %d requests: %v", n.Load(), err)
	}
	var e *labclient.Error
	if !errors.As(err, &e) || e.Status != 503 {
		t.Errorf("last error not kept: %v", err)
	}
}

func TestWaitStopsOnRefusalAndContext(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	defer ts.Close()
	c := labclient.New(ts.URL, ts.Client())
	if _, err := c.Wait(context.Background(), "x", time.Millisecond, nil); !labclient.IsNotFound(err) {
		t.Errorf("unknown run: %v", err)
	}
	running, _ := flaky(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	polls := 0
	_, err := labclient.New(running.URL, running.Client()).Wait(ctx, "r1", time.Hour, func(labclient.Run) {
		polls++
		cancel()
	})
	if !errors.Is(err, context.Canceled) || polls != 1 {
		t.Errorf("cancelled wait: %v after %d polls", err, polls)
	}
}

// TestAgainstLab drives the real service end to end with the client.
func TestAgainstLab(t *testing.T) {
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	s, err := lab.New(lab.Config{
		Catalog: cat, DBPath: filepath.Join(t.TempDir(), "lab.db"), TimeScale: 0.001,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer func() { ts.Close(); s.Close() }()
	c := labclient.New(ts.URL, ts.Client())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	ch, _ := cat.Get(challenges.DefaultID)
	sub := labclient.SubmitRequest{Challenge: ch.ID, Parameters: ch.Map(ch.Pool().Points[0]), IdempotencyKey: "wf-1/act-1", Requester: "agent"}
	r, err := c.Submit(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	heartbeats := 0
	r, err = c.Wait(ctx, r.ID, 5*time.Millisecond, func(labclient.Run) { heartbeats++ })
	if err != nil || r.Status != labclient.Succeeded || heartbeats == 0 {
		t.Fatalf("%+v %v (%d heartbeats)", r, err, heartbeats)
	}
	if _, ok := r.Result.Values["toughness"]; !ok {
		t.Errorf("result %+v has no toughness", r.Result)
	}
	if _, err := c.Abort(ctx, r.ID); labclient.ErrorCode(err) != labclient.CodeRunFinished || !labclient.IsRefused(err) {
		t.Errorf("abort finished run: %v", err)
	}
	sub.Parameters = map[string]any{"n": 7}
	_, err = c.Submit(ctx, sub)
	if !labclient.IsRefused(err) || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("bad parameters: %v", err)
	}
	if h, err := c.Health(ctx); err != nil || h.Measurements != 1 {
		t.Errorf("health %+v %v", h, err)
	}
	runs, err := c.List(ctx, labclient.ListOptions{Requester: "agent", Status: labclient.Succeeded})
	if err != nil || len(runs) != 1 || runs[0].ID != r.ID {
		t.Errorf("list: %+v %v", runs, err)
	}
	ins, err := c.Instruments(ctx)
	if err != nil || len(ins) != 2 {
		t.Errorf("instruments: %+v %v", ins, err)
	}
}
