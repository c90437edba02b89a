package access

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Audit appends one JSON line per state-changing call.
type Audit struct {
	mu sync.Mutex
	f  *os.File
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	Time    time.Time `json:"time"`
	TokenID string    `json:"token_id"`
	Role    string    `json:"role"`
	Method  string    `json:"method"`
	Path    string    `json:"path"`
	Status  int       `json:"status"`
	Detail  string    `json:"detail,omitempty"`
	// Resource is what the call created or removed (a campaign, portfolio,
	// chat or token ID; never a secret).
	Resource string `json:"resource,omitempty"`
	// Remote is the client's address (HTTP calls); Actor the OS user and
	// host (CLI commands, whose Method is "CLI").
	Remote string `json:"remote,omitempty"`
	Actor  string `json:"actor,omitempty"`
}

// OpenAudit opens home/api/audit.log for appending.
func OpenAudit(home string) (*Audit, error) {
	dir := filepath.Join(home, "api")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "audit.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	return &Audit{f: f}, nil
}

// Write records an entry (fsynced: the audit trail must survive a crash).
func (a *Audit) Write(e AuditEntry) error { return a.Record(e, true) }

// Record appends one line (one write call, so lines from two processes
// appending to the log do not interleave); sync says whether to fsync
// (refusals of unauthenticated calls are not: anyone can make them).
func (a *Audit) Record(e AuditEntry, sync bool) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.f.Write(append(b, '\n')); err != nil {
		return err
	}
	if !sync {
		return nil
	}
	return a.f.Sync()
}

// Close closes the log.
func (a *Audit) Close() error { return a.f.Close() }
