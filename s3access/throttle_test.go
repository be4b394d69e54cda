package s3access

import (
	"context"
	"testing"
	"time"
)

// A throttled answer halves what was really in flight, not a ceiling far
// above it, and only once per round trip.
func TestAIMDCutsFromRequestsInFlight(t *testing.T) {
	t.Parallel()
	l := newAIMDLimiter(aimdCeiling)
	ctx := context.Background()
	var sent []time.Time
	for range 64 {
		at, err := l.acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, at)
	}
	time.Sleep(time.Millisecond)
	l.release(sent[0], true)
	if got := l.current(); got != 32 {
		t.Fatalf("limit after a throttle with 64 in flight = %d, want 32", got)
	}
	// Answers to requests sent before the cut say nothing new.
	l.release(sent[1], true)
	if got := l.current(); got != 32 {
		t.Errorf("limit after a second throttle of the same round trip = %d, want 32", got)
	}
	for _, at := range sent[2:] {
		l.release(at, false)
	}
	// A request sent after the cut and throttled cuts again, from the one
	// request now in flight.
	at, err := l.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l.release(at, true)
	if got := l.current(); got != 1 {
		t.Errorf("limit after a throttle with 1 in flight = %d, want 1", got)
	}
}
