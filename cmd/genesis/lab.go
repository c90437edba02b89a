package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/config"
	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/tools/labclient"
)

// labTokenFile is where genesis keeps the lab's bearer token when neither
// GENESIS_LAB_TOKEN nor --token-file gives one.
func labTokenFile(home string) string { return filepath.Join(home, "lab.token") }

// labToken finds the lab's bearer token: the file given, else
// GENESIS_LAB_TOKEN, else $GENESIS_HOME/lab.token. With create, a missing
// token file is created with a fresh random token (mode 0600), so a lab
// is never open by accident; without it, no token is "".
func labToken(home, file string, create bool) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("lab token file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("lab token file %s is empty; put the token on its first line", file)
		}
		return tok, nil
	}
	if tok := config.LabToken.Value(); tok != "" {
		return tok, nil
	}
	path := labTokenFile(home)
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("lab token: %w", err)
	}
	if !create {
		return "", nil
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(home, 0o755); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return tok, nil
}

// loadInstruments reads an instruments file: a YAML list of
// {name, capacity, duration_seconds, challenges: [ID…] or ["*"]}.
func loadInstruments(path string, cat *challenges.Catalog) ([]lab.Instrument, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("instruments file: %w", err)
	}
	var ins []lab.Instrument
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&ins); err != nil {
		return nil, fmt.Errorf("instruments file %s: %w (want a YAML list of {name, capacity, duration_seconds, challenges})", path, err)
	}
	if len(ins) == 0 {
		return nil, fmt.Errorf("instruments file %s lists no instruments", path)
	}
	for i := range ins {
		if len(ins[i].Challenges) == 1 && ins[i].Challenges[0] == "*" || len(ins[i].Challenges) == 0 {
			ins[i].Challenges = cat.IDs()
		}
	}
	return ins, nil
}

func labCmd(cfg *globals) *cobra.Command {
	c := &cobra.Command{Use: "lab", Short: "The emulated robotic lab service"}
	c.AddCommand(labServeCmd(cfg), labStatusCmd(cfg))
	return c
}

// labServeOptions are genesis lab serve's flags.
type labServeOptions struct {
	addr, db, tokenFile, instrumentsFile string
	only                                 []string
	scale, faultRate, offline            float64
}

func labServeCmd(cfg *globals) *cobra.Command {
	var o labServeOptions
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve the lab over HTTP (OpenAPI at /openapi.json)",
		Long: `Serves the emulated robotic lab: instruments with queues and capacities run experiments on
the challenges' lab models (real measured data plus noise), with durations scaled by
--time-scale. Runs survive restarts (SQLite in --db). With --fault-rate, instruments fail
runs, lose samples or go offline. Every request but GET /health needs the bearer token:
--token-file, else GENESIS_LAB_TOKEN, else $GENESIS_HOME/lab.token (created on first start).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			lc, err := o.config(cfg)
			if err != nil {
				return err
			}
			s, err := lab.New(lc)
			if err != nil {
				return err
			}
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			if err := s.Start(ctx); err != nil {
				s.Close()
				return err
			}
			out := cmd.OutOrStdout()
			o.printServing(out, cfg, s.Addr(), len(lc.Catalog.IDs()))
			<-ctx.Done()
			fmt.Fprintln(out, "lab shutting down; queued and running runs resume on the next start")
			return s.Close()
		},
	}
	f := serve.Flags()
	config.LabAddr.StringVar(f, &o.addr, "")
	f.StringVar(&o.db, "db", "", "SQLite file for runs, queues and faults (default $GENESIS_HOME/lab.db)")
	f.Float64Var(&o.scale, "time-scale", 0.01, "real seconds per lab second (1 = real time)")
	config.FaultRate.Float64Var(f, &o.faultRate, "probability that a run hits an instrument fault: an error, a lost sample or the instrument going offline")
	f.Float64Var(&o.offline, "offline-seconds", lab.DefaultOfflineSeconds, "lab seconds an instrument stays offline after an offline fault")
	f.StringVar(&o.tokenFile, "token-file", "", "file holding the bearer token clients must send (default GENESIS_LAB_TOKEN, else $GENESIS_HOME/lab.token)")
	f.StringSliceVar(&o.only, "challenges", nil, "only offer these challenge IDs (comma-separated; default all)")
	f.StringVar(&o.instrumentsFile, "instruments", "", "YAML list of instruments {name, capacity, duration_seconds, challenges} (default: robot-1 and robot-2, 2 slots each, every challenge)")
	return serve
}

// config checks the flags and makes the lab's configuration: the
// challenges offered, the instruments, the token and the database.
func (o *labServeOptions) config(cfg *globals) (lab.Config, error) {
	cat, err := cfg.catalog()
	if err != nil {
		return lab.Config{}, err
	}
	if len(o.only) > 0 {
		if cat, err = cat.Subset(o.only); err != nil {
			return lab.Config{}, err
		}
	}
	var ins []lab.Instrument
	if o.instrumentsFile != "" {
		if ins, err = loadInstruments(o.instrumentsFile, cat); err != nil {
			return lab.Config{}, err
		}
	}
	if o.faultRate < 0 || o.faultRate > 1 {
		return lab.Config{}, fmt.Errorf("--fault-rate %v must be between 0 and 1", o.faultRate)
	}
	if o.scale < 0 {
		return lab.Config{}, fmt.Errorf("--time-scale %v must be ≥ 0", o.scale)
	}
	tok, err := labToken(cfg.home, o.tokenFile, true)
	if err != nil {
		return lab.Config{}, err
	}
	if o.db == "" {
		o.db = filepath.Join(cfg.home, "lab.db")
	}
	return lab.Config{Addr: o.addr, DBPath: o.db, TimeScale: o.scale, Catalog: cat, Instruments: ins,
		FaultRate: o.faultRate, OfflineSeconds: o.offline, Token: tok, FitAtStart: true}, nil
}

// printServing says where the lab listens, what it runs and where its
// clients find the token.
func (o *labServeOptions) printServing(out io.Writer, cfg *globals, addr net.Addr, nChallenges int) {
	fmt.Fprintf(out, "lab service on http://%s (OpenAPI at /openapi.json)\n", addr)
	fmt.Fprintf(out, "  runs in %s, time scale %g, fault rate %g, %d challenges\n", o.db, o.scale, o.faultRate, nChallenges)
	switch {
	case o.tokenFile != "":
		fmt.Fprintf(out, "  bearer token from %s\n", o.tokenFile)
	case config.LabToken.Value() != "":
		fmt.Fprintln(out, "  bearer token from GENESIS_LAB_TOKEN")
	default:
		fmt.Fprintf(out, "  bearer token in %s (clients: GENESIS_LAB_TOKEN=$(cat %s))\n", labTokenFile(cfg.home), labTokenFile(cfg.home))
	}
}

func labStatusCmd(cfg *globals) *cobra.Command {
	var url, tokenFile string
	var nFaults int
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a lab's instruments (online/offline, queue, busy slots, faults) and its recent faults",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := labToken(cfg.home, tokenFile, false)
			if err != nil {
				return err
			}
			c := labclient.New(url, nil).WithToken(tok)
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			h, err := c.Health(ctx)
			if err != nil {
				return fmt.Errorf("cannot reach the lab at %s: %w (start one with `genesis lab serve`, or pass --lab URL)", url, err)
			}
			ins, err := c.Instruments(ctx)
			if err != nil {
				return err
			}
			faults, err := c.Faults(ctx, "", 1000)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "lab %s: %s, %d queued, %d running, %d measurements since start, time scale %g\n\n", url, h.Status, h.Queued, h.Running, h.Measurements, h.TimeScale)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "INSTRUMENT\tSTATUS\tBUSY\tQUEUED\tFAULTS\tCHALLENGES")
			for _, in := range ins {
				st := in.Status
				if in.OfflineUntil != nil {
					st += " until " + in.OfflineUntil.Local().Format("15:04:05")
				}
				fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%d\t%d\n", in.Name, st, in.Busy, in.Capacity, in.Queued, in.Faults, len(in.Challenges))
			}
			tw.Flush()
			if len(faults) == 0 {
				fmt.Fprintln(w, "\nno faults recorded")
				return nil
			}
			fmt.Fprintf(w, "\n%d faults recorded; the last %d:\n", len(faults), min(nFaults, len(faults)))
			for _, f := range faults[max(0, len(faults)-nFaults):] {
				fmt.Fprintf(w, "  %s  %-10s %-18s run %s: %s\n", f.At.Local().Format("2006-01-02 15:04:05"), f.Instrument, f.Kind, f.Run, f.Message)
			}
			return nil
		},
	}
	config.Lab.WithDefault("http://127.0.0.1:8090").StringVar(cmd.Flags(), &url, "")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file with the lab's bearer token (default GENESIS_LAB_TOKEN, else $GENESIS_HOME/lab.token)")
	cmd.Flags().IntVar(&nFaults, "faults", 10, "how many recent faults to show")
	return cmd
}
