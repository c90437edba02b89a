// Package labclient is the client of the emulated robotic lab (package
// github.com/genesis-sci/genesis/lab) and the home of the JSON types both
// sides share: the server imports them, so the wire format has one
// definition.
package labclient

import (
	"fmt"
	"time"
)

// Status is a run's state. Queued and Running are live; the rest are terminal.
type Status string

// Run states.
const (
	Queued    Status = "queued"
	Running   Status = "running"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Aborted   Status = "aborted"
)

// Statuses lists every state, live ones first.
var Statuses = []Status{Queued, Running, Succeeded, Failed, Aborted}

// Terminal reports whether a run in this state will never change again.
func (s Status) Terminal() bool { return s == Succeeded || s == Failed || s == Aborted }

// Valid reports whether s is a known state.
func (s Status) Valid() bool {
	for _, x := range Statuses {
		if s == x {
			return true
		}
	}
	return false
}

// SubmitRequest is the body of POST /runs.
type SubmitRequest struct {
	// Challenge is the challenge ID, e.g. "crossed-barrel-toughness".
	Challenge string `json:"challenge"`
	// Parameters maps parameter name to value: numbers for numeric
	// parameters (numeric strings are accepted), option names for
	// categorical ones.
	Parameters map[string]any `json:"parameters"`
	// IdempotencyKey identifies the request: resubmitting the same key
	// returns the same run and never measures twice. Required.
	IdempotencyKey string `json:"idempotency_key"`
	// Requester names who asks (an agent, a workflow). Required.
	Requester string `json:"requester"`
	// Instrument optionally pins the run to one instrument; when empty the
	// lab picks the least loaded instrument that can run the challenge.
	Instrument string `json:"instrument,omitempty"`
}

// Result is what a successful run measured.
type Result struct {
	// Values maps objective name to the measured value.
	Values map[string]float64 `json:"values"`
}

// Run is one lab experiment as the service reports it.
type Run struct {
	ID             string         `json:"id"`
	IdempotencyKey string         `json:"idempotency_key"`
	Challenge      string         `json:"challenge"`
	Parameters     map[string]any `json:"parameters"`
	Instrument     string         `json:"instrument"`
	Requester      string         `json:"requester"`
	Status         Status         `json:"status"`
	// Result is set once the run has succeeded.
	Result *Result `json:"result,omitempty"`
	// Error says why a run failed or was aborted.
	Error string `json:"error,omitempty"`
	// Attempts counts how often the run was started; more than one means
	// it was interrupted (a lab restart, an instrument going offline) and re-run.
	Attempts int `json:"attempts"`
	// Fault is the kind of the last instrument fault that hit this run
	// (FaultInstrumentError, FaultSampleLost, FaultOffline), if any; the
	// fault log (GET /faults) has the details.
	Fault       string     `json:"fault,omitempty"`
	SubmittedAt time.Time  `json:"submitted_at"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
}

// RunList is the body of GET /runs.
type RunList struct {
	Runs []Run `json:"runs"`
}

// Instrument is an instrument and its current load, as GET /instruments reports it.
type Instrument struct {
	Name string `json:"name"`
	// Capacity is how many runs the instrument executes at once.
	Capacity int `json:"capacity"`
	// Challenges lists the challenge IDs the instrument can run.
	Challenges []string `json:"challenges"`
	// Queued is the number of runs waiting for a slot.
	Queued int `json:"queued"`
	// Busy is the number of runs executing now.
	Busy int `json:"busy"`
	// DurationSeconds is how long one run takes here, in lab seconds; 0
	// means each challenge's own lab duration.
	DurationSeconds float64 `json:"duration_seconds,omitempty"`
	// Status is "online" or "offline"; an offline instrument starts no
	// runs until OfflineUntil.
	Status       string     `json:"status"`
	OfflineUntil *time.Time `json:"offline_until,omitempty"`
	// Faults counts the faults this instrument had since the lab started.
	Faults int `json:"faults"`
}

// Instrument states.
const (
	Online  = "online"
	Offline = "offline"
)

// Fault kinds. An instrument error and a lost sample fail the run (nothing
// is measured; resubmit with a new key to try again); an instrument going
// offline interrupts its runs, which are queued again (on another
// instrument when one can take them) and measured once it is back.
const (
	FaultInstrumentError = "instrument_error"
	FaultSampleLost      = "sample_lost"
	FaultOffline         = "instrument_offline"
)

// FaultKinds lists every fault kind.
var FaultKinds = []string{FaultInstrumentError, FaultSampleLost, FaultOffline}

// Fault is one recorded instrument fault, as GET /faults reports it.
type Fault struct {
	Seq        int64     `json:"seq"`
	At         time.Time `json:"at"`
	Instrument string    `json:"instrument"`
	// Run is the run the fault hit.
	Run     string `json:"run"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// FaultList is the body of GET /faults.
type FaultList struct {
	Faults []Fault `json:"faults"`
}

// InstrumentList is the body of GET /instruments.
type InstrumentList struct {
	Instruments []Instrument `json:"instruments"`
}

// Health is the body of GET /health.
type Health struct {
	Status string    `json:"status"`
	Time   time.Time `json:"time"`
	// Queued and Running count live runs across instruments.
	Queued  int `json:"queued"`
	Running int `json:"running"`
	// Measurements counts lab measurements taken since the service started.
	Measurements int64 `json:"measurements"`
	// TimeScale is seconds of real time per lab second.
	TimeScale float64 `json:"time_scale"`
}

// ErrorBody is the JSON body of every error response:
// {"error":{"code":"...","message":"..."}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a machine-readable code and a message saying what to do.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes the service returns.
const (
	CodeMalformedRequest    = "malformed_request"
	CodeBodyTooLarge        = "body_too_large"
	CodeUnsupportedMedia    = "unsupported_media_type"
	CodeUnknownChallenge    = "unknown_challenge"
	CodeInvalidParameters   = "invalid_parameters"
	CodeSafetyLimit         = "safety_limit"
	CodeNotInPool           = "not_in_pool"
	CodeUnknownInstrument   = "unknown_instrument"
	CodeIdempotencyConflict = "idempotency_conflict"
	CodeNotFound            = "not_found"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeRunFinished         = "run_finished"
	CodeUnavailable         = "unavailable"
	CodeUnauthorized        = "unauthorized"
	CodeInternal            = "internal"
)

// Error is a response with a non-2xx status. A 4xx other than 408, 425 and
// 429 is a refusal: the same request will be refused again, so an agent
// should read Message and change the request. Everything else (5xx,
// timeouts, rate limits) is worth retrying.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("lab: HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("lab: HTTP %d %s: %s", e.Status, e.Code, e.Message)
}
