package devserver

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

func TestClientOptionsCompressOnlyRemote(t *testing.T) {
	for hostPort, local := range map[string]bool{
		"127.0.0.1:7233": true, "localhost:7233": true, "[::1]:7233": true,
		"temporal.example.org:7233": false, "10.0.0.5:7233": false, "no-port": false,
	} {
		_, none := ClientOptions(hostPort).ConnectionOptions.GrpcCompression.(*client.GrpcCompressionNone)
		if none != local {
			t.Errorf("%s: compression off = %v, want %v", hostPort, none, local)
		}
	}
}

// The real dev server, with and without RelaxedSync: the SQLite file is
// in WAL mode only when relaxed (header bytes 18–19 are 2 for WAL, 1 for
// the rollback journal), and a client without gzip talks to it.
func TestRelaxedSyncOnTheRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Temporal dev server")
	}
	for _, relaxed := range []bool{false, true} {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		srv, err := Start(ctx, Options{DBFile: filepath.Join(dir, "temporal.db"), Port: freePort(t), LogFile: filepath.Join(dir, "temporal.log"), RelaxedSync: relaxed})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.Dial(ClientOptions(srv.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CheckHealth(context.Background(), &client.CheckHealthRequest{}); err != nil {
			t.Errorf("relaxed=%v: health check: %v", relaxed, err)
		}
		c.Close()
		if err := srv.Stop(); err != nil {
			t.Logf("stopping: %v", err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "temporal.db"))
		if err != nil || len(b) < 100 {
			t.Fatalf("reading the database: %v (%d bytes)", err, len(b))
		}
		wal := b[18] == 2 && b[19] == 2
		if wal != relaxed {
			t.Errorf("relaxed=%v: WAL mode = %v (header bytes %d %d)", relaxed, wal, b[18], b[19])
		}
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
