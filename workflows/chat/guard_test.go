package chat

import (
	"testing"
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

func TestNamesWord(t *testing.T) {
	for _, c := range []struct {
		text, word string
		want       bool
	}{
		{"approve a1 please", "a1", true},
		{"approve a1, and a2", "a1", true},
		{"a1", "a1", true},
		{"approve a10", "a1", false},
		{"approve pf-a1", "a1", false},
		{"approve the waiting runs", "a1", false},
		{"ba1 then a1.", "a1", true},
		{"anything", "", false},
	} {
		if got := namesWord(c.text, c.word); got != c.want {
			t.Errorf("namesWord(%q, %q) = %v", c.text, c.word, got)
		}
	}
}
