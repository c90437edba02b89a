package apiclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/api/apiclient"
	"github.com/genesis-sci/genesis/challenges"
)

func newClient(t *testing.T, h http.HandlerFunc) *apiclient.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cl, err := apiclient.New(srv.URL+"/", "gns_test", apiclient.WithReconnect(apiclient.Reconnect{First: 10 * time.Millisecond, Max: 50 * time.Millisecond, MaxElapsed: 5 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestNewRefusesBadURLs(t *testing.T) {
	for _, base := range []string{"", "127.0.0.1:8080", "ftp://host", "http://", "http://host/?x=1", "http://host/#frag", "http://a b"} {
		if _, err := apiclient.New(base, ""); err == nil || !strings.Contains(err.Error(), "want http(s)://HOST[:PORT]") {
			t.Errorf("New(%q): %v", base, err)
		}
	}
	cl, err := apiclient.New(" https://genesis.example:8443/prefix/ ", "")
	if err != nil || cl.Base() != "https://genesis.example:8443/prefix" {
		t.Errorf("New: %v %q", err, cl.Base())
	}
}

// A refusal carries the server's status, code and message; a body that
// is not the API's error keeps the status and the body.
func TestErrorsCarryTheServersAnswer(t *testing.T) {
	cl := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/portfolios" {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html>bad gateway</html>")
			return
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"code":"not_found","message":"no campaign \"x/y\""}}`)
	})
	_, err := cl.Campaign(context.Background(), "x/y")
	var e *apiclient.Error
	if !errors.As(err, &e) || e.Status != 404 || e.Code != "not_found" || err.Error() != `no campaign "x/y" (not_found)` || !apiclient.IsStatus(err, 404) {
		t.Errorf("got %#v (%v)", e, err)
	}
	_, err = cl.Portfolios(context.Background())
	if !errors.As(err, &e) || e.Status != 502 || err.Error() != "HTTP 502: <html>bad gateway</html>" {
		t.Errorf("got %v", err)
	}
	down, _ := apiclient.New("http://127.0.0.1:1", "")
	if _, err := down.Campaigns(context.Background(), 0); err == nil || !strings.Contains(err.Error(), "cannot reach the Genesis API at http://127.0.0.1:1") {
		t.Errorf("unreachable: %v", err)
	}
}

// Requests: method, escaped path, query, token and JSON body.
func TestRequestsAreWhatTheAPIDocuments(t *testing.T) {
	var mu sync.Mutex
	var got []string
	cl := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		b := new(strings.Builder)
		_, _ = fmt.Fprint(b, r.Method, " ", r.URL.RequestURI(), " ", r.Header.Get("Authorization"), " ", r.Header.Get("Content-Type"), " ")
		buf := make([]byte, 1024)
		n, _ := r.Body.Read(buf)
		b.Write(buf[:n])
		mu.Lock()
		got = append(got, b.String())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"pf-1","campaigns":2,"status":"approved","runs":3}`)
	})
	ctx := context.Background()
	if a, err := cl.ApproveCampaign(ctx, "c 1", apiclient.CampaignDecision{Reason: "fine", Iteration: 2}); err != nil || a.Runs != 3 {
		t.Fatal(a, err)
	}
	if p, err := cl.StartPortfolio(ctx, []byte("name: x\n"), "pf&1"); err != nil || p.Campaigns != 2 {
		t.Fatal(p, err)
	}
	if _, err := cl.DecidePortfolio(ctx, "pf-1", "a/4", false, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.SearchMemory(ctx, apiclient.MemoryQuery{Q: "tough barrels", Kind: "insight", K: 3}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`POST /api/v1/campaigns/c%201/approve Bearer gns_test application/json {"reason":"fine","iteration":2}`,
		"POST /api/v1/portfolios?id=pf%261 Bearer gns_test application/yaml name: x\n",
		"POST /api/v1/portfolios/pf-1/approvals/a%2F4/reject Bearer gns_test application/json {}",
		"GET /api/v1/memory/search?k=3&kind=insight&q=tough+barrels Bearer gns_test  ",
	}
	for i, w := range want {
		if i >= len(got) || got[i] != w {
			t.Errorf("request %d:\n got %q\nwant %q", i, got, w)
		}
	}
}

// A watch that drops is reopened with Last-Event-ID; events with data
// over several lines arrive whole; "done" ends it with the reason.
func TestWatchReconnectsWithLastEventID(t *testing.T) {
	var mu sync.Mutex
	var lastIDs []string
	cl := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := len(lastIDs)
		lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		mu.Unlock()
		if r.URL.Path != "/api/v1/campaigns/campaign-x/watch" || r.Header.Get("Authorization") != "Bearer gns_test" {
			w.WriteHeader(404)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		if n == 0 { // one status over two data lines, then the connection drops
			fmt.Fprint(w, "id: 7\nevent: status\ndata: {\"campaign_id\":\"campaign-x\",\ndata:  \"events\":[{\"seq\":1,\"action\":\"plan\"}]}\n\n")
			return
		}
		fmt.Fprint(w, "id: 8\nevent: status\ndata: {\"campaign_id\":\"campaign-x\",\"events\":[{\"seq\":1},{\"seq\":2,\"action\":\"run\"}],\"done\":true}\n\n")
		fmt.Fprint(w, "event: done\ndata: {\"stop_reason\":\"budget exhausted\"}\n\n")
	})
	var seqs []int
	reason, err := cl.WatchCampaign(context.Background(), "campaign-x", func(st apiclient.CampaignStatus) {
		for _, e := range st.Events {
			seqs = append(seqs, e.Seq)
		}
	})
	if err != nil || reason != "budget exhausted" {
		t.Fatalf("watch: %q %v", reason, err)
	}
	if fmt.Sprint(seqs) != "[1 1 2]" {
		t.Errorf("events seen %v", seqs)
	}
	if fmt.Sprint(lastIDs) != "[ 7]" {
		t.Errorf("Last-Event-ID per connection %q, want none then 7", lastIDs)
	}
}

// A refused watch is not retried; an "error" event ends the watch with
// the server's message.
func TestWatchErrors(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	cl := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		if strings.Contains(r.URL.Path, "gone") {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":{"code":"not_found","message":"no campaign \"gone\""}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: error\ndata: {\"message\":\"the token was revoked\"}\n\n")
	})
	_, err := cl.WatchCampaign(context.Background(), "gone", func(apiclient.CampaignStatus) {})
	if !apiclient.IsStatus(err, 404) || !strings.Contains(err.Error(), `no campaign "gone"`) || calls != 1 {
		t.Errorf("refused watch: %v after %d calls", err, calls)
	}
	_, err = cl.WatchCampaign(context.Background(), "x", func(apiclient.CampaignStatus) {})
	var e *apiclient.Error
	if !errors.As(err, &e) || e.Message != "the token was revoked" || calls != 2 {
		t.Errorf("error event: %v after %d calls", err, calls)
	}
	down, _ := apiclient.New("http://127.0.0.1:1", "")
	start := time.Now()
	if _, err := down.WatchCampaign(context.Background(), "x", func(apiclient.CampaignStatus) {}); err == nil ||
		!strings.Contains(err.Error(), "cannot reach the Genesis API at http://127.0.0.1:1") || time.Since(start) > 5*time.Second {
		t.Errorf("a server that never answered: %v after %s (want the error at once, not after the reconnect budget)", err, time.Since(start))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	hang := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	if _, err := hang.WatchCampaign(ctx, "x", func(apiclient.CampaignStatus) {}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled watch: %v", err)
	}
}

func TestSendChatStream(t *testing.T) {
	cl := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "text/event-stream" {
			w.WriteHeader(406)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		switch r.URL.Path {
		case "/api/v1/chats/chat-1/messages":
			fmt.Fprint(w, "event: delta\ndata: {\"text\":\"Tough\"}\n\n: a comment\n\nevent: delta\ndata: {\"text\":\"Toughness\\nrises\"}\n\n")
			fmt.Fprint(w, "event: reply\ndata: {\"text\":\"Toughness\\nrises.\"}\n\n")
		case "/api/v1/chats/chat-2/messages":
			fmt.Fprint(w, "event: error\ndata: {\"code\":\"rejected\",\"message\":\"the turn failed\"}\n\n")
		default:
			fmt.Fprint(w, "event: delta\ndata: {\"text\":\"half\"}\n\n")
		}
	})
	var parts []string
	reply, err := cl.SendChatStream(context.Background(), "chat-1", "why?", func(p string) { parts = append(parts, p) })
	if err != nil || reply.Text != "Toughness\nrises." || fmt.Sprintf("%q", parts) != `["Tough" "Toughness\nrises"]` {
		t.Errorf("stream: %q %v %q", reply.Text, err, parts)
	}
	if _, err := cl.SendChatStream(context.Background(), "chat-2", "x", func(string) {}); err == nil || err.Error() != "the turn failed (rejected)" {
		t.Errorf("error event: %v", err)
	}
	if _, err := cl.SendChatStream(context.Background(), "chat-3", "x", func(string) {}); err == nil || !strings.Contains(err.Error(), "closed the stream before the reply") {
		t.Errorf("cut stream: %v", err)
	}
}

// Against the real handler: a refused start comes back as the field's
// 422, and the challenge list decodes into the client's types.
func TestAgainstTheServer(t *testing.T) {
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&api.Server{Catalog: cat}).Handler())
	defer srv.Close()
	cl, _ := apiclient.New(srv.URL, "")
	ctx := context.Background()
	_, err = cl.StartCampaign(ctx, apiclient.StartRequest{Challenge: challenges.DefaultID, Strategy: "bo", Batch: 65})
	var e *apiclient.Error
	if !errors.As(err, &e) || e.Status != 422 || e.Code != "invalid_batch" {
		t.Errorf("start: %v", err)
	}
	list, err := cl.Challenges(ctx)
	if err != nil || len(list) != len(cat.All()) || list[0].ID == "" || list[0].PoolSize == 0 {
		t.Errorf("challenges: %v %+v", err, list)
	}
	d, err := cl.Challenge(ctx, challenges.DefaultID)
	if err != nil || d.PoolSize == 0 || !strings.Contains(string(d.Challenge), challenges.DefaultID) {
		t.Errorf("challenge: %v %+v", err, d)
	}
	if err := cl.Health(ctx); err != nil {
		t.Errorf("health: %v", err)
	}
}
