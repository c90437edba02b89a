package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/genesis-sci/genesis/api/apiclient"
)

func chatCmd(cfg *globals) *cobra.Command {
	var session, model string
	var client clientFunc
	c := &cobra.Command{
		Use:   "chat",
		Short: "Chat with the agent team in the terminal (through the API of a running genesis dev)",
		Long: `An interactive chat with the agent team. Ask about challenges, campaigns and what the team
has learned, or ask it to start or stop a campaign. The session is a durable workflow: leave
and come back with --session ID. Commands: /help, /history, /campaigns, /quit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			s := &chatSession{cl: cl, out: cmd.OutOrStdout(), id: session}
			if err := s.open(cmd.Context(), model); err != nil {
				return err
			}
			return s.converse(cmd.Context(), cmd.InOrStdin())
		},
	}
	client = apiClientFlags(cfg, c.Flags())
	c.Flags().StringVar(&session, "session", "", "continue this chat session")
	c.Flags().StringVar(&model, "model", "", "model for a new session (default: the server's)")
	return c
}

// chatSession is the terminal's side of one chat.
type chatSession struct {
	cl  *apiclient.Client
	out io.Writer
	id  string // the session ("" until open starts one)
}

// open starts a session with model, or continues s.id.
func (s *chatSession) open(ctx context.Context, model string) error {
	if s.id != "" {
		fmt.Fprintf(s.out, "continuing chat %s. /history shows what was said.\n", s.id)
		return nil
	}
	created, err := s.cl.CreateChat(ctx, model)
	if err != nil {
		return err
	}
	s.id = created.ID
	fmt.Fprintf(s.out, "chat %s with the Genesis team (model %s). /help for commands.\n", s.id, created.Model)
	return nil
}

// converse reads lines until /quit or the end of in: commands are
// answered here, anything else goes to the team. A failed call is said
// and the conversation goes on.
func (s *chatSession) converse(ctx context.Context, in io.Reader) error {
	sc := bufio.NewScanner(in)
	for {
		fmt.Fprint(s.out, "you> ")
		if !sc.Scan() {
			fmt.Fprintln(s.out)
			return sc.Err()
		}
		line := strings.TrimSpace(sc.Text())
		var err error
		switch line {
		case "":
		case "/quit", "/exit":
			fmt.Fprintf(s.out, "bye; continue later with: genesis chat --session %s\n", s.id)
			return nil
		case "/help":
			fmt.Fprintln(s.out, "  /history    the conversation so far\n  /campaigns  recent campaigns\n  /quit       leave (the session stays; --session resumes it)\n  anything else goes to the team")
		case "/history":
			err = s.history(ctx)
		case "/campaigns":
			err = s.campaigns(ctx)
		default:
			err = s.send(ctx, line)
		}
		if err != nil {
			fmt.Fprintln(s.out, "error:", err)
		}
	}
}

func (s *chatSession) history(ctx context.Context) error {
	st, err := s.cl.Chat(ctx, s.id)
	if err != nil {
		return err
	}
	for _, m := range st.Messages {
		fmt.Fprintf(s.out, "%s %-4s %s\n", m.Time.Local().Format("15:04"), map[string]string{"user": "you", "assistant": "team"}[m.Role], m.Text)
	}
	return nil
}

func (s *chatSession) campaigns(ctx context.Context) error {
	list, err := s.cl.Campaigns(ctx, 10)
	if err != nil {
		return err
	}
	for _, c := range list {
		fmt.Fprintf(s.out, "  %s  %s\n", c.ID, c.Status)
	}
	return nil
}

// send sends a message and prints the reply as the model writes it, then
// what the whole reply adds (notes on what an action did).
func (s *chatSession) send(ctx context.Context, text string) error {
	fmt.Fprint(s.out, "team is thinking…")
	streamed := "" // what has been printed of the reply
	started := false
	begin := func() {
		if !started {
			fmt.Fprint(s.out, "\r                  \rteam> ")
			started = true
		}
	}
	reply, err := s.cl.SendChatStream(ctx, s.id, text, func(partial string) {
		begin()
		if rest, ok := strings.CutPrefix(partial, streamed); ok {
			fmt.Fprint(s.out, rest)
			streamed = partial
		}
	})
	begin()
	if err != nil {
		return err
	}
	if rest, ok := strings.CutPrefix(reply.Text, streamed); ok {
		fmt.Fprint(s.out, rest)
	} else {
		fmt.Fprint(s.out, "\n"+reply.Text)
	}
	fmt.Fprintln(s.out)
	return nil
}
