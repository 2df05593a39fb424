package driver

import (
	"bytes"
	"math"
	"testing"
	"unicode/utf8"
)

func TestStampRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		id, seq uint32
		schedNs int64
	}{
		{name: "zero", id: 0, seq: 0, schedNs: 0},
		{name: "typical", id: 42, seq: 1234, schedNs: 1_500_000_000},
		{name: "max", id: math.MaxUint32, seq: math.MaxUint32, schedNs: math.MaxInt64},
		{name: "negative-sched", id: 7, seq: 9, schedNs: -1},
		{name: "min-sched", id: 1, seq: 2, schedNs: math.MinInt64},
	}
	for _, tc := range cases {
		for _, binaryFrames := range []bool{true, false} {
			name := tc.name + "/text"
			if binaryFrames {
				name = tc.name + "/binary"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				n := MinPayloadBytes(binaryFrames) + 10
				p := newPayload(n)
				tail := append([]byte(nil), p[MinPayloadBytes(binaryFrames):]...)
				stamp(p, binaryFrames, tc.id, tc.seq, tc.schedNs)
				id, seq, sched, ok := readStamp(p, binaryFrames)
				if !ok || id != tc.id || seq != tc.seq || sched != tc.schedNs {
					t.Errorf("readStamp = %d, %d, %d, %v; want %d, %d, %d, true", id, seq, sched, ok, tc.id, tc.seq, tc.schedNs)
				}
				if !bytes.Equal(p[MinPayloadBytes(binaryFrames):], tail) {
					t.Error("stamp wrote past the stamp")
				}
				if binaryFrames {
					return
				}
				if !utf8.Valid(p) {
					t.Errorf("text payload is not valid UTF-8: %q", p)
				}
				for _, c := range p[:MinPayloadBytes(false)] {
					if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
						t.Fatalf("text stamp %q is not lowercase hex", p[:MinPayloadBytes(false)])
					}
				}
			})
		}
	}
}

func TestReadStampRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		p            []byte
		binaryFrames bool
	}{
		{name: "binary-short", p: make([]byte, MinPayloadBytes(true)-1), binaryFrames: true},
		{name: "binary-empty", p: nil, binaryFrames: true},
		{name: "text-short", p: bytes.Repeat([]byte("0"), MinPayloadBytes(false)-1)},
		{name: "text-not-hex", p: bytes.Repeat([]byte("zz"), MinPayloadBytes(false))},
		{name: "text-binary-stamp", p: make([]byte, MinPayloadBytes(false))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, _, _, ok := readStamp(tc.p, tc.binaryFrames); ok {
				t.Errorf("readStamp(%q, binary=%v) accepted it", tc.p, tc.binaryFrames)
			}
		})
	}
}

func TestMinPayloadBytes(t *testing.T) {
	t.Parallel()
	if got := MinPayloadBytes(true); got != 16 {
		t.Errorf("MinPayloadBytes(binary) = %d, want 16", got)
	}
	if got := MinPayloadBytes(false); got != 32 {
		t.Errorf("MinPayloadBytes(text) = %d, want 32", got)
	}
}

func TestStampAllocatesNothing(t *testing.T) {
	p := newPayload(64)
	for _, binaryFrames := range []bool{true, false} {
		allocs := testing.AllocsPerRun(100, func() {
			stamp(p, binaryFrames, 1, 2, 3)
			if _, _, _, ok := readStamp(p, binaryFrames); !ok {
				t.Fatal("readStamp failed")
			}
		})
		if allocs != 0 {
			t.Errorf("stamp+readStamp (binary=%v) allocate %v times, want 0", binaryFrames, allocs)
		}
	}
}

func FuzzReadStamp(f *testing.F) {
	good := newPayload(40)
	stamp(good, false, 5, 6, 7)
	f.Add(good, false)
	bin := newPayload(20)
	stamp(bin, true, 5, 6, 7)
	f.Add(bin, true)
	f.Add([]byte{}, true)
	f.Add([]byte("0123456789ABCDEF0123456789abcdefXX"), false)
	f.Fuzz(func(t *testing.T, p []byte, binaryFrames bool) {
		id, seq, sched, ok := readStamp(p, binaryFrames)
		if !ok {
			if len(p) >= MinPayloadBytes(binaryFrames) && binaryFrames {
				t.Fatalf("binary stamp of %d bytes rejected", len(p))
			}
			return
		}
		n := MinPayloadBytes(binaryFrames)
		if len(p) < n {
			t.Fatalf("accepted a %d-byte payload, shorter than %d", len(p), n)
		}
		// Stamping the decoded values again gives back the same prefix (hex
		// case aside: stamp writes lowercase, readStamp accepts both).
		q := make([]byte, n)
		stamp(q, binaryFrames, id, seq, sched)
		if binaryFrames && !bytes.Equal(q, p[:n]) || !binaryFrames && !bytes.EqualFold(q, p[:n]) {
			t.Fatalf("re-stamp %q differs from input prefix %q", q, p[:n])
		}
	})
}
