package workflows

import (
	"encoding/json"
	"strings"
	"sync"
	"unicode/utf8"
)

// Streams carries a chat reply's text, as the model writes it, from the
// ChatTurn activity to whoever is listening (the API's streaming send)
// in the same process, as `genesis dev` and `genesis run` are. It is
// ephemeral by design: the durable reply still comes back through the
// workflow; a listener in another process simply gets the whole reply at
// the end.
type Streams struct {
	mu   sync.Mutex
	subs map[string]map[chan string]struct{}
}

// NewStreams returns an empty hub.
func NewStreams() *Streams { return &Streams{subs: map[string]map[chan string]struct{}{}} }

// Subscribe listens to a chat's partial replies. Each value is the reply
// so far (not a delta); a slow listener misses intermediate values, never
// the latest. cancel stops listening.
func (s *Streams) Subscribe(chat string) (<-chan string, func()) {
	ch := make(chan string, 1)
	s.mu.Lock()
	if s.subs[chat] == nil {
		s.subs[chat] = map[chan string]struct{}{}
	}
	s.subs[chat][ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs[chat], ch)
		if len(s.subs[chat]) == 0 {
			delete(s.subs, chat)
		}
		s.mu.Unlock()
	}
}

// Publish hands the reply so far to the chat's listeners.
func (s *Streams) Publish(chat, text string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs[chat] {
		select {
		case <-ch: // drop the stale value: only the latest matters
		default:
		}
		ch <- text
	}
}

// partialReply extracts the "reply" string from the beginning of a JSON
// object the model is still writing, decoded as far as it is complete. It
// returns "" until the reply's value has started.
func partialReply(raw string) string {
	i := strings.Index(raw, `"reply"`)
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(raw[i+len(`"reply"`):], " \t\r\n")
	rest, ok := strings.CutPrefix(rest, ":")
	if !ok {
		return ""
	}
	rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " \t\r\n"), `"`)
	if !ok {
		return ""
	}
	// The value ends at the first unescaped quote; until then, close it
	// ourselves. An escape or a rune cut in the middle makes the string
	// invalid: drop bytes from the end (an escape is at most 6) until the
	// decoder accepts it.
	for j := 0; j < len(rest); j++ {
		if rest[j] == '\\' {
			j++
		} else if rest[j] == '"' {
			rest = rest[:j]
			break
		}
	}
	for cut := 0; cut <= 6 && cut <= len(rest); cut++ {
		var s string
		if err := json.Unmarshal([]byte(`"`+rest[:len(rest)-cut]+`"`), &s); err == nil && utf8.ValidString(rest[:len(rest)-cut]) {
			return s
		}
	}
	return ""
}
