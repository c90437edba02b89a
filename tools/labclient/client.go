package labclient

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
	"time"
)

// Client talks to the lab service over HTTP. It is safe for concurrent use.
// It does not retry: Submit is idempotent by key, so the caller (typically
// a Temporal activity) retries whatever IsRefused says is retryable.
type Client struct {
	base  string
	hc    *http.Client
	token string
}

// New returns a client for the service at baseURL (e.g. "http://127.0.0.1:8080").
// A nil httpClient means a client with a 30 s timeout per request.
func New(baseURL string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: httpClient}
}

// WithToken returns a copy of the client that sends the bearer token the
// service requires (GENESIS_LAB_TOKEN). An empty token sends none.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.token = strings.TrimSpace(token)
	return &cp
}

// maxResponse bounds how much of a response body the client reads.
const maxResponse = 8 << 20

// do sends a request and decodes a 2xx JSON body into out (when out is not nil).
// A non-2xx response becomes an *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("lab: encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("lab: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("lab: %s %s: reading response: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Status: resp.StatusCode}
		var eb ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			e.Code, e.Message = eb.Error.Code, eb.Error.Message
		} else {
			e.Message = strings.TrimSpace(string(data))
			if e.Message == "" {
				e.Message = http.StatusText(resp.StatusCode)
			}
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("lab: %s %s: decoding response: %w", method, path, err)
	}
	return nil
}

// Submit asks the lab to run an experiment. Resubmitting the same
// idempotency key returns the existing run.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (Run, error) {
	var r Run
	err := c.do(ctx, http.MethodPost, "/runs", req, &r)
	return r, err
}

// Get returns a run by ID.
func (c *Client) Get(ctx context.Context, id string) (Run, error) {
	var r Run
	err := c.do(ctx, http.MethodGet, "/runs/"+url.PathEscape(id), nil, &r)
	return r, err
}

// waitSlice is how long one long poll asks the service to hold.
const waitSlice = 10 * time.Second

// getWait is a long poll: the service answers when the run has finished or
// after wait, whichever is first.
func (c *Client) getWait(ctx context.Context, id string, wait time.Duration) (Run, error) {
	var r Run
	err := c.do(ctx, http.MethodGet, "/runs/"+url.PathEscape(id)+"?wait="+wait.String(), nil, &r)
	return r, err
}

// Abort stops a queued or running run and returns it. Aborting a finished
// run is refused with code run_finished.
func (c *Client) Abort(ctx context.Context, id string) (Run, error) {
	var r Run
	err := c.do(ctx, http.MethodDelete, "/runs/"+url.PathEscape(id), nil, &r)
	return r, err
}

// ListOptions filters List. Zero fields do not filter.
type ListOptions struct {
	Requester string
	Status    Status
	Challenge string
	// Limit caps the number of runs (the server defaults to 100, at most 1000).
	Limit int
}

// List returns runs in submission order.
func (c *Client) List(ctx context.Context, opt ListOptions) ([]Run, error) {
	q := url.Values{}
	if opt.Requester != "" {
		q.Set("requester", opt.Requester)
	}
	if opt.Status != "" {
		q.Set("status", string(opt.Status))
	}
	if opt.Challenge != "" {
		q.Set("challenge", opt.Challenge)
	}
	if opt.Limit > 0 {
		q.Set("limit", fmt.Sprint(opt.Limit))
	}
	path := "/runs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var l RunList
	err := c.do(ctx, http.MethodGet, path, nil, &l)
	return l.Runs, err
}

// Instruments returns the instruments and their load.
func (c *Client) Instruments(ctx context.Context) ([]Instrument, error) {
	var l InstrumentList
	err := c.do(ctx, http.MethodGet, "/instruments", nil, &l)
	return l.Instruments, err
}

// Faults returns recorded instrument faults, oldest first; run, when not
// empty, selects the faults that hit one run.
func (c *Client) Faults(ctx context.Context, run string, limit int) ([]Fault, error) {
	q := url.Values{}
	if run != "" {
		q.Set("run", run)
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	path := "/faults"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var l FaultList
	err := c.do(ctx, http.MethodGet, path, nil, &l)
	return l.Faults, err
}

// Health returns the service's health summary.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.do(ctx, http.MethodGet, "/health", nil, &h)
	return h, err
}

// WaitErrorBudget is how many consecutive retryable errors (5xx, network)
// Wait tolerates before it gives up and returns the last one.
const WaitErrorBudget = 5

// Wait polls a run every poll interval (default 1 s) until it reaches a
// terminal state and returns it. onPoll, when not nil, is called with every
// successfully fetched state, so a Temporal activity can heartbeat from it.
// A refusal (e.g. the run does not exist) is returned at once; up to
// WaitErrorBudget consecutive retryable errors are ridden out. Wait returns
// ctx.Err() when the context ends first. A run that ends failed or aborted
// is returned without error: check Run.Status.
func (c *Client) Wait(ctx context.Context, id string, poll time.Duration, onPoll func(Run)) (Run, error) {
	if poll <= 0 {
		poll = time.Second
	}
	errs := 0
	for {
		// A long poll: the service answers as soon as the run ends, or
		// after waitSlice (then onPoll lets a caller heartbeat).
		t0 := time.Now()
		r, err := c.getWait(ctx, id, waitSlice)
		pause := time.Duration(0)
		switch {
		case err == nil:
			errs = 0
			if onPoll != nil {
				onPoll(r)
			}
			if r.Status.Terminal() {
				return r, nil
			}
			// A service that does not hold long polls answers at once:
			// fall back to polling every poll interval.
			pause = poll - time.Since(t0)
		case ctx.Err() != nil:
			return Run{}, ctx.Err()
		case IsRefused(err):
			return Run{}, err
		default:
			errs++
			if errs > WaitErrorBudget {
				return Run{}, fmt.Errorf("lab: waiting for run %s: %d consecutive errors, last: %w", id, errs, err)
			}
			pause = poll
		}
		if pause > 0 {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return Run{}, ctx.Err()
			case <-t.C:
			}
		}
	}
}

// IsRefused reports whether err is the service refusing the request (a 4xx
// other than 401 Unauthorized, 408 Request Timeout, 425 Too Early and 429
// Too Many Requests; a missing or wrong token is the operator's problem,
// not something an agent can fix by changing its request).
// A refusal will repeat if the request is sent again unchanged, so it
// belongs in front of the agent as an observation, not in a retry loop.
// Network errors, 5xx and context errors are not refusals.
func IsRefused(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Status {
	case http.StatusUnauthorized, http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return e.Status >= 400 && e.Status < 500
}

// IsNotFound reports whether err is a 404 from the service.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// ErrorCode returns the service's error code in err, or "".
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
