package workflows

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/llm/scripted"
	"github.com/genesis-sci/genesis/agents/providers"
	"github.com/genesis-sci/genesis/workflows/activities"
	"github.com/genesis-sci/genesis/workflows/chat"
)

// chatTeam answers chat turns (requests for a chat reply) like a
// coordinator, starting a campaign when asked, and campaign steps like the
// scripted team.
func chatTeam() *scripted.Model {
	team := scriptedTeam()
	return &scripted.Model{Fn: func(req llm.Request) (string, error) {
		if req.SchemaName != chat.ChatSchemaName {
			return team.Fn(req)
		}
		last := req.Messages[len(req.Messages)-1].Content
		switch {
		case strings.Contains(last, "unknown"):
			return `{"reply":"Trying.","action":{"kind":"start_campaign","challenge":"no-such-challenge","budget":2}}`, nil
		case strings.Contains(last, "long"):
			return `{"reply":"A long answer that the length limit cut \u00e9`, nil // cut off mid-JSON
		case strings.Contains(last, "start"):
			return `{"reply":"Starting it now.","action":{"kind":"start_campaign","challenge":"crossed-barrel-toughness","budget":2}}`, nil
		}
		if !strings.Contains(req.Messages[0].Content, "crossed-barrel-toughness") {
			return `{"reply":"I cannot see the challenges.","action":{"kind":"none"}}`, nil
		}
		return `{"reply":"Crossed-barrel toughness is maximised; the best measured is 46.7 J.","action":{"kind":"none"}}`, nil
	}}
}

func TestChatSession(t *testing.T) {
	f := newFixture(t, chatTeam())
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	// The campaign the chat starts runs real simulation jobs: on a loaded
	// machine one may take longer than the default idle timeout (3 s).
	env.SetTestTimeout(time.Minute)
	Register(env, f.acts)
	var replies []chat.ChatReply
	var rejected []string
	send := func(at time.Duration, text string) {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(chat.UpdateSend, "", &testsuite.TestUpdateCallback{
				OnAccept: func() {},
				OnReject: func(err error) { rejected = append(rejected, err.Error()) },
				OnComplete: func(v any, err error) {
					if err != nil {
						t.Errorf("update failed: %v", err)
						return
					}
					replies = append(replies, v.(chat.ChatReply))
				},
			}, text)
		}, at)
	}
	send(time.Second, "what is the crossed barrel challenge?")
	send(2*time.Second, "")
	send(3*time.Second, "please start a campaign on crossed-barrel-toughness")
	send(4*time.Minute, "start one on an unknown challenge")
	send(5*time.Minute, "give me a long answer")
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(chat.SignalClose, nil) }, 10*time.Minute)
	env.ExecuteWorkflow(chat.ChatWorkflowName, chat.ChatInput{Model: "scripted"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(rejected) != 1 || !strings.Contains(rejected[0], "empty") {
		t.Errorf("rejected %v, want the empty message refused", rejected)
	}
	if len(replies) != 4 {
		t.Fatalf("%d replies: %+v", len(replies), replies)
	}
	if !strings.Contains(replies[0].Text, "46.7") {
		t.Errorf("answer %q", replies[0].Text)
	}
	if a := replies[1].Action; a == nil || a.Kind != "start_campaign" || !strings.HasPrefix(a.CampaignID, "campaign-crossed-barrel-toughness") || !strings.Contains(replies[1].Text, "I started campaign") {
		t.Errorf("start action: %+v %q", replies[1].Action, replies[1].Text)
	}
	if replies[2].Action != nil || !strings.Contains(replies[2].Text, "not a known challenge") {
		t.Errorf("bad action taken: %+v %q", replies[2].Action, replies[2].Text)
	}
	if replies[3].Text != "A long answer that the length limit cut é …" {
		t.Errorf("a reply cut off mid-JSON keeps its text: %q", replies[3].Text)
	}
	v, err := env.QueryWorkflow(chat.QueryChat)
	if err != nil {
		t.Fatal(err)
	}
	var st chat.ChatState
	_ = v.Get(&st)
	if len(st.Messages) != 8 || st.Messages[0].Role != "user" || st.Messages[1].Role != "assistant" || !st.Closed {
		t.Errorf("chat state: %+v", st)
	}
}

// refusesStream is a model whose server refuses to stream (400), as some
// OpenAI-compatible servers do with a schema.
type refusesStream struct{ llm.Model }

func (refusesStream) GenerateStream(context.Context, llm.Request, func(string)) (llm.Response, error) {
	return llm.Response{}, llm.Classify(400, errors.New("stream_options is not supported"))
}

// A chat turn whose model refuses to stream is answered whole instead.
func TestChatTurnFallsBackWhenStreamingIsRefused(t *testing.T) {
	f := newFixture(t, chatTeam())
	models := activities.NewModels(providers.Config{}, func(string) (llm.Model, error) { return refusesStream{chatTeam()}, nil })
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	chat.NewTurns(f.acts.Catalog, models, nil, nil, nil, 0).Register(env)
	v, err := env.ExecuteActivity(chat.ChatTurnActivity, chat.ChatTurnInput{Chat: "c", Model: "scripted", Messages: []chat.ChatMessage{{Role: "user", Text: "what is the crossed barrel challenge?"}}})
	if err != nil {
		t.Fatal(err)
	}
	var res chat.ChatTurnResult
	if err := v.Get(&res); err != nil || !strings.Contains(res.Reply, "46.7") {
		t.Fatalf("reply %q (%v)", res.Reply, err)
	}
}
