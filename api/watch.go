package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/genesis-sci/genesis/workflows/campaign"
)

// sse writes server-sent events, each flushed at once.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

// startSSE answers 200 with an event stream.
func startSSE(w http.ResponseWriter) sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return sse{w, f}
}

// event sends one event with v as its JSON data.
func (s sse) event(name string, v any) {
	fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, jsonString(v))
	if s.f != nil {
		s.f.Flush()
	}
}

// watchCampaign streams the campaign's status as server-sent events: an
// "status" event whenever it changes, then "done" when the campaign ends.
func (s *Server) watchCampaign(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !checkID(w, "campaign", id) {
		return
	}
	if _, ok := w.(http.Flusher); !ok {
		writeErr(w, http.StatusInternalServerError, "internal", "streaming is not supported here")
		return
	}
	every := s.WatchEvery
	if every <= 0 {
		every = time.Second
	}
	var out *sse
	last := ""
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		st, err := s.status(r, id)
		if err != nil {
			if out == nil {
				s.writeTemporalErr(w, r, err, campaign.CampaignWorkflowName, id, fmt.Sprintf("no campaign %q", id))
				return
			}
			out.event("error", map[string]string{"message": err.Error()})
			return
		}
		if out == nil {
			stream := startSSE(w)
			out = &stream
		} else if !s.stillValid(r) {
			// A token revoked mid-stream ends the stream at once.
			out.event("error", map[string]string{"message": "the token was revoked"})
			return
		}
		b, _ := json.Marshal(s.campaignStatus(r.Context(), id, st))
		if string(b) != last {
			last = string(b)
			out.event("status", json.RawMessage(b))
		}
		if st.Done {
			out.event("done", map[string]string{"stop_reason": st.StopReason})
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }
