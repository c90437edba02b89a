package embedded

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// lockName is the file a writer holds an exclusive flock on while the
// store is open; it holds the writer's PID, to name it to a second opener.
// The kernel drops the lock when the process dies, so a kill -9 never
// leaves the store locked.
const lockName = "memory.lock"

// quarantinePrefix starts the names of the files that keep a log's
// unreadable tail, set aside at open rather than cut off.
const quarantinePrefix = logName + ".quarantine-"

// ErrInUse is the error (wrapped) of opening a store another writer holds.
var ErrInUse = errors.New("the memory store is in use")

// lock takes the store's write lock, or says who holds it. Two writers
// interleave and overwrite each other's log lines (measured: 84–132 of
// 600 records kept), and one's open removes the other's half-made files.
// The lock is per open file, so a second Open of the same directory in
// one process is refused too: one Store per directory, shared.
func lock(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("memory store %s: opening its lock file: %w", dir, err)
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		holder := "another process (it has not recorded its PID)"
		if pid := holderPID(f); pid == os.Getpid() {
			holder = fmt.Sprintf("this process (%d): share the one Store", pid)
		} else if pid > 0 {
			holder = fmt.Sprintf("process %d", pid)
		}
		f.Close()
		return nil, fmt.Errorf("%w: %s is open for writing by %s. Two writers on one store destroy it: run one worker per GENESIS_HOME (give each its own --home), or keep the memory in Qdrant, which takes any number of workers (--qdrant URL or GENESIS_QDRANT_URL; see the README's Memory section), or send writes through the fleet's memory queue once it has one. Reading meanwhile is fine (genesis memory stats, genesis memory search)",
			ErrInUse, dir, holder)
	}
	if err == nil {
		err = f.Truncate(0)
	}
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("memory store %s: locking %s: %w", dir, path, err)
	}
	return f, nil
}

// holderPID reads the PID the lock's holder wrote, 0 if none. A holder
// writes it just after taking the lock, so an empty file is read again
// for a moment before giving up.
func holderPID(f *os.File) int {
	for try := 0; ; try++ {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n]))); err == nil && pid > 0 {
			return pid
		}
		if try == 50 {
			return 0
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// quarantine moves the log's bytes from good on, which replay could not
// read, to a side file, fsynced before the log is cut back to good: a
// torn last line is a write a crash cut short (never acknowledged), but
// an unreadable line followed by others may hide acknowledged batches
// behind it (a foreign or damaged line), so nothing is dropped unseen.
func (s *Store) quarantine(tail []byte) error {
	name := quarantinePrefix + time.Now().UTC().Format("20060102T150405.000000000Z")
	f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("memory store %s: quarantining the log's unreadable tail: %w", s.dir, err)
	}
	_, err = f.Write(tail)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		os.Remove(filepath.Join(s.dir, name))
		return fmt.Errorf("memory store %s: quarantining the log's unreadable tail: %w", s.dir, err)
	}
	why := "a torn last write (a crash mid-write; it was never acknowledged)"
	if lines := strings.Count(string(tail), "\n"); lines > 0 {
		if tail[len(tail)-1] != '\n' {
			lines++
		}
		why = fmt.Sprintf("an unreadable or foreign line and %d more after it (acknowledged batches may be among them)", lines-1)
	}
	slog.Warn("memory: the store's log ended in "+why+"; moved aside, not loaded",
		"store", s.dir, "file", name, "bytes", len(tail), "kept_log_bytes", s.logSize)
	return nil
}

// Quarantined lists the log tails set aside in dir (see quarantine),
// oldest first.
func Quarantined(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), quarantinePrefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
