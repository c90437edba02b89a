package workflows

import (
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
// object the model is still writing, decoding escapes as far as they are
// complete. It returns "" until the reply's value has started.
func partialReply(raw string) string {
	i := strings.Index(raw, `"reply"`)
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(raw[i+len(`"reply"`):], " \t\r\n")
	if !strings.HasPrefix(rest, ":") {
		return ""
	}
	rest = strings.TrimLeft(rest[1:], " \t\r\n")
	if !strings.HasPrefix(rest, `"`) {
		return ""
	}
	rest = rest[1:]
	var b strings.Builder
	for j := 0; j < len(rest); {
		c := rest[j]
		switch {
		case c == '"':
			return b.String()
		case c != '\\':
			r, n := utf8.DecodeRuneInString(rest[j:])
			if r == utf8.RuneError && n <= 1 && !utf8.FullRuneInString(rest[j:]) {
				return b.String() // a rune cut in the middle
			}
			b.WriteString(rest[j : j+n])
			j += n
		case j+1 >= len(rest):
			return b.String()
		default:
			switch e := rest[j+1]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
			case 'u':
				if j+6 > len(rest) {
					return b.String()
				}
				var v rune
				for _, h := range rest[j+2 : j+6] {
					v <<= 4
					switch {
					case h >= '0' && h <= '9':
						v |= h - '0'
					case h >= 'a' && h <= 'f':
						v |= h - 'a' + 10
					case h >= 'A' && h <= 'F':
						v |= h - 'A' + 10
					}
				}
				b.WriteRune(v)
				j += 6
				continue
			default:
				b.WriteByte(e) // \" \\ \/
			}
			j += 2
		}
	}
	return b.String()
}
