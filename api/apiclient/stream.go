package apiclient

import (
	"context"
	"encoding/json"
	"errors"
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
// server sent, after a growing wait, for at most MaxElapsed since the
// stream last worked.
var Reconnect = struct {
	First, Max, MaxElapsed time.Duration
}{First: 500 * time.Millisecond, Max: 5 * time.Second, MaxElapsed: 30 * time.Second}

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
// on says stop, ctx ends, or the stream cannot be reopened. The stream is
// reopened as Reconnect says; only a GET can be, so follow is for streams
// that are safe to ask for again.
func (c *Client) follow(ctx context.Context, path string, on func(sse.Event) (stop bool, err error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return err
	}
	cl := &sse.Client{HTTPClient: c.http, ResponseValidator: validate,
		Backoff: sse.Backoff{InitialInterval: Reconnect.First, Multiplier: 1.5, Jitter: 0.5, MaxInterval: Reconnect.Max, MaxElapsedTime: Reconnect.MaxElapsed}}
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
