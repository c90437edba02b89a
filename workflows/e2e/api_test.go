package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/workflows"
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
	var st workflows.Status
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
	var res workflows.CampaignResult
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
