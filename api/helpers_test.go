package api

import (
	"testing"

	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/challenges"
)

// builtin is the built-in challenge catalog.
func builtin(t testing.TB) *challenges.Catalog {
	t.Helper()
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// openTokens opens the token store of the data directory home (creating
// its first admin token).
func openTokens(t testing.TB, home string) *access.Tokens {
	t.Helper()
	toks, err := access.OpenTokens(home)
	if err != nil {
		t.Fatal(err)
	}
	return toks
}
