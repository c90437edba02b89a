package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/memory"
)

// TestOpenAPIFuzz runs a property-based API fuzzer, schemathesis (from
// PyPI; `make fuzz` installs it into a virtualenv under $GENESIS_HOME and
// sets GENESIS_SCHEMATHESIS), against the Genesis API and the lab service,
// each driven by its own OpenAPI document, on real servers: the API over a
// real Temporal server with a worker, the lab with a bearer token. It fails
// on any 5xx, any status code, content type, header or body the document
// does not describe, schema-invalid input that is accepted, a method the
// path does not support answered other than 405, and an endpoint that
// answers without its token. GENESIS_FUZZ_EXAMPLES bounds the test cases
// per operation (default 25).
func TestOpenAPIFuzz(t *testing.T) {
	exe := os.Getenv("GENESIS_SCHEMATHESIS")
	if exe == "" {
		t.Skip("GENESIS_SCHEMATHESIS is not set (make fuzz installs schemathesis and runs this test)")
	}
	examples := envInt("GENESIS_FUZZ_EXAMPLES", 25)

	e := newEnv(t)
	e.worker(t, team(0), openMemory(t, e.dir))
	home, toks, audit := openAccess(t)
	admin := mustReadToken(t, access.AdminTokenFile(home))
	a := &api.Server{Temporal: e.ts.GetDefaultClient(), Catalog: e.cat, DefaultModel: "scripted", Tokens: toks, Audit: audit,
		Memory: openMemory(t, t.TempDir()), Embedder: memory.Hashing{}, EvalsDir: t.TempDir(), WatchEvery: 50 * time.Millisecond}
	apiURL := serve(t, api.NewHTTPServer(a.Handler()))

	const labToken = "fuzz-lab-token"
	ls, err := lab.New(lab.Config{Catalog: e.cat, TimeScale: 0.0005, Token: labToken})
	if err != nil {
		t.Fatal(err)
	}
	labSrv := httptest.NewServer(ls.Handler())
	t.Cleanup(func() { labSrv.Close(); ls.Close() })

	for _, target := range []struct{ name, url, token string }{{"api", apiURL, admin}, {"lab", labSrv.URL, labToken}} {
		t.Run(target.name, func(t *testing.T) {
			fz := runSchemathesis(t, exe, target.url, target.token, examples)
			t.Logf("%s: %d requests, %d answered 5xx; %s", target.name, fz.requests, fz.serverErrors, fz.summary)
			if fz.serverErrors > 0 {
				t.Errorf("%s answered %d requests with a 5xx", target.name, fz.serverErrors)
			}
			if fz.err != nil {
				t.Errorf("schemathesis found problems in %s:\n%s", target.name, fz.output)
			}
		})
	}
}

func mustReadToken(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// serve serves srv on a loopback port for the test and returns its URL.
func serve(t *testing.T, srv *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

type fuzzResult struct {
	requests, serverErrors int
	summary, output        string
	err                    error
}

// runSchemathesis fuzzes the API at base from its /openapi.json with
// every check, and reads the requests it made and their statuses from its
// HAR report.
func runSchemathesis(t *testing.T, exe, base, token string, examples int) fuzzResult {
	dir := t.TempDir()
	har := filepath.Join(dir, "requests.har")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "run", base+"/openapi.json",
		"--header", "Authorization: Bearer "+token,
		"--checks", "all",
		// Schema-valid input may still be refused by rules a schema
		// cannot state (an unknown challenge, a design outside the pool).
		"--exclude-checks", "positive_data_acceptance",
		"--phases", "examples,coverage,fuzzing",
		"--max-examples", strconv.Itoa(examples),
		"--seed", "20261207",
		"--workers", "2",
		"--request-timeout", "20",
		"--suppress-health-check", "all",
		"--output-truncate", "true",
		"--report", "har", "--report-har-path", har,
		"--no-color")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SCHEMATHESIS_HOOKS=", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	var res fuzzResult
	res.output = string(out)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.err = fmt.Errorf("schemathesis ran out of time: %w", ctx.Err())
	case errors.As(err, &ee):
		res.err = err
	case err != nil:
		t.Fatalf("run %s: %v\n%s", exe, err, out)
	}
	// The summary's count follows its "Test cases:" line.
	lines := strings.Split(res.output, "\n")
	for i, line := range lines {
		if strings.TrimSpace(line) == "Test cases:" && i+1 < len(lines) {
			res.summary = "test cases " + strings.TrimSpace(lines[i+1])
		}
	}
	b, err := os.ReadFile(har)
	if err != nil {
		t.Fatalf("schemathesis wrote no HAR report: %v\n%s", err, out)
	}
	var h struct {
		Log struct {
			Entries []struct {
				Response struct {
					Status int `json:"status"`
				} `json:"response"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("HAR report: %v", err)
	}
	for _, en := range h.Log.Entries {
		res.requests++
		if en.Response.Status >= 500 {
			res.serverErrors++
		}
	}
	return res
}
