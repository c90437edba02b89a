package api

import (
	"testing"
	"time"
)

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
