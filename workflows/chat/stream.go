package chat

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Publisher receives a chat's reply so far as the model writes it (the
// API's Streams, in the same process); it must be safe for concurrent use.
// The durable reply still comes back through the workflow.
type Publisher interface {
	Publish(chat, text string)
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
