package workflows

import (
	"testing"
	"time"
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

func TestStreamsKeepTheLatest(t *testing.T) {
	s := NewStreams()
	ch, cancel := s.Subscribe("c")
	s.Publish("c", "a")
	s.Publish("c", "ab")
	s.Publish("other", "x")
	select {
	case v := <-ch:
		if v != "ab" {
			t.Fatalf("got %q, want the latest", v)
		}
	case <-time.After(time.Second):
		t.Fatal("nothing published")
	}
	cancel()
	s.Publish("c", "abc") // no listener: no block, no panic
	var nilStreams *Streams
	nilStreams.Publish("c", "x")
}
