package lab_test

import (
	"net/http"
	"testing"

	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/tools/labclient"
)

// The bearer scheme is case-insensitive (RFC 7235); empty filters that are
// no valid value (status=, limit=, wait=) are refused with 400 instead of
// being read as "no filter".
func TestAuthSchemeAndEmptyFilters(t *testing.T) {
	e := start(t, lab.Config{Token: "s3cret-token"})
	get := func(path, auth string) (int, labclient.ErrorBody) {
		resp, eb := e.get(t, path, auth)
		return resp.StatusCode, eb
	}
	for _, auth := range []string{"Bearer s3cret-token", "bearer s3cret-token", "BEARER  s3cret-token "} {
		if code, eb := get("/runs", auth); code != http.StatusOK {
			t.Errorf("%q: %d %+v", auth, code, eb)
		}
	}
	for _, path := range []string{"/runs?status=", "/runs?limit=", "/faults?limit=", "/runs/x?wait="} {
		if code, eb := get(path, "Bearer s3cret-token"); code != http.StatusBadRequest || eb.Error.Code != labclient.CodeMalformedRequest {
			t.Errorf("GET %s: %d %+v", path, code, eb)
		}
	}
	if code, eb := get("/runs?status=queued&requester=", "Bearer s3cret-token"); code != http.StatusOK {
		t.Errorf("a valid status: %d %+v", code, eb)
	}
}
