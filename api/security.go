package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// contentSecurityPolicy keeps the web UI to its own script and style
// (no inline script, no eval, nothing from elsewhere) and out of frames:
// data that slips past the page's escaping still cannot run.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// securityHeaders sets the headers every answer carries: the content
// security policy, no framing (clickjacking), no MIME sniffing, no
// referrer, and no caching of API answers (a created token's secret is in
// one).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics answers a handler's panic with a JSON 500 (logged with the
// request) instead of a dropped connection.
func recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				slog.Error("api: panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeErr(w, http.StatusInternalServerError, "internal", "internal error; retry later")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// Limits on clients, for the HTTP server that serves the API (see
// NewHTTPServer).
type Limits struct {
	// ReadHeader bounds the time to read a request's headers, Read the
	// whole request (headers and body; not the answer, so streams are not
	// cut), Idle a kept-alive connection between requests.
	ReadHeader, Read, Idle time.Duration
	// MaxUnauthConns caps the connections open at once that have not yet
	// shown a valid token; more are answered 503 and closed at once.
	MaxUnauthConns int
}

// DefaultLimits are the limits of `genesis dev` and `genesis api`: a
// client that trickles its request is cut off within seconds, and at most
// 64 connections without a valid token are held at once, so slow or
// anonymous clients cannot exhaust the server.
var DefaultLimits = Limits{ReadHeader: 5 * time.Second, Read: 30 * time.Second, Idle: 60 * time.Second, MaxUnauthConns: 64}

// NewHTTPServer returns an HTTP server for h with DefaultLimits. When h
// is the API's handler (Server.Handler), the cap on unauthenticated
// connections applies.
func NewHTTPServer(h http.Handler) *http.Server { return NewHTTPServerLimits(h, DefaultLimits) }

// NewHTTPServerLimits is NewHTTPServer with other limits.
func NewHTTPServerLimits(h http.Handler, l Limits) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeader, ReadTimeout: l.Read, IdleTimeout: l.Idle}
	if ah, ok := h.(*handler); ok && l.MaxUnauthConns > 0 {
		g := ah.conns
		g.setMax(l.MaxUnauthConns)
		srv.ConnContext = g.connContext
		srv.ConnState = g.connState
	}
	return srv
}

// handler is the API's http.Handler; it carries the connection guard
// NewHTTPServer installs.
type handler struct {
	http.Handler
	conns *connGuard
}

// connGuard counts the open connections that have not yet sent a request
// with a valid token, and refuses new ones past the cap.
type connGuard struct {
	mu      sync.Mutex
	max     int
	unauth  map[net.Conn]struct{}
	refused int
}

func (g *connGuard) setMax(n int) {
	g.mu.Lock()
	g.max = n
	g.mu.Unlock()
}

type connKey struct{}

func (g *connGuard) connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// refusal is what a connection over the cap reads before it is closed.
const refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 109\r\n\r\n" +
	`{"error":{"code":"too_many_connections","message":"too many connections without a valid token; retry later"}}`

// connState runs in the server's accept loop for a new connection (before
// any byte is read), and in its goroutine later.
func (g *connGuard) connState(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		g.mu.Lock()
		if g.unauth == nil {
			g.unauth = map[net.Conn]struct{}{}
		}
		full := len(g.unauth) >= g.max
		if full {
			g.refused++
		} else {
			g.unauth[c] = struct{}{}
		}
		g.mu.Unlock()
		if full {
			// The write goes to the socket buffer of a fresh connection;
			// the deadline keeps the accept loop from ever waiting on it.
			_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			_, _ = c.Write([]byte(refusal))
			_ = c.Close()
		}
	case http.StateClosed, http.StateHijacked:
		g.forget(c)
	}
}

func (g *connGuard) forget(c net.Conn) {
	g.mu.Lock()
	delete(g.unauth, c)
	g.mu.Unlock()
}

// authenticated frees the slot of the request's connection: it has shown
// a valid token (nil-safe; a no-op outside NewHTTPServer).
func (g *connGuard) authenticated(r *http.Request) {
	if g == nil {
		return
	}
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		g.forget(c)
	}
}

// counts returns the unauthenticated connections open and refused so far.
func (g *connGuard) counts() (open, refused int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.unauth), g.refused
}
