package embedded

import (
	"testing"

	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/memory/memtest"
)

func TestContract(t *testing.T) {
	memtest.Run(t, func(t *testing.T, dim int) memory.Store {
		s, err := Open(t.TempDir(), dim, "test")
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
