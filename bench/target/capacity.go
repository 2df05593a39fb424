package target

import (
	"sync"
	"time"
)

// bucket paces the server's echoes to a rate over all its connections, a
// token bucket in its GCRA form: each frame takes the next slot of 1/rate,
// a short burst (capacityBurst of them) may go at once, and a frame beyond
// waits its turn, so past the capacity latency grows as in a saturated
// server, without frames being dropped.
type bucket struct {
	mu       sync.Mutex
	interval time.Duration
	burst    time.Duration
	tat      time.Time // the theoretical arrival time of the next frame
}

// capacityBurst is how many frames may go at once: 10 ms of the rate, at least one.
const capacityBurst = 10 * time.Millisecond

func newBucket(rate float64) *bucket {
	iv := max(time.Duration(float64(time.Second)/rate), time.Nanosecond)
	return &bucket{interval: iv, burst: max(capacityBurst, iv) - iv}
}

// reserve takes the next slot and returns when its frame may go (now, or later).
func (b *bucket) reserve(now time.Time) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tat.Before(now) {
		b.tat = now
	}
	at := b.tat.Add(-b.burst)
	b.tat = b.tat.Add(b.interval)
	if at.Before(now) {
		return now
	}
	return at
}
