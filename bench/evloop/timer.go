package evloop

// Timer is a due time in a loop's timer heap. It lives inside its owner's
// own state (no allocation to schedule it); F runs on the loop goroutine when
// it is due. The zero Timer is not scheduled.
type Timer struct {
	// F is called, on the loop goroutine, with the loop's clock reading, once
	// the timer is due.
	F func(now int64)
	// when is the due time in nanoseconds on the loop's clock; seq orders
	// timers due at the same time (and tells those scheduled while the
	// loop fires timers); i is its index in the heap plus one (0: not
	// scheduled).
	when int64
	seq  uint64
	i    int
}

// before orders timers by due time, then by when they were scheduled.
func (t *Timer) before(u *Timer) bool {
	return t.when < u.when || t.when == u.when && t.seq < u.seq
}

// Scheduled reports whether the timer is in a heap.
func (t *Timer) Scheduled() bool { return t.i > 0 }

// When returns the due time on the loop's clock (meaningful while scheduled).
func (t *Timer) When() int64 { return t.when }

// timerHeap is a binary min-heap of timers by due time.
type timerHeap []*Timer

func (h *timerHeap) push(t *Timer) {
	*h = append(*h, t)
	t.i = len(*h)
	h.up(t.i - 1)
}

func (h *timerHeap) remove(t *Timer) {
	i := t.i - 1
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	t.i = 0
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
}

// fix restores the heap after t's due time changed.
func (h *timerHeap) fix(t *Timer) {
	if !h.down(t.i - 1) {
		h.up(t.i - 1)
	}
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].i, h[j].i = i+1, j+1
}

func (h timerHeap) up(j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !h[j].before(h[p]) {
			return
		}
		h.swap(p, j)
		j = p
	}
}

func (h timerHeap) down(i0 int) bool {
	i := i0
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h[r].before(h[l]) {
			j = r
		}
		if !h[j].before(h[i]) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
