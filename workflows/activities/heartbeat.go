package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// HeartbeatEvery heartbeats on a timer while fn runs, so a slow model call
// (a slow first token) never looks like a dead worker.
func HeartbeatEvery(ctx context.Context, d time.Duration, details func() any) func() {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, details())
			}
		}
	}()
	return func() { close(done) }
}

// pollHeartbeat returns what a polling activity calls on every poll: it
// heartbeats when the details change, and otherwise at most every d.
func pollHeartbeat(ctx context.Context, d time.Duration) func(details string) {
	return onChangeOrEvery(d, func(details string) { Heartbeat(ctx, details) })
}

// onChangeOrEvery passes a value on to send when it differs from the last
// one sent, or when d has passed since.
func onChangeOrEvery(d time.Duration, send func(string)) func(string) {
	var last string
	var at time.Time
	return func(v string) {
		if v == last && !at.IsZero() && time.Since(at) < d {
			return
		}
		last, at = v, time.Now()
		send(v)
	}
}

// Heartbeat records progress when ctx is an activity's; the lab and
// optimiser steps may also be called directly (the eval benchmark's
// baseline), where there is nothing to report to.
func Heartbeat(ctx context.Context, details any) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, details)
	}
}

// workerStopping reports whether the activity's context ends because the
// worker is shutting down rather than because the workflow cancelled it.
func workerStopping(ctx context.Context) bool {
	select {
	case <-activity.GetWorkerStopChannel(ctx):
		return true
	default:
		return false
	}
}

// pollOrDefault is how often to poll: every d, or every 200 ms when d is
// not set.
func pollOrDefault(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return 200 * time.Millisecond
}
