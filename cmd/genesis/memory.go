package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/genesis-sci/genesis/agents/providers"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/memory/embedded"
)

func memoryCmd(cfg *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "memory",
		Short: "Search and inspect the agents' shared memory",
		Long: `The agents' shared memory lives in $GENESIS_HOME/memory/<embedder>/ (one store per embedder,
since vectors of different embedders cannot be compared). These commands read it without
disturbing a running worker.`,
	}
	c.AddCommand(memorySearchCmd(cfg), memoryStatsCmd(cfg))
	return c
}

// memoryStores lists the store directories under $GENESIS_HOME/memory.
func memoryStores(home string) ([]string, error) {
	root := filepath.Join(home, "memory")
	ents, err := os.ReadDir(root)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var dirs []string
	if dim, _, err := embedded.Inspect(root); err == nil && dim > 0 {
		dirs = append(dirs, root) // a store from before per-embedder directories
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if dim, _, err := embedded.Inspect(filepath.Join(root, e.Name())); err == nil && dim > 0 {
			dirs = append(dirs, filepath.Join(root, e.Name()))
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no memory in %s yet: run a campaign first (genesis run)", root)
	}
	return dirs, nil
}

// pickStore chooses the store for an embedder spec ("" = the only one, or the newest).
func pickStore(home, spec string) (string, error) {
	dirs, err := memoryStores(home)
	if err != nil {
		return "", err
	}
	if spec != "" {
		for _, d := range dirs {
			if _, emb, _ := embedded.Inspect(d); emb == spec {
				return d, nil
			}
		}
		var have []string
		for _, d := range dirs {
			_, emb, _ := embedded.Inspect(d)
			have = append(have, emb)
		}
		return "", fmt.Errorf("no memory store built with embedder %q; stores: %s", spec, strings.Join(have, ", "))
	}
	sort.Slice(dirs, func(i, j int) bool { return modTime(dirs[i]).After(modTime(dirs[j])) })
	return dirs[0], nil
}

func modTime(dir string) time.Time {
	st, err := os.Stat(filepath.Join(dir, "memory.log"))
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

func memorySearchCmd(cfg *globals) *cobra.Command {
	var (
		f        memory.Filter
		k        int
		embedder string
	)
	cmd := &cobra.Command{
		Use:   `search "QUERY"`,
		Short: "Search memory by meaning",
		Example: `  genesis memory search "thick walls and toughness" --challenge crossed-barrel-toughness --k 5
  genesis memory search "instrument faults" --kind observation`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			query := strings.TrimSpace(args[0])
			if query == "" {
				return fmt.Errorf("the query is empty; say what to look for")
			}
			if f.Kind != "" && !contains(memory.Kinds, f.Kind) {
				return fmt.Errorf("--kind %q: want one of %s", f.Kind, strings.Join(memory.Kinds, ", "))
			}
			if k < 1 || k > 100 {
				return fmt.Errorf("--k %d must be in [1, 100]", k)
			}
			dir, err := pickStore(cfg.home, embedder)
			if err != nil {
				return err
			}
			st, err := embedded.OpenReadOnly(dir)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			emb, err := providers.NewEmbedder(ctx, st.Embedder(), cfg.models)
			if err != nil {
				return fmt.Errorf("the store was built with %s: %w", st.Embedder(), err)
			}
			vecs, err := emb.Embed(ctx, []string{query})
			if err != nil {
				return err
			}
			hits, err := st.Search(ctx, vecs[0], f, k)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			n, _ := st.Count(ctx, memory.Filter{})
			fmt.Fprintf(w, "%d of %d memories (%s), best first:\n", len(hits), n, st.Embedder())
			for i, h := range hits {
				printHit(w, i+1, h)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.Challenge, "challenge", "", "only this challenge")
	cmd.Flags().StringVar(&f.Kind, "kind", "", "only this kind: "+strings.Join(memory.Kinds, ", "))
	cmd.Flags().StringVar(&f.Campaign, "campaign", "", "only this campaign")
	cmd.Flags().StringVar(&f.Agent, "agent", "", "only this agent")
	cmd.Flags().StringVar(&f.Scope, "scope", "", "only this memory scope (an eval run's or a family sequence's, as report.json names it)")
	cmd.Flags().IntVar(&k, "k", 5, "how many results")
	cmd.Flags().StringVar(&embedder, "embedder", "", "the store of this embedder (default: the most recently written)")
	return cmd
}

func printHit(w io.Writer, n int, h memory.Hit) {
	meta := []string{h.Kind}
	for _, s := range []string{h.Agent, h.Challenge, h.Campaign, scopeText(h.Scope)} {
		if s != "" {
			meta = append(meta, s)
		}
	}
	if !h.Created.IsZero() {
		meta = append(meta, h.Created.Local().Format("2006-01-02 15:04"))
	}
	text := strings.Join(strings.Fields(h.Text), " ")
	fmt.Fprintf(w, "%2d. %.3f  [%s]\n    %s\n", n, h.Score, strings.Join(meta, " · "), wrap(shorten(text, 400), 92, "    "))
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func memoryStatsCmd(cfg *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "How much the agents remember: records by kind, challenge and agent, per store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dirs, err := memoryStores(cfg.home)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, dir := range dirs {
				st, err := embedded.OpenReadOnly(dir)
				if err != nil {
					return err
				}
				recs := st.Records()
				// On disk: the snapshot plus the log of writes since it.
				size := int64(0)
				for _, f := range []string{"memory.snap", "memory.log"} {
					if fi, err := os.Stat(filepath.Join(dir, f)); err == nil {
						size += fi.Size()
					}
				}
				fmt.Fprintf(w, "%s\n  embedder %s (%d dimensions), %d records, %.1f MB on disk\n", dir, st.Embedder(), st.Dim(), len(recs), float64(size)/1e6)
				if q, err := embedded.Quarantined(dir); err == nil && len(q) > 0 {
					fmt.Fprintf(w, "  WARNING: %d unreadable log tail(s) set aside at open, not loaded: %s (in %s; a torn last write holds nothing acknowledged, see the README's Memory section)\n", len(q), strings.Join(q, ", "), dir)
				}
				if len(recs) == 0 {
					continue
				}
				oldest, newest := recs[0].Created, recs[0].Created
				by := map[string]map[string]int{"kind": {}, "challenge": {}, "agent": {}, "campaign": {}}
				for _, r := range recs {
					by["kind"][r.Kind]++
					by["challenge"][orNone(r.Challenge)]++
					by["agent"][orNone(r.Agent)]++
					by["campaign"][orNone(r.Campaign)]++
					if r.Created.Before(oldest) {
						oldest = r.Created
					}
					if r.Created.After(newest) {
						newest = r.Created
					}
				}
				fmt.Fprintf(w, "  from %s to %s\n", oldest.Local().Format("2006-01-02 15:04"), newest.Local().Format("2006-01-02 15:04"))
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				for _, field := range []string{"kind", "agent", "challenge", "campaign"} {
					fmt.Fprintf(tw, "  by %s:\t%s\n", field, topCounts(by[field], 6))
				}
				tw.Flush()
			}
			return nil
		},
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func topCounts(m map[string]int, n int) string {
	type kv struct {
		k string
		v int
	}
	var xs []kv
	for k, v := range m {
		xs = append(xs, kv{k, v})
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].v > xs[j].v || xs[i].v == xs[j].v && xs[i].k < xs[j].k })
	var parts []string
	for i, x := range xs {
		if i == n {
			parts = append(parts, fmt.Sprintf("… %d more", len(xs)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", x.k, x.v))
	}
	return strings.Join(parts, ", ")
}

func scopeText(scope string) string {
	if scope == "" {
		return ""
	}
	return "scope " + scope
}
