package api

import "github.com/genesis-sci/genesis/api/access"

// The names below moved to package access with the token store and the
// audit log. They stay here only for the end-to-end tests
// (workflows/e2e), which are being moved by another change; new code uses
// package access, and this file goes once those tests do.

// Roles.
const (
	RoleViewer      = access.RoleViewer
	RoleOperator    = access.RoleOperator
	RoleAdmin       = access.RoleAdmin
	MaxTokenNameLen = access.MaxTokenNameLen
)

// AuditEntry is access.AuditEntry.
type AuditEntry = access.AuditEntry

// OpenTokens is access.OpenTokens.
func OpenTokens(home string) (*access.Tokens, error) { return access.OpenTokens(home) }

// OpenAudit is access.OpenAudit.
func OpenAudit(home string) (*access.Audit, error) { return access.OpenAudit(home) }

// AdminTokenFile is access.AdminTokenFile.
func AdminTokenFile(home string) string { return access.AdminTokenFile(home) }
