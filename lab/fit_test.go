package lab_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/lab"
)

// With FitAtStart the lab fits its gp model in New, before any run; by
// default the fit waits for the first run.
func TestFitAtStart(t *testing.T) {
	for _, fit := range []bool{false, true} {
		dir := t.TempDir()
		src, err := os.ReadFile("testdata/challenges/lab-test-furnace.yaml")
		if err != nil {
			t.Fatal(err)
		}
		def := strings.Replace(string(src), "kind: pool\n", "kind: gp\n  rationale: a smooth response\n", 1)
		def = strings.Replace(def, "id: lab-test-furnace", "id: lab-test-gp-furnace", 1)
		data, err := os.ReadFile("testdata/challenges/furnace.csv")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "gp.yaml"), []byte(def), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "furnace.csv"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		all, err := challenges.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		cat, err := all.Subset([]string{"lab-test-gp-furnace"})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := cat.Get("lab-test-gp-furnace")
		s, err := lab.New(lab.Config{Catalog: cat, FitAtStart: fit})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.EmulatorReady(); got != fit {
			t.Errorf("FitAtStart %v: emulator fitted after New = %v", fit, got)
		}
		s.Close()
	}
}
