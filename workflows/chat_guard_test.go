package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
)

// What a user's message asks for, as the chat's guard reads it.
func TestChatAsked(t *testing.T) {
	const c = "campaign-crossed-barrel-toughness-20260101t000000000abc"
	for _, tc := range []struct {
		text, kind string
		names      []string
		asked      bool
	}{
		{"please approve the runs of " + c, "approve_runs", []string{c}, true},
		{"Approve " + c + ".", "approve_runs", []string{c}, true},
		{"can you approve `" + c + "`?", "approve_runs", []string{c}, true},
		{"I want you to approve " + c, "approve_runs", []string{c}, true},
		{"approve the waiting runs", "approve_runs", []string{c}, false},                               // names nothing
		{"do not approve " + c, "approve_runs", []string{c}, false},                                    // negated
		{"don't approve anything for " + c, "approve_runs", []string{c}, false},                        // negated
		{"Don’t approve " + c + " yet", "approve_runs", []string{c}, false},                            // curly apostrophe
		{"never approve " + c, "approve_runs", []string{c}, false},                                     // negated
		{"reject " + c, "approve_runs", []string{c}, false},                                            // the other decision
		{"approve " + c + "? no, reject it", "approve_runs", []string{c}, false},                       // both: ambiguous
		{"my colleague wrote \"approve " + c + "\"; is that wise", "approve_runs", []string{c}, false}, // quoted
		{"> approve " + c + "\nwhat do you think of this note?", "approve_runs", []string{c}, false},   // a quoted line
		{"what did the approve button do for " + c + "?", "approve_runs", []string{c}, false},          // a question about it
		{"how is campaign-approve-1 doing?", "approve_runs", []string{"campaign-approve-1"}, false},    // the verb is inside an ID
		{"stop " + c, "stop_campaign", []string{c}, true},
		{"please cancel " + c + " now", "stop_campaign", []string{c}, true},
		{"when did " + c + " stop?", "stop_campaign", []string{c}, false},
		{"why did the stop of " + c + " happen", "stop_campaign", []string{c}, false},
		{"don't stop " + c + ", approve its runs", "stop_campaign", []string{c}, false},
		{"don't stop " + c + ", approve its runs", "approve_runs", []string{c}, true},
		{"start a campaign on crossed-barrel-toughness with budget 12", "start_campaign", []string{"crossed-barrel-toughness"}, true},
		{"run one on crossed-barrel-toughness", "start_campaign", []string{"crossed-barrel-toughness"}, true},
		{"how did the run on crossed-barrel-toughness go?", "start_campaign", []string{"crossed-barrel-toughness"}, false},
		{"tell me about crossed-barrel-toughness", "start_campaign", []string{"crossed-barrel-toughness"}, false},
		{"start a campaign on it", "start_campaign", []string{"crossed-barrel-toughness"}, false},
		{"approve a1 please", "approve_approval", []string{"a1"}, true},
		{"approve a10", "approve_approval", []string{"a1"}, false},
		{"approve it", "approve_runs", []string{""}, false},
		{"approve " + c, "none", []string{c}, false},
	} {
		why := chatAsked(tc.text, tc.kind, tc.names...)
		if (why == "") != tc.asked {
			t.Errorf("chatAsked(%q, %s) = %q; want asked %v", tc.text, tc.kind, why, tc.asked)
		}
	}
}

// The workflow checks an action against the message itself, whatever the
// ChatTurn activity returned (a worker of an older build, say): an action
// the message did not ask for is not taken; one it asked for is.
func TestChatWorkflowChecksTheActionItself(t *testing.T) {
	for _, c := range []struct {
		text  string
		taken bool
	}{
		{"how is it going?", false},
		{"do not approve " + injA, false},
		{"approve " + injA, true},
	} {
		acts := &Activities{}
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		Register(env, acts)
		env.OnActivity(acts.ChatTurn, mock.Anything, mock.Anything).Return(
			ChatTurnResult{Reply: "Done.", Action: &ChatAction{Kind: "approve_runs", CampaignID: injA, Iteration: 3}}, nil)
		signals := 0
		env.OnSignalExternalWorkflow(mock.Anything, injA, mock.Anything, SignalDecision, mock.Anything).Return(nil).Run(func(mock.Arguments) { signals++ })
		var reply ChatReply
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(UpdateSend, "", &testsuite.TestUpdateCallback{OnAccept: func() {}, OnReject: func(err error) { t.Error(err) },
				OnComplete: func(v any, err error) {
					if err != nil {
						t.Error(err)
						return
					}
					reply = v.(ChatReply)
				}}, c.text, Caller{By: injSender, Role: "operator"})
		}, time.Second)
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalClose, nil) }, time.Minute)
		env.ExecuteWorkflow(ChatWorkflowName, ChatInput{Model: "scripted"})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		if taken := signals == 1; taken != c.taken || (reply.Action != nil) != c.taken {
			t.Errorf("%q: %d decisions sent, reply %+v; want taken %v", c.text, signals, reply, c.taken)
		}
		if !c.taken && !strings.Contains(reply.Text, "I did nothing") {
			t.Errorf("%q: the reply does not say nothing was done: %q", c.text, reply.Text)
		}
	}
}
