package activities

import (
	"strings"
	"testing"
	"time"
)

// A polling activity heartbeats when its status changes, and otherwise
// only now and then.
func TestOnChangeOrEvery(t *testing.T) {
	var sent []string
	beat := onChangeOrEvery(time.Hour, func(v string) { sent = append(sent, v) })
	for _, v := range []string{"queued", "queued", "running", "running", "running", "done"} {
		beat(v)
	}
	if got := strings.Join(sent, ","); got != "queued,running,done" {
		t.Errorf("sent %s", got)
	}
	sent = nil
	beat = onChangeOrEvery(0, func(v string) { sent = append(sent, v) })
	beat("running")
	beat("running")
	if len(sent) != 2 {
		t.Errorf("after the interval the same status should go again: sent %q", sent)
	}
}
