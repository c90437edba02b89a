package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChallengesShowDescriptors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := execute([]string{"challenges", "show", "cn-coupling-aniline", "--no-holdout", "--home", t.TempDir()}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{
		"\nDescriptors (numeric features of categorical options, for surrogate models)\n",
		"  catalyst: 13 features for 3 options, from ../data/summit/descriptors/baumgartner_catalyst.csv\n",
		"    dropped:   nhoh_count (the same for every option)\n",
		"  base: 13 features for 4 options, from ../data/summit/descriptors/baumgartner_base.csv\n",
		"    license:   structures MIT (data/summit/LICENSE); values computed here (RDKit: BSD-3-Clause)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := execute([]string{"challenges", "show", "suzuki-ligand-screen", "--no-holdout", "--home", t.TempDir()}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "  catalyst: none (models see the 8 options one-hot)\n") {
		t.Errorf("suzuki-ligand-screen: exit %d\n%s", code, out.String())
	}
}

// validate reports every problem of a descriptor table with its field.
func TestChallengesValidateDescriptors(t *testing.T) {
	dir := t.TempDir()
	def := `id: tiny-cat
title: Tiny
domain: materials
description: A tiny categorical test challenge.
objectives: [{name: y, direction: maximize}]
parameters:
  - {name: metal, kind: categorical, options: [Ge, Sn, Pb], descriptors: {file: metals.csv, source: made up, license: CC0}}
data: {file: tiny.csv, source: made up, license: CC0}
lab: {kind: pool, noise: fixed, noise_sd: 0.01}
simulation: {kind: knn, neighbors: 1, bias: 0.02, noise_sd: 0.1, cost: 0.1}
budget: {experiments: 2, simulations: 3}
scoring: {top_fraction: 0.4}
`
	files := map[string]string{"tiny.yaml": def, "tiny.csv": "metal,y\nGe,1\nSn,2\nPb,3\n", "metals.csv": "option,mass,en\nGe,72.6,NaN\nSN,118.7,1.96\nPd,106.4,2.2\n"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	code := execute([]string{"challenges", "validate", dir, "--home", t.TempDir()}, &out, &errb)
	want := "FAIL " + filepath.Join(dir, "tiny.yaml") + "\n" +
		`  parameters[0].descriptors: metals.csv line 4: "Pd" is not an option of parameter "metal" (did you mean "Pb"?); options are: Ge, Sn, Pb` + "\n" +
		`  parameters[0].descriptors: metals.csv line 2, column "en": "NaN" is not a finite number` + "\n" +
		"  parameters[0].descriptors: metals.csv has no row for 1 of the 3 options: Pb\n"
	if code != 1 || out.String() != want {
		t.Errorf("exit %d\n%s\nwant:\n%s", code, out.String(), want)
	}
}
