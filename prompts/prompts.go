// Package prompts holds the agents' role prompts as text/template files,
// embedded in the binary. Each role has one template that renders the user
// message; system.tmpl renders the shared system message. Templates receive
// the agents package's prompt data; golden-file tests in agents pin the
// rendered text, so a prompt change is always a reviewed diff.
package prompts

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

var tmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"inc":  func(i int) int { return i + 1 },
	"join": strings.Join,
}).ParseFS(files, "*.tmpl"))

// Render executes the named template (for example "planner.tmpl").
func Render(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("prompt %s: %w", name, err)
	}
	return strings.TrimSpace(b.String()) + "\n", nil
}

// Has reports whether a template exists.
func Has(name string) bool { return tmpl.Lookup(name) != nil }
