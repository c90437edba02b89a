// Package archgraph draws Genesis's import graph by the layers of
// DESIGN.md: every package belongs to one room (a folder, its internal
// and test-support packages folded in), every room to one layer, and the
// README's architecture picture is generated from the code (go test
// ./internal/archgraph -update rewrites it; the test fails when it is
// stale, when a new package has no room, or when a library imports a
// layer above it).
package archgraph

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Layers in the order the picture shows them, with the rooms in each.
var Layers = []struct {
	Name  string
	Rooms []string
}{
	{"entry: the genesis command", []string{"cmd/genesis"}},
	{"1 policy scheduler", []string{"workflows/portfolioflow", "portfolio"}},
	{"5 task scheduler", []string{"workflows/campaignflow", "workflows/campaign", "evals", "challenges"}},
	{"3 platform scheduler", []string{"api", "api/apiclient", "api/access", "api/waiting", "workflows", "workflows/chat", "workflows/activities", "memory", "devserver", "config"}},
	{"4 model scheduler", []string{"agents", "agents/providers", "agents/llm", "prompts"}},
	{"2 resource scheduler", []string{"tools", "tools/hpc", "tools/labclient", "tools/dataset", "tools/sim", "lab"}},
	{"libraries", []string{"optimizer", "internal"}},
}

// libraries may import only each other: they are used by every layer.
const libraries = "libraries"

// testSupport are packages only tests import; the picture leaves them out.
var testSupport = []string{"workflows/e2e", "memory/memtest", "agents/llm/realtest", "agents/llm/scripted", "internal/archgraph"}

// Package is one package of the module, by its path inside the module,
// with the module packages it imports (not its tests').
type Package struct {
	Path    string
	Imports []string
}

// Room is the room a package belongs to: the longest room that is the
// package or a parent folder of it ("" when none is).
func Room(path string) string {
	best := ""
	for _, l := range Layers {
		for _, r := range l.Rooms {
			if (path == r || strings.HasPrefix(path, r+"/")) && len(r) > len(best) {
				best = r
			}
		}
	}
	return best
}

func layerOf(room string) string {
	for _, l := range Layers {
		if slices.Contains(l.Rooms, room) {
			return l.Name
		}
	}
	return ""
}

func isTestSupport(path string) bool {
	return slices.ContainsFunc(testSupport, func(t string) bool { return path == t || strings.HasPrefix(path, t+"/") })
}

// Edges are the imports between rooms, without the ones another path
// already implies (a transitive reduction: A→C goes when A→B→C exists), so
// the picture shows structure rather than every arrow. It reports the
// problems that make a picture wrong: a package without a room, a library
// importing a layer.
func Edges(pkgs []Package) (map[string][]string, []string) {
	var problems []string
	direct := map[string]map[string]bool{}
	for _, p := range pkgs {
		if isTestSupport(p.Path) {
			continue
		}
		from := Room(p.Path)
		if from == "" {
			problems = append(problems, fmt.Sprintf("package %s is in no room of archgraph.Layers: add it to the layer of DESIGN.md it belongs to", p.Path))
			continue
		}
		if direct[from] == nil {
			direct[from] = map[string]bool{}
		}
		for _, imp := range p.Imports {
			to := Room(imp)
			if to == "" || to == from || isTestSupport(imp) {
				continue
			}
			if layerOf(from) == libraries && layerOf(to) != libraries {
				problems = append(problems, fmt.Sprintf("library package %s imports %s (layer %q): libraries are used by every layer and must not depend on one", p.Path, imp, layerOf(to)))
			}
			direct[from][to] = true
		}
	}
	reach := func(a, b string, skip string) bool { // b reachable from a without the edge a→skip taken first
		seen := map[string]bool{a: true}
		var stack []string
		for n := range direct[a] {
			if n != skip {
				stack = append(stack, n)
			}
		}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if n == b {
				return true
			}
			if seen[n] {
				continue
			}
			seen[n] = true
			for m := range direct[n] {
				stack = append(stack, m)
			}
		}
		return false
	}
	edges := map[string][]string{}
	for a, tos := range direct {
		for b := range tos {
			if !reach(a, b, b) {
				edges[a] = append(edges[a], b)
			}
		}
		sort.Strings(edges[a])
	}
	sort.Strings(problems)
	return edges, slices.Compact(problems)
}

// Mermaid renders the rooms by layer and the reduced edges as a Mermaid
// flowchart (GitHub renders it in the README).
func Mermaid(edges map[string][]string) string {
	id := func(room string) string { return strings.NewReplacer("/", "_", "-", "_").Replace(room) }
	var b strings.Builder
	b.WriteString("```mermaid\nflowchart TB\n")
	for i, l := range Layers {
		fmt.Fprintf(&b, "  subgraph L%d[\"%s\"]\n", i, l.Name)
		for _, r := range l.Rooms {
			fmt.Fprintf(&b, "    %s[\"%s/\"]\n", id(r), r)
		}
		b.WriteString("  end\n")
	}
	froms := make([]string, 0, len(edges))
	for a := range edges {
		froms = append(froms, a)
	}
	sort.Strings(froms)
	for _, a := range froms {
		for _, to := range edges[a] {
			fmt.Fprintf(&b, "  %s --> %s\n", id(a), id(to))
		}
	}
	b.WriteString("```\n")
	return b.String()
}
