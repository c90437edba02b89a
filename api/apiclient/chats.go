package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/genesis-sci/genesis/workflows/chat"
	sse "github.com/tmaxmax/go-sse"
)

const chats = "/api/v1/chats"

// CreateChat starts a chat session with the agent team, a durable
// workflow; model "" takes the server's default.
func (c *Client) CreateChat(ctx context.Context, model string) (ChatCreated, error) {
	var out ChatCreated
	body := struct {
		Model string `json:"model,omitempty"`
	}{model}
	return out, c.do(ctx, http.MethodPost, chats, body, &out)
}

// Chat is a chat session's conversation so far.
func (c *Client) Chat(ctx context.Context, id string) (chat.ChatState, error) {
	var out chat.ChatState
	return out, c.do(ctx, http.MethodGet, path(chats, id), nil, &out)
}

// chatMessage is the body of POST /api/v1/chats/{id}/messages.
type chatMessage struct {
	Text string `json:"text"`
}

// SendChat sends a message and waits for the team's whole reply.
func (c *Client) SendChat(ctx context.Context, id, text string) (chat.ChatReply, error) {
	var out chat.ChatReply
	return out, c.do(ctx, http.MethodPost, path(chats, id, "messages"), chatMessage{text}, &out)
}

// SendChatStream sends a message and reads the reply as the model writes
// it: onPartial gets the reply so far each time it grows (it starts
// afresh if the server retries the turn), and the whole reply, which may
// add notes on what an action did, is returned at the end. The message is
// sent once: a stream that drops is not reopened (that would send it
// again); the reply is then in the session's history (Chat). A server
// that does not stream answers with the whole reply at once.
func (c *Client) SendChatStream(ctx context.Context, id, text string, onPartial func(string)) (chat.ChatReply, error) {
	var reply chat.ChatReply
	body, _ := json.Marshal(chatMessage{text})
	req, err := c.newRequest(ctx, http.MethodPost, path(chats, id, "messages"), "application/json", body)
	if err != nil {
		return reply, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.send(req)
	if err != nil {
		return reply, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		if resp.StatusCode >= 300 {
			return reply, errorFrom(resp.StatusCode, b)
		}
		if err := json.Unmarshal(b, &reply); err != nil {
			return reply, fmt.Errorf("chat %s: the answer is neither an event stream nor a reply: %w", id, err)
		}
		return reply, nil
	}
	for e, err := range sse.Read(resp.Body, &sse.ReadConfig{MaxEventSize: maxEvent}) {
		if err != nil {
			return reply, fmt.Errorf("chat %s: reading the reply stream: %w", id, err)
		}
		switch e.Type {
		case "delta":
			var d struct {
				Text string `json:"text"`
			}
			if json.Unmarshal([]byte(e.Data), &d) == nil {
				onPartial(d.Text)
			}
		case "reply":
			if err := json.Unmarshal([]byte(e.Data), &reply); err != nil {
				return reply, fmt.Errorf("chat %s: the reply event is not a reply: %w", id, err)
			}
			return reply, nil
		case "error":
			return reply, streamError(e.Data)
		}
	}
	if err := ctx.Err(); err != nil {
		return reply, err
	}
	return reply, errors.New("the API closed the stream before the reply; the reply, if any, is in the chat's history")
}
