package main

import (
	"cmp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/genesis-sci/genesis/config"
)

// The commands that take a setting's flag, with the setting's variable
// behind it, are those the configuration table names: the README's table
// cannot drift from the commands.
func TestConfigTableNamesTheCommands(t *testing.T) {
	takers := map[string][]string{} // flag + env -> command paths
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.TrimPrefix(c.CommandPath(), "genesis ")
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			takers[f.Name] = append(takers[f.Name], path+"\x00"+f.Usage)
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := rootCmd(&globals{})
	for _, sub := range root.Commands() {
		walk(sub)
	}
	for _, v := range config.All() {
		flag := cmp.Or(v.Flag, v.FileFlag)
		if flag == "" || v.Commands == "all" {
			continue
		}
		var got []string
		for _, x := range takers[flag] {
			path, usage, _ := strings.Cut(x, "\x00")
			if v.Env == "" || strings.Contains(usage, v.Env) {
				got = append(got, strings.Fields(path)[0])
			}
		}
		got = slices.Compact(slices.Sorted(slices.Values(got)))
		listed, _, _ := strings.Cut(v.Commands, ";") // what follows is said in words
		want := strings.Split(listed, ", ")
		for i, w := range want {
			want[i] = strings.Fields(w)[0] // "lab serve" -> lab
		}
		want = slices.Compact(slices.Sorted(slices.Values(want)))
		if !slices.Equal(got, want) {
			t.Errorf("%s: --%s with %s is taken by %v; the table says %v", v.Title, flag, v.Env, got, want)
		}
	}
}
