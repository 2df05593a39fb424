package driver

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
)

// ErrEchoMismatch is an echoed frame that differs from the frame sent.
var ErrEchoMismatch = errors.New("echoed frame differs from the frame sent")

// stampBytes is the size of the binary stamp: connection id (4), sequence (4)
// and scheduled send time in ns since steady state began (8).
const stampBytes = 16

// MinPayloadBytes is the smallest frame that can carry the stamp: 16 bytes in
// binary frames, 32 in text frames (hex, so the frame stays valid UTF-8).
func MinPayloadBytes(binaryFrames bool) int {
	if binaryFrames {
		return stampBytes
	}
	return 2 * stampBytes
}

// newPayload returns a payload of n bytes filled with a printable pattern.
func newPayload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return p
}

// stamp writes the frame's identity into the start of p without allocating.
func stamp(p []byte, binaryFrames bool, id, seq uint32, schedNs int64) {
	var b [stampBytes]byte
	binary.BigEndian.PutUint32(b[0:4], id)
	binary.BigEndian.PutUint32(b[4:8], seq)
	binary.BigEndian.PutUint64(b[8:16], uint64(schedNs))
	if binaryFrames {
		copy(p, b[:])
		return
	}
	hex.Encode(p[:2*stampBytes], b[:])
}

// readStamp decodes a stamp written by stamp.
func readStamp(p []byte, binaryFrames bool) (id, seq uint32, schedNs int64, ok bool) {
	var b [stampBytes]byte
	if binaryFrames {
		if len(p) < stampBytes {
			return 0, 0, 0, false
		}
		copy(b[:], p)
	} else {
		if len(p) < 2*stampBytes {
			return 0, 0, 0, false
		}
		if _, err := hex.Decode(b[:], p[:2*stampBytes]); err != nil {
			return 0, 0, 0, false
		}
	}
	return binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint32(b[4:8]), int64(binary.BigEndian.Uint64(b[8:16])), true
}
