package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
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
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			if session == "" {
				created, err := cl.CreateChat(ctx, model)
				if err != nil {
					return err
				}
				session = created.ID
				fmt.Fprintf(out, "chat %s with the Genesis team (model %s). /help for commands.\n", session, created.Model)
			} else {
				fmt.Fprintf(out, "continuing chat %s. /history shows what was said.\n", session)
			}
			in := bufio.NewScanner(cmd.InOrStdin())
			for {
				fmt.Fprint(out, "you> ")
				if !in.Scan() {
					fmt.Fprintln(out)
					return in.Err()
				}
				line := strings.TrimSpace(in.Text())
				switch {
				case line == "":
					continue
				case line == "/quit" || line == "/exit":
					fmt.Fprintf(out, "bye; continue later with: genesis chat --session %s\n", session)
					return nil
				case line == "/help":
					fmt.Fprintln(out, "  /history    the conversation so far\n  /campaigns  recent campaigns\n  /quit       leave (the session stays; --session resumes it)\n  anything else goes to the team")
					continue
				case line == "/history":
					st, err := cl.Chat(ctx, session)
					if err != nil {
						fmt.Fprintln(out, "error:", err)
						continue
					}
					for _, m := range st.Messages {
						fmt.Fprintf(out, "%s %-4s %s\n", m.Time.Local().Format("15:04"), map[string]string{"user": "you", "assistant": "team"}[m.Role], m.Text)
					}
					continue
				case line == "/campaigns":
					list, err := cl.Campaigns(ctx, 10)
					if err != nil {
						fmt.Fprintln(out, "error:", err)
						continue
					}
					for _, s := range list {
						fmt.Fprintf(out, "  %s  %s\n", s.ID, s.Status)
					}
					continue
				}
				fmt.Fprint(out, "team is thinking…")
				streamed := "" // what has been printed of the reply
				started := false
				begin := func() {
					if !started {
						fmt.Fprint(out, "\r                  \rteam> ")
						started = true
					}
				}
				reply, err := cl.SendChatStream(ctx, session, line, func(partial string) {
					begin()
					if rest, ok := strings.CutPrefix(partial, streamed); ok {
						fmt.Fprint(out, rest)
						streamed = partial
					}
				})
				begin()
				if err != nil {
					fmt.Fprintln(out, "error:", err)
					continue
				}
				// The whole reply may add notes (an action's result) to what was streamed.
				if rest, ok := strings.CutPrefix(reply.Text, streamed); ok {
					fmt.Fprint(out, rest)
				} else {
					fmt.Fprint(out, "\n"+reply.Text)
				}
				fmt.Fprintln(out)
			}
		},
	}
	client = apiClientFlags(cfg, c.Flags())
	c.Flags().StringVar(&session, "session", "", "continue this chat session")
	c.Flags().StringVar(&model, "model", "", "model for a new session (default: the server's)")
	return c
}
