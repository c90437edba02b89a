package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/genesis-sci/genesis/workflows/campaign"
	"golang.org/x/sync/singleflight"
)

// statusTTL is how long a campaign's status is served from cache: many
// clients watching one campaign cost one workflow query per TTL, and
// concurrent misses share one query.
const statusTTL = 200 * time.Millisecond

type statusCache struct {
	cacheMu sync.Mutex
	cache   map[string]cachedStatus
	flight  singleflight.Group
	// pending is the last listing of pending decisions (pendingFlight
	// shares one listing among concurrent callers).
	pending       *cachedPending
	pendingFlight singleflight.Group
	// settingsCache holds each campaign's settings (see settings).
	settingsCache  map[string]cachedSettings
	settingsFlight singleflight.Group
}

type cachedStatus struct {
	st campaign.Status
	at time.Time
}

func (s *Server) status(r *http.Request, id string) (campaign.Status, error) {
	s.cacheMu.Lock()
	if c, ok := s.cache[id]; ok && time.Since(c.at) < statusTTL {
		s.cacheMu.Unlock()
		return c.st, nil
	}
	s.cacheMu.Unlock()
	v, err, _ := s.flight.Do(id, func() (any, error) {
		var st campaign.Status
		q, err := s.Temporal.QueryWorkflow(context.WithoutCancel(r.Context()), id, "", campaign.QueryStatus)
		if err != nil {
			return st, err
		}
		if err := q.Get(&st); err != nil {
			return st, err
		}
		s.cacheMu.Lock()
		if s.cache == nil {
			s.cache = map[string]cachedStatus{}
		}
		if len(s.cache) > 1000 { // bound the cache; entries are cheap to refetch
			clear(s.cache)
		}
		s.cache[id] = cachedStatus{st, time.Now()}
		s.cacheMu.Unlock()
		return st, nil
	})
	if err != nil {
		return campaign.Status{}, err
	}
	return v.(campaign.Status), nil
}
