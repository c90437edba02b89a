package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	sse "github.com/tmaxmax/go-sse"
)

// maxEvent bounds one server-sent event (a campaign's status with its
// whole event log is the largest).
const maxEvent = 16 << 20

// Reconnect is how a watch stream that drops (a restarted server, a
// flaky network) is reopened: with Last-Event-ID set to the last id the
// server sent, after a wait that starts at First and grows to Max, for at
// most MaxElapsed since the stream last worked.
type Reconnect struct {
	First, Max, MaxElapsed time.Duration
}

// DefaultReconnect rides out a restart of `genesis dev`.
var DefaultReconnect = Reconnect{First: 500 * time.Millisecond, Max: 5 * time.Second, MaxElapsed: 30 * time.Second}

// WithReconnect reopens dropped watch streams as r says.
func WithReconnect(r Reconnect) Option { return func(c *Client) { c.reconnect = r } }

// streamError is the payload of an "error" event: {"code", "message"}
// (code may be missing).
func streamError(data string) *Error {
	var e struct{ Code, Message string }
	if json.Unmarshal([]byte(data), &e) != nil || e.Message == "" {
		e.Message = data
	}
	if e.Code == "" {
		e.Code = "stream_error"
	}
	return &Error{Status: http.StatusOK, Code: e.Code, Message: e.Message}
}

// validate refuses an answer that is not an event stream, with the API's
// error: go-sse treats the refusal as permanent, so a 404 is not retried.
func validate(resp *http.Response) error {
	if err := sse.DefaultValidator(resp); err != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode >= 300 {
			return errorFrom(resp.StatusCode, b)
		}
		return &Error{Status: resp.StatusCode, Message: err.Error()}
	}
	return nil
}

// follow opens the event stream at path and hands each event to on until
// on says stop, ctx ends, or the stream cannot be reopened. A stream that
// worked and dropped is reopened as c.reconnect says (only a GET can be,
// so follow is for streams that are safe to ask for again); a server that
// cannot be reached at all is an error at once.
func (c *Client) follow(ctx context.Context, path string, on func(sse.Event) (stop bool, err error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return err
	}
	// go-sse calls the validator and OnRetry on this goroutine (Connect's).
	var connected bool
	var unreachable error
	cl := &sse.Client{HTTPClient: c.http,
		ResponseValidator: func(r *http.Response) error {
			err := validate(r)
			connected = connected || err == nil
			return err
		},
		OnRetry: func(err error, _ time.Duration) {
			if !connected {
				unreachable = err
				cancel()
			}
		},
		Backoff: sse.Backoff{InitialInterval: c.reconnect.First, Multiplier: 1.5, Jitter: 0.5, MaxInterval: c.reconnect.Max, MaxElapsedTime: c.reconnect.MaxElapsed}}
	conn := cl.NewConnection(req)
	conn.Buffer(nil, maxEvent)
	var stopped bool
	var onErr error
	conn.SubscribeToAll(func(e sse.Event) {
		if stopped {
			return
		}
		if stop, err := on(e); stop || err != nil {
			stopped, onErr = true, err
			cancel()
		}
	})
	err = conn.Connect()
	switch {
	case stopped:
		return onErr
	case unreachable != nil:
		return fmt.Errorf("cannot reach the Genesis API at %s: %w (is `genesis dev` running? --api URL)", c.base, errors.Unwrap(unreachable))
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return err
	}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	if err != nil {
		return errors.Join(errors.New("the Genesis API stream at "+c.base+" failed"), err)
	}
	return nil
}
