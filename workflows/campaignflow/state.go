package campaignflow

import (
	"strings"

	"github.com/genesis-sci/genesis/workflows/campaign"
)

func (cw *campaignRun) status() (campaign.Status, error) {
	s := campaign.Status{CampaignID: cw.id, Challenge: cw.info.ID, Model: cw.in.Model, Phase: cw.phase, Iteration: cw.st.Iteration,
		ExperimentsUsed: len(cw.st.Experiments), Budget: cw.in.Budget.Experiments, Simulations: len(cw.st.Sims), SimBudget: cw.in.Budget.Simulations,
		Tokens: cw.st.Tokens, TokenBudget: cw.in.Budget.Tokens, ModelCalls: cw.st.ModelCalls, Best: cw.bestView,
		Objective: cw.info.Objective, Direction: cw.info.Direction, Events: cw.st.Events, Fallbacks: cw.st.Fallbacks, Done: cw.done, StopReason: cw.reason}
	for _, e := range cw.st.Experiments {
		s.Values = append(s.Values, e.Values[0])
	}
	s.Paused, s.Pending = cw.paused, cw.pending
	return s, nil
}

func (cw *campaignRun) result() *campaign.CampaignResult {
	r := &campaign.CampaignResult{CampaignID: cw.id, Challenge: cw.info.ID, Model: cw.in.Model, Best: cw.bestView, Simulations: len(cw.st.Sims),
		Refused: cw.st.Refused, Unsafe: cw.st.Unsafe, Iterations: cw.st.Iteration, Tokens: cw.st.Tokens, ModelCalls: cw.st.ModelCalls, Fallbacks: cw.st.Fallbacks,
		Repairs: cw.st.Repairs, StopReason: cw.reason}
	round, prev := 0, ""
	for _, e := range cw.st.Experiments {
		r.Experiments = append(r.Experiments, e.Ref)
		r.Trace = append(r.Trace, e.Result)
		// A lab key ends in the run's slot; what comes before it names
		// the round (campaign/itN for an agent iteration, campaign/itN/rM
		// for a classical round).
		if p := e.Key[:max(strings.LastIndex(e.Key, "/"), 0)]; p != prev || round == 0 {
			round, prev = round+1, p
		}
		r.Rounds = append(r.Rounds, round)
	}
	for _, sm := range cw.st.Sims {
		r.SimIterations = append(r.SimIterations, sm.Iteration)
	}
	r.Strategy = cw.in.Strategy
	r.MemoryScope = cw.in.MemoryScope
	r.Transfer = cw.st.Transfer
	r.Usage, r.Time = cw.st.Usage, cw.st.Time
	return r
}
