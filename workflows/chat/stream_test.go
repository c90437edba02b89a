package chat

import (
	"testing"
)

func TestPartialReply(t *testing.T) {
	for raw, want := range map[string]string{
		``:                                    "",
		`{"re`:                                "",
		`{"reply": `:                          "",
		`{"reply": "`:                         "",
		`{"reply": "Tough`:                    "Tough",
		`{"reply":"a\nb \"q\" \\ \u00e9 é`:    "a\nb \"q\" \\ é é",
		`{"reply": "half \u00`:                "half ",
		`{"reply": "trailing \`:               "trailing ",
		`{"reply": "done", "action": {"kind"`: "done",
		`{"action": {"kind": "none"}, "reply": "later`: "later",
		"{\"reply\": \"cut \xc3":                       "cut ",
	} {
		if got := partialReply(raw); got != want {
			t.Errorf("partialReply(%q) = %q, want %q", raw, got, want)
		}
	}
}
