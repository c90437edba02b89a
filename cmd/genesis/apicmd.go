package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"

	"github.com/genesis-sci/genesis/api"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/devserver"
	"github.com/genesis-sci/genesis/workflows/campaign"
	"github.com/genesis-sci/genesis/workflows/chat"
)

// newAPIServer builds the API over a running stack: tokens (an admin token
// is created on first start), the audit log, memory and eval reports.
func newAPIServer(cfg *config, st *stack, cat *challenges.Catalog) (*api.Server, func(), error) {
	toks, err := api.OpenTokens(cfg.home)
	if err != nil {
		return nil, nil, err
	}
	audit, err := api.OpenAudit(cfg.home)
	if err != nil {
		return nil, nil, err
	}
	a := &api.Server{Temporal: st.tc, Catalog: cat, DefaultModel: defaultModel(), Tokens: toks, Audit: audit,
		Memory: st.mem, Embedder: st.emb, EvalsDir: filepath.Join(cfg.home, "evals"), Streams: st.streams}
	return a, func() { audit.Close() }, nil
}

// serveAPI serves the API and web UI over a stack on addr; stop shuts the
// server down and closes the audit log.
func serveAPI(cfg *config, st *stack, cat *challenges.Catalog, addr string) (bound string, stop func(), err error) {
	a, closeAPI, err := newAPIServer(cfg, st, cat)
	if err != nil {
		return "", nil, err
	}
	bound, stopHTTP, err := serveHTTP(addr, a.Handler())
	if err != nil {
		closeAPI()
		return "", nil, err
	}
	return bound, func() { stopHTTP(); closeAPI() }, nil
}

// apiClient is the terminal's client of the API.
type apiClient struct {
	base, token string
	hc          *http.Client
}

func newAPIClient(cfg *config, base, tokenFile string) (*apiClient, error) {
	tok := strings.TrimSpace(os.Getenv("GENESIS_TOKEN"))
	if tokenFile == "" && tok == "" {
		tokenFile = api.AdminTokenFile(cfg.home)
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("API token: %w (set GENESIS_TOKEN, pass --token-file, or start `genesis dev` once to create %s)", err, api.AdminTokenFile(cfg.home))
		}
		tok = strings.TrimSpace(string(b))
	}
	return &apiClient{base: strings.TrimRight(base, "/"), token: tok, hc: &http.Client{}}, nil
}

func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	if body == nil {
		return c.doRaw(ctx, method, path, "", nil, out)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return c.doRaw(ctx, method, path, "application/json", b, out)
}

// doRaw sends a body of the given content type and decodes the JSON answer.
func (c *apiClient) doRaw(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	resp, err := c.send(ctx, method, path, contentType, body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode >= 300 {
		return apiError(resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// send makes an authorised request (body of contentType, if any, and
// extra headers) and returns the response, whatever its status.
func (c *apiClient) send(ctx context.Context, method, path, contentType string, body []byte, header http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the Genesis API at %s: %w (is `genesis dev` running? --api URL)", c.base, err)
	}
	return resp, nil
}

// sendChat sends a chat message and reads the streamed answer: onPartial
// gets the reply so far as the model writes it, and the whole reply is
// returned at the end.
func (c *apiClient) sendChat(ctx context.Context, session, text string, onPartial func(string)) (chat.ChatReply, error) {
	var reply chat.ChatReply
	body, _ := json.Marshal(map[string]string{"text": text})
	resp, err := c.send(ctx, http.MethodPost, "/api/v1/chats/"+session+"/messages", "application/json", body, http.Header{"Accept": {"text/event-stream"}})
	if err != nil {
		return reply, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode < 300 {
			return reply, json.Unmarshal(b, &reply) // a server that does not stream
		}
		return reply, apiError(resp.StatusCode, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "event: "); ok {
			event = name
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		switch event {
		case "delta":
			var d struct{ Text string }
			if json.Unmarshal([]byte(data), &d) == nil {
				onPartial(d.Text)
			}
		case "reply":
			return reply, json.Unmarshal([]byte(data), &reply)
		case "error":
			return reply, apiError(0, []byte(`{"error":`+data+`}`))
		}
	}
	if err := sc.Err(); err != nil {
		return reply, err
	}
	return reply, errors.New("the API closed the stream before the reply")
}

// apiError turns an API error body ({"error": {"code", "message"}}) into
// an error; status is the HTTP status, for bodies that are not one.
func apiError(status int, body []byte) error {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return fmt.Errorf("%s (%s)", e.Error.Message, e.Error.Code)
	}
	return fmt.Errorf("HTTP %d: %s", status, strings.TrimSpace(string(body)))
}

// postIDCmd is the command `VERB ID`: it POSTs to prefix+ID+"/"+VERB and
// prints "DONE ID".
func postIDCmd(client func() (*apiClient, error), verb, short, done, prefix string, withReason bool) *cobra.Command {
	return postCmd(client, verb+" ID", short, withReason,
		func(args []string) string { return prefix + url.PathEscape(args[0]) + "/" + verb },
		func(args []string) string { return done + " " + args[0] })
}

// postCmd is a command taking the arguments named in use after its name:
// it POSTs to path(args), with {"reason": …} when withReason and --reason
// is given, and prints done(args).
func postCmd(client func() (*apiClient, error), use, short string, withReason bool, path, done func(args []string) string) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(len(strings.Fields(use)) - 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			var body any
			if reason != "" {
				body = map[string]string{"reason": reason}
			}
			if err := cl.do(cmd.Context(), http.MethodPost, path(args), body, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), done(args))
			return nil
		},
	}
	if withReason {
		cmd.Flags().StringVar(&reason, "reason", "", "why (goes into the record and the audit log)")
	}
	return cmd
}

// listCmd lists campaigns or portfolios (GET path, the list under key).
func listCmd(short, path, key string, client func() (*apiClient, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			var out map[string][]struct {
				ID       string    `json:"id"`
				Status   string    `json:"status"`
				Started  time.Time `json:"started"`
				Strategy string    `json:"strategy"` // campaigns only
			}
			if err := cl.do(cmd.Context(), http.MethodGet, path, nil, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			campaigns := key == "campaigns"
			if campaigns {
				fmt.Fprintln(tw, "ID\tSTRATEGY\tSTATUS\tSTARTED")
			} else {
				fmt.Fprintln(tw, "ID\tSTATUS\tSTARTED")
			}
			for _, s := range out[key] {
				if campaigns {
					fmt.Fprintf(tw, "%s\t%s\t", s.ID, cmp.Or(s.Strategy, "?"))
				} else {
					fmt.Fprintf(tw, "%s\t", s.ID)
				}
				fmt.Fprintf(tw, "%s\t%s\n", s.Status, s.Started.Local().Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	}
}

func campaignCmd(cfg *config) *cobra.Command {
	var base, tokenFile string
	c := &cobra.Command{Use: "campaign", Short: "Start, list, watch and stop campaigns through the API (a running genesis dev)"}
	c.PersistentFlags().StringVar(&base, "api", envOr("GENESIS_API", "http://127.0.0.1:8080"), "Genesis API URL (env GENESIS_API)")
	c.PersistentFlags().StringVar(&tokenFile, "token-file", "", "file with an API token (default GENESIS_TOKEN, else $GENESIS_HOME/admin.token)")
	client := func() (*apiClient, error) { return newAPIClient(cfg, base, tokenFile) }

	var req api.StartRequest
	start := &cobra.Command{
		Use:   "start --challenge ID",
		Short: "Start a campaign",
		Example: `  genesis campaign start --challenge crossed-barrel-toughness --budget 20
  genesis campaign start --challenge crossed-barrel-toughness --strategy bo --batch 2 --init random:2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			var out map[string]string
			if err := cl.do(cmd.Context(), http.MethodPost, "/api/v1/campaigns", req, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "started %s\n  watch: genesis campaign watch %s\n", out["id"], out["id"])
			return nil
		},
	}
	start.Flags().StringVar(&req.Challenge, "challenge", challenges.DefaultID, "challenge ID")
	start.Flags().StringVar(&req.Model, "model", "", "model spec (default: the server's)")
	start.Flags().IntVar(&req.Budget, "budget", 0, "lab experiments (0 = the challenge's)")
	start.Flags().IntVar(&req.Seed, "seed", 0, "seed")
	start.Flags().StringVar(&req.HPC, "hpc", "", "simulation executor: local or slurm")
	start.Flags().BoolVar(&req.RequireApproval, "require-approval", false, "hold every set of lab runs until approved (genesis campaign approve ID)")
	strategyFlags(start.Flags(), &req.Strategy, &req.Acquisition, &req.Init, &req.Batch)

	list := listCmd("List campaigns", "/api/v1/campaigns", "campaigns", client)
	status := &cobra.Command{
		Use:   "status ID",
		Short: "Show a campaign's status",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			var st api.CampaignStatus
			if err := cl.do(cmd.Context(), http.MethodGet, "/api/v1/campaigns/"+args[0], nil, &st); err != nil {
				return err
			}
			printStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	watch := &cobra.Command{
		Use:   "watch ID",
		Short: "Follow a campaign live until it ends",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			return cl.watch(cmd.Context(), args[0], cmd.OutOrStdout())
		},
	}
	const prefix = "/api/v1/campaigns/"
	c.AddCommand(start, list, status, watch,
		postIDCmd(client, "stop", "Stop a campaign (it finishes its current step and reports)", "stopping", prefix, false),
		postIDCmd(client, "pause", "Pause a campaign before its next iteration", "paused", prefix, false),
		postIDCmd(client, "resume", "Resume a paused campaign", "resumed", prefix, false),
		postIDCmd(client, "approve", "Approve the lab runs a campaign is waiting on (started with --require-approval)", "approved the pending lab runs of", prefix, true),
		postIDCmd(client, "reject", "Reject the lab runs a campaign is waiting on", "rejected the pending lab runs of", prefix, true))
	return c
}

// strategyFlags adds the flags that choose how a campaign picks
// experiments (the API and the workflow check the values).
func strategyFlags(f *pflag.FlagSet, strategy, acquisition, init *string, batch *int) {
	f.StringVar(strategy, "strategy", campaign.StrategyAgents, "how to choose experiments: agents (the agent team, with the optimiser's suggestions), agents-noopt (the team alone), bo (Bayesian optimisation; no model) or random (uniform draws; no model)")
	f.StringVar(acquisition, "acquisition", "", "bo only: ei (expected improvement, the default; q-EI for batches) or ucb (upper confidence bound; GP-BUCB for batches)")
	f.StringVar(init, "init", "", "the optimiser's start design, for bo and the agents' suggestions: auto (the default: maximin, one point per parameter plus one but at most a fifth of the budget, at least 2), maximin, maximin:N or random:N")
	f.IntVar(batch, "batch", 0, "bo only: experiments chosen together and run at once in the lab, 1 to 64 (default 1)")
}

func printStatus(w io.Writer, st api.CampaignStatus) {
	state := st.Phase
	if st.Done {
		state = "done: " + st.StopReason
	}
	fmt.Fprintf(w, "%s — %s (%s)\n", st.CampaignID, st.Challenge, state)
	if st.Strategy != "" {
		fmt.Fprintf(w, "  strategy %s\n", strategyText(st))
	}
	fmt.Fprintf(w, "  iteration %d, %d/%d experiments, %d simulations, %d tokens\n", st.Iteration, st.ExperimentsUsed, st.Budget, st.Simulations, st.Tokens)
	if st.Best != nil {
		fmt.Fprintf(w, "  best %s = %.4g (run %s, iteration %d)\n", st.Objective, st.Best.Value, st.Best.RunID, st.Best.Iteration)
	}
	if st.Paused {
		fmt.Fprintln(w, "  paused: genesis campaign resume", st.CampaignID)
	}
	if st.Pending != nil {
		fmt.Fprintf(w, "  %d lab run(s) await approval (genesis campaign approve|reject %s):\n", len(st.Pending.Points), st.CampaignID)
		printPoints(w, st.Pending.Points)
		if st.Pending.Rationale != "" {
			fmt.Fprintf(w, "    why: %s\n", st.Pending.Rationale)
		}
	}
}

// strategyText is a campaign's strategy with the optimiser settings it
// shows: "bo (acquisition ei, init maximin:5, batch 1)".
func strategyText(st api.CampaignStatus) string {
	var parts []string
	if st.Acquisition != "" {
		parts = append(parts, "acquisition "+st.Acquisition)
	}
	if st.Init != "" {
		parts = append(parts, "init "+st.Init)
	}
	if st.Batch != 0 {
		parts = append(parts, fmt.Sprintf("batch %d", st.Batch))
	}
	if len(parts) == 0 {
		return st.Strategy
	}
	return st.Strategy + " (" + strings.Join(parts, ", ") + ")"
}

// watch follows the SSE stream and prints new events and the best value.
func (c *apiClient) watch(ctx context.Context, id string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/campaigns/"+id+"/watch", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the Genesis API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("watch %s: HTTP %d: %s", id, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	event, seen := "", 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "status":
			var st campaign.Status
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &st); err != nil {
				return err
			}
			for _, e := range st.Events {
				if e.Seq > seen {
					fmt.Fprintf(w, "%s it%-3d %-20s %-18s %s\n", e.Time.Local().Format("15:04:05"), e.Iteration, e.Agent, e.Action, e.Detail)
					seen = e.Seq
				}
			}
		case strings.HasPrefix(line, "data: ") && event == "done":
			fmt.Fprintf(w, "campaign %s ended: %s\n", id, strings.TrimPrefix(line, "data: "))
			return nil
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func apiCmd(cfg *config) *cobra.Command {
	var addr, temporal, qdrantURL, embedder string
	c := &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API and web UI against an existing Temporal (workers run elsewhere)",
		Long: `Serves the API (OpenAPI at /openapi.json) and the web UI (/) for a deployment whose Temporal
and workers run elsewhere. Tokens and the audit log live in $GENESIS_HOME/api. Memory search
works when the memory is in Qdrant (--qdrant); the embedded store belongs to a worker.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := cfg.catalog()
			if err != nil {
				return err
			}
			if temporal == "" {
				return fmt.Errorf("--temporal HOST:PORT is required (or use genesis dev, which starts everything)")
			}
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			tc, err := client.Dial(devserver.ClientOptions(temporal))
			if err != nil {
				return fmt.Errorf("cannot reach Temporal at %s: %w", temporal, err)
			}
			defer tc.Close()
			st := &stack{cfg: cfg, tc: tc}
			if qdrantURL != "" {
				emb, mem, err := openMemory(ctx, cfg.home, embedder, qdrantURL, nil)
				if err != nil {
					return err
				}
				defer mem.Close()
				st.mem, st.emb = mem, emb
			}
			bound, stop, err := serveAPI(cfg, st, cat, addr)
			if err != nil {
				return err
			}
			defer stop()
			fmt.Fprintf(cmd.OutOrStdout(), "Genesis API and web UI on http://%s (Temporal %s; admin token in %s)\n", bound, temporal, api.AdminTokenFile(cfg.home))
			<-ctx.Done()
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&addr, "addr", envOr("GENESIS_ADDR", "127.0.0.1:8080"), "listen address (env GENESIS_ADDR)")
	f.StringVar(&temporal, "temporal", os.Getenv("TEMPORAL_ADDRESS"), "Temporal frontend HOST:PORT (env TEMPORAL_ADDRESS)")
	embedderFlag(f, &embedder, &qdrantURL)
	return c
}

func chatCmd(cfg *config) *cobra.Command {
	var base, tokenFile, session, model string
	c := &cobra.Command{
		Use:   "chat",
		Short: "Chat with the agent team in the terminal (through the API of a running genesis dev)",
		Long: `An interactive chat with the agent team. Ask about challenges, campaigns and what the team
has learned, or ask it to start or stop a campaign. The session is a durable workflow: leave
and come back with --session ID. Commands: /help, /history, /campaigns, /quit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newAPIClient(cfg, base, tokenFile)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			if session == "" {
				body := map[string]string{}
				if model != "" {
					body["model"] = model
				}
				var created map[string]string
				if err := cl.do(ctx, http.MethodPost, "/api/v1/chats", body, &created); err != nil {
					return err
				}
				session = created["id"]
				fmt.Fprintf(out, "chat %s with the Genesis team (model %s). /help for commands.\n", session, created["model"])
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
					var st chat.ChatState
					if err := cl.do(ctx, http.MethodGet, "/api/v1/chats/"+session, nil, &st); err != nil {
						fmt.Fprintln(out, "error:", err)
						continue
					}
					for _, m := range st.Messages {
						fmt.Fprintf(out, "%s %-4s %s\n", m.Time.Local().Format("15:04"), map[string]string{"user": "you", "assistant": "team"}[m.Role], m.Text)
					}
					continue
				case line == "/campaigns":
					var l struct {
						Campaigns []api.CampaignSummary `json:"campaigns"`
					}
					if err := cl.do(ctx, http.MethodGet, "/api/v1/campaigns?limit=10", nil, &l); err != nil {
						fmt.Fprintln(out, "error:", err)
						continue
					}
					for _, s := range l.Campaigns {
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
				reply, err := cl.sendChat(ctx, session, line, func(partial string) {
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
	c.Flags().StringVar(&base, "api", envOr("GENESIS_API", "http://127.0.0.1:8080"), "Genesis API URL (env GENESIS_API)")
	c.Flags().StringVar(&tokenFile, "token-file", "", "file with an API token (default GENESIS_TOKEN, else $GENESIS_HOME/admin.token)")
	c.Flags().StringVar(&session, "session", "", "continue this chat session")
	c.Flags().StringVar(&model, "model", "", "model for a new session (default: the server's)")
	return c
}

func approvalsCmd(cfg *config) *cobra.Command {
	var base, tokenFile string
	var asJSON, watch bool
	var every time.Duration
	c := &cobra.Command{
		Use:   "approvals",
		Short: "List what waits for a person's decision: campaigns' lab runs and portfolios' approvals (through the API)",
		Long: `Lists every decision people owe across the running campaigns and portfolios: lab runs of a
campaign started with --require-approval, and a portfolio's pending approvals (with who may
decide and until when), each with the command that decides it. With --watch it keeps
listening and prints each new decision as it appears (with a terminal bell).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if watch && asJSON {
				return fmt.Errorf("--watch and --json do not go together: --json prints the list once")
			}
			if watch && every < 500*time.Millisecond {
				return fmt.Errorf("--every %s is too short: use at least 500ms", every)
			}
			cl, err := newAPIClient(cfg, base, tokenFile)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if watch {
				return watchPending(cmd.Context(), cl, w, cmd.ErrOrStderr(), every)
			}
			var out api.PendingDecisions
			if err := cl.do(cmd.Context(), http.MethodGet, "/api/v1/approvals", nil, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(w, out)
			}
			printPending(w, out.Approvals)
			if out.Truncated {
				fmt.Fprintln(w, "(more running workflows than one listing reads: only the newest are shown)")
			}
			return nil
		},
	}
	c.Flags().StringVar(&base, "api", envOr("GENESIS_API", "http://127.0.0.1:8080"), "Genesis API URL (env GENESIS_API)")
	c.Flags().StringVar(&tokenFile, "token-file", "", "file with an API token (default GENESIS_TOKEN, else $GENESIS_HOME/admin.token)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	c.Flags().BoolVar(&watch, "watch", false, "keep listening and print each new decision as it appears")
	c.Flags().DurationVar(&every, "every", 3*time.Second, "how often --watch asks")
	return c
}

// watchPending lists the pending decisions every interval and prints
// those that are new, until ctx ends. A passing failure of the API (up to
// 5 in a row) does not end the watch; a failing first listing does.
func watchPending(ctx context.Context, cl *apiClient, w, errw io.Writer, every time.Duration) error {
	seen := map[string]bool{}
	for first, failures := true, 0; ; {
		var out api.PendingDecisions
		err := cl.do(ctx, http.MethodGet, "/api/v1/approvals", nil, &out)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil // Ctrl-C
		case err != nil && !first && failures < 5:
			failures++
			fmt.Fprintf(errw, "── %s %v (retrying)\n", time.Now().Format("15:04:05"), err)
		case err != nil:
			return err
		default:
			failures = 0
			var fresh []api.PendingDecisionItem
			now := map[string]bool{}
			for _, it := range out.Approvals {
				k := fmt.Sprintf("%s/%s/%s/%d", it.Portfolio, it.Approval, it.Campaign, it.Iteration)
				now[k] = true
				if !seen[k] {
					fresh = append(fresh, it)
				}
			}
			seen = now
			if out.Truncated && first {
				fmt.Fprintln(w, "(more running workflows than one listing reads: only the newest are watched)")
			}
			switch {
			case first && len(fresh) == 0:
				fmt.Fprintf(w, "── %s nothing is waiting; watching for new decisions (Ctrl-C to stop)\n", time.Now().Format("15:04:05"))
			case len(fresh) > 0:
				fmt.Fprintf(w, "\a── %s %d new, %d waiting in all\n", time.Now().Format("15:04:05"), len(fresh), len(out.Approvals))
				printPending(w, fresh)
			}
			first = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// printPoints writes design points as JSON, one per indented line.
func printPoints(w io.Writer, points []map[string]any) {
	for _, p := range points {
		b, _ := json.Marshal(p)
		fmt.Fprintf(w, "    %s\n", b)
	}
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printPending(w io.Writer, items []api.PendingDecisionItem) {
	if len(items) == 0 {
		fmt.Fprintln(w, "nothing is waiting for a decision")
		return
	}
	for _, it := range items {
		head := fmt.Sprintf("campaign %s (%s): %s", it.Campaign, it.Challenge, it.What)
		if it.Kind == "portfolio" {
			head = fmt.Sprintf("portfolio %s, approval %s for %s: %s — an %s decides", it.Portfolio, it.Approval, it.Campaign, it.What, it.Role)
			if it.Deadline != nil {
				head += ", until " + it.Deadline.UTC().Format("2006-01-02 15:04 UTC")
			}
		}
		fmt.Fprintln(w, head)
		printPoints(w, it.Points)
		if it.Why != "" {
			fmt.Fprintf(w, "  why: %s\n", it.Why)
		}
		fmt.Fprintf(w, "  decide: %s\n", it.Command)
	}
}
