package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/memory"
	"github.com/genesis-sci/genesis/memory/embedded"
)

// Every start-up failure of a command that brings up the stack ends in one
// line that says what failed and what to do, with a non-zero exit code: a
// taken port, a missing Temporal CLI, another process's dev server on the
// same state file, or --temporal dev with no dev server. (Each of the first
// three panicked in the stack's deferred close before.)
func TestStackStartFailuresSayWhatToDo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	empty := t.TempDir()
	held := filepath.Join(t.TempDir(), "home")
	lock, _, err := lockDev(filepath.Join(held, "temporal.db"))
	if err != nil || lock == nil {
		t.Fatalf("lock: %v", err)
	}
	lock.record("127.0.0.1:7999")
	defer lock.release()
	cases := []struct {
		name string
		args []string
		env  map[string]string
		home string
		want []string
	}{
		{"run on a taken port", []string{"run", "--strategy", "random", "--temporal-port", taken, "--ui-port", "0"}, nil, "",
			[]string{"port 127.0.0.1:" + taken + " is already in use", "--temporal"}},
		{"dev on a taken port", []string{"dev", "--temporal-port", taken, "--ui-port", "0", "--lab-addr", "127.0.0.1:0", "--addr", "127.0.0.1:0"}, nil, "",
			[]string{"already in use"}},
		{"no Temporal CLI", []string{"run", "--strategy", "random", "--ui-port", "0"}, map[string]string{"PATH": empty, "GOPATH": empty}, "",
			[]string{"the Temporal CLI is not installed", "make temporal", "--temporal HOST:PORT"}},
		{"dev beside another dev", []string{"dev", "--ui-port", "0", "--lab-addr", "127.0.0.1:0", "--addr", "127.0.0.1:0"}, nil, held,
			[]string{"another Genesis process (PID " + strconv.Itoa(os.Getpid()) + ") runs a Temporal dev server", "--temporal 127.0.0.1:7999"}},
		{"--temporal dev without a dev", []string{"run", "--strategy", "random", "--temporal", "dev"}, nil, "",
			[]string{"no Genesis process runs a Temporal dev server", "start `genesis dev` first"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			home := c.home
			if home == "" {
				home = filepath.Join(t.TempDir(), "home")
			}
			var out, errb bytes.Buffer
			code := execute(append(c.args, "--home", home), &out, &errb)
			if code == 0 {
				t.Fatalf("exit 0; stdout %q", out.String())
			}
			for _, w := range c.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr %q does not say %q", errb.String(), w)
				}
			}
		})
	}
}

// A command that may run beside `genesis dev` (run, eval) finds the dev
// server's state file and port taken and the memory in use, and starts a
// server of its own on a free port with its own state and a memory of its
// own, saying so; its state goes when it stops.
func TestStackBesideDev(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Temporal dev server")
	}
	home := filepath.Join(t.TempDir(), "home")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	// The running dev: its lock on the state file, its port.
	dev, _, err := lockDev(filepath.Join(home, "temporal.db"))
	if err != nil || dev == nil {
		t.Fatalf("lock: %v", err)
	}
	dev.record(ln.Addr().String())
	defer dev.release()
	held, err := embedded.Open(filepath.Join(home, "memory", "hashing"), memory.Hashing{}.Dim(), "hashing")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	cat, err := challenges.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	cfg := &globals{home: home}
	st, err := startStack(context.Background(), cfg, cat, stackOptions{tport: taken, share: true, worker: true, embedder: "hashing"})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(st.notes, "\n")
	if st.temporal == ln.Addr().String() || !strings.Contains(notes, "port "+strconv.Itoa(taken)+" is taken") ||
		!strings.Contains(notes, "this command's server listens on "+st.temporal) || !strings.Contains(notes, "--temporal "+ln.Addr().String()) {
		t.Errorf("server at %s; notes:\n%s", st.temporal, notes)
	}
	if !strings.Contains(notes, "PID "+strconv.Itoa(os.Getpid())+" keeps "+filepath.Join(home, "temporal.db")) {
		t.Errorf("the notes do not say whose state file is taken:\n%s", notes)
	}
	if _, err := st.tc.CheckHealth(context.Background(), nil); err != nil {
		t.Errorf("its own server does not answer: %v", err)
	}
	dirs, _ := filepath.Glob(filepath.Join(home, "own-*"))
	if len(dirs) != 1 {
		t.Fatalf("state directories %v, want one of its own", dirs)
	}
	if !strings.Contains(notes, "memory: "+home+"'s memory is in use by another Genesis process; this command's agents use a memory of their own in "+filepath.Join(dirs[0], "memory")) {
		t.Errorf("the notes do not say where the memory went:\n%s", notes)
	}
	st.close()
	if dirs, _ := filepath.Glob(filepath.Join(home, "own-*")); len(dirs) != 0 {
		t.Errorf("state left behind: %v", dirs)
	}
}
