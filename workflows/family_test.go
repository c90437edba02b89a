package workflows

import (
	"context"
	"fmt"
	"testing"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/scripted"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// A campaign in a family starts from what its siblings measured: a bo
// campaign on Reizman case 1 writes its results to memory (in a scope),
// and one on case 2 in the same scope recalls them, records where they
// came from, and has its optimiser choose from the first experiment (no
// start design). A cold start (NoTransfer) and a campaign in another scope
// take nothing.
func TestFamilyTransfer(t *testing.T) {
	model := &scripted.Model{Fn: func(llm.Request) (string, error) {
		t.Error("bo called the model")
		return "", nil
	}}
	f := newFixture(t, model)
	first := runCampaignAs(t, f, "case1", campaign.CampaignInput{Challenge: "suzuki-ligand-screen", Strategy: campaign.StrategyBO, Budget: challenges.Budget{Experiments: 8}, Seed: 1, Patience: -1, MemoryScope: "seq-1"})
	if first.Transfer == nil || first.Transfer.Points != 0 {
		t.Errorf("the first member's transfer %+v: want one with nothing in it", first.Transfer)
	}
	n, err := f.acts.Memory.Count(context.Background(), memory.Filter{Kind: memory.KindResult, Challenge: "suzuki-ligand-screen", Scope: "seq-1"})
	if err != nil || n != 8 {
		t.Fatalf("%d results of the first member in memory (%v), want its 8 experiments", n, err)
	}

	warm := runCampaignAs(t, f, "case2-warm", campaign.CampaignInput{Challenge: "suzuki-ligand-screen-2", Strategy: campaign.StrategyBO, Budget: challenges.Budget{Experiments: 6}, Seed: 1, Patience: -1, MemoryScope: "seq-1"})
	tr := warm.Transfer
	if tr == nil || tr.Family != "reizman-suzuki" || tr.Points != 8 || tr.From["suzuki-ligand-screen"] != 8 || len(tr.Records) != 8 {
		t.Fatalf("warm start transfer %+v: want the 8 measurements of suzuki-ligand-screen with their records", tr)
	}
	// No start design: bo's batch of one from the first round on; the
	// cold start begins with its start design (2 points in one round).
	if want := []int{1, 2, 3, 4, 5, 6}; fmt.Sprint(warm.Rounds) != fmt.Sprint(want) {
		t.Errorf("warm start rounds %v, want %v", warm.Rounds, want)
	}

	cold := runCampaignAs(t, f, "case2-cold", campaign.CampaignInput{Challenge: "suzuki-ligand-screen-2", Strategy: campaign.StrategyBO, Budget: challenges.Budget{Experiments: 6}, Seed: 1, Patience: -1, MemoryScope: "seq-1", NoTransfer: true})
	if cold.Transfer != nil {
		t.Errorf("a cold start took %+v", cold.Transfer)
	}
	if want := []int{1, 1, 2, 3, 4, 5}; fmt.Sprint(cold.Rounds) != fmt.Sprint(want) {
		t.Errorf("cold start rounds %v, want %v", cold.Rounds, want)
	}
	other := runCampaignAs(t, f, "case2-other", campaign.CampaignInput{Challenge: "suzuki-ligand-screen-2", Strategy: campaign.StrategyBO, Budget: challenges.Budget{Experiments: 4}, Seed: 1, Patience: -1, MemoryScope: "seq-2"})
	if other.Transfer == nil || other.Transfer.Points != 0 {
		t.Errorf("another scope took %+v", other.Transfer)
	}
	// A challenge without a family takes nothing and asks nothing.
	plain := runCampaignAs(t, f, "plain", campaign.CampaignInput{Challenge: "crossed-barrel-toughness", Strategy: campaign.StrategyBO, Budget: challenges.Budget{Experiments: 4}, Seed: 1, Patience: -1})
	if plain.Transfer != nil {
		t.Errorf("a challenge without a family took %+v", plain.Transfer)
	}
}
