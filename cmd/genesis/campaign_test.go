package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// genesis campaign watch prints each event of the campaign's log once,
// though a dropped stream is reopened and shows the log again, then how
// the campaign ended; a refused watch says why.
func TestCampaignWatch(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/campaigns/campaign-x-1/watch" {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":{"code":"not_found","message":"no campaign \"nope\""}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		ev := func(seq int, action string) string {
			return fmt.Sprintf(`{"seq":%d,"time":"2026-12-07T10:00:0%dZ","iteration":1,"agent":"planner","action":%q,"detail":"d%d"}`, seq, seq, action, seq)
		}
		if conns.Add(1) == 1 { // the first connection drops after one status
			fmt.Fprintf(w, "id: 1\nevent: status\ndata: {\"campaign_id\":\"campaign-x-1\",\"events\":[%s]}\n\n", ev(1, "plan"))
			return
		}
		fmt.Fprintf(w, "event: status\ndata: {\"campaign_id\":\"campaign-x-1\",\"events\":[%s,%s]}\n\n", ev(1, "plan"), ev(2, "run"))
		fmt.Fprint(w, "event: done\ndata: {\"stop_reason\":\"budget exhausted\"}\n\n")
	}))
	defer srv.Close()
	run := apiRunner(t, srv.URL)
	code, out, errs := run("campaign", "watch", "campaign-x-1")
	if code != 0 || strings.Count(out, " d1\n") != 1 || strings.Count(out, " d2\n") != 1 || !strings.HasSuffix(out, "campaign campaign-x-1 ended: budget exhausted\n") || conns.Load() != 2 {
		t.Errorf("watch: exit %d after %d connections\n%s%s", code, conns.Load(), out, errs)
	}
	if code, _, errs := run("campaign", "watch", "nope"); code == 0 || !strings.Contains(errs, `watch nope: no campaign "nope" (not_found)`) {
		t.Errorf("refused watch: %d %q", code, errs)
	}
}
