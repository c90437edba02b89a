package challenges

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// descYAML is mixedYAML with a descriptor table for the solvent.
var descYAML = strings.Replace(mixedYAML, "options: [water, ethanol, dmso]}",
	"options: [water, ethanol, dmso],\n     descriptors: {file: solvents.csv, source: CRC Handbook, license: CC0}}", 1)

const solventsCSV = "option,bp,dielectric,smiles\nwater,100,80.1,O\nethanol,78.4,24.5,CCO\ndmso,189,46.7,CS(C)=O\n"

// loadDesc writes a challenge with the given definition and descriptor
// table and loads it, returning the challenge or the problems as
// "field: message" lines.
func loadDesc(t *testing.T, yaml, table string) (*Challenge, []string) {
	t.Helper()
	dir := writeChallenge(t, yaml, mixedCSV())
	if table != "" {
		if err := os.WriteFile(filepath.Join(dir, "solvents.csv"), []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := LoadDir(dir)
	if err != nil {
		var inv *InvalidError
		if !errors.As(err, &inv) {
			t.Fatalf("want InvalidError, got %v", err)
		}
		var out []string
		for _, p := range inv.Problems {
			if filepath.Base(p.File) != "c.yaml" {
				t.Errorf("problem names file %q, want the definition c.yaml", p.File)
			}
			out = append(out, p.Field+": "+p.Msg)
		}
		return nil, out
	}
	c, err := cat.Get("mixed-test")
	if err != nil {
		t.Fatal(err)
	}
	return c, nil
}

func TestDescriptorsLoad(t *testing.T) {
	// Rows in another order than the options, a text column, a BOM and an option in another case.
	c, probs := loadDesc(t, descYAML, "\ufeffoption,bp,dielectric,smiles\nDMSO,189,46.7,CS(C)=O\nwater,100,80.1,O\nethanol,78.4,24.5,CCO\n")
	if probs != nil {
		t.Fatal(probs)
	}
	p := c.Parameters[0]
	d := p.Descriptors
	if want := []string{"bp", "dielectric"}; !slices.Equal(d.Names, want) || d.Dropped != nil {
		t.Errorf("names %v dropped %v, want %v and none", d.Names, d.Dropped, want)
	}
	want := [][]float64{{100, 80.1}, {78.4, 24.5}, {189, 46.7}} // in Options order: water, ethanol, dmso
	for i := range p.Options {
		if got := p.Features(i); !slices.Equal(got, want[i]) {
			t.Errorf("Features(%d) = %v, want %v", i, got, want[i])
		}
	}
	p.Features(0)[0] = -1 // the caller's copy
	if p.Features(0)[0] != 100 {
		t.Error("Features returns the table's own row")
	}
	if p.Features(3) != nil || p.Features(-1) != nil || c.Parameters[1].Features(0) != nil {
		t.Error("Features of a non-option or of a parameter without descriptors is not nil")
	}

	// An explicit column list picks and orders; another key column; a constant column is dropped.
	src := strings.Replace(descYAML, "file: solvents.csv,", "file: solvents.csv, key: name, columns: [dielectric, polar, bp],", 1)
	c, probs = loadDesc(t, src, "bp,name,dielectric,polar\n100,water,80.1,1\n78.4,ethanol,24.5,1\n189,dmso,46.7,1\n")
	if probs != nil {
		t.Fatal(probs)
	}
	d = c.Parameters[0].Descriptors
	if !slices.Equal(d.Names, []string{"dielectric", "bp"}) || !slices.Equal(d.Dropped, []string{"polar"}) {
		t.Errorf("names %v dropped %v, want [dielectric bp] and [polar]", d.Names, d.Dropped)
	}
	if got := c.Parameters[0].Features(2); !slices.Equal(got, []float64{46.7, 189}) {
		t.Errorf("dmso %v", got)
	}

	// JSON (as the API serves definitions) carries names and dropped, not the table.
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Parameters []struct {
			Descriptors map[string]any `json:"descriptors"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got := back.Parameters[0].Descriptors
	if fmt.Sprint(got["names"]) != "[dielectric bp]" || fmt.Sprint(got["dropped"]) != "[polar]" || got["table"] != nil || got["Table"] != nil {
		t.Errorf("JSON descriptors %v", got)
	}
	if strings.Contains(string(b), "46.7") {
		t.Error("JSON carries descriptor values")
	}
}

// Each bad table or definition gives exactly the listed problems.
func TestDescriptorProblems(t *testing.T) {
	const head = "option,bp,dielectric\n"
	withDesc := func(fields string) string {
		return strings.Replace(descYAML, "{file: solvents.csv, source: CRC Handbook, license: CC0}", "{"+fields+"}", 1)
	}
	const pd = "parameters[0].descriptors"
	cases := []struct {
		name, yaml, csv string
		want            []string
	}{
		{"missing option", descYAML, head + "water,100,80.1\nethanol,78.4,24.5\n",
			[]string{pd + ": solvents.csv has no row for 1 of the 3 options: dmso"}},
		{"unknown option", descYAML, head + "water,100,80.1\netanol,78.4,24.5\ndmso,189,46.7\n",
			[]string{pd + `: solvents.csv line 3: "etanol" is not an option of parameter "solvent" (did you mean "ethanol"?); options are: water, ethanol, dmso`,
				pd + ": solvents.csv has no row for 1 of the 3 options: ethanol"}},
		{"unknown option, nothing close", descYAML, head + "water,100,80.1\nethanol,78.4,24.5\ndmso,189,46.7\nacetone,56,20.7\n",
			[]string{pd + `: solvents.csv line 5: "acetone" is not an option of parameter "solvent"; options are: water, ethanol, dmso`}},
		{"duplicate row", descYAML, head + "water,100,80.1\nethanol,78.4,24.5\nWater,100,80.1\ndmso,189,46.7\n",
			[]string{pd + `: solvents.csv line 4: option "water" is listed again (first on line 2)`}},
		{"NaN", descYAML, head + "water,100,80.1\nethanol,NaN,24.5\ndmso,189,46.7\n",
			[]string{pd + `: solvents.csv line 3, column "bp": "NaN" is not a finite number`}},
		{"Inf", descYAML, head + "water,100,80.1\nethanol,78.4,-inf\ndmso,189,46.7\n",
			[]string{pd + `: solvents.csv line 3, column "dielectric": "-inf" is not a finite number`}},
		{"empty cell", descYAML, head + "water,100,80.1\nethanol,78.4,\ndmso,189,46.7\n",
			[]string{pd + `: solvents.csv line 3, column "dielectric": the cell is empty; every option needs a value`}},
		{"not a number", descYAML, head + "water,100,80.1\nethanol,78.4,n/a\ndmso,189,46.7\n",
			[]string{pd + `: solvents.csv line 3, column "dielectric": "n/a" is not a number`}},
		{"empty option name", descYAML, head + "water,100,80.1\n,78.4,24.5\nethanol,78.4,24.5\ndmso,189,46.7\n",
			[]string{pd + `: solvents.csv line 3: the option name (column "option") is empty`}},
		{"ragged row", descYAML, head + "water,100,80.1\nethanol,78.4\ndmso,189,46.7\n",
			[]string{pd + ".file: solvents.csv line 3 has 2 fields; the header has 3",
				pd + ": solvents.csv has no row for 1 of the 3 options: ethanol"}},
		{"constant columns only", descYAML, head + "water,1,2\nethanol,1,2\ndmso,1,2.0000000000000001\n",
			[]string{pd + ": solvents.csv has no usable descriptor column: every numeric column has the same value for all options (bp, dielectric)"}},
		{"no numeric column", descYAML, "option,smiles\nwater,O\nethanol,CCO\ndmso,CS(C)=O\n",
			[]string{pd + `: solvents.csv has no usable descriptor column: no column other than "option" holds numbers`}},
		{"text column asked for", withDesc("file: solvents.csv, columns: [bp, smiles], source: s, license: l"), solventsCSV,
			[]string{pd + `: solvents.csv line 2, column "smiles": "O" is not a number`,
				pd + `: solvents.csv line 3, column "smiles": "CCO" is not a number`,
				pd + `: solvents.csv line 4, column "smiles": "CS(C)=O" is not a number`}},
		{"missing file", withDesc("file: nope.csv, source: s, license: l"), "",
			[]string{pd + `.file: cannot open "nope.csv": file does not exist (the path is relative to the definition's directory)`}},
		{"empty file", descYAML, "\n",
			[]string{pd + ".file: solvents.csv is empty: want a header row naming the option column and the descriptor columns"}},
		{"duplicate header", descYAML, "option,bp,bp\nwater,1,2\nethanol,3,4\ndmso,5,6\n",
			[]string{pd + `.file: solvents.csv: column "bp" appears twice in the header`}},
		{"unknown key", withDesc("file: solvents.csv, key: name, source: s, license: l"), solventsCSV,
			[]string{pd + `.key: solvents.csv has no column "name"; columns are: option, bp, dielectric, smiles`}},
		{"unknown column", withDesc("file: solvents.csv, columns: [bp, mp, option], source: s, license: l"), solventsCSV,
			[]string{pd + `.columns: solvents.csv has no column "mp"; columns are: option, bp, dielectric, smiles`,
				pd + `.columns: "option" is the column of option names, not a descriptor`}},
		{"definition fields", withDesc("file: ' ', columns: [bp, bp]"), solventsCSV,
			[]string{pd + ".file: is required (a CSV file with a header row, relative to the definition)",
				pd + ".source: is required: say where the values come from (paper, repository and commit, or the script that computed them)",
				pd + ".license: is required",
				pd + ".columns: column names must be distinct"}},
		{"not categorical", strings.Replace(descYAML, "low: 20, high: 120, unit: C}", "low: 20, high: 120, unit: C, descriptors: {file: solvents.csv, source: s, license: l}}", 1), solventsCSV,
			[]string{`parameters[3].descriptors: only a categorical parameter takes descriptors ("temperature" is continuous)`}},
		// Problems in the table and in the data are reported together.
		{"table and data", descYAML, head + "water,100,80.1\nethanol,NaN,24.5\n",
			[]string{pd + `: solvents.csv line 3, column "bp": "NaN" is not a finite number`,
				pd + ": solvents.csv has no row for 1 of the 3 options: dmso"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, got := loadDesc(t, tc.yaml, tc.csv)
			if c != nil {
				t.Fatalf("loaded; want %q", tc.want)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestDescriptorProblemsWithDataProblems(t *testing.T) {
	dir := writeChallenge(t, descYAML, "acetone,0.5,0.5,40,31,5\nwater,0.5,0.5,40,33,5\n")
	if err := os.WriteFile(filepath.Join(dir, "solvents.csv"), []byte("option,bp\nwater,100\nethanol,78.4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDir(dir)
	for _, want := range []string{"solvents.csv has no row for 1 of the 3 options: dmso", `mixed.csv line 1: parameter "solvent": "acetone" is not an option`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// A wrong column would repeat one message per option: ten are listed, then a count.
func TestDescriptorCellProblemsCapped(t *testing.T) {
	opts := make([]string, 30)
	var b strings.Builder
	b.WriteString("option,x,y\n")
	for i := range opts {
		opts[i] = fmt.Sprintf("o%d", i)
		if i == 0 {
			b.WriteString("o0,1,2\n") // numbers: these are descriptor columns with bad cells
		} else {
			fmt.Fprintf(&b, "o%d,?,!\n", i)
		}
	}
	src := strings.Replace(descYAML, "options: [water, ethanol, dmso]", "options: ["+strings.Join(opts, ", ")+"]", 1)
	src = strings.Replace(src, "when: {solvent: water}", "when: {solvent: o0}", 1)
	dir := t.TempDir()
	csv := strings.NewReplacer("water", "o0", "ethanol", "o1", "dmso", "o2").Replace(mixedCSV())
	for name, body := range map[string]string{"c.yaml": src, "mixed.csv": csv, "solvents.csv": b.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := LoadDir(dir)
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("want InvalidError, got %v", err)
	}
	if n := len(inv.Problems); n != maxCellProblems+1 {
		t.Errorf("%d problems, want %d:\n%v", n, maxCellProblems+1, err)
	}
	if last := inv.Problems[len(inv.Problems)-1].Msg; last != "solvents.csv: 48 more bad cells not listed" {
		t.Errorf("last problem %q", last)
	}
}

func TestDescriptorsRejectLoadTimeFields(t *testing.T) {
	src := strings.Replace(descYAML, "license: CC0}", "license: CC0, names: [bp]}", 1)
	_, probs := loadDesc(t, src, solventsCSV)
	if len(probs) != 1 || !strings.Contains(probs[0], "field names not found") {
		t.Errorf("problems %q", probs)
	}
}

func TestDescriptorsLintIdenticalOptions(t *testing.T) {
	c, probs := loadDesc(t, descYAML, "option,bp\nwater,100\nethanol,78.4\ndmso,78.4\n")
	if probs != nil {
		t.Fatal(probs)
	}
	want := `parameter "solvent": options "ethanol" and "dmso" have identical descriptors in solvents.csv; a model that uses them cannot tell the two apart`
	if w := c.Lint(); !slices.Contains(w, want) {
		t.Errorf("lint %q, want %q", w, want)
	}
}

// builtinDescriptors is what the built-in catalog's tables hold after
// loading: the kept and dropped columns of every parameter that has one.
// A categorical parameter missing here must have no table.
var builtinDescriptors = map[string]map[string]struct {
	kept    int
	dropped []string
}{
	"hoip-band-gap":        {"organic": {14, nil}, "metal": {9, nil}, "halide": {10, nil}},
	"redoxmer-design":      {"r1": {4, nil}, "r3": {7, nil}, "r4": {7, nil}, "r5": {7, nil}},
	"opv-spectral-overlap": {"db_block": {10, nil}, "a_block": {11, nil}},
	"dye-laser-design":     {"frag_a": {14, nil}, "frag_b": {13, []string{"nhoh_count"}}, "frag_c": {13, []string{"nhoh_count"}}},
	"electrochem-voltage":  {"ligand": {14, nil}},
	"lnp-formulation":      {"drug_input": {1, nil}, "solid_lipid_input": {1, nil}, "liquid_lipid_input": {1, nil}, "surfactant_input": {1, nil}},
	"cn-coupling-aniline":  {"catalyst": {13, []string{"nhoh_count"}}, "base": {13, []string{"aromatic_rings"}}},
}

func TestBuiltinDescriptors(t *testing.T) {
	cat, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cat.All() {
		want := builtinDescriptors[c.ID]
		for _, p := range c.Parameters {
			w, ok := want[p.Name]
			d := p.Descriptors
			if !ok {
				if d != nil {
					t.Errorf("%s/%s: has descriptors (%s); add it to builtinDescriptors", c.ID, p.Name, d.File)
				}
				continue
			}
			if d == nil {
				t.Errorf("%s/%s: no descriptors", c.ID, p.Name)
				continue
			}
			if len(d.Names) != w.kept || !slices.Equal(d.Dropped, w.dropped) {
				t.Errorf("%s/%s: %d columns kept %v, dropped %v; want %d kept, dropped %v", c.ID, p.Name, len(d.Names), d.Names, d.Dropped, w.kept, w.dropped)
			}
			if len(d.Table) != len(p.Options) {
				t.Fatalf("%s/%s: %d rows for %d options", c.ID, p.Name, len(d.Table), len(p.Options))
			}
			for i := range p.Options {
				f := p.Features(i)
				if len(f) != len(d.Names) {
					t.Fatalf("%s/%s option %s: %d values for %d names", c.ID, p.Name, p.Options[i], len(f), len(d.Names))
				}
				for _, v := range f {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Errorf("%s/%s option %s: %v", c.ID, p.Name, p.Options[i], f)
					}
				}
			}
			for k, name := range d.Names {
				col := make([]float64, len(p.Options))
				for i := range p.Options {
					col[i] = d.Table[i][k]
				}
				if constant(col) {
					t.Errorf("%s/%s: kept column %s is constant", c.ID, p.Name, name)
				}
			}
		}
		for name := range want {
			if c.ParamIndex(name) < 0 {
				t.Errorf("%s: no parameter %q", c.ID, name)
			}
		}
	}
	for id := range builtinDescriptors {
		if _, err := cat.Get(id); err != nil {
			t.Error(err)
		}
	}
}

// Spot values, each checked against a figure outside the table: molecular
// weights as Summit's COSMOquick tables list them, element data, Olympus's
// own values, and the amounts the LNP options name.
func TestBuiltinDescriptorValues(t *testing.T) {
	cat, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		id, param, option, column string
		want, tol                 float64
	}{
		{"cn-coupling-aniline", "base", "DBU", "mol_wt", 152.24, 0.01},
		{"cn-coupling-aniline", "base", "TEA", "mol_wt", 101.19, 0.01},
		{"cn-coupling-aniline", "base", "TEA", "nhoh_count", 0, 0},
		{"cn-coupling-aniline", "base", "TMG", "nhoh_count", 1, 0},
		{"cn-coupling-aniline", "catalyst", "tBuXPhos", "mol_wt", 424.64, 0.02},
		{"cn-coupling-aniline", "catalyst", "AlPhos", "mol_wt", 815.06, 0.02},
		{"hoip-band-gap", "organic", "imidazolium", "mol_wt", 69.087, 0.001}, // Olympus's total_mass
		{"hoip-band-gap", "organic", "methylammonium", "heavy_atoms", 2, 0},
		{"hoip-band-gap", "organic", "tetramethylammonium", "nhoh_count", 0, 0},
		{"hoip-band-gap", "metal", "Pb", "atomic_weight", 207.2, 0.01},
		{"hoip-band-gap", "metal", "Sn", "period", 5, 0},
		{"hoip-band-gap", "halide", "I", "electron_affinity_ev", 3.059, 0.001}, // Olympus's I value
		{"hoip-band-gap", "halide", "Cl", "ionic_radius_vi_pm", 181, 0},
		{"redoxmer-design", "r1", "R1_0", "MW", 60.057514876, 0},
		{"redoxmer-design", "r5", "R5_10", "nHeavyAtom", 0, -1}, // -1: read from the source below
		{"opv-spectral-overlap", "a_block", "A_100", "HOMO(eV)", 0, -1},
		{"opv-spectral-overlap", "db_block", "DB_01", "HOMO(eV)", -9.0077, 0},
		{"lnp-formulation", "drug_input", "48", "drug_input_ug", 48, 0},
		{"lnp-formulation", "surfactant_input", "0.0025", "surfactant_input", 0.0025, 0},
		{"electrochem-voltage", "ligand", "Ethylenediamine", "heavy_atoms", 4, 0},
		{"dye-laser-design", "frag_c", "Brc1ccc(Br)o1", "aromatic_rings", 1, 0},
	}
	for _, tc := range cases {
		c, err := cat.Get(tc.id)
		if err != nil {
			t.Fatal(err)
		}
		p := c.Parameters[c.ParamIndex(tc.param)]
		i, k := slices.Index(p.Options, tc.option), slices.Index(p.Descriptors.Names, tc.column)
		if i < 0 || k < 0 {
			t.Errorf("%s/%s: no option %q or column %q", tc.id, tc.param, tc.option, tc.column)
			continue
		}
		if tc.tol < 0 {
			continue // checked against the Olympus source in TestOlympusPivot
		}
		if got := p.Features(i)[k]; math.Abs(got-tc.want) > tc.tol {
			t.Errorf("%s/%s %s %s = %v, want %v ± %v", tc.id, tc.param, tc.option, tc.column, got, tc.want, tc.tol)
		}
	}
}

// The pivoted Olympus tables hold every value of Olympus's long-form files,
// unchanged.
func TestOlympusPivot(t *testing.T) {
	cat, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ source, id string }{{"redoxmers", "redoxmer-design"}, {"mmli_opv", "opv-spectral-overlap"}} {
		c, _ := cat.Get(tc.id)
		raw, err := builtinFS.ReadFile("data/olympus/descriptors/source/" + tc.source + ".csv")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			f := strings.Split(line, ",")
			j := slices.IndexFunc(c.Parameters, func(p Parameter) bool { return p.Column == f[0] })
			if j < 0 {
				t.Fatalf("%s: no parameter for column %q", tc.id, f[0])
			}
			p := c.Parameters[j]
			i, k := slices.Index(p.Options, f[1]), slices.Index(p.Descriptors.Names, f[2])
			if i < 0 || k < 0 {
				t.Errorf("%s: %s/%s/%s not in the table", tc.id, f[0], f[1], f[2])
				continue
			}
			var want float64
			if _, err := fmt.Sscan(f[3], &want); err != nil {
				t.Fatal(err)
			}
			if got := p.Features(i)[k]; got != want {
				t.Errorf("%s: %s %s %s = %v, Olympus has %v", tc.id, f[0], f[1], f[2], got, want)
			}
			n++
		}
		t.Logf("%s: %d Olympus values found unchanged", tc.id, n)
		if n < 190 {
			t.Errorf("%s: only %d values compared", tc.id, n)
		}
	}
}
