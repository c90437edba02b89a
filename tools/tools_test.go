package tools

import (
	"encoding/json"
	"strings"
	"testing"
)

type sampleIn struct {
	SQL   string `json:"sql" jsonschema:"description=a SELECT statement"`
	Limit int    `json:"limit,omitempty" jsonschema:"minimum=1,maximum=50"`
	Mode  string `json:"mode,omitempty" jsonschema:"enum=fast,enum=slow"`
}

func TestDefineInfersSchema(t *testing.T) {
	s := Define[sampleIn]("q", "query")
	var doc map[string]any
	if err := json.Unmarshal(s.Schema, &doc); err != nil {
		t.Fatal(err)
	}
	req, _ := doc["required"].([]any)
	if len(req) != 1 || req[0] != "sql" {
		t.Errorf("required = %v, want [sql]", req)
	}
	if doc["additionalProperties"] != false {
		t.Errorf("additionalProperties = %v, want false", doc["additionalProperties"])
	}
}

func TestDecodeValidates(t *testing.T) {
	s := Define[sampleIn]("q", "query")
	cases := []struct {
		in, wantErr string
	}{
		{`{"sql":"select 1","limit":5}`, ""},
		{`{"limit":5}`, "sql"},
		{`{"sql":"x","limit":500}`, "limit"},
		{`{"sql":"x","mode":"warp"}`, "mode"},
		{`{"sql":"x","extra":1}`, "extra"},
		{`not json`, "not valid JSON"},
	}
	for _, c := range cases {
		got, err := Decode[sampleIn](s, json.RawMessage(c.in))
		if c.wantErr == "" {
			if err != nil || got.SQL != "select 1" || got.Limit != 5 {
				t.Errorf("%s: got %+v, %v", c.in, got, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: error %v, want mention of %q", c.in, err, c.wantErr)
		}
	}
}
