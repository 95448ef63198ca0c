package redisstore

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/internal/gate"
	"github.com/redis/go-redis/v9"
)

// FormatVersion is the version of the storage format (FORMAT.md) this
// package writes and the only one it reads. Every conversation records it
// in the v field of its meta hash.
const FormatVersion = "1"

// DefaultPrefix is the prefix of every key unless WithPrefix says
// otherwise.
const DefaultPrefix = "chatring:"

// The server-side scripts, one per kind of write (reads need none: see
// read). Each file opens with a comment that lists its KEYS, its ARGV and
// its reply.
var (
	//go:embed append.lua
	appendSource string
	//go:embed prompt.lua
	promptSource string
	//go:embed clear.lua
	clearSource string

	appendScript = redis.NewScript(appendSource)
	promptScript = redis.NewScript(promptSource)
	clearScript  = redis.NewScript(clearSource)
)

// Store is a chatring.Store that keeps conversations in Redis, so that
// every replica of a service sees the same conversations and they outlive
// a restart. It works on a single server, with Sentinel and on Redis
// Cluster: it talks to Redis through the redis.UniversalClient it is given,
// and all the keys of one conversation share a hash tag, so they live in
// one slot of a cluster. See FORMAT.md for the keys and the encoding.
//
// Every write is one server-side script (one round trip, atomic on the
// server): Append checks the idempotency key, takes the next sequence
// number, pushes, trims the list to the window and refreshes the idle TTL
// of every key of the conversation. Messages and Window are one round trip
// too: a MULTI/EXEC transaction that returns the newest 2 × MaxTurns
// messages and the pinned prompt and refreshes the TTL of every key of
// the conversation (a read is an access). Each conversation is
// linearizable because each call is a single script, transaction or
// command on the server.
//
// Append gives every message an idempotency key before its first send:
// its Message.ID, or a random one generated for a message without an ID.
// So when go-redis sends a script again after losing its reply (it does,
// for network errors, up to MaxRetries times), the second run finds the
// first and returns it instead of storing the message twice; and a caller
// that retries an Append with the same Message.ID after ErrUnavailable
// stores it once too. The tokens outlive the window: an ID deduplicates
// while its message is among the conversation's newest appends (see
// WithIdempotencyHorizon), even once it was pushed out or cleared, so a
// late retry does not store it again. Such a retry returns the message as
// the call sent it with the Seq it was stored at; its Time is this
// call's, since Redis no longer holds the stored one.
//
// Errors: validation errors are chatring's (the same as History's, from
// chatring.ValidateMessage); a Redis that cannot be reached, times out, is
// loading, read-only, failing over or busy, or a client pool with no free
// connection, gives an error wrapping chatring.ErrUnavailable and the
// cause; stored data in an unknown format gives ErrFormat; any other
// failure (a script error, a key of the wrong type) is returned wrapped,
// neither ErrUnavailable nor a validation error.
//
// Close stops writes (ErrClosed) and waits for those in flight; Messages
// and Window keep working after Close, on the client. Close does not close
// the client: whoever made it closes it, after Close.
//
// Config.MaxConversations does not apply: Redis bounds memory with the
// idle TTL and its own maxmemory policy.
type Store struct {
	// These fields are set by New and never written again.
	client    redis.UniversalClient
	cfg       chatring.Config // defaults filled in
	prefix    string
	tok       chatring.Tokenizer
	now       func() time.Time
	log       *slog.Logger
	obs       Observer
	window    string // 2 × MaxTurns, as a script argument
	windowLen int64  // 2 × MaxTurns
	horizon   string // how many tokens ids keeps, as a script argument
	ttl       string // IdleTTL in milliseconds, as a script argument

	gate     gate.Gate  // writes in flight, and Close
	coalesce *coalescer // nil unless WithReadCoalescing
	ctr      counters   // Stats; atomic
}

var _ chatring.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*options)

type options struct {
	coalesce bool
	horizon  int
	prefix   string
	tok      chatring.Tokenizer
	now      func() time.Time
	log      *slog.Logger
	obs      Observer
}

// WithPrefix sets the prefix of every key the store writes (default
// DefaultPrefix, "chatring:"), so that several stores, or several
// services, can share a Redis without seeing each other's conversations.
// It must not contain '{' or '}', which would change the keys' hash tag
// (New returns an error wrapping chatring.ErrInvalidConfig).
func WithPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// WithTokenizer sets the Tokenizer that counts Message.Tokens, once per
// message at Append (default: chatring.ApproxTokenizer). The counts are
// stored with the messages, so every replica should use the same one.
func WithTokenizer(t chatring.Tokenizer) Option {
	return func(o *options) { o.tok = t }
}

// WithClock sets the clock that stamps Message.Time and the pinned
// prompt's Time (default: time.Now). Times come from the clock of the
// replica that appends, not from Redis.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// DefaultIdempotencyHorizon is how many of a conversation's newest
// appends keep their idempotency tokens unless WithIdempotencyHorizon
// says otherwise: 128, the most a Redis sorted set keeps in its compact
// listpack encoding under the default zset-max-listpack-entries.
const DefaultIdempotencyHorizon = 128

// WithIdempotencyHorizon sets how many of a conversation's newest appends
// deduplicate by ID: an Append whose Message.ID (or generated key) is
// among the newest max(n, 2 × MaxTurns) messages appended to the
// conversation is recognised as stored and not appended again, even when
// its message has left the window since (pushed out, or cleared). Default
// DefaultIdempotencyHorizon. A retry can come late: the resilient
// wrapper's outbox replays appends after an outage, and an Append whose
// reply was lost is stored; if max(n, 2 × MaxTurns) or more other appends
// reached the conversation in between, the replay stores the message a
// second time. Size n above the appends a conversation can receive during
// the longest outage the outbox covers. Tokens cost Redis (MEMORY USAGE,
// Redis 7.0) about 28 bytes each up to 128 (a listpack: 3.6 KB for 128)
// and about 120 above (a skiplist: 18 KB for 129, 118 KB for 1 000): at
// the default window and horizon a conversation of 64-byte messages takes
// 4.5 KB after 20 appends and 7.5 KB from its 128th on, 3.7 KB of which
// is the list and 3.7 KB the tokens. n < 0 makes New return an error
// wrapping chatring.ErrInvalidConfig, and n = 0 means the default.
func WithIdempotencyHorizon(n int) Option {
	return func(o *options) { o.horizon = n }
}

// WithLogger sets the structured logger (default: discard). The store
// logs rejected calls and Redis errors at Warn, with the operation and the
// error, never a message's content or name or a conversation ID.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// New returns a Store on client. cfg configures every conversation as it
// would a History: zero fields mean their defaults, and an invalid cfg
// returns an error wrapping chatring.ErrInvalidConfig. The window is
// 2 × cfg.MaxTurns messages; cfg.IdleTTL is the idle TTL of every
// conversation (PEXPIRE on each of its keys at every call on it);
// cfg.Backend, cfg.Shards and cfg.MaxConversations do not apply. New does
// not contact Redis.
func New(client redis.UniversalClient, cfg chatring.Config, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{prefix: DefaultPrefix}
	for _, opt := range opts {
		opt(&o)
	}
	if strings.ContainsAny(o.prefix, "{}") {
		return nil, fmt.Errorf("redisstore: %w: key prefix must not contain '{' or '}': they would change the hash tag",
			chatring.ErrInvalidConfig)
	}
	if o.horizon < 0 {
		return nil, fmt.Errorf("redisstore: %w: idempotency horizon %d is negative", chatring.ErrInvalidConfig, o.horizon)
	}
	if o.horizon == 0 {
		o.horizon = DefaultIdempotencyHorizon
	}
	if o.tok == nil {
		o.tok = chatring.ApproxTokenizer{}
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.WithDefaults()
	s := &Store{
		client: client, cfg: cfg, prefix: o.prefix, tok: o.tok, now: o.now, log: o.log, obs: o.obs,
		window:    strconv.Itoa(2 * cfg.MaxTurns),
		windowLen: int64(2 * cfg.MaxTurns),
		horizon:   strconv.Itoa(max(o.horizon, 2*cfg.MaxTurns)),
		ttl:       strconv.FormatInt(cfg.IdleTTL.Milliseconds(), 10),
	}
	if o.coalesce {
		s.coalesce = &coalescer{flights: map[string]*flight{}}
	}
	s.gate.Init()
	return s, nil
}

// Config returns the configuration the store was created with, defaults
// filled in.
func (s *Store) Config() chatring.Config { return s.cfg }

// Keys returns the Redis keys of conversation conv (FORMAT.md): the list
// of its messages, its meta hash and the sorted set of its idempotency
// tokens. They share the hash tag {base64url(conv)}.
func (s *Store) Keys(conv string) (messages, meta, ids string) {
	k := s.keys(conv)
	return k[0], k[1], k[2]
}

func (s *Store) keys(conv string) []string {
	base := s.prefix + "{" + base64.RawURLEncoding.EncodeToString([]byte(conv)) + "}:"
	return []string{base + "messages", base + "meta", base + "ids"}
}

// enter checks ctx and conv and registers a write with the gate; the
// caller must call s.gate.Exit() when it returns nil.
func (s *Store) enter(ctx context.Context, op, conv string) error {
	if err := s.check(ctx, op, conv); err != nil {
		return s.ctr.reject(err)
	}
	if !s.gate.Enter() {
		return s.ctr.reject(fmt.Errorf("redisstore: %s: %w", op, chatring.ErrClosed))
	}
	return nil
}

// check checks ctx and conv, as every method does first.
func (s *Store) check(ctx context.Context, op, conv string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := chatring.ValidateConversation(conv); err != nil {
		return s.rejected(ctx, op, err)
	}
	return nil
}

// rejected logs a validation error and returns it.
func (s *Store) rejected(ctx context.Context, op string, err error) error {
	s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: rejected", slog.String("op", op), slog.Any("error", err))
	return err
}

// run runs script on conv's keys and classifies its error.
func (s *Store) run(ctx context.Context, op string, script *redis.Script, conv string, args ...any) (_ any, err error) {
	defer s.observe(op, s.begin(), &err)
	res, err := script.Run(ctx, s.client, s.keys(conv), args...).Result()
	if err != nil {
		return nil, s.failed(ctx, op, err)
	}
	return res, nil
}

// failed classifies and logs an error of the client.
func (s *Store) failed(ctx context.Context, op string, err error) error {
	err = classify(ctx, op, err)
	s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: call failed", slog.String("op", op), slog.Any("error", err))
	return err
}

// Append implements chatring.Store: it checks ctx, the conversation ID,
// Close and then m as History.Append does, fills in Time and Tokens, and
// runs append.lua. Seq comes from Redis. See Store for idempotency.
func (s *Store) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if err := s.enter(ctx, "append", conv); err != nil {
		return chatring.Message{}, err
	}
	defer s.gate.Exit()
	if err := chatring.ValidateMessage(m, s.cfg); err != nil {
		return chatring.Message{}, s.ctr.reject(s.rejected(ctx, "append", err))
	}
	m, args, err := s.appendArgs(m)
	if err != nil {
		return chatring.Message{}, err
	}
	res, err := s.run(ctx, "append", appendScript, conv, args...)
	if err != nil {
		return chatring.Message{}, err
	}
	return s.appendReply(m, res)
}

// appendArgs prepares a valid m for append.lua, as Append and AppendBatch
// send it: Seq cleared, Time and Tokens filled in. It returns that
// message and the script's ARGV, with the message's idempotency key.
func (s *Store) appendArgs(m chatring.Message) (chatring.Message, []any, error) {
	m.Seq = 0
	m.Time = s.now().Round(0)
	m.Tokens = chatring.CountTokens(s.tok, m)
	body, err := encodeMessage(m)
	if err != nil {
		return chatring.Message{}, nil, fmt.Errorf("redisstore: append: encode: %w", err)
	}
	return m, []any{body, idempotencyToken(m.ID), s.window, s.ttl, FormatVersion, s.horizon}, nil
}

// appendReply decodes append.lua's reply res to m, as appendArgs
// prepared it: m with the Seq Redis gave it, or the message already
// stored under its idempotency key (m with the stored message's Seq when
// that has left the window); and counts it in Stats.
func (s *Store) appendReply(m chatring.Message, res any) (chatring.Message, error) {
	reply, ok := res.([]any)
	if !ok || len(reply) != 2 {
		return chatring.Message{}, replyError("append", res)
	}
	switch reply[0] {
	case int64(1), int64(2): // stored now; stored before, out of the window
		seq, ok := reply[1].(int64)
		if !ok || seq < 1 {
			return chatring.Message{}, replyError("append", res)
		}
		m.Seq = uint64(seq)
		s.ctr.stored(&m, reply[0] == int64(1))
		return m, nil
	case int64(0):
		stored, ok := reply[1].(string)
		if !ok {
			return chatring.Message{}, replyError("append", res)
		}
		m, err := decodeMessage("append", stored)
		if err == nil {
			s.ctr.stored(&m, false)
		}
		return m, err
	}
	return chatring.Message{}, replyError("append", res)
}

// idempotencyToken returns a message's idempotency token (FORMAT.md):
// the first 16 bytes of SHA-256 of its ID, or 16 random bytes when it has
// none, in base64url without padding (22 characters).
func idempotencyToken(id string) string {
	var b [16]byte
	if id != "" {
		sum := sha256.Sum256([]byte(id))
		copy(b[:], sum[:])
	} else {
		binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
		binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Messages implements chatring.Store.
func (s *Store) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	if err := s.check(ctx, "messages", conv); err != nil {
		return dst, err
	}
	out, _, err := s.read(ctx, "messages", conv, false, dst)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// Window implements chatring.Store: the window and the prompt come from
// one read, and chatring.CutWindow applies History.Window's rules to them.
func (s *Store) Window(ctx context.Context, conv string, maxTokens int) ([]chatring.Message, error) {
	if err := s.check(ctx, "window", conv); err != nil {
		return nil, err
	}
	if maxTokens < 0 {
		return chatring.CutWindow(nil, nil, maxTokens) // the budget's error
	}
	if maxTokens == 0 {
		maxTokens = s.cfg.MaxTokens
	}
	win, prompt, err := s.read(ctx, "window", conv, true, nil)
	if err != nil {
		return nil, err
	}
	return chatring.CutWindow(win, prompt, maxTokens)
}

// read appends conv's window to dst and returns the pinned prompt too when
// withPrompt is set, from one fetch (see fetch and coalescer).
func (s *Store) read(ctx context.Context, op, conv string, withPrompt bool, dst []chatring.Message) (_ []chatring.Message, _ *chatring.Message, err error) {
	defer s.observe(op, s.begin(), &err)
	var raw rawWindow
	if s.coalesce != nil {
		raw, err = s.coalesce.read(ctx, conv, func(ctx context.Context) (rawWindow, error) {
			return s.fetch(ctx, conv, true)
		})
	} else {
		raw, err = s.fetch(ctx, conv, withPrompt)
	}
	if err != nil {
		return dst, nil, s.failed(ctx, op, err)
	}
	if v, ok := raw.version.(string); ok && v != FormatVersion {
		return dst, nil, fmt.Errorf("redisstore: %s: %w: conversation in format %q, this package reads %q",
			op, ErrFormat, v, FormatVersion)
	}
	var prompt *chatring.Message
	if p, ok := raw.prompt.(string); ok && withPrompt {
		m, err := decodeMessage(op, p)
		if err != nil {
			return dst, nil, err
		}
		prompt = &m
	}
	out := dst
	for _, e := range raw.list {
		m, err := decodeMessage(op, e)
		if err != nil {
			return dst, nil, err
		}
		out = append(out, m)
	}
	return out, prompt, nil
}

// rawWindow is a conversation as one read found it, not decoded: meta's
// v and prompt (nil when absent) and the window's elements.
type rawWindow struct {
	version, prompt any
	list            []string
}

// fetch reads conv in one round trip: a MULTI/EXEC transaction (atomic
// like a script, and cheaper for Redis than moving the window through
// Lua) of HMGET meta v [prompt], LRANGE of the newest 2 × MaxTurns
// messages, and PEXPIRE of the three keys (a read is an access). ids is
// refreshed too: a conversation kept alive by reads alone must keep its
// window's messages idempotent, as the Store contract says.
func (s *Store) fetch(ctx context.Context, conv string, withPrompt bool) (rawWindow, error) {
	k := s.keys(conv)
	var meta *redis.SliceCmd
	var list *redis.StringSliceCmd
	cmds, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if withPrompt {
			meta = p.HMGet(ctx, k[1], "v", "prompt")
		} else {
			meta = p.HMGet(ctx, k[1], "v")
		}
		list = p.LRange(ctx, k[0], -s.windowLen, -1)
		for _, key := range k {
			p.PExpire(ctx, key, s.cfg.IdleTTL)
		}
		return nil
	})
	if err != nil {
		return rawWindow{}, cause(err, cmds)
	}
	raw := rawWindow{version: meta.Val()[0], list: list.Val()}
	if withPrompt {
		raw.prompt = meta.Val()[1]
	}
	return raw, nil
}

// cause returns the error that made a transaction fail: when Redis
// refused to queue a command (READONLY, MASTERDOWN, BUSY, ...) EXEC
// fails with EXECABORT, and the reason is that command's error.
func cause(err error, cmds []redis.Cmder) error {
	if !redis.IsExecAbortError(err) {
		return err
	}
	for _, c := range cmds {
		if e := c.Err(); e != nil && !redis.IsExecAbortError(e) {
			return e
		}
	}
	return err
}

// SetSystemPrompt implements chatring.Store: the prompt is validated as
// History validates it, its tokens counted once, and it is stored in the
// conversation's meta hash. Removing the prompt (prompt "") of an unknown
// conversation creates nothing.
func (s *Store) SetSystemPrompt(ctx context.Context, conv, prompt string) error {
	if err := s.enter(ctx, "set_system_prompt", conv); err != nil {
		return err
	}
	defer s.gate.Exit()
	if err := chatring.ValidateSystemPrompt(prompt, s.cfg); err != nil {
		return s.ctr.reject(s.rejected(ctx, "set_system_prompt", err))
	}
	var body []byte
	if prompt != "" {
		var err error
		body, err = json.Marshal(chatring.Message{Role: chatring.System, Content: prompt,
			Time: s.now().Round(0), Tokens: max(s.tok.Count(prompt), 0)})
		if err != nil {
			return fmt.Errorf("redisstore: set_system_prompt: encode: %w", err)
		}
	}
	_, err := s.run(ctx, "set_system_prompt", promptScript, conv, body, s.ttl, FormatVersion)
	return err
}

// Clear implements chatring.Store: the messages are removed; the sequence
// number continues, the prompt stays, and so do the idempotency tokens (a
// retried Append of a cleared message is recognised, not stored again).
// Clearing an unknown conversation does nothing.
func (s *Store) Clear(ctx context.Context, conv string) error {
	_, err := s.ClearThrough(ctx, conv)
	return err
}

// ClearThrough is Clear that also returns the Seq of the newest message
// the conversation was ever given: every message up to it is cleared, and
// the next Append gets a higher one (0 for a conversation without
// messages). A retry that the store recognises after the Clear answers
// with a Seq at or below it, a new message with one above; the resilient
// wrapper uses it so that its degraded reads do not show a cleared
// message again (resilient.ClearReporter).
func (s *Store) ClearThrough(ctx context.Context, conv string) (uint64, error) {
	if err := s.enter(ctx, "clear", conv); err != nil {
		return 0, err
	}
	defer s.gate.Exit()
	res, err := s.run(ctx, "clear", clearScript, conv, s.ttl)
	if err != nil {
		return 0, err
	}
	seq, ok := res.(int64)
	if !ok || seq < 0 {
		return 0, replyError("clear", res)
	}
	return uint64(seq), nil
}

// Delete implements chatring.Store with one UNLINK of the conversation's
// keys (Redis frees their memory in the background). Deleting an unknown
// conversation does nothing.
func (s *Store) Delete(ctx context.Context, conv string) (err error) {
	if err := s.enter(ctx, "delete", conv); err != nil {
		return err
	}
	defer s.gate.Exit()
	defer s.observe("delete", s.begin(), &err)
	if err := s.client.Unlink(ctx, s.keys(conv)...).Err(); err != nil {
		return s.failed(ctx, "delete", err)
	}
	return nil
}

// Close implements chatring.Store: writes fail with ErrClosed from the
// moment it is called, and it returns when the writes in flight have
// returned, or with an error wrapping ctx.Err() when ctx is done first.
// The store holds nothing to flush: every acknowledged write is in Redis.
// Close does not close the client. It is idempotent.
func (s *Store) Close(ctx context.Context) error {
	s.gate.Close()
	if err := s.gate.Wait(ctx); err != nil {
		return fmt.Errorf("redisstore: close: %w", err)
	}
	return nil
}
