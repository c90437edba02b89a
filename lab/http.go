package lab

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/lab/internal/runstore"
	"github.com/genesis-sci/genesis/tools/labclient"
)

// openAPI is the hand-written OpenAPI 3 description served at /openapi.json.
//
//go:embed openapi.json
var openAPI []byte

// Request limits.
const (
	maxBodyBytes   = 64 << 10
	maxKeyLen      = 256
	maxNameLen     = 256
	defaultListLen = 100
	maxListLen     = 1000
)

// route is one endpoint. The table is the single list of what the API
// serves; the OpenAPI test checks the document against it.
type route struct {
	method, pattern string
	handle          http.HandlerFunc
}

func (s *Server) routeTable() []route {
	return []route{
		{http.MethodPost, "/runs", s.handleSubmit},
		{http.MethodGet, "/runs", s.handleList},
		{http.MethodGet, "/runs/{id}", s.handleGet},
		{http.MethodDelete, "/runs/{id}", s.handleAbort},
		{http.MethodGet, "/instruments", s.handleInstruments},
		{http.MethodGet, "/faults", s.handleFaults},
		{http.MethodGet, "/health", s.handleHealth},
		{http.MethodGet, "/openapi.json", s.handleOpenAPI},
	}
}

// routes builds the handler: the route table, JSON 405s for known paths
// with other methods, a JSON 404 for everything else, and middleware.
// Authentication and fault injection slot in as further middleware here.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	allow := map[string][]string{}
	var paths []string
	for _, rt := range s.routeTable() {
		mux.HandleFunc(rt.method+" "+rt.pattern, rt.handle)
		if _, ok := allow[rt.pattern]; !ok {
			paths = append(paths, rt.pattern)
		}
		allow[rt.pattern] = append(allow[rt.pattern], rt.method)
	}
	for _, p := range paths {
		methods := strings.Join(allow[p], ", ")
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", methods)
			writeError(w, http.StatusMethodNotAllowed, labclient.CodeMethodNotAllowed,
				fmt.Sprintf("%s is not supported on %s; use %s (see GET /openapi.json)", r.Method, p, methods))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, labclient.CodeNotFound,
			fmt.Sprintf("no endpoint %s %s; the API is described at GET /openapi.json", r.Method, r.URL.Path))
	})
	return s.recoverPanics(s.authenticate(s.refuseWhenClosed(mux)))
}

// authenticate requires "Authorization: Bearer <token>" on every request
// but GET /health when the lab has a token.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return next
	}
	want := []byte(s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			next.ServeHTTP(w, r)
			return
		}
		// The scheme is case-insensitive (RFC 7235 section 2.1).
		scheme, got, ok := strings.Cut(strings.TrimLeft(r.Header.Get("Authorization"), " "), " ")
		ok = ok && strings.EqualFold(scheme, "Bearer")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="genesis-lab"`)
			msg := "this lab requires a bearer token: send \"Authorization: Bearer <token>\" with the token the lab was started with (GENESIS_LAB_TOKEN or --token-file)"
			if ok {
				msg = "the bearer token is not valid for this lab; use the token it was started with (GENESIS_LAB_TOKEN or --token-file)"
			}
			writeError(w, http.StatusUnauthorized, labclient.CodeUnauthorized, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeError(w, http.StatusInternalServerError, labclient.CodeInternal, "internal error; retry later")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) refuseWhenClosed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.isClosed() {
			writeError(w, http.StatusServiceUnavailable, labclient.CodeUnavailable, "the lab is shutting down; retry later")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(labclient.ErrorBody{Error: labclient.ErrorDetail{Code: labclient.CodeInternal, Message: "encoding response: " + err.Error()}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, labclient.ErrorBody{Error: labclient.ErrorDetail{Code: code, Message: msg}})
}

// internal reports an unexpected failure as a retryable 500.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, labclient.CodeInternal, "internal error: "+err.Error()+"; retry later")
}

// refusal is a 4xx with an explanation.
type refusal struct {
	status int
	code   string
	msg    string
}

func (e *refusal) Error() string { return e.msg }

func refuse(status int, code, format string, args ...any) *refusal {
	return &refusal{status, code, fmt.Sprintf(format, args...)}
}

const (
	submitFields = "challenge, parameters, idempotency_key, requester, instrument"
	example      = `send {"challenge": "...", "parameters": {"name": value}, "idempotency_key": "...", "requester": "..."}`
)

// decodeSubmit reads and checks the shape of a POST /runs body.
func decodeSubmit(w http.ResponseWriter, r *http.Request) (labclient.SubmitRequest, *refusal) {
	var req labclient.SubmitRequest
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return req, refuse(http.StatusUnsupportedMediaType, labclient.CodeUnsupportedMedia,
				"Content-Type %q is not supported; send a JSON object with Content-Type: application/json", ct)
		}
	}
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		// Exactly one JSON value: anything after it is an error.
		if err = dec.Decode(new(json.RawMessage)); err == io.EOF {
			err = nil
		} else if err == nil {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err != nil {
		var maxErr *http.MaxBytesError
		var synErr *json.SyntaxError
		var typErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &maxErr):
			return req, refuse(http.StatusRequestEntityTooLarge, labclient.CodeBodyTooLarge,
				"request body is larger than %d bytes; send only the run request", maxBodyBytes)
		case errors.Is(err, io.EOF):
			return req, refuse(http.StatusBadRequest, labclient.CodeMalformedRequest, "request body is empty; %s", example)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return req, refuse(http.StatusBadRequest, labclient.CodeMalformedRequest,
				"request body is not valid JSON: it ends before the object is complete; %s", example)
		case errors.As(err, &synErr):
			return req, refuse(http.StatusBadRequest, labclient.CodeMalformedRequest,
				"request body is not valid JSON (at byte %d: %v); %s", synErr.Offset, synErr, example)
		case errors.As(err, &typErr):
			if typErr.Field == "" {
				return req, refuse(http.StatusBadRequest, labclient.CodeMalformedRequest,
					"request body must be a JSON object, not %s; %s", typErr.Value, example)
			}
			return req, refuse(http.StatusBadRequest, labclient.CodeMalformedRequest,
				"field %q must be %s, not %s", typErr.Field, jsonKind(typErr.Type.Kind().String()), typErr.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return req, refuse(http.StatusBadRequest, labclient.CodeMalformedRequest,
				"%s in request body; the allowed fields are %s", strings.TrimPrefix(err.Error(), "json: "), submitFields)
		default:
			return req, refuse(http.StatusBadRequest, labclient.CodeMalformedRequest, "cannot read request body: %v; %s", err, example)
		}
	}
	var missing []string
	if req.Challenge == "" {
		missing = append(missing, "challenge")
	}
	if req.Parameters == nil {
		missing = append(missing, "parameters")
	}
	if req.IdempotencyKey == "" {
		missing = append(missing, "idempotency_key")
	}
	if req.Requester == "" {
		missing = append(missing, "requester")
	}
	if len(missing) > 0 {
		return req, refuse(http.StatusBadRequest, labclient.CodeMalformedRequest,
			"missing required field(s) %s; %s", strings.Join(missing, ", "), example)
	}
	for _, f := range []struct{ name, v string }{
		{"idempotency_key", req.IdempotencyKey}, {"requester", req.Requester}, {"instrument", req.Instrument},
	} {
		if len(f.v) > maxKeyLen {
			return req, refuse(http.StatusBadRequest, labclient.CodeMalformedRequest, "%s is %d bytes; keep it under %d", f.name, len(f.v), maxKeyLen)
		}
		if strings.ContainsFunc(f.v, unicode.IsControl) {
			return req, refuse(http.StatusBadRequest, labclient.CodeMalformedRequest, "%s must not contain control characters", f.name)
		}
	}
	return req, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	default:
		return "a number"
	}
}

// validate resolves the challenge and point of a request, refusing what the
// lab cannot or will not run.
func (s *Server) validate(req labclient.SubmitRequest) (*challenges.Challenge, challenges.Point, *refusal) {
	ch, err := s.cat.Get(req.Challenge)
	if err != nil {
		return nil, nil, refuse(http.StatusUnprocessableEntity, labclient.CodeUnknownChallenge, "%v", err)
	}
	pt, err := ch.ParseMap(req.Parameters)
	if err != nil {
		return nil, nil, refuse(http.StatusUnprocessableEntity, labclient.CodeInvalidParameters,
			"parameters do not fit challenge %s: %v; fix them and resubmit", ch.ID, err)
	}
	if err := ch.CheckSafety(pt); err != nil {
		return nil, nil, refuse(http.StatusUnprocessableEntity, labclient.CodeSafetyLimit,
			"the lab refuses to run %s: %v; choose parameters inside the safety limits", ch.Format(pt), err)
	}
	if _, ok := ch.Pool().Lookup(ch, pt); ch.Finite() && !ok {
		return nil, nil, refuse(http.StatusUnprocessableEntity, labclient.CodeNotInPool,
			"the lab cannot prepare %s: %v of challenge %s (only designs in the measured pool can be run); choose another design",
			ch.Format(pt), challenges.ErrNotInPool, ch.ID)
	}
	return ch, pt, nil
}

func newRunID() string {
	var b [10]byte
	rand.Read(b[:])
	return "run-" + hex.EncodeToString(b[:])
}

func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request) {
	req, ref := decodeSubmit(w, r)
	if ref != nil {
		writeError(w, ref.status, ref.code, ref.msg)
		return
	}
	ch, pt, ref := s.validate(req)
	if ref != nil {
		writeError(w, ref.status, ref.code, ref.msg)
		return
	}
	rec, created, ref, err := s.submit(r.Context(), req, ch, pt)
	switch {
	case err != nil:
		s.internal(w, r, err)
		return
	case ref != nil:
		writeError(w, ref.status, ref.code, ref.msg)
		return
	}
	w.Header().Set("Location", "/runs/"+url.PathEscape(rec.ID))
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
		s.log.Debug("run submitted", "run", rec.ID, "key", rec.IdempotencyKey, "instrument", rec.Instrument, "point", ch.Format(pt))
	}
	writeJSON(w, status, rec.Run)
}

// submit stores and enqueues a validated request, or returns the run
// already stored under its idempotency key.
func (s *Server) submit(ctx context.Context, req labclient.SubmitRequest, ch *challenges.Challenge, pt challenges.Point) (*runstore.Record, bool, *refusal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, refuse(http.StatusServiceUnavailable, labclient.CodeUnavailable, "the lab is shutting down; retry later"), nil
	}
	var in *instrument
	if req.Instrument != "" {
		in = s.byName[req.Instrument]
		if in == nil || !in.can[ch.ID] {
			return nil, false, refuse(http.StatusUnprocessableEntity, labclient.CodeUnknownInstrument,
				"instrument %q cannot run challenge %s; leave instrument empty to let the lab choose, or pick one of: %s",
				req.Instrument, ch.ID, strings.Join(s.namesLocked(ch.ID), ", ")), nil
		}
	} else if in = s.pickLocked(ch.ID); in == nil {
		return nil, false, refuse(http.StatusUnprocessableEntity, labclient.CodeUnknownInstrument,
			"no instrument in this lab can run challenge %s", ch.ID), nil
	}
	rec := &runstore.Record{
		Run: labclient.Run{
			ID:             newRunID(),
			IdempotencyKey: req.IdempotencyKey,
			Challenge:      ch.ID,
			Parameters:     ch.Map(pt),
			Instrument:     in.Name,
			Requester:      req.Requester,
			Status:         labclient.Queued,
			SubmittedAt:    time.Now().UTC(),
		},
		Point: pt,
	}
	got, created, err := s.st.InsertOrGet(ctx, rec)
	if err != nil {
		return nil, false, nil, err
	}
	if !created {
		if diff := conflict(got, req, ch, pt); diff != "" {
			return nil, false, refuse(http.StatusConflict, labclient.CodeIdempotencyConflict,
				"idempotency_key %q already belongs to run %s, which was submitted with a different %s; use a new key for a new experiment, or resend the original request to get that run",
				req.IdempotencyKey, got.ID, diff), nil
		}
		return got, false, nil, nil
	}
	in.queue = append(in.queue, &job{id: rec.ID, key: rec.IdempotencyKey, ch: ch, point: pt})
	s.dispatchLocked()
	if cur, err := s.st.Get(ctx, rec.ID); err == nil {
		rec = cur // report "running" when it started at once
	}
	return rec, true, nil, nil
}

// conflict names what differs between a stored run and a resubmission
// under the same key, or returns "".
func conflict(got *runstore.Record, req labclient.SubmitRequest, ch *challenges.Challenge, pt challenges.Point) string {
	switch {
	case got.Challenge != ch.ID:
		return fmt.Sprintf("challenge (%s)", got.Challenge)
	case ch.Key(got.Point) != ch.Key(pt):
		return fmt.Sprintf("design (%s)", ch.Format(got.Point))
	case got.Requester != req.Requester:
		return fmt.Sprintf("requester (%s)", got.Requester)
	case req.Instrument != "" && got.Instrument != req.Instrument:
		return fmt.Sprintf("instrument (%s)", got.Instrument)
	}
	return ""
}

func (s *Server) namesLocked(challenge string) []string {
	var out []string
	for _, in := range s.insts {
		if in.can[challenge] {
			out = append(out, in.Name)
		}
	}
	if len(out) == 0 {
		return []string{"(none)"}
	}
	return out
}

func notFound(w http.ResponseWriter, id string) {
	writeError(w, http.StatusNotFound, labclient.CodeNotFound,
		fmt.Sprintf("no run with id %q; list runs with GET /runs?requester=...", id))
}

// maxWait bounds a long poll (GET /runs/{id}?wait=…), inside the
// server's write timeout.
const maxWait = 20 * time.Second

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var wait time.Duration
	if q := r.URL.Query(); q.Has("wait") {
		v := q.Get("wait")
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, labclient.CodeMalformedRequest, fmt.Sprintf("wait %q must be a duration such as 10s (at most %s)", v, maxWait))
			return
		}
		wait = min(d, maxWait)
	}
	deadline := time.Now().Add(wait)
	for {
		// Take the change signal before reading, so a run that ends in
		// between is not missed.
		changed := s.changes()
		rec, err := s.st.Get(r.Context(), id)
		switch {
		case errors.Is(err, runstore.ErrNotFound):
			notFound(w, id)
			return
		case err != nil:
			s.internal(w, r, err)
			return
		}
		left := time.Until(deadline)
		if rec.Status.Terminal() || left <= 0 {
			writeJSON(w, http.StatusOK, rec.Run)
			return
		}
		t := time.NewTimer(left)
		select {
		case <-changed:
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

func (s *Server) handleAbort(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, ref, err := s.abort(r.Context(), id)
	switch {
	case err != nil:
		s.internal(w, r, err)
	case ref != nil:
		writeError(w, ref.status, ref.code, ref.msg)
	default:
		writeJSON(w, http.StatusOK, rec.Run)
	}
}

// abort stops a queued or running run.
func (s *Server) abort(ctx context.Context, id string) (*runstore.Record, *refusal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.st.Get(ctx, id)
	if errors.Is(err, runstore.ErrNotFound) {
		return nil, refuse(http.StatusNotFound, labclient.CodeNotFound, "no run with id %q; list runs with GET /runs?requester=...", id), nil
	}
	if err != nil {
		return nil, nil, err
	}
	if rec.Status.Terminal() {
		return nil, refuse(http.StatusConflict, labclient.CodeRunFinished, "run %s has already %s; there is nothing to abort", id, rec.Status), nil
	}
	ok, err := s.st.Finish(ctx, id, labclient.Aborted, nil, "aborted on request", time.Now(), labclient.Queued, labclient.Running)
	if err != nil {
		return nil, nil, err
	}
	if !ok { // cannot happen while mu orders every transition, but be safe
		return nil, refuse(http.StatusConflict, labclient.CodeRunFinished, "run %s finished before it could be aborted", id), nil
	}
	if in := s.byName[rec.Instrument]; in != nil {
		in.queue = slices.DeleteFunc(in.queue, func(j *job) bool { return j.id == id })
	}
	if cancel, ok := s.running[id]; ok {
		cancel(nil) // the run goroutine frees the slot
	}
	s.notifyLocked()
	rec, err = s.st.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	s.log.Debug("run aborted", "run", id)
	return rec, nil, nil
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := runstore.Filter{
		Requester:  q.Get("requester"),
		Challenge:  q.Get("challenge"),
		Instrument: q.Get("instrument"),
		Status:     labclient.Status(q.Get("status")),
		Limit:      defaultListLen,
	}
	for k := range q {
		switch k {
		case "requester", "challenge", "instrument", "status", "limit":
		default:
			writeError(w, http.StatusBadRequest, labclient.CodeMalformedRequest,
				fmt.Sprintf("unknown query parameter %q; filter with requester, challenge, instrument, status and limit", k))
			return
		}
	}
	// status= (empty) is no run status: refused like any other, not
	// taken as "every status".
	if q.Has("status") && !f.Status.Valid() {
		names := make([]string, len(labclient.Statuses))
		for i, st := range labclient.Statuses {
			names[i] = string(st)
		}
		writeError(w, http.StatusBadRequest, labclient.CodeMalformedRequest,
			fmt.Sprintf("status %q is not a run status; use one of %s", f.Status, strings.Join(names, ", ")))
		return
	}
	if q.Has("limit") {
		v := q.Get("limit")
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLen {
			writeError(w, http.StatusBadRequest, labclient.CodeMalformedRequest,
				fmt.Sprintf("limit %q must be an integer from 1 to %d", v, maxListLen))
			return
		}
		f.Limit = n
	}
	recs, err := s.st.List(r.Context(), f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := labclient.RunList{Runs: make([]labclient.Run, len(recs))}
	for i, rec := range recs {
		out.Runs[i] = rec.Run
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) instrumentsSnapshot() []labclient.Instrument {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]labclient.Instrument, len(s.insts))
	for i, in := range s.insts {
		out[i] = labclient.Instrument{
			Name:            in.Name,
			Capacity:        in.Capacity,
			Challenges:      append([]string{}, in.Challenges...),
			Queued:          len(in.queue),
			Busy:            in.busy,
			DurationSeconds: in.DurationSeconds,
			Status:          labclient.Online,
			Faults:          in.faults,
		}
		if !in.online(time.Now()) {
			until := in.offlineUntil.UTC()
			out[i].Status, out[i].OfflineUntil = labclient.Offline, &until
		}
	}
	return out
}

func (s *Server) handleInstruments(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, labclient.InstrumentList{Instruments: s.instrumentsSnapshot()})
}

func (s *Server) handleFaults(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := defaultListLen
	if q.Has("limit") {
		v := q.Get("limit")
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLen {
			writeError(w, http.StatusBadRequest, labclient.CodeMalformedRequest, fmt.Sprintf("limit %q must be an integer in [1, %d]", v, maxListLen))
			return
		}
		limit = n
	}
	fs, err := s.st.Faults(r.Context(), q.Get("run"), limit)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, labclient.FaultList{Faults: fs})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := labclient.Health{Status: "ok", Time: time.Now().UTC(), Measurements: s.Measurements(), TimeScale: s.cfg.TimeScale}
	for _, in := range s.instrumentsSnapshot() {
		h.Queued += in.Queued
		h.Running += in.Busy
	}
	if err := s.st.Ping(r.Context()); err != nil {
		writeError(w, http.StatusServiceUnavailable, labclient.CodeUnavailable, "the lab database is unavailable: "+err.Error()+"; retry later")
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
