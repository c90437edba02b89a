package campaign

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/genesis-sci/genesis/challenges"
)

// Histories hold campaign inputs with the budget as three flat fields; they
// decode into the one Budget, and encode back to the same JSON object.
func TestCampaignInputJSONKeepsTheFlatBudget(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want challenges.Budget
	}{
		{`{"challenge":"crossed-barrel-toughness","model":"scripted","budget":6,"seed":2}`, challenges.Budget{Experiments: 6}},
		{`{"challenge":"x","model":"m","budget":12,"sim_budget":4,"token_budget":5000,"seed":3,"portfolio":"p",` +
			`"resume":{"iteration":2,"experiments":null,"sims":null,"refused":0,"tokens":0,"model_calls":0,"fallbacks":{"planner":1},"repairs":0,"stale":1,"findings":null,"seq":0,"events":null,"time":{"wall_s":0,"model_s":0,"tools_s":0,"lab_s":0,"sim_s":0,"wait_s":0},"started":"0001-01-01T00:00:00Z"}}`,
			challenges.Budget{Experiments: 12, Simulations: 4, Tokens: 5000}},
		{`{"challenge":"x","model":""}`, challenges.Budget{}},
	} {
		var in CampaignInput
		if err := json.Unmarshal([]byte(c.raw), &in); err != nil {
			t.Fatalf("%s: %v", c.raw, err)
		}
		if in.Budget != c.want {
			t.Errorf("%s: budget %+v, want %+v", c.raw, in.Budget, c.want)
		}
		if in.Challenge == "" || (in.Resume != nil && (in.Resume.Iteration != 2 || in.Resume.Fallbacks["planner"] != 1)) {
			t.Errorf("%s: decoded %+v", c.raw, in)
		}
		out, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var a, b map[string]any
		_ = json.Unmarshal([]byte(c.raw), &a)
		_ = json.Unmarshal(out, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("re-encoded\n%s\nwant the object\n%s", out, c.raw)
		}
	}
	// A pointer and a value encode alike (the SDK encodes either).
	in := CampaignInput{Challenge: "x", Budget: challenges.Budget{Experiments: 3}}
	p, _ := json.Marshal(&in)
	v, _ := json.Marshal(in)
	if string(p) != string(v) || string(v) != `{"challenge":"x","model":"","budget":3}` {
		t.Errorf("pointer %s, value %s", p, v)
	}
}

// flatInput is CampaignInput as it was before the budget was one type.
type flatInput struct {
	Challenge       string         `json:"challenge"`
	Model           string         `json:"model"`
	Budget          int            `json:"budget,omitempty"`
	SimBudget       int            `json:"sim_budget,omitempty"`
	TokenBudget     int            `json:"token_budget,omitempty"`
	Seed            int            `json:"seed,omitempty"`
	MaxBatch        int            `json:"max_batch,omitempty"`
	Patience        int            `json:"patience,omitempty"`
	HPC             string         `json:"hpc,omitempty"`
	Strategy        string         `json:"strategy,omitempty"`
	InitialRandom   int            `json:"initial_random,omitempty"`
	Acquisition     string         `json:"acquisition,omitempty"`
	Init            string         `json:"init,omitempty"`
	Batch           int            `json:"batch,omitempty"`
	NoTransfer      bool           `json:"no_transfer,omitempty"`
	NoReport        bool           `json:"no_report,omitempty"`
	RequireApproval bool           `json:"require_approval,omitempty"`
	Portfolio       string         `json:"portfolio,omitempty"`
	MemoryScope     string         `json:"memory_scope,omitempty"`
	StartedBy       string         `json:"started_by,omitempty"`
	MaxHistory      int            `json:"max_history,omitempty"`
	Resume          *CampaignState `json:"resume,omitempty"`
}

// Inputs encode byte for byte as before: what a workflow writes into a
// history (a child's input, a continue-as-new) is what it always wrote.
func TestCampaignInputEncodesAsBefore(t *testing.T) {
	st := &CampaignState{Iteration: 2, Fallbacks: map[string]int{"planner": 1}}
	for _, c := range []struct {
		old flatInput
		now CampaignInput
	}{
		{flatInput{Challenge: "c"}, CampaignInput{Challenge: "c"}},
		{flatInput{Challenge: "c", Model: "m", Budget: 6, Seed: 2}, CampaignInput{Challenge: "c", Model: "m", Budget: challenges.Budget{Experiments: 6}, Seed: 2}},
		{flatInput{Challenge: "c", Model: "m", Budget: 12, SimBudget: 4, TokenBudget: 5000, Seed: 3, MaxBatch: 4, Patience: -1, HPC: "local", Strategy: "bo",
			InitialRandom: 2, Acquisition: "ei", Init: "random:2", Batch: 2, NoTransfer: true, NoReport: true, RequireApproval: true, Portfolio: "p",
			MemoryScope: "s", StartedBy: "b", MaxHistory: 100, Resume: st},
			CampaignInput{Challenge: "c", Model: "m", Budget: challenges.Budget{Experiments: 12, Simulations: 4, Tokens: 5000}, Seed: 3, MaxBatch: 4,
				Patience: -1, HPC: "local", Strategy: "bo", InitialRandom: 2, Acquisition: "ei", Init: "random:2", Batch: 2, NoTransfer: true, NoReport: true,
				RequireApproval: true, Portfolio: "p", MemoryScope: "s", StartedBy: "b", MaxHistory: 100, Resume: st}},
	} {
		want, _ := json.Marshal(c.old)
		got, err := json.Marshal(c.now)
		if err != nil || string(got) != string(want) {
			t.Errorf("encoded\n%s (%v)\nwant\n%s", got, err, want)
		}
		var back CampaignInput
		if err := json.Unmarshal(want, &back); err != nil || !reflect.DeepEqual(back, c.now) {
			t.Errorf("decoded %s as %+v (%v)", want, back, err)
		}
	}
	// Every field of the input is in flatInput, but the budget's three.
	if n, m := reflect.TypeFor[CampaignInput]().NumField(), reflect.TypeFor[flatInput]().NumField(); n+2 != m {
		t.Errorf("CampaignInput has %d fields, flatInput %d: add the new field to flatInput", n, m)
	}
}

// The input recorded in the replay test's history decodes as it did.
func TestRecordedInputDecodes(t *testing.T) {
	b, err := os.ReadFile("../testdata/campaign-history.json")
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Events []struct {
			Attrs *struct {
				Input struct {
					Payloads []struct {
						Data string `json:"data"`
					} `json:"payloads"`
				} `json:"input"`
			} `json:"workflowExecutionStartedEventAttributes"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &h); err != nil || len(h.Events) == 0 || h.Events[0].Attrs == nil || len(h.Events[0].Attrs.Input.Payloads) == 0 {
		t.Fatalf("no start event with an input in the recorded history (%v)", err)
	}
	raw, err := base64.StdEncoding.DecodeString(h.Events[0].Attrs.Input.Payloads[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	var in CampaignInput
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	if in.Budget != (challenges.Budget{Experiments: 6}) || in.Challenge != "crossed-barrel-toughness" || in.Seed != 2 {
		t.Errorf("decoded %s as %+v", raw, in)
	}
}
