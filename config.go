package chatring

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Backend names accepted in Config.Backend. See the package documentation
// for when to pick each.
const (
	// BackendMutex is the mutex ring (package ringbuf): simplest, no
	// allocations, and in our benchmarks the fastest or close to it in
	// most workloads. The default.
	BackendMutex = "mutex"
	// BackendLockFree is the lock-free ring (package lockfree): no lock
	// anywhere on the Messages, Window or Clear path, nor on Append's for a
	// message without an ID, so a preempted goroutine delays nobody there.
	// It allocates per Append and, in our benchmarks, is slower than the
	// mutex ring in most workloads with appends.
	BackendLockFree = "lockfree"
	// BackendSharded is the sharded ring (package sharded): writers spread
	// over several mutex rings. In our benchmarks it appends faster than
	// the mutex ring with many goroutines appending through History, and
	// its snapshots are the slowest.
	BackendSharded = "sharded"
)

// Backends returns the names accepted in Config.Backend, the default first.
// The slice is a new copy on every call.
func Backends() []string {
	return []string{BackendMutex, BackendLockFree, BackendSharded}
}

// Defaults used by New and ParseConfig for zero or absent Config fields.
const (
	// DefaultBackend is the ring of a Config without Backend: the mutex
	// ring.
	DefaultBackend = BackendMutex
	// DefaultMaxTurns is the window size of a Config without MaxTurns, in
	// turns: 20 messages, the seed's max_turns.
	DefaultMaxTurns = 10
	// DefaultMaxTokens is the token budget of Window(ctx, 0) for a Config
	// without MaxTokens.
	DefaultMaxTokens = 4096
	// DefaultMaxMessageBytes is the longest content accepted by a History
	// whose Config has no MaxMessageBytes: 32 KiB of UTF-8.
	DefaultMaxMessageBytes = 32 << 10
	// DefaultIdleTTL is how long a Store keeps a conversation that is
	// neither written nor read.
	DefaultIdleTTL = 24 * time.Hour
	// DefaultMaxConversations is how many conversations a MemoryStore
	// holds before it evicts one.
	DefaultMaxConversations = 100_000
)

// Upper limits of the Config fields. They keep a typo in a config file from
// turning into gigabytes of memory: a history holds at most
// 2 × MaxTurns × MaxMessageBytes bytes of content (times Shards for the
// sharded backend, see the package documentation).
const (
	// MaxMaxTurns is the largest Config.MaxTurns: a window of 20 000
	// messages.
	MaxMaxTurns = 10_000
	// MaxMaxTokens is the largest Config.MaxTokens.
	MaxMaxTokens = 10_000_000
	// MaxMaxMessageBytes is the largest Config.MaxMessageBytes: 1 MiB.
	MaxMaxMessageBytes = 1 << 20
	// MaxShards is the largest Config.Shards; the sharded backend's
	// default, GOMAXPROCS, is capped at the same 64.
	MaxShards = 64
	// MinIdleTTL is the shortest Config.IdleTTL: a millisecond, the
	// resolution of Redis expiry.
	MinIdleTTL = time.Millisecond
	// MaxIdleTTL is the longest Config.IdleTTL: ten years, longer than any
	// service keeps an idle session.
	MaxIdleTTL = 10 * 365 * 24 * time.Hour
	// MaxMaxConversations is the largest Config.MaxConversations.
	MaxMaxConversations = 100_000_000
)

// Config configures a History. It is a plain struct, loadable from JSON
// with ParseConfig; the zero value is valid and means every default:
// the mutex backend, 10 turns, a 4096-token budget, 32 KiB messages.
// In New, a zero field means its default and a negative one is
// ErrInvalidConfig; in a config file, fields are optional but an explicit
// zero is an error too (see ParseConfig).
type Config struct {
	// Backend names the ring that stores the window: "mutex" (default),
	// "lockfree" or "sharded". See Backends and the package documentation.
	Backend string `json:"backend,omitempty"`
	// MaxTurns is the window size in turns; the window keeps the newest
	// 2 × MaxTurns messages, as a turn is a user message and its reply.
	// Default 10, at most MaxMaxTurns.
	MaxTurns int `json:"max_turns,omitempty"`
	// MaxTokens is the token budget History.Window uses when called with
	// 0. Default 4096, at most MaxMaxTokens. It does not limit what is
	// stored: the window is bounded by MaxTurns, the budget only trims
	// what Window returns.
	MaxTokens int `json:"max_tokens,omitempty"`
	// MaxMessageBytes is the longest content Append and SetSystemPrompt
	// accept, in bytes of UTF-8 (not runes, not tokens). Default 32 KiB,
	// at most MaxMaxMessageBytes (1 MiB).
	MaxMessageBytes int `json:"max_message_bytes,omitempty"`
	// Shards is the number of sub-rings of the sharded backend. Default:
	// GOMAXPROCS when New runs, at most MaxShards. Setting it with another
	// backend is an error, since it would be silently ignored.
	Shards int `json:"shards,omitempty"`
	// IdleTTL is how long a Store keeps a conversation that is neither
	// written nor read: after IdleTTL without an Append, Messages, Window,
	// SetSystemPrompt or Clear on it, the conversation is deleted as if by
	// Delete. Default 24h, between MinIdleTTL and MaxIdleTTL. In JSON it is
	// a Go duration string ("30m", "24h"). A History ignores it.
	IdleTTL time.Duration `json:"idle_ttl,omitempty"`
	// MaxConversations bounds the conversations a MemoryStore holds;
	// beyond it the store evicts the one least likely to be used again
	// (see MemoryStore). Default 100 000, at most MaxMaxConversations. A
	// History and stores backed by another service ignore it.
	MaxConversations int `json:"max_conversations,omitempty"`
}

// MarshalJSON encodes c with the keys ParseConfig reads, idle_ttl as a
// duration string. Zero fields are left out, as ParseConfig rejects an
// explicit zero, so the result parses back to c with its zero fields set
// to their defaults (Shards stays 0): to c itself when c has no zero
// fields, such as a Config that ParseConfig returned.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config // without this method
	v := struct {
		plain
		IdleTTL string `json:"idle_ttl,omitempty"`
	}{plain: plain(c)}
	if c.IdleTTL != 0 {
		v.IdleTTL = c.IdleTTL.String()
	}
	return json.Marshal(v)
}

// UnmarshalJSON parses data exactly as ParseConfig does (strictly, with
// the defaults filled in), so a Config read with encoding/json is checked
// too.
func (c *Config) UnmarshalJSON(data []byte) error {
	parsed, err := ParseConfig(data)
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}

// withDefaults returns c with its zero fields set to their defaults.
// Shards stays 0 (the sharded backend picks it).
func (c Config) withDefaults() Config {
	if c.Backend == "" {
		c.Backend = DefaultBackend
	}
	if c.MaxTurns == 0 {
		c.MaxTurns = DefaultMaxTurns
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.IdleTTL == 0 {
		c.IdleTTL = DefaultIdleTTL
	}
	if c.MaxConversations == 0 {
		c.MaxConversations = DefaultMaxConversations
	}
	return c
}

// WithDefaults returns c with its zero fields set to their defaults (see
// the Default constants), as New and NewMemoryStore use it; Shards stays 0
// (the sharded backend picks it). It does not validate c. Store
// implementations outside this package use it so that their defaults are
// History's.
func (c Config) WithDefaults() Config { return c.withDefaults() }

// Validate reports whether New would accept c: every field zero (meaning
// its default) or within its limits, and a known backend. The error wraps
// ErrInvalidConfig and is a *ValidationError naming the first bad field.
func (c Config) Validate() error {
	switch c.Backend {
	case "", BackendMutex, BackendLockFree, BackendSharded:
	default:
		return configError("backend", fmt.Sprintf("unknown backend %q, want one of %s",
			c.Backend, strings.Join(Backends(), ", ")))
	}
	for _, f := range []struct {
		name   string
		v, max int
	}{
		{"max_turns", c.MaxTurns, MaxMaxTurns},
		{"max_tokens", c.MaxTokens, MaxMaxTokens},
		{"max_message_bytes", c.MaxMessageBytes, MaxMaxMessageBytes},
		{"shards", c.Shards, MaxShards},
		{"max_conversations", c.MaxConversations, MaxMaxConversations},
	} {
		if f.v < 0 {
			return configError(f.name, fmt.Sprintf("must not be negative, got %d", f.v))
		}
		if f.v > f.max {
			return configError(f.name, fmt.Sprintf("%d is above the limit %d", f.v, f.max))
		}
	}
	switch {
	case c.IdleTTL < 0:
		return configError("idle_ttl", fmt.Sprintf("must not be negative, got %v", c.IdleTTL))
	case c.IdleTTL != 0 && c.IdleTTL < MinIdleTTL:
		return configError("idle_ttl", fmt.Sprintf("%v is below the minimum %v", c.IdleTTL, MinIdleTTL))
	case c.IdleTTL > MaxIdleTTL:
		return configError("idle_ttl", fmt.Sprintf("%v is above the limit %v", c.IdleTTL, MaxIdleTTL))
	}
	if c.Shards != 0 && c.Backend != BackendSharded {
		return configError("shards", fmt.Sprintf("only applies to backend %q, not %q",
			BackendSharded, c.withDefaults().Backend))
	}
	return nil
}

func configError(field, reason string) error {
	return &ValidationError{Field: field, Reason: reason, Err: ErrInvalidConfig}
}

// ParseConfig parses a JSON config file, checks it with Validate and
// returns it with the defaults filled in for absent fields (Shards stays 0:
// the sharded backend's default).
//
// It is stricter than Validate on a Config built in Go, because a config
// file that says something odd is more likely a mistake than a wish for the
// default: it rejects, with ErrInvalidConfig, unknown fields (including the
// Python tutorial's enable_logging, enable_metrics, thread_safe and
// max_retries, which have no meaning here), fields that are null or
// explicitly 0 or "", negative or over-limit values, unknown backends,
// values of the wrong JSON type, anything after the top-level object, and
// a key that appears twice. Keys are compared the way encoding/json matches
// them to fields, ignoring case, so {"max_turns": 1, "MAX_TURNS": 2} is a
// duplicate too; the error is a *ValidationError naming the field and the
// repeated key.
// An empty object {} is valid and means all defaults.
func ParseConfig(data []byte) (Config, error) {
	if b := bytes.TrimLeft(data, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return Config{}, configError("", "want a JSON object")
	}
	if err := checkDuplicateKeys(data); err != nil {
		return Config{}, err
	}
	var f configFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Config{}, decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Config{}, configError("", "unexpected data after the JSON object")
	}
	var c Config
	if err := f.Backend.get("backend", &c.Backend); err != nil {
		return Config{}, err
	}
	var ttl string
	if err := f.IdleTTL.get("idle_ttl", &ttl); err != nil {
		return Config{}, err
	}
	if ttl != "" {
		d, err := time.ParseDuration(ttl)
		if err != nil {
			return Config{}, configError("idle_ttl", fmt.Sprintf("not a duration such as \"30m\" or \"24h\": %v", err))
		}
		if d == 0 {
			return Config{}, configError("idle_ttl", "explicit zero; leave the field out for the default")
		}
		c.IdleTTL = d
	}
	for _, p := range []struct {
		name string
		f    *field[int]
		dst  *int
	}{
		{"max_turns", &f.MaxTurns, &c.MaxTurns},
		{"max_tokens", &f.MaxTokens, &c.MaxTokens},
		{"max_message_bytes", &f.MaxMessageBytes, &c.MaxMessageBytes},
		{"shards", &f.Shards, &c.Shards},
		{"max_conversations", &f.MaxConversations, &c.MaxConversations},
	} {
		if err := p.f.get(p.name, p.dst); err != nil {
			return Config{}, err
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c.withDefaults(), nil
}

// decodeError turns an error of ParseConfig's strict decode into a
// *ValidationError for the key it is about: an unknown key, or a value of
// the wrong JSON type; Field is "" for broken JSON.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		want := "a " + typeErr.Type.String()
		switch typeErr.Type.Kind() {
		case reflect.Int:
			want = "an integer"
		case reflect.String:
			want = "a string"
		}
		return configError(typeErr.Field, fmt.Sprintf("JSON %s, want %s", typeErr.Value, want))
	case errors.As(err, &syntaxErr):
		return configError("", fmt.Sprintf("broken JSON at byte %d: %v", syntaxErr.Offset, syntaxErr))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return configError("", "unexpected end of the JSON input")
	}
	// encoding/json reports an unknown key as `json: unknown field "k"`.
	if q, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if key, uerr := strconv.Unquote(q); uerr == nil {
			return configError(key, "unknown field; the fields are "+strings.Join(configKeys[:], ", "))
		}
	}
	return configError("", err.Error())
}

// configKeys are the JSON names of the configFile fields, for
// checkDuplicateKeys. TestParseConfigRejectsDuplicateOfEveryField fails if
// a field of Config is missing here.
var configKeys = [...]string{"backend", "max_turns", "max_tokens", "max_message_bytes", "shards",
	"idle_ttl", "max_conversations"}

// checkDuplicateKeys reports a key of the top-level object of data that
// names the same configFile field as an earlier key. encoding/json would
// silently keep the last value. It compares keys with strings.EqualFold,
// as encoding/json does when it matches a key to a field (so "MAX_TURNS"
// and "max_\u0074urns" are max_turns too). Only the top level is checked:
// Config is flat, and a nested value is rejected later as the wrong type.
//
// It returns nil for anything other than a duplicate, leaving unknown keys,
// broken JSON and the rest to the strict decode in ParseConfig, so those
// keep their errors. As only a known key can be a duplicate, it keeps one
// string per field and never grows.
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var seen [len(configKeys)]string // the key that set each field, "" if none yet
	var value json.RawMessage        // reused to skip values
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			return nil
		}
		for i, name := range configKeys {
			if !strings.EqualFold(key, name) {
				continue
			}
			if first := seen[i]; first != "" {
				reason := fmt.Sprintf("duplicate key %q", key)
				if key != first {
					reason += fmt.Sprintf(" (same field as %q: keys are matched ignoring case)", first)
				}
				return configError(name, reason)
			}
			seen[i] = key
			break
		}
		if err := dec.Decode(&value); err != nil {
			return nil
		}
	}
	return nil
}

// configFile is the JSON shape of Config, with presence tracking so that
// ParseConfig can tell an absent field from an explicit zero or null.
type configFile struct {
	Backend          field[string] `json:"backend"`
	MaxTurns         field[int]    `json:"max_turns"`
	MaxTokens        field[int]    `json:"max_tokens"`
	MaxMessageBytes  field[int]    `json:"max_message_bytes"`
	Shards           field[int]    `json:"shards"`
	IdleTTL          field[string] `json:"idle_ttl"`
	MaxConversations field[int]    `json:"max_conversations"`
}

// field is a JSON value that remembers whether it was present and null.
type field[T comparable] struct {
	set, null bool
	v         T
}

// UnmarshalJSON implements json.Unmarshaler. encoding/json calls it for a
// present field even when its value is null.
func (f *field[T]) UnmarshalJSON(b []byte) error {
	f.set = true
	if string(b) == "null" {
		f.null = true
		return nil
	}
	return json.Unmarshal(b, &f.v)
}

// get stores f's value in dst, rejecting an explicit null or zero value.
func (f *field[T]) get(name string, dst *T) error {
	if !f.set {
		return nil
	}
	var zero T
	if f.null {
		return configError(name, "null; leave the field out for the default")
	}
	if f.v == zero {
		return configError(name, fmt.Sprintf("explicit %#v; leave the field out for the default", zero))
	}
	*dst = f.v
	return nil
}
