package lab_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genesis-sci/genesis/lab"
	"github.com/genesis-sci/genesis/tools/labclient"
)

// faultFirst injects kind into the first run attempt the lab makes.
func faultFirst(kind string) func(string) string {
	var mu sync.Mutex
	done := false
	return func(string) string {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return ""
		}
		done = true
		return kind
	}
}

// faultOnce injects kind into each run's first attempt only.
func faultOnce(kind string) func(string) string {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(run string) string {
		mu.Lock()
		defer mu.Unlock()
		if seen[run] {
			return ""
		}
		seen[run] = true
		return kind
	}
}

// An instrument error and a lost sample fail the run with a reason, measure
// nothing, and are recorded in the fault log and on the instrument.
func TestFaultsThatFailARun(t *testing.T) {
	for _, kind := range []string{labclient.FaultInstrumentError, labclient.FaultSampleLost} {
		t.Run(kind, func(t *testing.T) {
			e := start(t, lab.Config{FaultFunc: faultFirst(kind)})
			c := challenge(t, cb)
			r, err := e.c.Submit(ctx(t), req(c, c.Pool().Points[0], "f1"))
			if err != nil {
				t.Fatal(err)
			}
			r, err = e.c.Wait(ctx(t), r.ID, 2*time.Millisecond, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != labclient.Failed || r.Fault != kind || r.Result != nil || !strings.Contains(r.Error, "nothing was measured") {
				t.Fatalf("run after %s: %+v", kind, r)
			}
			if e.s.Measurements() != 0 {
				t.Errorf("%d measurements, want 0", e.s.Measurements())
			}
			fs, err := e.c.Faults(ctx(t), r.ID, 0)
			if err != nil || len(fs) != 1 || fs[0].Kind != kind || fs[0].Instrument != r.Instrument || fs[0].Message != r.Error {
				t.Fatalf("fault log: %+v %v", fs, err)
			}
			ins, _ := e.c.Instruments(ctx(t))
			total := 0
			for _, in := range ins {
				total += in.Faults
			}
			if total != 1 {
				t.Errorf("instrument fault counts %+v, want 1 in all", ins)
			}
			// Resubmitting the same key returns the failed run: no second attempt.
			again, err := e.c.Submit(ctx(t), req(c, c.Pool().Points[0], "f1"))
			if err != nil || again.ID != r.ID || again.Status != labclient.Failed {
				t.Errorf("resubmit: %+v %v", again, err)
			}
			// A new key runs it again (the fault hit only the first attempt).
			r2, err := e.c.Submit(ctx(t), req(c, c.Pool().Points[0], "f2"))
			if err != nil {
				t.Fatal(err)
			}
			if r2, err = e.c.Wait(ctx(t), r2.ID, 2*time.Millisecond, nil); err != nil || r2.Status != labclient.Succeeded {
				t.Errorf("retry with a new key: %+v %v", r2, err)
			}
		})
	}
}

// An instrument going offline interrupts its run, which is queued again on
// the other instrument and measured exactly once; the instrument shows as
// offline until its time is up, then takes runs again.
func TestInstrumentOffline(t *testing.T) {
	c := challenge(t, cb)
	ids := catalog(t).IDs()
	first := ""
	var mu sync.Mutex
	fault := func(run string) string {
		mu.Lock()
		defer mu.Unlock()
		if first == "" {
			first = run
			return labclient.FaultOffline
		}
		return ""
	}
	e := start(t, lab.Config{FaultFunc: fault, OfflineSeconds: 400, // 0.4 s at the test time scale
		Instruments: []lab.Instrument{{Name: "robot-1", Capacity: 1, Challenges: ids}, {Name: "robot-2", Capacity: 1, Challenges: ids}}})
	r, err := e.c.Submit(ctx(t), labclient.SubmitRequest{Challenge: cb, Parameters: c.Map(c.Pool().Points[3]), IdempotencyKey: "o1", Requester: "t", Instrument: "robot-1"})
	if err != nil {
		t.Fatal(err)
	}
	r, err = e.c.Wait(ctx(t), r.ID, 2*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != labclient.Succeeded || r.Attempts != 2 || r.Fault != labclient.FaultOffline || r.Instrument != "robot-2" {
		t.Fatalf("interrupted run: %+v", r)
	}
	if e.s.Measurements() != 1 {
		t.Errorf("%d measurements, want exactly 1", e.s.Measurements())
	}
	ins, _ := e.c.Instruments(ctx(t))
	if ins[0].Status != labclient.Offline || ins[0].OfflineUntil == nil || ins[0].Faults != 1 || ins[1].Status != labclient.Online {
		t.Errorf("instruments while robot-1 is offline: %+v", ins)
	}
	fs, _ := e.c.Faults(ctx(t), "", 0)
	if len(fs) != 1 || fs[0].Kind != labclient.FaultOffline || fs[0].Run != r.ID || !strings.Contains(fs[0].Message, "went offline") {
		t.Errorf("fault log: %+v", fs)
	}
	// Pinned to the offline robot, a run waits for it to come back.
	p, err := e.c.Submit(ctx(t), labclient.SubmitRequest{Challenge: cb, Parameters: c.Map(c.Pool().Points[4]), IdempotencyKey: "o2", Requester: "t", Instrument: "robot-1"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err = e.c.Wait(ctx(t), p.ID, 5*time.Millisecond, nil); err != nil || p.Status != labclient.Succeeded || p.Instrument != "robot-1" {
		t.Fatalf("run pinned to the offline instrument: %+v %v", p, err)
	}
	if ins, _ := e.c.Instruments(ctx(t)); ins[0].Status != labclient.Online {
		t.Errorf("robot-1 did not come back: %+v", ins[0])
	}
}

// With a single instrument, an offline fault makes the run wait for it.
func TestOfflineSingleInstrumentWaits(t *testing.T) {
	c := challenge(t, cb)
	e := start(t, lab.Config{FaultFunc: faultOnce(labclient.FaultOffline), OfflineSeconds: 100,
		Instruments: []lab.Instrument{{Name: "only", Capacity: 2, Challenges: catalog(t).IDs()}}})
	var runs []labclient.Run
	for i := range 3 {
		r, err := e.c.Submit(ctx(t), req(c, c.Pool().Points[i], "s"+string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	for _, r := range runs {
		got, err := e.c.Wait(ctx(t), r.ID, 2*time.Millisecond, nil)
		if err != nil || got.Status != labclient.Succeeded {
			t.Errorf("run %s: %+v %v", r.ID, got, err)
		}
	}
	if e.s.Measurements() != 3 {
		t.Errorf("%d measurements for 3 runs", e.s.Measurements())
	}
}

// With a token, every request but GET /health needs it.
func TestAuth(t *testing.T) {
	e := start(t, lab.Config{Token: "s3cret-token"})
	if resp, _ := e.get(t, "/health", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("/health without a token: %d", resp.StatusCode)
	}
	for _, path := range []string{"/runs", "/instruments", "/faults", "/openapi.json", "/runs/x", "/nowhere"} {
		for _, auth := range []string{"", "Bearer wrong", "s3cret-token", "Basic s3cret-token"} {
			resp, eb := e.get(t, path, auth)
			if resp.StatusCode != http.StatusUnauthorized || eb.Error.Code != labclient.CodeUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("GET %s with %q: %d %+v", path, auth, resp.StatusCode, eb)
			}
		}
	}
	if resp, _ := e.get(t, "/instruments", "Bearer s3cret-token"); resp.StatusCode != http.StatusOK {
		t.Errorf("with the token: %d", resp.StatusCode)
	}
	// The client: without a token it is told so (not as an agent refusal); with it, it works.
	_, err := e.c.Instruments(ctx(t))
	if labclient.ErrorCode(err) != labclient.CodeUnauthorized || labclient.IsRefused(err) {
		t.Errorf("client without a token: %v (refused %v)", err, labclient.IsRefused(err))
	}
	c := challenge(t, cb)
	r, err := e.c.WithToken("s3cret-token").Submit(ctx(t), req(c, c.Pool().Points[0], "a1"))
	if err != nil || r.ID == "" {
		t.Fatalf("submit with the token: %+v %v", r, err)
	}
}

// An emulator lab runs any point inside the bounds, measured or not, and
// still refuses points outside them.
func TestEmulatorLabRunsUnmeasuredPoints(t *testing.T) {
	e := start(t, lab.Config{})
	c := challenge(t, "suzuki-flow-yield")
	p := c.Sample(1, 99)[0]
	if _, ok := c.Pool().Lookup(c, p); ok {
		t.Fatal("sampled a measured point")
	}
	r, err := e.c.Submit(ctx(t), req(c, p, "emu"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err = e.c.Wait(ctx(t), r.ID, 2*time.Millisecond, nil); err != nil || r.Status != labclient.Succeeded || r.Result.Values["yield"] == 0 {
		t.Fatalf("unmeasured point: %+v %v", r, err)
	}
	m := c.Map(p)
	m["temperature"] = 500.0
	if _, err := e.c.Submit(ctx(t), labclient.SubmitRequest{Challenge: c.ID, Parameters: m, IdempotencyKey: "emu2", Requester: "t"}); labclient.ErrorCode(err) != labclient.CodeInvalidParameters {
		t.Errorf("out of bounds: %v", err)
	}
}
