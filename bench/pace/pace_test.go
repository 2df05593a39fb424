package pace

import (
	"testing"
	"time"
)

func TestConstant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    Constant
		i    int64
		want time.Duration
	}{
		{"first", Constant{Rate: 1000}, 0, 0},
		{"thousandth", Constant{Rate: 1000}, 1000, time.Second},
		{"half rate", Constant{Rate: 2}, 3, 1500 * time.Millisecond},
		{"unpaced", Constant{Rate: 0}, 12345, 0},
		{"offset", Constant{Rate: 10, Offset: 5 * time.Millisecond}, 1, 105 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.At(tc.i); got != tc.want {
				t.Fatalf("At(%d) = %v, want %v", tc.i, got, tc.want)
			}
		})
	}
}

func TestRampCountsMatchRate(t *testing.T) {
	t.Parallel()
	r := Ramp{From: 0, To: 100, Over: 10 * time.Second}
	// Over the ramp, (0+100)/2*10 = 500 events are due.
	if got := r.At(500); got != 10*time.Second {
		t.Fatalf("event 500 due at %v, want 10s", got)
	}
	// After the ramp, events come at To.
	if got := r.At(600) - r.At(500); got != time.Second {
		t.Fatalf("100 events after the ramp took %v, want 1s", got)
	}
	// The schedule never goes backwards.
	prev := time.Duration(-1)
	for i := int64(0); i < 700; i++ {
		at := r.At(i)
		if at < prev {
			t.Fatalf("At(%d)=%v before At(%d)=%v", i, at, i-1, prev)
		}
		prev = at
	}
}
