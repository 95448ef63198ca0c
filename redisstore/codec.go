package redisstore

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chatring/chatring"
)

// ErrFormat reports data in Redis, or a reply from it, that this package
// cannot read: a conversation written in another FormatVersion, a message
// that is not the JSON object FORMAT.md describes, or a script reply of
// an unexpected shape. It is permanent: retrying cannot help.
var ErrFormat = errors.New("redisstore: stored data in an unknown format")

// unsequenced is a Message encoded without its "seq" member: the outer
// Seq field, nil and omitted, hides Message.Seq from encoding/json (the
// shallower of two fields with one JSON name wins). append.lua writes
// "seq" itself, as the first member, once Redis has given the number.
// Every other field of Message is encoded under its own JSON name, so
// fields added to Message are stored without a change here.
type unsequenced struct {
	chatring.Message
	Seq *struct{} `json:"seq,omitempty"`
}

// encodeMessage returns m as append.lua's ARGV[1]: a JSON object without
// "seq".
func encodeMessage(m chatring.Message) ([]byte, error) {
	return json.Marshal(unsequenced{Message: m})
}

// decodeMessage decodes one stored message (or the stored prompt).
func decodeMessage(op, stored string) (chatring.Message, error) {
	var m chatring.Message
	if err := json.Unmarshal([]byte(stored), &m); err != nil {
		return chatring.Message{}, fmt.Errorf("redisstore: %s: %w: a stored message does not decode: %w", op, ErrFormat, err)
	}
	return m, nil
}

// replyError reports a script reply of an unexpected shape.
func replyError(op string, reply any) error {
	return fmt.Errorf("redisstore: %s: %w: unexpected script reply of type %T", op, ErrFormat, reply)
}
