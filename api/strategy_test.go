package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/genesis-sci/genesis/api/apiclient"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// startRecorder is a Temporal client that records the campaigns started
// through it; any other call panics (the embedded client is nil), which
// fails the test.
type startRecorder struct {
	client.Client
	started []campaign.CampaignInput
}

func (f *startRecorder) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	if wf != campaign.CampaignWorkflowName || len(args) != 1 {
		panic("unexpected workflow start")
	}
	f.started = append(f.started, args[0].(campaign.CampaignInput))
	return startedRun{id: o.ID}, nil
}

type startedRun struct {
	client.WorkflowRun
	id string
}

func (r startedRun) GetID() string    { return r.id }
func (r startedRun) GetRunID() string { return "run-1" }

func newStartServer(t *testing.T) (*httptest.Server, *startRecorder) {
	t.Helper()
	cat := builtin(t)
	rec := &startRecorder{}
	srv := httptest.NewServer((&Server{Temporal: rec, Catalog: cat, DefaultModel: "ollama:tiny"}).Handler())
	t.Cleanup(srv.Close)
	return srv, rec
}

func postJSON(t *testing.T, url, body string) (int, map[string]map[string]string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// Bad strategies and optimiser settings are refused with 422 before any
// workflow starts, with a code naming the field and a message naming what
// is allowed.
func TestStartRefusesBadStrategySettings(t *testing.T) {
	srv, rec := newStartServer(t)
	cl, err := apiclient.New(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	const ch = "crossed-barrel-toughness"
	for _, c := range []struct {
		req       apiclient.StartRequest
		code, msg string
	}{
		{apiclient.StartRequest{Challenge: ch, Strategy: "genetic"}, "invalid_strategy", `strategy "genetic": want one of agents, agents-noopt, bo, random`},
		{apiclient.StartRequest{Challenge: ch, Strategy: "bo", Acquisition: "pi"}, "invalid_acquisition", `acquisition "pi": want ei (expected improvement`},
		{apiclient.StartRequest{Challenge: ch, Strategy: "bo", Init: "sobol:4"}, "invalid_init", `init: start design "sobol:4": want auto, medoids[:N], maximin[:N] or random:N`},
		{apiclient.StartRequest{Challenge: ch, Strategy: "bo", Init: "random"}, "invalid_init", `say how many random points, e.g. random:2`},
		{apiclient.StartRequest{Challenge: ch, Strategy: "bo", Init: "maximin:0"}, "invalid_init", `the size must be a whole number from 1 to 1000`},
		{apiclient.StartRequest{Challenge: ch, Strategy: "bo", Batch: 65}, "invalid_batch", `batch 65: want 1 to 64 experiments chosen together`},
		{apiclient.StartRequest{Challenge: ch, Strategy: "bo", Batch: -1}, "invalid_batch", `batch -1: want 1 to 64`},
		{apiclient.StartRequest{Challenge: ch, Acquisition: "ucb"}, "invalid_acquisition", `acquisition applies only to strategy bo, not agents`},
		{apiclient.StartRequest{Challenge: ch, Strategy: "random", Batch: 2}, "invalid_batch", `batch applies only to strategy bo, not random`},
		{apiclient.StartRequest{Challenge: ch, Strategy: "agents-noopt", Init: "random:2"}, "invalid_init", `init applies only to strategy bo or agents, not agents-noopt`},
		{apiclient.StartRequest{Challenge: ch, Strategy: "random", Init: "auto"}, "invalid_init", `init applies only to strategy bo or agents, not random`},
	} {
		_, err := cl.StartCampaign(t.Context(), c.req)
		var e *apiclient.Error
		if !errors.As(err, &e) || e.Status != http.StatusUnprocessableEntity || e.Code != c.code || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%+v: %v, want 422 %s saying %q", c.req, err, c.code, c.msg)
		}
	}
	if len(rec.started) != 0 {
		t.Errorf("bad input started %d workflows", len(rec.started))
	}
	// A setting of the wrong JSON type makes a malformed body.
	if status, _ := postJSON(t, srv.URL+"/api/v1/campaigns", `{"challenge":"`+ch+`","batch":"two"}`); status != http.StatusBadRequest {
		t.Errorf("batch as a string: %d, want 400", status)
	}
}

// Good settings reach the workflow's input, normalised; bo and random are
// given no model (they call none), the agents the server's default.
func TestStartPassesStrategySettings(t *testing.T) {
	srv, rec := newStartServer(t)
	for _, body := range []string{
		`{"challenge":"crossed-barrel-toughness","strategy":" BO ","acquisition":"UCB","init":"Random:2","batch":2,"budget":15}`,
		`{"challenge":"crossed-barrel-toughness","init":"maximin:3"}`,
		`{"challenge":"crossed-barrel-toughness","strategy":"random"}`,
	} {
		if status, m := postJSON(t, srv.URL+"/api/v1/campaigns", body); status != http.StatusAccepted {
			t.Fatalf("%s: %d %v", body, status, m)
		}
	}
	want := []campaign.CampaignInput{
		{Challenge: "crossed-barrel-toughness", Budget: challenges.Budget{Experiments: 15}, Strategy: "bo", Acquisition: "ucb", Init: "random:2", Batch: 2},
		{Challenge: "crossed-barrel-toughness", Model: "ollama:tiny", Init: "maximin:3"},
		{Challenge: "crossed-barrel-toughness", Strategy: "random"},
	}
	// Who started it is recorded (the "started" event shows it): here the
	// API runs without tokens, so the caller is its admin "api".
	for i := range want {
		want[i].StartedBy = "api through the API"
	}
	if !reflect.DeepEqual(rec.started, want) {
		t.Errorf("workflow inputs\n%+v\nwant\n%+v", rec.started, want)
	}
}

// The settings a campaign shows are those in effect: the workflow's
// defaults and start design.
func TestSettingsShowWhatTakesEffect(t *testing.T) {
	cat := builtin(t)
	s := &Server{Catalog: cat}
	c, _ := cat.Get("crossed-barrel-toughness")
	auto := len(c.Parameters) + 1 // optimizer.StartSizeFor with a large enough budget
	for _, tc := range []struct {
		in   campaign.CampaignInput
		want CampaignSettings
	}{
		{campaign.CampaignInput{Challenge: c.ID, Strategy: "bo", Budget: challenges.Budget{Experiments: 100}}, CampaignSettings{Strategy: "bo", Acquisition: "ei", Init: "medoids:" + strconv.Itoa(auto), Batch: 1}},
		{campaign.CampaignInput{Challenge: c.ID, Strategy: "bo", Acquisition: "ucb", Init: "random:2", Batch: 3}, CampaignSettings{Strategy: "bo", Acquisition: "ucb", Init: "random:2", Batch: 3}},
		{campaign.CampaignInput{Challenge: c.ID}, CampaignSettings{Strategy: "agents"}},
		{campaign.CampaignInput{Challenge: c.ID, Init: "maximin:7"}, CampaignSettings{Strategy: "agents", Init: "maximin:7"}},
		{campaign.CampaignInput{Challenge: c.ID, Strategy: "random"}, CampaignSettings{Strategy: "random"}},
		{campaign.CampaignInput{Challenge: "gone", Strategy: "bo", Batch: 2}, CampaignSettings{Strategy: "bo", Batch: 2}},
	} {
		if got := s.settingsFrom(tc.in); got != tc.want {
			t.Errorf("%+v: %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// The OpenAPI description of a start request lists exactly the fields the
// server decodes, and the strategies the workflow knows.
func TestOpenAPIStartRequest(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	props := doc.Components.Schemas["StartRequest"].Properties
	var documented, decoded []string
	for k := range props {
		documented = append(documented, k)
	}
	rt := reflect.TypeFor[StartRequest]()
	for i := range rt.NumField() {
		decoded = append(decoded, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
	}
	sort.Strings(documented)
	sort.Strings(decoded)
	if !slices.Equal(documented, decoded) {
		t.Errorf("openapi.json documents %v; StartRequest decodes %v", documented, decoded)
	}
	if got := props["strategy"].Enum; !slices.Equal(got, campaign.Strategies) {
		t.Errorf("openapi.json offers strategies %v, the workflow knows %v", got, campaign.Strategies)
	}
}

// histories is a Temporal client whose workflows' first events start the
// inputs given, by run ID ("" for the latest run); it counts the reads.
type histories struct {
	client.Client
	wf     map[string]string // run ID → workflow type
	inputs map[string]campaign.CampaignInput
	reads  atomic.Int32
}

func (h *histories) GetWorkflowHistory(_ context.Context, _, runID string, _ bool, _ enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	h.reads.Add(1)
	p, err := converter.GetDefaultDataConverter().ToPayloads(h.inputs[runID])
	if err != nil {
		panic(err)
	}
	return &oneEvent{ev: &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
		WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{WorkflowType: &commonpb.WorkflowType{Name: h.wf[runID]}, Input: p}}}}
}

type oneEvent struct{ ev *historypb.HistoryEvent }

func (o *oneEvent) HasNext() bool { return o.ev != nil }
func (o *oneEvent) Next() (*historypb.HistoryEvent, error) {
	ev := o.ev
	o.ev = nil
	return ev, nil
}

// A campaign's settings come from its run's start input and are read once
// per run: two runs under one ID (a portfolio started again under its
// old ID) each show their own; a workflow that is not a campaign has none.
func TestSettingsFromHistory(t *testing.T) {
	cat := builtin(t)
	h := &histories{
		wf: map[string]string{"r1": campaign.CampaignWorkflowName, "r2": campaign.CampaignWorkflowName, "": campaign.CampaignWorkflowName, "p1": "Portfolio"},
		inputs: map[string]campaign.CampaignInput{
			"r1": {Challenge: "crossed-barrel-toughness", Strategy: "random"},
			"r2": {Challenge: "crossed-barrel-toughness", Strategy: "bo", Batch: 3, Init: "random:2"},
			"":   {Challenge: "crossed-barrel-toughness", Strategy: "bo", Batch: 3, Init: "random:2"},
		}}
	s := &Server{Temporal: h, Catalog: cat}
	list := []CampaignSummary{{ID: "pf-01-crossed-barrel-toughness", RunID: "r1"}, {ID: "pf-01-crossed-barrel-toughness", RunID: "r2"}, {ID: "pf", RunID: "p1"}}
	for range 2 {
		s.addStrategies(t.Context(), list)
	}
	if list[0].Strategy != "random" || list[1].Strategy != "bo" || list[2].Strategy != "" || h.reads.Load() != 3 {
		t.Errorf("strategies %q %q %q after %d reads; want random, bo, none after 3", list[0].Strategy, list[1].Strategy, list[2].Strategy, h.reads.Load())
	}
	st := s.campaignStatus(t.Context(), "pf-01-crossed-barrel-toughness", campaign.Status{Phase: "lab"})
	_ = s.campaignStatus(t.Context(), "pf-01-crossed-barrel-toughness", campaign.Status{Phase: "lab"})
	if st.Phase != "lab" || st.Strategy != "bo" || st.Acquisition != "ei" || st.Init != "random:2" || st.Batch != 3 || h.reads.Load() != 4 {
		t.Errorf("status %+v after %d reads", st, h.reads.Load())
	}
	b, _ := json.Marshal(st)
	if !strings.Contains(string(b), `"phase":"lab"`) || !strings.Contains(string(b), `"strategy":"bo","acquisition":"ei","init":"random:2","batch":3`) {
		t.Errorf("status JSON %s", b)
	}
}
