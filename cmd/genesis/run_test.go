package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/workflows/campaign"
)

// The summary says how long the campaign took and where the time went,
// what the prompt cache served, the calls by role with their skips, and
// warns, with the counts, when the server did not use its prompt cache.
func TestSummarySaysWhereTheTimeWent(t *testing.T) {
	r := &campaign.CampaignResult{Experiments: make([]string, 12),
		Time: campaign.Timing{Wall: 120, Model: 90, Tools: 2, Lab: 10, Sim: 5},
		Usage: []campaign.RoleUsage{
			{Role: "planner", Calls: 3, PromptTokens: 3000, CachedTokens: 2000, CompletionTokens: 150, PromptSeconds: 5, GenSeconds: 3, Seconds: 9},
			{Role: "simulation-operator", Calls: 1, Skipped: 2, PromptTokens: 1000, CachedTokens: 900, CompletionTokens: 40, Seconds: 2},
			{Role: "analyst", Calls: 3, PromptTokens: 3300, CompletionTokens: 300, CacheMisses: 2, MissedTokens: 2200, Seconds: 20},
		}}
	var b bytes.Buffer
	printTime(&b, r)
	printUsage(&b, r)
	out := b.String()
	for _, want := range []string{
		"time:            120 s, 10.0 s per lab experiment: model 90 s (reading prompts 5 s, writing replies 3 s), lab 10 s, simulations 5 s, tools 2 s, other 13 s",
		"prompt tokens:   4400 read anew, 2900 from the server's prompt cache (40%); 490 generated",
		"simulation-operator 1 (+2 skipped) 2 s",
		"WARNING: prompt cache not used: 2 of 7 calls re-read their whole prompt (2200 tokens)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	r.Usage[2].CacheMisses = 0
	printUsage(&b, r)
	if strings.Contains(b.String(), "WARNING") {
		t.Errorf("a warning without cache misses:\n%s", b.String())
	}
}
