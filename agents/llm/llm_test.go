package llm

import "testing"

func TestSharedPrefixTokens(t *testing.T) {
	for _, tc := range []struct {
		prev, prompt string
		tokens, want int
	}{
		{"", "abcd", 10, 0},
		{"xyz", "abcd", 10, 0},
		{"abcdefghij", "abcdefghij", 10, 9}, // all shared: one token is still evaluated
		{"abcdeXXXXX", "abcdefghij", 10, 4}, // half shared, less the straddling token
		{"abcdefghij-and-more", "abcdefghij", 10, 9},
		{"abcdefghij", "abcdefghijklmnopqrst", 20, 9},
	} {
		if got := SharedPrefixTokens(tc.prev, tc.prompt, tc.tokens); got != tc.want {
			t.Errorf("SharedPrefixTokens(%q, %q, %d) = %d, want %d", tc.prev, tc.prompt, tc.tokens, got, tc.want)
		}
	}
}

func TestUsageAdd(t *testing.T) {
	u := Usage{PromptTokens: 100, CachedTokens: 80, CompletionTokens: 10, PromptSeconds: 0.1}
	u.Add(Usage{PromptTokens: 50, CompletionTokens: 5, GenSeconds: 1, CacheMiss: true})
	if u.PromptTokens != 150 || u.CachedTokens != 80 || u.Evaluated() != 70 || u.Total() != 165 || !u.CacheMiss || u.GenSeconds != 1 {
		t.Errorf("got %+v", u)
	}
}
