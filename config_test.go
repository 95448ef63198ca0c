package chatring_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
)

func TestParseConfig(t *testing.T) {
	defaults := chatring.Config{Backend: "mutex", MaxTurns: 10, MaxTokens: 4096, MaxMessageBytes: 32 << 10,
		IdleTTL: 24 * time.Hour, MaxConversations: 100_000}
	tests := []struct {
		name string
		json string
		want chatring.Config
	}{
		{"empty object means defaults", `{}`, defaults},
		{"white space around", " \n{}\n\t", defaults},
		{"every field", `{"backend": "sharded", "max_turns": 5, "max_tokens": 2048,
			"max_message_bytes": 1024, "shards": 4, "idle_ttl": "90m", "max_conversations": 7}`,
			chatring.Config{Backend: "sharded", MaxTurns: 5, MaxTokens: 2048, MaxMessageBytes: 1024, Shards: 4,
				IdleTTL: 90 * time.Minute, MaxConversations: 7}},
		{"lockfree", `{"backend": "lockfree"}`,
			chatring.Config{Backend: "lockfree", MaxTurns: 10, MaxTokens: 4096, MaxMessageBytes: 32 << 10,
				IdleTTL: 24 * time.Hour, MaxConversations: 100_000}},
		{"at the limits", `{"max_turns": 10000, "max_tokens": 10000000, "max_message_bytes": 1048576,
			"idle_ttl": "87600h", "max_conversations": 100000000}`,
			chatring.Config{Backend: "mutex", MaxTurns: 10000, MaxTokens: 10000000, MaxMessageBytes: 1 << 20,
				IdleTTL: chatring.MaxIdleTTL, MaxConversations: chatring.MaxMaxConversations}},
		{"shortest idle ttl", `{"idle_ttl": "1ms"}`, func() chatring.Config { c := defaults; c.IdleTTL = time.Millisecond; return c }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chatring.ParseConfig([]byte(tt.json))
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseConfig (-want +got):\n%s", diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate of a parsed config: %v", err)
			}
		})
	}
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		field string // ValidationError.Field, "" when the JSON itself is bad
	}{
		{"unknown field", `{"max_turn": 5}`, "max_turn"},
		{"seed field enable_logging", `{"enable_logging": true}`, "enable_logging"},
		{"seed field max_retries", `{"max_retries": 3}`, "max_retries"},
		{"unknown backend", `{"backend": "redis"}`, "backend"},
		{"backend wrong case", `{"backend": "Mutex"}`, "backend"},
		{"explicit empty backend", `{"backend": ""}`, "backend"},
		{"null backend", `{"backend": null}`, "backend"},
		{"zero max_turns", `{"max_turns": 0}`, "max_turns"},
		{"negative max_turns", `{"max_turns": -1}`, "max_turns"},
		{"max_turns over limit", `{"max_turns": 10001}`, "max_turns"},
		{"null max_turns", `{"max_turns": null}`, "max_turns"},
		{"zero max_tokens", `{"max_tokens": 0}`, "max_tokens"},
		{"negative max_tokens", `{"max_tokens": -4096}`, "max_tokens"},
		{"max_tokens over limit", `{"max_tokens": 10000001}`, "max_tokens"},
		{"zero max_message_bytes", `{"max_message_bytes": 0}`, "max_message_bytes"},
		{"negative max_message_bytes", `{"max_message_bytes": -1}`, "max_message_bytes"},
		{"max_message_bytes over limit", `{"max_message_bytes": 1048577}`, "max_message_bytes"},
		{"zero shards", `{"backend": "sharded", "shards": 0}`, "shards"},
		{"negative shards", `{"backend": "sharded", "shards": -2}`, "shards"},
		{"shards over limit", `{"backend": "sharded", "shards": 65}`, "shards"},
		{"shards without sharded backend", `{"shards": 4}`, "shards"},
		{"zero idle_ttl", `{"idle_ttl": "0s"}`, "idle_ttl"},
		{"zero idle_ttl without unit", `{"idle_ttl": "0"}`, "idle_ttl"},
		{"empty idle_ttl", `{"idle_ttl": ""}`, "idle_ttl"},
		{"null idle_ttl", `{"idle_ttl": null}`, "idle_ttl"},
		{"negative idle_ttl", `{"idle_ttl": "-1h"}`, "idle_ttl"},
		{"idle_ttl below 1ms", `{"idle_ttl": "999us"}`, "idle_ttl"},
		{"idle_ttl over limit", `{"idle_ttl": "87601h"}`, "idle_ttl"},
		{"idle_ttl junk", `{"idle_ttl": "a day"}`, "idle_ttl"},
		{"idle_ttl without unit", `{"idle_ttl": "30"}`, "idle_ttl"},
		{"idle_ttl as a number", `{"idle_ttl": 30}`, "idle_ttl"},
		{"zero max_conversations", `{"max_conversations": 0}`, "max_conversations"},
		{"negative max_conversations", `{"max_conversations": -5}`, "max_conversations"},
		{"max_conversations over limit", `{"max_conversations": 100000001}`, "max_conversations"},
		{"max_turns as string", `{"max_turns": "10"}`, "max_turns"},
		{"max_turns as float", `{"max_turns": 2.5}`, "max_turns"},
		{"max_turns overflows int", `{"max_turns": 99999999999999999999}`, "max_turns"},
		{"broken JSON", `{"max_turns": 5`, ""},
		{"empty input", ``, ""},
		{"array", `[]`, ""},
		{"null document", `null`, ""},
		{"trailing object", `{} {}`, ""},
		{"trailing garbage", `{"max_turns": 5} x`, ""},
		{"trailing brace", `{}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parseConfigRejected(t, tt.json, tt.field)
		})
	}
}

// parseConfigRejected fails t unless ParseConfig(in) returns the zero
// Config and an ErrInvalidConfig that is a *ValidationError for field ("":
// no one field). It returns the error.
func parseConfigRejected(t *testing.T, in, field string) error {
	t.Helper()
	got, err := chatring.ParseConfig([]byte(in))
	if !errors.Is(err, chatring.ErrInvalidConfig) {
		t.Fatalf("ParseConfig(%s) = %+v, %v; want ErrInvalidConfig", in, got, err)
	}
	if got != (chatring.Config{}) {
		t.Errorf("ParseConfig returned %+v with its error, want the zero Config", got)
	}
	var ve *chatring.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("error %v is not a *ValidationError for field %q", err, field)
	} else if ve.Field != field {
		t.Errorf("ValidationError.Field = %q, want %q (%v)", ve.Field, field, err)
	}
	return err
}

func TestParseConfigRejectsDuplicateKeys(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		field string // ValidationError.Field, "" when another error comes first
		key   string // the repeated key, which the message must quote
	}{
		{"backend", `{"backend": "mutex", "backend": "lockfree"}`, "backend", "backend"},
		{"max_turns", `{"max_turns": 10, "max_turns": 50}`, "max_turns", "max_turns"},
		{"max_tokens", `{"max_tokens": 10, "max_tokens": 10}`, "max_tokens", "max_tokens"},
		{"max_message_bytes", `{"max_message_bytes": 1, "max_message_bytes": 2}`, "max_message_bytes", "max_message_bytes"},
		{"shards", `{"backend": "sharded", "shards": 2, "shards": 4}`, "shards", "shards"},
		{"not adjacent", `{"max_turns": 5, "backend": "lockfree", "max_tokens": 100, "max_turns": 6}`, "max_turns", "max_turns"},
		{"upper case", `{"max_turns": 1, "MAX_TURNS": 2}`, "max_turns", "MAX_TURNS"},
		{"mixed case first", `{"Backend": "mutex", "backend": "mutex"}`, "backend", "backend"},
		{"Kelvin sign folds to k", `{"max_tokens": 1, "max_to\u212aens": 2}`, "max_tokens", "max_to\u212aens"},
		{"escaped spelling", `{"max_turns": 1, "max_\u0074urns": 2}`, "max_turns", "max_turns"},
		{"three times", `{"shards": 2, "shards": 2, "shards": 2}`, "shards", "shards"},
		{"explicit zero hidden by a later value", `{"max_turns": 0, "max_turns": 5}`, "max_turns", "max_turns"},
		{"null hidden by a later value", `{"backend": null, "backend": "mutex"}`, "backend", "backend"},
		{"after a nested value", `{"max_turns": {"max_turns": 1}, "max_turns": 2}`, "max_turns", "max_turns"},
		{"before broken JSON", `{"max_turns": 1, "max_turns": 2,`, "max_turns", "max_turns"},
		{"unknown key is reported as unknown", `{"max_turn": 1, "max_turn": 2}`, "max_turn", "max_turn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseConfigRejected(t, tt.json, tt.field)
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q does not name the key %q", err, tt.key)
			}
		})
	}
}

// TestParseConfigRejectsDuplicateOfEveryField repeats each JSON key of
// Config, so a field added to Config but not to the duplicate check fails.
func TestParseConfigRejectsDuplicateOfEveryField(t *testing.T) {
	typ := reflect.TypeFor[chatring.Config]()
	for i := range typ.NumField() {
		key, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		t.Run(key, func(t *testing.T) {
			err := parseConfigRejected(t, fmt.Sprintf(`{%q: null, %[1]q: null}`, key), key)
			if !strings.Contains(err.Error(), "duplicate key "+strconv.Quote(key)) {
				t.Errorf("error %q does not report the duplicate key %q", err, key)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	valid := []chatring.Config{
		{},
		{Backend: "lockfree"},
		{Backend: "sharded", Shards: 1},
		{MaxTurns: 1, MaxTokens: 1, MaxMessageBytes: 1},
	}
	for _, c := range valid {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v.Validate() = %v, want nil", c, err)
		}
	}
	invalid := []struct {
		cfg   chatring.Config
		field string
	}{
		{chatring.Config{Backend: "postgres"}, "backend"},
		{chatring.Config{MaxTurns: -1}, "max_turns"},
		{chatring.Config{MaxTokens: -1}, "max_tokens"},
		{chatring.Config{MaxMessageBytes: -1}, "max_message_bytes"},
		{chatring.Config{MaxMessageBytes: chatring.MaxMaxMessageBytes + 1}, "max_message_bytes"},
		{chatring.Config{Backend: "sharded", Shards: -1}, "shards"},
		{chatring.Config{Backend: "lockfree", Shards: 2}, "shards"},
		{chatring.Config{IdleTTL: -time.Second}, "idle_ttl"},
		{chatring.Config{IdleTTL: time.Microsecond}, "idle_ttl"},
		{chatring.Config{IdleTTL: chatring.MaxIdleTTL + 1}, "idle_ttl"},
		{chatring.Config{MaxConversations: -1}, "max_conversations"},
		{chatring.Config{MaxConversations: chatring.MaxMaxConversations + 1}, "max_conversations"},
	}
	for _, tt := range invalid {
		err := tt.cfg.Validate()
		var ve *chatring.ValidationError
		if !errors.Is(err, chatring.ErrInvalidConfig) || !errors.As(err, &ve) || ve.Field != tt.field {
			t.Errorf("%+v.Validate() = %v, want ErrInvalidConfig for field %q", tt.cfg, err, tt.field)
		}
		if h, err := chatring.New(tt.cfg); !errors.Is(err, chatring.ErrInvalidConfig) || h != nil {
			t.Errorf("New(%+v) = %v, %v; want nil, ErrInvalidConfig", tt.cfg, h, err)
		}
	}
}

func TestNewAppliesConfig(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: 3})
		want := chatring.Config{Backend: backend, MaxTurns: 3, MaxTokens: 4096, MaxMessageBytes: 32 << 10,
			IdleTTL: chatring.DefaultIdleTTL, MaxConversations: chatring.DefaultMaxConversations}
		if diff := cmp.Diff(want, h.Config()); diff != "" {
			t.Errorf("Config() (-want +got):\n%s", diff)
		}
		s := h.Stats()
		if s.Backend != backend || s.Capacity != 6 {
			t.Errorf("Stats: backend %q capacity %d, want %q 6", s.Backend, s.Capacity, backend)
		}
	})
	if h := newHistory(t, chatring.Config{}); h.Config().Backend != chatring.DefaultBackend {
		t.Errorf("zero Config gives backend %q, want %q", h.Config().Backend, chatring.DefaultBackend)
	}
}

// TestConfigJSONRoundTrip checks that a Config marshals to what
// ParseConfig (and so json.Unmarshal) reads back as the same Config, with
// idle_ttl as a duration string.
func TestConfigJSONRoundTrip(t *testing.T) {
	in := chatring.Config{Backend: "sharded", MaxTurns: 3, MaxTokens: 99, MaxMessageBytes: 100, Shards: 2,
		IdleTTL: 90 * time.Second, MaxConversations: 12}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"idle_ttl":"1m30s"`) {
		t.Errorf("json.Marshal = %s, want idle_ttl as the string \"1m30s\"", b)
	}
	var out chatring.Config
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", b, err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`{"max_turn": 3}`), &out); !errors.Is(err, chatring.ErrInvalidConfig) {
		t.Errorf("json.Unmarshal of an unknown field = %v, want ErrInvalidConfig", err)
	}
}

func TestBackendsIsACopy(t *testing.T) {
	b := chatring.Backends()
	if diff := cmp.Diff([]string{"mutex", "lockfree", "sharded"}, b); diff != "" {
		t.Fatalf("Backends() (-want +got):\n%s", diff)
	}
	b[0] = "changed"
	if chatring.Backends()[0] != "mutex" {
		t.Error("Backends() returns shared storage")
	}
}

// TestConfigJSONRoundTripFillsDefaults: the zero fields MarshalJSON
// leaves out come back as their defaults, as its doc says, and a Config
// that ParseConfig returned round-trips exactly.
func TestConfigJSONRoundTripFillsDefaults(t *testing.T) {
	b, err := json.Marshal(chatring.Config{MaxTurns: 3})
	if err != nil {
		t.Fatal(err)
	}
	var out chatring.Config
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", b, err)
	}
	want, err := chatring.ParseConfig([]byte(`{"max_turns": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("Config{MaxTurns: 3} through JSON (-want +got):\n%s", diff)
	}
	if want.IdleTTL != chatring.DefaultIdleTTL || want.MaxConversations != chatring.DefaultMaxConversations {
		t.Errorf("defaults not filled in: %+v", want)
	}
	b, err = json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var again chatring.Config
	if err := json.Unmarshal(b, &again); err != nil || again != want {
		t.Errorf("a parsed Config through JSON = %+v, %v; want %+v", again, err, want)
	}
}
