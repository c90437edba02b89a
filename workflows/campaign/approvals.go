package campaign

// Pending is a set of lab runs waiting for a person's approval.
type Pending struct {
	Iteration int              `json:"iteration"`
	Points    []map[string]any `json:"points"`
	Rationale string           `json:"rationale,omitempty"`
}

// Decision approves or rejects the pending lab runs.
type Decision struct {
	Approve bool   `json:"approve"`
	By      string `json:"by,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Iteration is the pending runs' iteration the decision is about (0:
	// whatever is pending); a decision about other runs is dropped.
	Iteration int `json:"iteration,omitempty"`
}
