package challenges

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Descriptors is a table of numeric features for the options of a
// categorical parameter (physical-organic or computed properties of each
// ligand, base, fragment or element). A model that sees options only
// one-hot treats every two options as equally different; with descriptors
// it can carry what it learnt about one option to the options that resemble
// it. The table is a CSV file with a header row: one column names the
// options, the others hold the features.
type Descriptors struct {
	File    string   `yaml:"file" json:"file"`
	Key     string   `yaml:"key,omitempty" json:"key,omitempty"`         // column with option names (default: the first)
	Columns []string `yaml:"columns,omitempty" json:"columns,omitempty"` // subset to use (default: every numeric column)
	Source  string   `yaml:"source" json:"source"`
	License string   `yaml:"license" json:"license"`
	Notes   string   `yaml:"notes,omitempty" json:"notes,omitempty"`
	// Filled when the challenge loads:
	Names   []string    `yaml:"-" json:"names,omitempty"`   // kept feature columns, in order
	Dropped []string    `yaml:"-" json:"dropped,omitempty"` // constant columns dropped
	Table   [][]float64 `yaml:"-" json:"-"`                 // one row per option, in Options order, raw (unstandardised) values
}

// Features returns the descriptor values of an option (an index into
// Options), in the order of Descriptors.Names: raw values, finite, not
// standardised. It is nil when the parameter has no descriptors or the
// index is not an option.
func (p Parameter) Features(option int) []float64 {
	if p.Descriptors == nil || option < 0 || option >= len(p.Descriptors.Table) {
		return nil
	}
	return slices.Clone(p.Descriptors.Table[option])
}

// maxCellProblems caps the bad cells reported per table: a wrong column
// would otherwise repeat one message for every option.
const maxCellProblems = 10

// loadDescriptors reads the descriptor table of every parameter that names
// one, relative to dir of fsys, and fills Names, Dropped and Table. Every
// problem found in every table is returned.
func (c *Challenge) loadDescriptors(file string, fsys fs.FS, dir string) []Problem {
	var ps []Problem
	for i := range c.Parameters {
		p := &c.Parameters[i]
		d := p.Descriptors
		if d == nil {
			continue
		}
		field := fmt.Sprintf("parameters[%d].descriptors", i)
		f, err := fsys.Open(path.Join(dir, d.File))
		if err != nil {
			ps = append(ps, Problem{File: file, Field: field + ".file", Msg: fmt.Sprintf("cannot open %q: %v (the path is relative to the definition's directory)", d.File, pathErr(err))})
			continue
		}
		ps = append(ps, d.read(file, field, p.Name, p.Options, f)...)
		f.Close()
	}
	return ps
}

// read parses the table for a parameter with the given options and fills
// Names, Dropped and Table; it returns every problem found instead.
func (d *Descriptors) read(file, field, param string, options []string, r io.Reader) []Problem {
	var ps []Problem
	add := func(sub, format string, args ...any) {
		ps = append(ps, Problem{File: file, Field: field + sub, Msg: fmt.Sprintf(format, args...)})
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, ok := d.readHeader(cr, add)
	if !ok {
		return ps
	}
	k, cols := d.columns(header, add)
	if len(ps) > 0 {
		return ps
	}
	rows, ok := d.readRows(cr, header, k, param, options, add)
	if !ok {
		return ps
	}
	values := d.parseCells(rows, header, cols, add)
	if missing := missingOptions(rows, options); len(missing) > 0 {
		add("", "%s has no row for %d of the %d options: %s", d.File, len(missing), len(options), strings.Join(missing, ", "))
	}
	if len(ps) > 0 {
		return ps
	}
	d.keepInformative(header, header[k], cols, values, len(options), add)
	return ps
}

// readHeader reads the header row: every column named, none twice.
func (d *Descriptors) readHeader(cr *csv.Reader, add addProblem) ([]string, bool) {
	header, err := cr.Read()
	if err == io.EOF {
		add(".file", "%s is empty: want a header row naming the option column and the descriptor columns", d.File)
		return nil, false
	} else if err != nil {
		add(".file", "%s: %v", d.File, err)
		return nil, false
	}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	for i, h := range header {
		if h == "" {
			add(".file", "%s: column %d of the header has no name", d.File, i+1)
		} else if column(header[:i], h) >= 0 {
			add(".file", "%s: column %q appears twice in the header", d.File, h)
		}
	}
	return header, true
}

// columns finds the column of option names (key) and the candidate feature
// columns, in table order: those listed in Columns, else every other one.
func (d *Descriptors) columns(header []string, add addProblem) (k int, cols []int) {
	key := d.Key
	if key == "" {
		key = header[0]
	}
	k = column(header, key)
	if k < 0 {
		add(".key", "%s has no column %q; columns are: %s", d.File, key, strings.Join(header, ", "))
	}
	if len(d.Columns) == 0 {
		for j := range header {
			if j != k {
				cols = append(cols, j)
			}
		}
		return k, cols
	}
	for _, name := range d.Columns {
		j := column(header, name)
		switch {
		case j < 0:
			add(".columns", "%s has no column %q; columns are: %s", d.File, name, strings.Join(header, ", "))
		case j == k:
			add(".columns", "%q is the column of option names, not a descriptor", name)
		default:
			cols = append(cols, j)
		}
	}
	return k, cols
}

// readRows reads the option rows: rows[i] is option i's (matched by name,
// ignoring case), nil when the table has none. It stops at a CSV error.
func (d *Descriptors) readRows(cr *csv.Reader, header []string, k int, param string, options []string, add addProblem) ([]*descRow, bool) {
	rows := make([]*descRow, len(options))
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, true
		}
		if err != nil {
			add(".file", "%s: %v", d.File, err)
			return nil, false
		}
		line, _ := cr.FieldPos(0)
		at := fmt.Sprintf("%s line %d", d.File, line)
		if len(rec) != len(header) {
			add(".file", "%s has %d fields; the header has %d", at, len(rec), len(header))
			continue
		}
		name := strings.TrimSpace(rec[k])
		i := slices.IndexFunc(options, func(o string) bool { return strings.EqualFold(o, name) })
		switch {
		case name == "":
			add("", "%s: the option name (column %q) is empty", at, header[k])
		case i < 0:
			add("", "%s: %q is not an option of parameter %q%s; options are: %s", at, name, param, suggest(name, options), strings.Join(options, ", "))
		case rows[i] != nil:
			add("", "%s: option %q is listed again (first on line %d)", at, options[i], rows[i].line)
		default:
			rows[i] = &descRow{line, rec}
		}
	}
}

// parseCells parses the feature cells: values[c] is column cols[c] per
// option. Without an explicit column list, a column in which no cell is a
// number (names, SMILES, notes) is not a descriptor and is skipped (nil);
// in any other column every cell must be a finite number.
func (d *Descriptors) parseCells(rows []*descRow, header []string, cols []int, add addProblem) [][]float64 {
	values := make([][]float64, len(cols))
	bad := 0
	for c, j := range cols {
		if len(d.Columns) == 0 && textColumn(rows, j) {
			continue
		}
		values[c] = make([]float64, len(rows))
		for i, r := range rows {
			if r == nil {
				continue
			}
			v, msg := parseCell(r.cells[j])
			if msg != "" {
				if bad++; bad <= maxCellProblems {
					add("", "%s line %d, column %q: %s", d.File, r.line, header[j], msg)
				}
				continue
			}
			values[c][i] = v
		}
	}
	if bad > maxCellProblems {
		add("", "%s: %d more bad cells not listed", d.File, bad-maxCellProblems)
	}
	return values
}

// parseCell reads one feature value, or says what is wrong with it.
func parseCell(cell string) (float64, string) {
	cell = strings.TrimSpace(cell)
	v, err := strconv.ParseFloat(cell, 64)
	switch {
	case cell == "":
		return 0, "the cell is empty; every option needs a value"
	case err != nil:
		return 0, fmt.Sprintf("%q is not a number", cell)
	case math.IsNaN(v) || math.IsInf(v, 0):
		return 0, fmt.Sprintf("%q is not a finite number", cell)
	}
	return v, ""
}

// missingOptions are the options the table has no row for.
func missingOptions(rows []*descRow, options []string) []string {
	var missing []string
	for i, r := range rows {
		if r == nil {
			missing = append(missing, options[i])
		}
	}
	return missing
}

// keepInformative fills Names, Dropped and Table from the parsed numeric
// columns. Constant columns carry no information and would divide by zero
// when standardised: they are dropped, and said so.
func (d *Descriptors) keepInformative(header []string, keyName string, cols []int, values [][]float64, nOptions int, add addProblem) {
	var keep []int
	numeric := 0
	d.Names, d.Dropped = nil, nil
	for c, j := range cols {
		if values[c] == nil {
			continue
		}
		numeric++
		if constant(values[c]) {
			d.Dropped = append(d.Dropped, header[j])
			continue
		}
		keep = append(keep, c)
		d.Names = append(d.Names, header[j])
	}
	if len(keep) == 0 {
		if numeric == 0 {
			add("", "%s has no usable descriptor column: no column other than %q holds numbers", d.File, keyName)
		} else {
			add("", "%s has no usable descriptor column: every numeric column has the same value for all options (%s)", d.File, strings.Join(d.Dropped, ", "))
		}
		d.Names, d.Dropped = nil, nil
		return
	}
	d.Table = make([][]float64, nOptions)
	for i := range d.Table {
		d.Table[i] = make([]float64, len(keep))
		for f, c := range keep {
			d.Table[i][f] = values[c][i]
		}
	}
}

// pathErr drops the resolved path from a file system error: the message
// already names the file as the definition wrote it.
func pathErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fs.ErrNotExist // the same words on every file system
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// descRow is one option's row of a descriptor table.
type descRow struct {
	line  int
	cells []string
}

// textColumn reports whether no cell of column j parses as a number.
func textColumn(rows []*descRow, j int) bool {
	for _, r := range rows {
		if r == nil {
			continue
		}
		if _, err := strconv.ParseFloat(strings.TrimSpace(r.cells[j]), 64); err == nil {
			return false
		}
	}
	return true
}

func constant(xs []float64) bool {
	lo, hi := slices.Min(xs), slices.Max(xs)
	return hi-lo <= 1e-12*math.Max(1, math.Max(math.Abs(lo), math.Abs(hi)))
}

// suggest names the option closest to a misspelt name, when one is close.
func suggest(name string, options []string) string {
	best, bestDist := "", math.MaxInt
	for _, o := range options {
		if d := editDistance(strings.ToLower(name), strings.ToLower(o)); d < bestDist {
			best, bestDist = o, d
		}
	}
	if bestDist <= max(1, len([]rune(name))/3) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			sub := prev[j-1]
			if ra[i-1] != rb[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
