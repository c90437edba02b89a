// Package clip cuts untrusted or long text (errors, model replies, notes)
// to a length before it goes into an event, a note or a prompt, marking
// the cut. It counts runes, so it never splits a character.
package clip

// Clip returns s cut to n runes, with "…" after the cut when it cut.
func Clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
