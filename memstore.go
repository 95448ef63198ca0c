package chatring

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/chatring/chatring/internal/gate"
	"github.com/maypok86/otter/v2"
)

// MemoryStore is a Store that keeps every conversation in this process: one
// History per conversation, on the ring backend Config.Backend names,
// created on the conversation's first write.
//
// It is bounded twice, as a chat service's sessions are abandoned without
// notice:
//
//   - Config.IdleTTL: a conversation neither written nor read for that long
//     is deleted (expire-after-access; reads through Messages and Window
//     count as access).
//   - Config.MaxConversations: when a new conversation would exceed it, the
//     store evicts the conversation least likely to be used again, by
//     W-TinyLFU (recency and frequency of use), not the oldest or a random
//     one: a conversation read and written every minute outlives a burst of
//     one-message conversations. The bound may be exceeded briefly while
//     eviction catches up. The policy is approximate: reads are recorded in
//     lossy buffers that background maintenance drains, so a burst of
//     writes faster than that maintenance can under-count reads and evict
//     a conversation in use.
//
// Eviction and expiry are those of github.com/maypok86/otter/v2, a
// concurrent cache with a W-TinyLFU policy and timer-wheel expiry; they run
// on the store's calls and on two background goroutines (expiry and the
// TTL's clock) that Close stops.
// The idle TTL is measured with the real clock, read by a goroutine once
// per hundredth of the TTL, but at least every second and at most every
// millisecond, so a conversation expires up to that resolution early or
// late (1% of a TTL of 100ms or more; up to the whole TTL at the 1ms
// minimum), and later still when that goroutine cannot run in time.
// WithClock does not change it (it only stamps Message.Time).
//
// Each conversation behaves exactly as a History made by New with the same
// Config and options. A write adds to History's work a hash-table lookup
// (which takes a bucket lock only to create a conversation), an atomic add
// on entry and exit of the store's one in-flight counter (for Close), and
// the size tracking of HeldBytes on Append: an atomic load and
// compare-and-swap of the message's size into its slot (see countSize) and,
// when the size differs from that of
// the message it overwrites, an atomic add to the conversation's count and
// one to the store's running total. The histories share one set of
// counters. With the lockfree backend an Append without an ID takes no
// lock when its conversation exists, but one that finds its conversation
// being removed spins until the removal is done, and then creates it anew.
// An Append, SetSystemPrompt or Clear that races with the removal of its
// conversation (Delete, idle expiry, eviction) either lands before the
// removal, and is removed with the conversation, or lands in the new
// conversation that a later write creates.
//
// Messages and Window keep working after Close; every write fails with
// ErrClosed. Conversations still expire by the idle TTL after Close (reads
// find them gone), but nothing cleans them up any more, so Len keeps
// counting them. Close releases no memory: drop the store for that.
type MemoryStore struct {
	// These fields are set by NewMemoryStore and never written again.
	env   *env // shared by every History of the store, counters included
	convs *otter.Cache[string, *History]
	clock *otter.CoarseClock // the idle TTL's clock
	start time.Time
	fixed int64 // estimated bytes per conversation beyond its messages

	gate gate.Gate // writes in flight, and Close

	// Conversation counters, one atomic add per event.
	live      atomic.Int64
	created   atomic.Uint64
	deleted   atomic.Uint64
	expired   atomic.Uint64
	evicted   atomic.Uint64
	clears    atomic.Uint64
	closeOnce sync.Once

	// held is the running total of HeldBytes: the sum of every live
	// History's held (see heldCounter).
	held atomic.Int64
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore. cfg configures every
// conversation as it would a History (zero fields mean their defaults;
// an invalid cfg returns an error wrapping ErrInvalidConfig) and bounds
// the store with IdleTTL and MaxConversations. opts are History's options:
// WithLogger, WithTokenizer and WithClock apply to every conversation.
func NewMemoryStore(cfg Config, opts ...Option) (*MemoryStore, error) {
	e, err := newEnv(cfg, opts)
	if err != nil {
		return nil, err
	}
	s := &MemoryStore{env: e, start: e.now(), fixed: conversationBytes(e.cfg),
		clock: otter.NewCoarseClock(ttlResolution(e.cfg.IdleTTL))}
	s.gate.Init()
	s.convs, err = otter.New(&otter.Options[string, *History]{
		MaximumSize:      e.cfg.MaxConversations,
		ExpiryCalculator: otter.ExpiryAccessing[string, *History](e.cfg.IdleTTL),
		OnAtomicDeletion: s.removed,
		Logger:           otterLogger{e.log},
		Clock:            s.clock,
	})
	if err != nil { // Validate keeps the options in otter's range
		return nil, fmt.Errorf("chatring: new memory store: %w", err)
	}
	return s, nil
}

// ttlResolution is the resolution of the clock that measures the idle TTL:
// a hundredth of the TTL, between a millisecond and a second. Every store
// operation reads that clock, and a precise clock read costs as much as a
// third of an Append on some machines (see Floor/backend=clock in
// bench/RESULTS.md); a coarse one is read like a variable, and a
// conversation expires up to 1% of its TTL early or late.
func ttlResolution(ttl time.Duration) time.Duration {
	return min(max(ttl/100, time.Millisecond), time.Second)
}

// removed is otter's deletion callback. It runs under the lock of the
// entry's hash-table bucket, so it only counts and retires.
func (s *MemoryStore) removed(e otter.DeletionEvent[string, *History]) {
	switch e.Cause {
	case otter.CauseInvalidation:
		s.deleted.Add(1)
	case otter.CauseExpiration, otter.CauseReplacement:
		// The store never replaces a value it holds; it only creates a
		// conversation in place of an absent or expired one, which otter
		// reports as an expiry.
		s.expired.Add(1)
	case otter.CauseOverflow:
		s.evicted.Add(1)
	}
	s.live.Add(-1)
	s.held.Add(-e.Value.held.seal())
	e.Value.retire()
}

// lookup returns conv's History, creating it when create is set. It
// returns nil for an absent conversation when create is not set.
func (s *MemoryStore) lookup(conv string, create bool) *History {
	if h, ok := s.convs.GetIfPresent(conv); ok || !create {
		return h
	}
	h, _ := s.convs.ComputeIfAbsent(conv, func() (*History, bool) {
		s.created.Add(1)
		s.live.Add(1)
		h := newHistory(s.env, true)
		h.held.start(&s.held, s.fixed+int64(len(conv)))
		return h, false
	})
	return h
}

// enter validates conv and registers a write with the gate; the caller
// must call s.gate.Exit() when it returns nil.
func (s *MemoryStore) enter(ctx context.Context, op string, conv string) error {
	if err := ctx.Err(); err != nil {
		return s.env.reject(ctx, op, "", 0, err)
	}
	if err := ValidateConversation(conv); err != nil {
		return s.env.reject(ctx, op, "", 0, err)
	}
	if !s.gate.Enter() {
		return s.env.reject(ctx, op, "", 0, closedError(op))
	}
	return nil
}

// Append implements Store. It checks ctx, the conversation ID, Close and
// then m exactly as History.Append does; a rejected message creates no
// conversation. See History.Append for Appends with a Message.ID.
func (s *MemoryStore) Append(ctx context.Context, conv string, m Message) (Message, error) {
	if err := s.enter(ctx, "append", conv); err != nil {
		return Message{}, err
	}
	defer s.gate.Exit()
	m, err := s.env.prepare(ctx, m)
	if err != nil {
		return Message{}, err
	}
	for {
		h := s.lookup(conv, true)
		if h.closed.Load() { // retired: removed since the lookup
			continue
		}
		if stored, ok := h.commit(ctx, m); ok {
			return stored, nil
		}
	}
}

// Messages implements Store.
func (s *MemoryStore) Messages(ctx context.Context, conv string, dst []Message) ([]Message, error) {
	if err := ctx.Err(); err != nil {
		return dst, err
	}
	if err := ValidateConversation(conv); err != nil {
		return dst, err
	}
	h := s.lookup(conv, false)
	if h == nil {
		return dst, nil
	}
	return h.Messages(ctx, dst)
}

// Window implements Store. An unknown conversation has an empty window;
// the budget is checked as History.Window checks it.
func (s *MemoryStore) Window(ctx context.Context, conv string, maxTokens int) ([]Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateConversation(conv); err != nil {
		return nil, err
	}
	h := s.lookup(conv, false)
	if h == nil {
		if maxTokens < 0 {
			return nil, negativeBudget(maxTokens)
		}
		return nil, nil
	}
	return h.Window(ctx, maxTokens)
}

// SetSystemPrompt implements Store. Removing the prompt (prompt "") of an
// unknown conversation does nothing and creates none.
func (s *MemoryStore) SetSystemPrompt(ctx context.Context, conv, prompt string) error {
	if err := s.enter(ctx, "set_system_prompt", conv); err != nil {
		return err
	}
	defer s.gate.Exit()
	if prompt != "" {
		if err := validateText("system_prompt", prompt, s.env.cfg.MaxMessageBytes); err != nil {
			return s.env.reject(ctx, "set_system_prompt", System, len(prompt), err)
		}
	}
	for {
		// pin fails only on a History retired since the lookup.
		if h := s.lookup(conv, prompt != ""); h == nil || h.pin(ctx, prompt) {
			return nil
		}
	}
}

// Clear implements Store. Clearing an unknown conversation does nothing.
// A Clear that finds its conversation being removed (Delete, idle expiry,
// eviction) waits, as an Append does, until the removal is done, and
// then clears the conversation a later write created, if any; it returns
// ctx.Err() if ctx is done first.
func (s *MemoryStore) Clear(ctx context.Context, conv string) error {
	if err := s.enter(ctx, "clear", conv); err != nil {
		return err
	}
	defer s.gate.Exit()
	for {
		h := s.lookup(conv, false)
		if h == nil {
			return nil
		}
		err := h.Clear(ctx)
		if err == nil {
			s.clears.Add(1)
			return nil
		}
		if !h.retired.Load() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// h is being removed: otter retires it before the table drops
		// it, and until then Messages still reads it, so Clear may not
		// return as if it were gone. Look it up again, as Append does.
	}
}

// Delete implements Store. Deleting an unknown conversation does nothing.
func (s *MemoryStore) Delete(ctx context.Context, conv string) error {
	if err := s.enter(ctx, "delete", conv); err != nil {
		return err
	}
	defer s.gate.Exit()
	s.convs.Invalidate(conv)
	return nil
}

// Close implements Store: writes fail with ErrClosed from the moment it is
// called, and it returns when the writes in flight have returned, or with
// ctx.Err() when ctx is done first. It stops the store's two background
// goroutines. A MemoryStore holds nothing that needs flushing. Close is
// idempotent.
func (s *MemoryStore) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.gate.Close()
		s.convs.StopAllGoroutines()
		s.clock.Stop()
		s.env.log.LogAttrs(ctx, slog.LevelDebug, "chatring: memory store closed",
			slog.Int64("conversations", s.live.Load()))
	})
	if err := s.gate.Wait(ctx); err != nil {
		return fmt.Errorf("chatring: close: %w", err)
	}
	return nil
}

// Len returns the number of conversations the store holds. Conversations
// that expired but were not yet cleaned up (within about a second, or
// never after Close) are counted.
func (s *MemoryStore) Len() int { return int(s.live.Load()) }

// Config returns the configuration the store was created with, defaults
// filled in.
func (s *MemoryStore) Config() Config { return s.env.cfg }

// StoreStats is a snapshot of a MemoryStore's metrics. It marshals to JSON
// with the snake_case keys shown. Counters are exact at the instant each is
// read; they are read one after another, so under concurrent calls they
// may disagree by the calls in flight.
type StoreStats struct {
	// Backend and Capacity describe every conversation's ring.
	Backend  string `json:"backend"`
	Capacity int    `json:"capacity"`
	// Conversations is the number of conversations held (Len: those
	// expired but not yet cleaned up are counted), and MaxConversations
	// the bound.
	Conversations    int `json:"conversations"`
	MaxConversations int `json:"max_conversations"`
	// Created counts conversations created by a first write.
	Created uint64 `json:"created"`
	// Deleted counts conversations removed by Delete.
	Deleted uint64 `json:"deleted"`
	// EvictedByReason counts conversations removed by the store itself:
	// "capacity" (MaxConversations) and "idle" (IdleTTL). Both keys are
	// always present.
	EvictedByReason map[string]uint64 `json:"evicted_by_reason"`
	// Appended, ByRole, Deduplicated, Rejected, RejectedByReason,
	// AppendedBytes and AppendedTokens are History's Stats fields summed
	// over every conversation the store ever held; RejectedByReason adds
	// "invalid_conversation".
	Appended         uint64            `json:"appended"`
	ByRole           map[Role]uint64   `json:"by_role"`
	Deduplicated     uint64            `json:"deduplicated"`
	Rejected         uint64            `json:"rejected"`
	RejectedByReason map[string]uint64 `json:"rejected_by_reason"`
	AppendedBytes    uint64            `json:"appended_bytes"`
	AppendedTokens   uint64            `json:"appended_tokens"`
	// Clears counts successful Clear calls on existing conversations.
	Clears uint64 `json:"clears"`
	// HeldBytes estimates the heap the conversations hold: their rings,
	// the strings of the messages in them (evicted and cleared messages
	// stay until overwritten, so they count until then), the pinned
	// prompts, the conversation IDs and the cache's per-entry bookkeeping.
	// It is a running total, kept by the calls that change it, so reading
	// it costs one atomic load. It leaves out the allocator's rounding of
	// each allocation to its size class, counts a string shared with the
	// caller as if the store owned it, and counts conversations that
	// expired until they are cleaned up (see Len), as they are on the heap
	// until then. Measured against runtime.MemStats after a
	// collection it is within 25% of the heap the store holds
	// (TestMemoryStoreHeldBytes asserts it for three shapes of
	// conversation on every backend; it measured 0.83× to 1.17× on 2
	// cores, the lowest with 40-byte messages carrying IDs and names).
	HeldBytes int64 `json:"held_bytes"`
	// Uptime is the time since NewMemoryStore by the store's clock.
	Uptime time.Duration `json:"uptime_ns"`
	// Closed reports whether Close has been called.
	Closed bool `json:"closed"`
}

// Stats returns the store's metrics. The counters, HeldBytes's running
// total included, cost one atomic add per event on the call paths; Stats
// reads them, so it costs the same whatever the number of conversations,
// takes no lock and allocates three small maps.
func (s *MemoryStore) Stats() StoreStats {
	c := s.env.ctr
	st := StoreStats{
		Backend:          s.env.cfg.Backend,
		Capacity:         2 * s.env.cfg.MaxTurns,
		MaxConversations: s.env.cfg.MaxConversations,
		Created:          s.created.Load(),
		Deleted:          s.deleted.Load(),
		EvictedByReason:  map[string]uint64{"capacity": s.evicted.Load(), "idle": s.expired.Load()},
		Deduplicated:     c.deduplicated.Load(),
		AppendedBytes:    c.bytes.Load(),
		AppendedTokens:   c.tokens.Load(),
		Clears:           s.clears.Load(),
		Conversations:    s.Len(),
		HeldBytes:        max(s.held.Load(), 0),
		Uptime:           s.env.now().Sub(s.start),
		Closed:           s.gate.Closed(),
	}
	st.ByRole, st.Appended, st.RejectedByReason, st.Rejected = c.read()
	return st
}

// heldCounter is the bytes one History of a MemoryStore holds, for
// HeldBytes: the conversation's fixed bytes and ID (set by start), the
// sizes of the messages in its ring and its pinned prompt. Every change
// is added to the counter and then to the store's running total, until
// the conversation is removed: seal takes the counter's value out of the
// total and marks the counter, so that a write that lands on the History
// after its removal (see MemoryStore) changes the counter alone. A change
// made to the counter before the seal is in the value seal takes out, and
// its writer adds it to the total (before or after the seal): they cancel.
// So once the calls in flight have returned, the total is exactly the sum
// of the live conversations' counters; while they run it may lag by their
// changes. A History made by New has no total; its counter counts alone.
type heldCounter struct {
	n     atomic.Int64
	total *atomic.Int64 // the store's; set by start before the History is shared
}

// heldSealed is the value seal leaves in a counter; no sum of message
// sizes brings a sealed counter anywhere near zero.
const heldSealed = math.MinInt64 / 2

// start sets the counter to base and adds it to total. The History must
// not be shared yet.
func (c *heldCounter) start(total *atomic.Int64, base int64) {
	c.total = total
	c.n.Store(base)
	total.Add(base)
}

// Add adds d to the counter and, unless it is sealed, to the total.
func (c *heldCounter) Add(d int64) {
	if d == 0 {
		return
	}
	if n := c.n.Add(d); n > heldSealed/2 && c.total != nil {
		c.total.Add(d)
	}
}

// seal returns the counter's contribution to the total and marks it
// sealed.
func (c *heldCounter) seal() int64 { return c.n.Swap(heldSealed) }

// countSize records the size of the pushed message m in its slot of
// h.sizes and adds the change to held. Appends to one conversation push
// concurrently, so an Append may get here after newer ones wrapped the
// ring around into its slot: its message is gone from the ring, and
// counting it would replace the newer message's size for good (until the
// slot is written again). So a slot holds the size with the lap of the
// seq it belongs to, (seq-1)/capacity, in its high 32 bits, and only a
// newer lap replaces it. Laps are compared modulo 2^32 (an Append would
// have to be overtaken by 2^31 laps to be misread).
func (h *History) countSize(m *Message) {
	capacity := uint64(len(h.sizes))
	slot := &h.sizes[(m.Seq-1)%capacity]
	lap := uint32((m.Seq - 1) / capacity)
	size := uint32(heldBytes(m, h.cfg.Backend))
	for {
		old := slot.Load()
		if old != 0 && int32(lap-uint32(old>>32)) < 0 {
			return // a newer message took the slot: m is not in the ring
		}
		if slot.CompareAndSwap(old, uint64(lap)<<32|uint64(size)) {
			h.held.Add(int64(size) - int64(uint32(old)))
			return
		}
	}
}

// setPrompt pins p (nil: none) and adds the change in its size to held.
func (h *History) setPrompt(p *Message) {
	h.held.Add(promptBytes(p) - promptBytes(h.system.Swap(p)))
}

// promptBytes is what a pinned prompt p (nil: none) holds.
func promptBytes(p *Message) int64 {
	if p == nil {
		return 0
	}
	return int64(messageBytes + len(p.Content))
}

// messageBytes is the size of a Message struct.
const messageBytes = int(unsafe.Sizeof(Message{}))

// heldBytes returns the bytes m holds in a ring beyond the ring's fixed
// slots: its strings and tool calls, plus the entry a lock-free ring
// allocates per value.
func heldBytes(m *Message, backend string) int {
	n := m.size() + len(m.ID) + len(m.ToolCalls)*int(unsafe.Sizeof(ToolCall{}))
	if backend == BackendLockFree {
		n += messageBytes + 8 // lockfree's entry{seq, v}
	}
	return n
}

// conversationBytes estimates the fixed bytes of one conversation of a
// MemoryStore under cfg (defaults filled in): the History, its ring's
// slots, its size tracking and otter's entry (about 100 bytes: node,
// hash-table slot, policy links). The conversation ID's length is added
// to it for each conversation.
func conversationBytes(cfg Config) int64 {
	capacity := 2 * cfg.MaxTurns
	n := int(unsafe.Sizeof(History{})) + int(unsafe.Sizeof(clearState{})) + 8*capacity + 100
	switch cfg.Backend {
	case BackendMutex:
		n += 64 + capacity*messageBytes
	case BackendLockFree:
		n += 128 + capacity*8
	case BackendSharded:
		shards := cfg.Shards
		if shards == 0 {
			shards = defaultShards()
		}
		n += 256 + shards*(192+capacity*(messageBytes+8))
	}
	return int64(n)
}

// defaultShards is the sharded ring's default number of shards.
func defaultShards() int { return min(runtime.GOMAXPROCS(0), MaxShards) }

// negativeBudget is Window's error for a negative budget.
func negativeBudget(maxTokens int) error {
	return &ValidationError{Field: "max_tokens", Err: ErrBudgetTooSmall,
		Reason: fmt.Sprintf("negative budget %d", maxTokens)}
}

// otterLogger sends otter's warnings and errors to the store's logger.
type otterLogger struct{ l *slog.Logger }

func (o otterLogger) Warn(ctx context.Context, msg string, err error) {
	o.l.LogAttrs(ctx, slog.LevelWarn, "chatring: memory store: "+msg, slog.Any("error", err))
}

func (o otterLogger) Error(ctx context.Context, msg string, err error) {
	o.l.LogAttrs(ctx, slog.LevelError, "chatring: memory store: "+msg, slog.Any("error", err))
}
