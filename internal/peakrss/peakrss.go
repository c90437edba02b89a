// Package peakrss reads a process's peak resident set on Linux, so that
// tests and benchmarks can state how much memory an operation took in all
// — SQLite's C-heap and mmap'd pages included, which runtime.MemStats
// does not see.
package peakrss

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Peak is the process's peak resident set in bytes since the last Reset
// (VmHWM in /proc/self/status).
func Peak() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM %q: %w", f[1], err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// Reset collects garbage, starts a new peak window (Linux ≥ 4.0) and
// returns the resident set at its start.
func Reset() (int64, error) {
	runtime.GC()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return 0, err
	}
	return Peak()
}

// TB is the part of testing.TB the helpers below need.
type TB interface {
	Helper()
	Skipf(format string, args ...any)
}

// PeakOrSkip is Peak for a test: where the peak cannot be read, the test
// is skipped rather than failed.
func PeakOrSkip(t TB) int64 {
	t.Helper()
	n, err := Peak()
	if err != nil {
		t.Skipf("no peak RSS: %v", err)
	}
	return n
}

// ResetOrSkip is Reset for a test, skipping it where the peak cannot be reset.
func ResetOrSkip(t TB) int64 {
	t.Helper()
	n, err := Reset()
	if err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	return n
}
