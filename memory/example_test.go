package memory_test

import (
	"context"
	"fmt"
	"os"

	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/memory/embedded"
)

// Remember findings in the embedded store and recall them by meaning: embed
// the texts, upsert the records, then search with an embedded query and a
// filter. The hashing embedder needs no model (it matches shared words);
// a deployment uses a sentence-embedding model instead.
func ExampleStore() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "memory-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	emb := memory.Hashing{}
	var store memory.Store // any backend: embedded here, qdrant in a deployment
	store, err = embedded.Open(dir, emb.Dim(), emb.Name())
	if err != nil {
		panic(err)
	}
	defer store.Close()

	texts := []string{
		"Thicker walls made the crossed barrel tougher.",
		"A higher twist angle lowered the toughness.",
		"Conductivity rose with the carbon nanotube fraction.",
	}
	vecs, err := emb.Embed(ctx, texts)
	if err != nil {
		panic(err)
	}
	recs := []memory.Record{
		{ID: "f1", Text: texts[0], Vector: vecs[0], Kind: memory.KindFinding, Challenge: "crossed-barrel-toughness"},
		{ID: "f2", Text: texts[1], Vector: vecs[1], Kind: memory.KindFinding, Challenge: "crossed-barrel-toughness"},
		{ID: "f3", Text: texts[2], Vector: vecs[2], Kind: memory.KindFinding, Challenge: "p3ht-cnt-conductivity"},
	}
	if err := store.Upsert(ctx, recs); err != nil {
		panic(err)
	}

	q, err := emb.Embed(ctx, []string{"what makes the barrel tougher?"})
	if err != nil {
		panic(err)
	}
	hits, err := store.Search(ctx, q[0], memory.Filter{Challenge: "crossed-barrel-toughness"}, 1)
	if err != nil {
		panic(err)
	}
	for _, h := range hits {
		fmt.Println(h.ID, h.Text)
	}
	n, err := store.Count(ctx, memory.Filter{Kind: memory.KindFinding})
	fmt.Println(n, "findings", err)
	// Output:
	// f1 Thicker walls made the crossed barrel tougher.
	// 3 findings <nil>
}
