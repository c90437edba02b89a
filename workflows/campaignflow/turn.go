package campaignflow

import (
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/internal/clip"
	"github.com/genesis-sci/genesis/portfolio"
	"github.com/genesis-sci/genesis/workflows/activities"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// The agent loop's versions: loopFast skips the turns whose decision is
// forced and lets the lab batch grow to the lab's capacity.
const (
	loopChange = "agent-loop-fast"
	loopFast   = workflow.Version(1)
)

// loopVersion is the agent loop's version for this run, asked once: a run
// recorded before loopFast replays the loop as it was.
func (cw *campaignRun) loopVersion() workflow.Version {
	if !cw.loopAsked {
		cw.loop, cw.loopAsked = workflow.GetVersion(cw.ctx, loopChange, workflow.DefaultVersion, loopFast), true
	}
	return cw.loop
}

func (cw *campaignRun) fast() bool { return cw.loopVersion() >= loopFast }

// usage is the role's entry in the campaign's usage table.
func (cw *campaignRun) usage(role string) *campaign.RoleUsage {
	for i := range cw.st.Usage {
		if cw.st.Usage[i].Role == role {
			return &cw.st.Usage[i]
		}
	}
	cw.st.Usage = append(cw.st.Usage, campaign.RoleUsage{Role: role})
	slices.SortStableFunc(cw.st.Usage, func(a, b campaign.RoleUsage) int { return roleOrder(a.Role) - roleOrder(b.Role) })
	return cw.usage(role)
}

func roleOrder(role string) int {
	if i := slices.Index(agents.Roles, role); i >= 0 {
		return i
	}
	return len(agents.Roles)
}

// account adds one model call to its role's usage.
func (cw *campaignRun) account(role string, u llm.Usage, seconds float64) {
	r := cw.usage(role)
	r.Calls++
	r.PromptTokens += u.PromptTokens
	r.CachedTokens += u.CachedTokens
	r.CompletionTokens += u.CompletionTokens
	r.PromptSeconds += u.PromptSeconds
	r.GenSeconds += u.GenSeconds
	r.Seconds += seconds
	if u.CacheMiss {
		r.CacheMisses++
		r.MissedTokens += u.PromptTokens
	}
	if u.Truncated {
		r.Truncated++
	}
	cw.st.Time.Model += seconds
}

// skip records a turn not taken because its decision was forced.
func (cw *campaignRun) skip(role, why string) {
	cw.usage(role).Skipped++
	cw.event(role, "skipped", why)
}

// turn runs one agent's turn: model steps, information tool calls, repairs.
// It returns the validated final step, or nil when the agent must fall back.
func (cw *campaignRun) turn(role string, b agents.Brief) *agents.StepResult {
	ctx := workflow.WithActivityOptions(cw.ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute, HeartbeatTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 4,
			NonRetryableErrorTypes: []string{llm.KindNotFound, llm.KindBadRequest, llm.KindAuth, activities.ErrUnknownChallenge}},
	})
	tctx := workflow.WithActivityOptions(cw.ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
	in := agents.StepInput{Role: role, Brief: b, Limits: cw.limits(), Seed: cw.in.Seed*1000 + cw.st.Iteration, NoOptimizer: cw.noOpt()}
	cw.phase = role
	cw.lastProblem = ""
	toolCalls, repairs := 0, 0
	for step := 1; ; step++ {
		in.Step = step
		in.AllowTools = toolCalls < maxToolCalls
		seq, granted := cw.acquire(portfolio.Model, 1, nil)
		if granted == 0 {
			return nil
		}
		var res agents.StepResult
		t0 := workflow.Now(cw.ctx)
		err := workflow.ExecuteActivity(ctx, activities.AgentStepName, activities.AgentStepInput{Campaign: cw.id, Challenge: cw.info.ID, Model: cw.in.Model, Step: in, MemoryScope: cw.in.MemoryScope}).Get(cw.ctx, &res)
		cw.release(seq, portfolio.Amount{Tokens: res.Usage.Total()})
		if err != nil {
			cw.st.Time.Model += cw.since(t0)
			cw.event(role, "model failed", clip.Clip(err.Error(), 160))
			return nil
		}
		cw.st.ModelCalls++
		cw.st.Tokens += res.Usage.Total()
		cw.account(role, res.Usage, cw.since(t0))
		switch res.Kind {
		case agents.KindFinal:
			return &res
		case agents.KindTool:
			toolCalls++
			cw.usage(role).ToolCalls++
			var obs agents.Observation
			t0 := workflow.Now(cw.ctx)
			err := workflow.ExecuteActivity(tctx, activities.RunToolName, activities.ToolInput{Campaign: cw.id, Challenge: cw.info.ID, Role: role, Tool: res.Tool,
				Args: res.ToolInput, Experiments: cw.st.Experiments, Sims: cw.st.Sims, Seed: cw.in.Seed + cw.st.Iteration, NoOptimizer: cw.noOpt(), MemoryScope: cw.in.MemoryScope}).Get(cw.ctx, &obs)
			cw.st.Time.Tools += cw.since(t0)
			if err != nil {
				obs = agents.Observation{Tool: res.Tool, Input: string(res.ToolInput), Error: err.Error()}
			}
			in.Observations = append(in.Observations, obs)
			cw.event(role, "called "+res.Tool, clip.Clip(string(res.ToolInput), 120))
		default:
			repairs++
			cw.st.Repairs++
			cw.usage(role).Repairs++
			cw.lastProblem = res.Problem
			cw.event(role, "invalid reply", clip.Clip(res.Problem, 160))
			if repairs > maxRepairs || (res.Prose && repairs > maxProseRepairs && cw.fast()) {
				return nil
			}
			in.Repair = res.Problem
		}
	}
}

func (cw *campaignRun) noOpt() bool { return cw.in.Strategy == campaign.StrategyAgentsNoOpt }
