package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.temporal.io/api/serviceerror"

	"github.com/genesis-sci/genesis/workflows/campaign"
	"github.com/genesis-sci/genesis/workflows/chat"
	"github.com/genesis-sci/genesis/workflows/portfolioflow"
)

// maxIDLen is Temporal's default limit on a workflow ID's length.
const maxIDLen = 1000

// badID says what is wrong with a workflow ID from a request, or "".
// Temporal carries IDs in gRPC headers, which take printable ASCII only:
// anything else fails inside the client with an error that says nothing
// about the ID, so it is refused here.
func badID(id string) string {
	switch {
	case id == "":
		return "it is empty"
	case len(id) > maxIDLen:
		return fmt.Sprintf("it is %d bytes long (at most %d)", len(id), maxIDLen)
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r > 0x7e }):
		return "it has characters other than printable ASCII"
	}
	return ""
}

// checkID answers 400 and returns false when id (of a what: "campaign",
// "chat", …) cannot name a workflow.
func checkID(w http.ResponseWriter, what, id string) bool {
	if why := badID(id); why != "" {
		writeErr(w, http.StatusBadRequest, "invalid_id", fmt.Sprintf("%s ID %s is not valid: %s; IDs are 1 to %d printable ASCII characters", what, quoteShort(id), why, maxIDLen))
		return false
	}
	return true
}

// quoteShort quotes s for a message, cut to 80 bytes.
func quoteShort(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%q…", s[:80])
	}
	return fmt.Sprintf("%q", s)
}

// kindNames names the workflow types in messages.
var kindNames = map[string]string{
	campaign.CampaignWorkflowName:       "campaign",
	portfolioflow.PortfolioWorkflowName: "portfolio",
	chat.ChatWorkflowName:               "chat",
}

func kindName(typ string) string {
	if n, ok := kindNames[typ]; ok {
		return n
	}
	return "workflow of type " + typ
}

// wrongKind is a workflow that exists but is not of the kind a route
// serves (a portfolio's ID on a campaign route): the route answers 404.
type wrongKind struct{ id, want, is string }

func (e *wrongKind) Error() string {
	return fmt.Sprintf("%s is a %s, not a %s", e.id, kindName(e.is), kindName(e.want))
}

// requireKind returns nil when workflow id exists and is of type kind;
// a *wrongKind when it is of another; Temporal's error otherwise.
func (s *Server) requireKind(ctx context.Context, kind, id string) error {
	d, err := s.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return err
	}
	if typ := d.GetWorkflowExecutionInfo().GetType().GetName(); typ != kind {
		return &wrongKind{id: id, want: kind, is: typ}
	}
	return nil
}

// writeTemporalErr answers a failed Temporal call about workflow id of a
// kind: 404 with notFound when the workflow does not exist, is of another
// kind or (for signals and updates) is closed; 400 when Temporal refuses
// the request as malformed; 503 when Temporal cannot answer now. A query
// that fails is told apart by the workflow's type: another kind's ID gets
// 404, a campaign whose worker cannot answer 503.
func (s *Server) writeTemporalErr(w http.ResponseWriter, r *http.Request, err error, kind, id, notFound string) {
	var nf *serviceerror.NotFound
	var wk *wrongKind
	var qf *serviceerror.QueryFailed
	var ia *serviceerror.InvalidArgument
	switch {
	case errors.As(err, &nf):
		writeErr(w, http.StatusNotFound, "not_found", notFound)
	case errors.As(err, &wk):
		writeErr(w, http.StatusNotFound, "not_found", notFound+": "+wk.Error())
	case errors.As(err, &qf):
		if kerr := s.requireKind(r.Context(), kind, id); kerr != nil {
			if errors.As(kerr, &wk) || errors.As(kerr, &nf) {
				writeErr(w, http.StatusNotFound, "not_found", notFound+": "+kerr.Error())
				return
			}
		}
		writeErr(w, http.StatusServiceUnavailable, "query_failed", fmt.Sprintf("the %s's worker could not answer: %v; retry later", kindName(kind), err))
	case errors.As(err, &ia):
		writeErr(w, http.StatusBadRequest, "bad_request", "Temporal refused the request: "+ia.Error())
	default:
		writeErr(w, http.StatusServiceUnavailable, "temporal_unavailable", err.Error())
	}
}
