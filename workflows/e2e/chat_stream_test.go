package e2e

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/api/access"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/tools/labclient"
	"github.com/genesis-sci/genesis/workflows"
)

// streaming hands a scripted model's reply over in small pieces, as a
// real streaming model does.
type streaming struct {
	llm.Model
	chunk int
	delay time.Duration
}

func (m streaming) GenerateStream(ctx context.Context, req llm.Request, onDelta func(string)) (llm.Response, error) {
	resp, err := m.Generate(ctx, req)
	if err != nil {
		return resp, err
	}
	for i := 0; i < len(resp.Content); i += m.chunk {
		time.Sleep(m.delay)
		onDelta(resp.Content[i:min(i+m.chunk, len(resp.Content))])
	}
	return resp, nil
}

// A chat reply streams to the API's client as the model writes it: several
// growing "delta" events, each a prefix of the reply, then the whole reply.
// The worker runs in the API's process and hands the text over directly.
func TestChatStreamsTheReply(t *testing.T) {
	s := api.NewStreams()
	streamChat(t, s, s, 25*time.Millisecond)
}

// The same with the worker in another process than the API: the text
// travels in the ChatTurn activity's heartbeats, which the API reads
// through Temporal — with no worker in the API's process (genesis api),
// and with one there that does not run this turn (a remote worker
// attached to genesis dev).
func TestChatStreamsFromAWorkerElsewhere(t *testing.T) {
	t.Run("api alone", func(t *testing.T) { streamChat(t, nil, nil, 120*time.Millisecond) })
	t.Run("api with its own worker", func(t *testing.T) { streamChat(t, api.NewStreams(), nil, 120*time.Millisecond) })
}

// streamChat sends a chat message with a streaming model behind the
// worker and checks the deltas the API's client gets. apiStreams and
// workerStreams are the in-process hubs of the API and the worker (the
// same one when they share a process).
func streamChat(t *testing.T, apiStreams, workerStreams *api.Streams, delay time.Duration) {
	e := newEnv(t)
	streams := apiStreams
	acts := &workflows.Deps{Catalog: e.cat, NewModel: func(string) (llm.Model, error) { return streaming{team(0), 6, delay}, nil },
		Lab: labclient.New(e.url, nil), Embedder: memory.Hashing{}, DataDir: e.dir, Temporal: e.ts.GetDefaultClient(), Streams: workerStreams}
	e.ts.NewWorkerWithOptions(workflows.TaskQueue, func(r worker.Registry) { workflows.Register(r, acts) }, workflows.WorkerOptions())
	home := t.TempDir()
	toks, _ := access.OpenTokens(home)
	srv := httptest.NewServer((&api.Server{Temporal: e.ts.GetDefaultClient(), Catalog: e.cat, DefaultModel: "scripted", Tokens: toks, Streams: streams}).Handler())
	defer srv.Close()
	op, _ := toks.Create(access.RoleOperator, "o")
	cl := (&operatorAPI{t: t, url: srv.URL, tok: op}).client()
	created, err := cl.CreateChat(t.Context(), "")
	if err != nil {
		t.Fatalf("create chat: %v", err)
	}
	var deltas []string
	reply, err := cl.SendChatStream(t.Context(), created.ID, "what is the crossed barrel challenge about?", func(p string) { deltas = append(deltas, p) })
	if err != nil {
		t.Fatalf("streamed send: %v", err)
	}
	if !strings.Contains(reply.Text, "46.7 J") {
		t.Fatalf("reply %q", reply.Text)
	}
	if len(deltas) < 3 {
		t.Fatalf("only %d partial replies before the whole one: %q", len(deltas), deltas)
	}
	for i, d := range deltas {
		if !strings.HasPrefix(reply.Text, d) || (i > 0 && len(d) < len(deltas[i-1])) {
			t.Fatalf("partial %d %q is not a growing prefix of %q", i, d, reply.Text)
		}
	}
	t.Logf("%d partial replies, then %q", len(deltas), reply.Text)
}
