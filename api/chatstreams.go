package api

import "sync"

// Streams carries a chat reply's text, as the model writes it, from the
// ChatTurn activity (it is the worker's chat.Publisher) to whoever is
// listening (the API's streaming send) in the same process, as `genesis
// dev` and `genesis run` are. It is
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
