package resilient

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"

	"github.com/chatring/chatring"
)

// IDPrefix begins every Message.ID the Store generates for an Append
// without one. The Store generates an ID before the first attempt, so
// that a retry after an ambiguous failure (the request reached the
// primary, the reply was lost) finds the first attempt's message instead
// of storing it twice, and so that the outbox replays idempotently.
//
// A generated ID is an implementation detail of the retry: the Store
// returns such messages with ID "" from Append, Messages and Window, as
// the caller sent them, except with an error (ErrUnavailable or
// ErrBuffered), where it returns the ID so that the caller can retry
// with it. An ID with this prefix that a caller sends (such a retry) is
// accepted and read back as "" too. Readers of the primary that do not
// go through a Store of this package see the generated IDs.
const IDPrefix = "~resilient."

// newID returns IDPrefix and 128 random bits in hex: 43 bytes of
// printable ASCII, within chatring.MaxIDBytes. The bits come from the
// runtime's per-thread ChaCha8 generator, seeded from the OS.
func newID() string {
	var b [len(IDPrefix) + 32]byte
	copy(b[:], IDPrefix)
	var r [16]byte
	for i := range 2 {
		u := rand.Uint64()
		for j := range 8 {
			r[8*i+j] = byte(u >> (8 * j))
		}
	}
	hex.Encode(b[len(IDPrefix):], r[:])
	return string(b[:])
}

// generated reports whether id was made by newID (or has its prefix).
func generated(id string) bool { return strings.HasPrefix(id, IDPrefix) }

// hide clears the generated IDs of msgs in place.
func hide(msgs []chatring.Message) {
	for i := range msgs {
		if generated(msgs[i].ID) {
			msgs[i].ID = ""
		}
	}
}

// hidden returns m with a generated ID cleared.
func hidden(m chatring.Message) chatring.Message {
	if generated(m.ID) {
		m.ID = ""
	}
	return m
}
