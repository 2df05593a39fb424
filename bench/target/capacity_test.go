package target

import (
	"testing"
	"time"
)

// TestBucketPacesToItsRate: a burst of 10 ms of the rate goes at once; the
// rest leave one interval apart, so a thousand frames at once at 1000/s
// take about a second, none dropped.
func TestBucketPacesToItsRate(t *testing.T) {
	b := newBucket(1000)
	now := time.Unix(1000, 0)
	var last time.Time
	for i := range 1000 {
		at := b.reserve(now)
		if i < 10 && !at.Equal(now) {
			t.Fatalf("frame %d of the burst waits %v", i, at.Sub(now))
		}
		if i > 0 && at.Before(last) {
			t.Fatalf("frame %d goes before frame %d", i, i-1)
		}
		last = at
	}
	if got := last.Sub(now); got < 980*time.Millisecond || got > time.Second {
		t.Fatalf("1000 frames at 1000/s take %v", got)
	}
	// Idle time does not bank more than the burst.
	later := now.Add(time.Hour)
	for i := range 20 {
		if at := b.reserve(later); i >= 11 && !at.After(later) {
			t.Fatalf("after an idle hour, frame %d goes at once: the burst grew", i)
		}
	}
}

func TestCapacityConfig(t *testing.T) {
	for _, c := range []Config{{Capacity: -1}, {Capacity: 10, Rooms: 3}, {Capacity: 10, PushRate: 1}} {
		if c.Validate() == nil {
			t.Errorf("%+v was accepted", c)
		}
	}
}
