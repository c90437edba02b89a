// Package devserver runs a real Temporal server for one machine: the
// Temporal CLI's dev server (server, SQLite persistence and web UI in one
// process), started and stopped as a managed child process. Genesis pins
// the CLI to v1.5.1, the newest release that installs with `go install`;
// it speaks the same wire protocol as the SDK Genesis links.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
)

// CLIVersion is the Temporal CLI that `make` installs.
const CLIVersion = "v1.5.1"

// Options configure the dev server.
type Options struct {
	// Binary is the temporal CLI; empty means PATH, then $GOPATH/bin.
	Binary string
	// DBFile is the SQLite file holding all state.
	DBFile string
	IP     string
	Port   int
	// UIPort is the web UI's port; 0 means no UI.
	UIPort  int
	LogFile string
	// RelaxedSync runs SQLite in WAL mode with synchronous=NORMAL: a commit
	// no longer waits for the disk. A crash of any process loses nothing; a
	// power cut or OS crash can roll back the last commits (never corrupt
	// the file). For throughput work whose results are kept elsewhere and
	// cheap to redo, such as classical eval runs; a campaign that waits on
	// people keeps the default, where every commit is on disk.
	RelaxedSync bool
}

// Server is a running dev server.
type Server struct {
	cmd  *exec.Cmd
	addr string
	ui   string
	done chan error
}

// FindBinary locates the temporal CLI.
func FindBinary() (string, error) {
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", "temporal")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("the Temporal CLI is not installed: run `make temporal` (go install github.com/temporalio/cli/cmd/temporal@%s) or pass --temporal HOST:PORT to use a running server", CLIVersion)
}

// PortFree reports whether nothing listens on ip:port.
func PortFree(ip string, port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(port)), 300*time.Millisecond)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// Start starts the server and waits until it answers.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Binary == "" {
		b, err := FindBinary()
		if err != nil {
			return nil, err
		}
		o.Binary = b
	}
	if o.IP == "" {
		o.IP = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = 7233
	}
	if !PortFree(o.IP, o.Port) {
		return nil, fmt.Errorf("port %s:%d is already in use (is `genesis dev` running?): pass --temporal %s:%d to use that server, or stop it", o.IP, o.Port, o.IP, o.Port)
	}
	if o.UIPort != 0 && !PortFree(o.IP, o.UIPort) {
		return nil, fmt.Errorf("the Temporal UI port %d is already in use: stop what uses it or pick another with --ui-port", o.UIPort)
	}
	if err := os.MkdirAll(filepath.Dir(o.DBFile), 0o755); err != nil {
		return nil, err
	}
	args := []string{"server", "start-dev", "--db-filename", o.DBFile, "--ip", o.IP, "--port", strconv.Itoa(o.Port),
		"--log-level", "warn", "--dynamic-config-value", "system.enableActivityEagerExecution=true"}
	if o.UIPort != 0 {
		args = append(args, "--ui-port", strconv.Itoa(o.UIPort))
	} else {
		args = append(args, "--headless")
	}
	if o.RelaxedSync {
		args = append(args, "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal")
	}
	cmd := exec.Command(o.Binary, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if o.LogFile != "" {
		if err := os.MkdirAll(filepath.Dir(o.LogFile), 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.Binary, err)
	}
	s := &Server{cmd: cmd, addr: net.JoinHostPort(o.IP, strconv.Itoa(o.Port)), done: make(chan error, 1)}
	if o.UIPort != 0 {
		s.ui = fmt.Sprintf("http://%s:%d", o.IP, o.UIPort)
	}
	go func() { s.done <- cmd.Wait() }()
	if err := s.waitReady(ctx, 90*time.Second); err != nil {
		_ = s.Stop()
		hint := ""
		if o.LogFile != "" {
			hint = " (log: " + o.LogFile + ")"
		}
		return nil, fmt.Errorf("the Temporal dev server did not become ready: %w%s", err, hint)
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("the server exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		c, err := client.Dial(client.Options{HostPort: s.addr, Logger: quiet{}})
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = c.CheckHealth(cctx, &client.CheckHealthRequest{})
			if err == nil {
				_, err = c.WorkflowService().DescribeNamespace(cctx, describeDefault())
			}
			cancel()
			c.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("timed out: %v", last)
}

// Addr is the frontend's host:port.
func (s *Server) Addr() string { return s.addr }

// PID is the server process's ID.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// UI is the web UI's base URL ("" when headless).
func (s *Server) UI() string { return s.ui }

// Stop stops the server: SIGINT, then SIGKILL after 15 s.
func (s *Server) Stop() error {
	if s.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT)
	select {
	case err := <-s.done:
		s.done <- err
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return err
		}
		return nil
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		return errors.New("the Temporal dev server did not stop in 15 s and was killed")
	}
}

// ClientOptions are the SDK client options for the Temporal server at
// hostPort. For a server on this machine gRPC compression is off: over
// loopback, gzip only spends CPU on both ends (the server shares the
// machine's cores with the worker).
func ClientOptions(hostPort string) client.Options {
	o := client.Options{HostPort: hostPort}
	if local(hostPort) {
		o.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	return o
}

// local reports whether hostPort names this machine's loopback interface.
func local(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
