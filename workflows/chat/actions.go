package chat

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/workflows/campaign"
	"github.com/genesis-sci/genesis/workflows/portfolioflow"
)

// runChatAction acts for the user: starts or stops a campaign, decides a
// campaign's pending runs or a portfolio's approval (with the sender's role).
func runChatAction(ctx workflow.Context, chatID, model string, from Caller, act *ChatAction) string {
	switch act.Kind {
	case "approve_approval", "reject_approval":
		if from.Role == "" {
			return "I cannot decide a portfolio's approval for you: this message came without your role. Decide it in the web UI or with `genesis portfolio approve|reject " + act.PortfolioID + " " + act.ApprovalID + "`."
		}
		approve := act.Kind == "approve_approval"
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
		var verdict string
		if err := workflow.ExecuteActivity(actx, DecidePortfolioName, DecidePortfolioInput{Portfolio: act.PortfolioID, Decision: portfolioflow.PortfolioDecision{
			Approval: act.ApprovalID, Approve: approve, By: from.By + " (chat)", Role: from.Role, Reason: "decided in chat " + chatID}}).Get(ctx, &verdict); err != nil {
			return fmt.Sprintf("Passing your decision to portfolio %s failed: %s", act.PortfolioID, shortenErr(err))
		}
		if verdict == "approved" || verdict == "rejected" {
			return fmt.Sprintf("I %s approval %s of portfolio %s for you.", verdict, act.ApprovalID, act.PortfolioID)
		}
		return fmt.Sprintf("Approval %s of portfolio %s is not decided: %s.", act.ApprovalID, act.PortfolioID, verdict)
	case "start_campaign":
		id := fmt.Sprintf("campaign-%s-%s", act.Challenge, strings.ToLower(strings.ReplaceAll(workflow.Now(ctx).UTC().Format("20060102T150405.000"), ".", "")))
		id += "-" + chatID[max(0, len(chatID)-4):]
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: id, TaskQueue: campaign.TaskQueue,
			ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON})
		child := workflow.ExecuteChildWorkflow(cctx, campaign.CampaignWorkflowName, campaign.CampaignInput{Challenge: act.Challenge, Budget: challenges.Budget{Experiments: act.Budget}, Model: model,
			StartedBy: sender(from, chatID)})
		var exec workflow.Execution
		if err := child.GetChildWorkflowExecution().Get(ctx, &exec); err != nil {
			return "Starting the campaign failed: " + shortenErr(err)
		}
		act.CampaignID = exec.ID
		return fmt.Sprintf("I started campaign %s on %s (budget %d). Watch it in the web UI or with `genesis campaign watch %s`.", exec.ID, act.Challenge, act.Budget, exec.ID)
	case "stop_campaign":
		if err := workflow.SignalExternalWorkflow(ctx, act.CampaignID, "", campaign.SignalStop, "stopped by "+sender(from, chatID)).Get(ctx, nil); err != nil {
			return fmt.Sprintf("Stopping %s failed: %s", act.CampaignID, shortenErr(err))
		}
		return fmt.Sprintf("I asked campaign %s to stop; it finishes its current step and reports.", act.CampaignID)
	case "approve_runs", "reject_runs":
		d := campaign.Decision{Approve: act.Kind == "approve_runs", By: sender(from, chatID), Iteration: act.Iteration}
		if err := workflow.SignalExternalWorkflow(ctx, act.CampaignID, "", campaign.SignalDecision, d).Get(ctx, nil); err != nil {
			return fmt.Sprintf("Passing your decision to %s failed: %s", act.CampaignID, shortenErr(err))
		}
		if d.Approve {
			return fmt.Sprintf("I approved the lab runs campaign %s was waiting on.", act.CampaignID)
		}
		return fmt.Sprintf("I rejected the lab runs campaign %s was waiting on; it will propose others.", act.CampaignID)
	}
	return ""
}
