package api

import (
	"net/http"
	"strings"
	"testing"
)

// Numbers out of range and malformed model specs get a 422 that names the
// field, before anything starts: a campaign budget of 2^63-1 overflowed the
// workflow, a portfolio's lab_cost of 1e308 (or .nan) failed it with a 503,
// and none:x or ../../etc were taken as models.
func TestStartRefusesOutOfRangeNumbersAndBadModels(t *testing.T) {
	srv, rec := newStartServer(t)
	const ch = `"challenge":"crossed-barrel-toughness"`
	for _, c := range []struct {
		path, body, code, msg string
	}{
		{"/api/v1/campaigns", `{` + ch + `,"budget":9223372036854775807}`, "invalid_budget", "budget 9223372036854775807: want 0 (the default) to 1000 lab experiments"},
		{"/api/v1/campaigns", `{` + ch + `,"token_budget":9223372036854775807}`, "invalid_token_budget", "token_budget 9223372036854775807"},
		{"/api/v1/campaigns", `{` + ch + `,"model":"none:x"}`, "invalid_model", `unknown provider "none"`},
		{"/api/v1/campaigns", `{` + ch + `,"model":"ollama:../../etc"}`, "invalid_model", "must start with a letter or digit"},
		{"/api/v1/chats", `{"model":"ollama:../../etc"}`, "invalid_model", "must start with a letter or digit"},
		{"/api/v1/portfolios", "name: p\ncampaigns:\n  - {challenge: crossed-barrel-toughness, lab_cost: 1e308}\n", "invalid_portfolio", "campaigns[0].lab_cost: is 1e+308; want 0 to 1e+06"},
		{"/api/v1/portfolios", "name: p\ncampaigns:\n  - {challenge: crossed-barrel-toughness, lab_cost: .nan}\n", "invalid_portfolio", "campaigns[0].lab_cost: is NaN"},
		{"/api/v1/portfolios", "name: p\nbudget: {cost: .inf}\ncampaigns:\n  - {challenge: crossed-barrel-toughness}\n", "invalid_portfolio", "budget.cost: is +Inf; want a finite number"},
		{"/api/v1/portfolios", "name: p\ncampaigns:\n  - {challenge: crossed-barrel-toughness, budget: {lab_runs: 9223372036854775807}}\n", "invalid_portfolio", "campaigns[0].budget.lab_runs: is 9223372036854775807; at most 1000"},
	} {
		status, m := postJSON(t, srv.URL+c.path, c.body)
		if status != http.StatusUnprocessableEntity || m["error"]["code"] != c.code || !strings.Contains(m["error"]["message"], c.msg) {
			t.Errorf("POST %s %s: %d %v, want 422 %s saying %q", c.path, c.body, status, m, c.code, c.msg)
		}
	}
	if len(rec.started) != 0 {
		t.Errorf("bad input started %d workflows", len(rec.started))
	}
}
