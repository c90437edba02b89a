// Package apiclient is the typed Go client of Genesis's HTTP API (package
// api serves it; GET /openapi.json describes it). The CLI, the end-to-end
// tests and the MCP server talk to the API only through it, so a route, a
// body or an error shape changes in one place. One method per endpoint,
// grouped by resource (campaigns.go, chats.go, portfolios.go, …); request
// and answer types are the wire types the server itself encodes (types.go).
//
// Every failure the server answers comes back as an *Error carrying the
// HTTP status and the server's code and message; a server that cannot be
// reached gives an error saying where the client looked. Streams
// (a campaign's watch, a chat reply as it is written) are read with
// github.com/tmaxmax/go-sse, which follows the server-sent events spec
// (multi-line data, ids, retry) and reconnects with Last-Event-ID.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client calls one Genesis API. It is safe for concurrent use.
type Client struct {
	base      string // scheme://host[:port][/prefix], no trailing slash
	token     string
	http      *http.Client
	reconnect Reconnect
}

// Option changes how a Client is made.
type Option func(*Client)

// WithHTTPClient sends requests with hc instead of a plain http.Client
// (timeouts, proxies, test transports). Streams stay open as long as hc
// allows: leave its Timeout at 0 to watch long campaigns.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a client of the API at base (e.g. http://127.0.0.1:8080)
// that authenticates with token (a bearer token; "" sends none).
func New(base, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("API URL %q: want http(s)://HOST[:PORT], e.g. http://127.0.0.1:8080", base)
	}
	c := &Client{base: strings.TrimRight(u.String(), "/"), token: token, http: &http.Client{}, reconnect: DefaultReconnect}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Base is the API's URL, as given to New (without a trailing slash).
func (c *Client) Base() string { return c.base }

// Error is an answer of the API that is not a success: the HTTP status
// and the server's error code and message (see the OpenAPI document's
// Error schema). Code is empty when the body was not one of the API's
// errors (a proxy's page, say), and Message then holds the body.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("%s (%s)", e.Message, e.Code)
}

// IsStatus reports whether err is an *Error with HTTP status code.
func IsStatus(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == code
}

// maxAnswer bounds an answer read into memory (an eval report is the
// largest the API sends).
const maxAnswer = 8 << 20

// errorFrom reads the API's error body ({"error": {"code", "message"}}).
func errorFrom(status int, body []byte) *Error {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return &Error{Status: status, Code: e.Error.Code, Message: e.Error.Message}
	}
	return &Error{Status: status, Message: strings.TrimSpace(string(body))}
}

// path joins escaped segments onto an API path: path("/api/v1/campaigns", id, "stop").
func path(prefix string, segments ...string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// newRequest makes an authorised request for path (which may carry a
// query), with body sent as contentType when body is not nil.
func (c *Client) newRequest(ctx context.Context, method, path, contentType string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	return req, nil
}

// send makes the request and returns the response, whatever its status.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("cannot reach the Genesis API at %s: %w (is `genesis dev` running? --api URL)", c.base, err)
	}
	return resp, nil
}

// do sends in as JSON (nothing when in is nil) and decodes the JSON answer
// into out (unless out is nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encoding the body: %w", method, path, err)
		}
		body = b
	}
	return c.doRaw(ctx, method, path, "application/json", body, out)
}

// doRaw sends body as contentType and decodes the JSON answer into out.
func (c *Client) doRaw(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	req, err := c.newRequest(ctx, method, path, contentType, body)
	if err != nil {
		return err
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return errorFrom(resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not what this client expects (%w); is %s a Genesis API of this version?", method, path, err, c.base)
	}
	return nil
}

// Health asks whether the API answers (GET /health; no token needed).
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/health", nil, nil)
}
