package dataset

import (
	"context"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/challenges"
)

func challenge(t *testing.T) *challenges.Challenge {
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	c, err := cat.Get(challenges.DefaultID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestQueries(t *testing.T) {
	c := challenge(t)
	exps := []Experiment{
		{Iteration: 1, Source: "lab", Point: c.Pool().Points[0], Values: []float64{3.5}},
		{Iteration: 1, Source: "sim", Point: c.Pool().Points[1], Values: []float64{9.0}},
	}
	ctx := context.Background()
	r, err := Run(ctx, c, exps, Query{SQL: "SELECT count(*), sum(measured) FROM candidates"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Rows[0][0] != "600" || r.Rows[0][1] != "1" {
		t.Errorf("got %v", r.Rows)
	}
	r, err = Run(ctx, c, exps, Query{SQL: `SELECT source, toughness FROM experiments ORDER BY toughness DESC`})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rows) != 2 || r.Rows[0][0] != "sim" {
		t.Errorf("got %v", r.Rows)
	}
	r, err = Run(ctx, c, nil, Query{SQL: "SELECT * FROM candidates"})
	if err != nil || !r.Truncated || len(r.Rows) != MaxRows {
		t.Errorf("want a truncated result, got %d rows, %v", len(r.Rows), err)
	}
}

func TestRefusesWrites(t *testing.T) {
	c := challenge(t)
	for _, q := range []string{"DELETE FROM candidates", "SELECT 1; DROP TABLE candidates", "SELECT * FROM nowhere", "WITH x AS (SELECT 1) DELETE FROM candidates"} {
		_, err := Run(context.Background(), c, nil, Query{SQL: q})
		if err == nil {
			t.Errorf("%q: want an error", q)
		} else if !strings.Contains(err.Error(), "candidates(") && !strings.Contains(err.Error(), "read") {
			t.Errorf("%q: error %q should describe the tables", q, err)
		}
	}
}
