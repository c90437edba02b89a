package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/memory/embedded"
)

// genesis memory stats says when a log tail was set aside at open.
func TestMemoryStatsQuarantine(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, "memory", "hashing")
	emb := memory.Hashing{}
	st, err := embedded.Open(dir, emb.Dim(), emb.Name())
	if err != nil {
		t.Fatal(err)
	}
	vecs, _ := emb.Embed(context.Background(), []string{"kept"})
	if err := st.Upsert(context.Background(), []memory.Record{{ID: "1", Text: "kept", Vector: vecs[0], Kind: memory.KindFinding}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	f, err := os.OpenFile(filepath.Join(dir, "memory.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("garbage\n{\"op\":\"puts\"}\n")
	f.Close()
	if st, err = embedded.Open(dir, emb.Dim(), emb.Name()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	var out, errb bytes.Buffer
	if code := execute([]string{"memory", "stats", "--home", home}, &out, &errb); code != 0 {
		t.Fatalf("stats: %d %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "1 records") || !strings.Contains(out.String(), "WARNING: 1 unreadable log tail") || !strings.Contains(out.String(), "memory.log.quarantine-") {
		t.Errorf("stats should report the quarantined tail:\n%s", out.String())
	}
}
