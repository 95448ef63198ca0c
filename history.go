package chatring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatring/chatring/lockfree"
	"github.com/chatring/chatring/ringbuf"
	"github.com/chatring/chatring/sharded"
)

// How Seq and Clear work.
//
// The ring assigns sequence numbers: Push returns the message's number, and
// only then is it known. So the ring stores messages with Seq 0, and Seq is
// filled in on every read from the snapshot's own numbering: a snapshot of
// n values whose newest has sequence number last holds exactly the pushes
// last-n+1 ... last, in order (every backend guarantees this), so element i
// has Seq last-n+1+i. Append returns the message with the Seq Push gave it,
// which is the same number readers will compute.
//
// Clear removes nothing from the ring. It reads the ring's newest sequence
// number L with a Snapshot (whose window it discards), and raises a
// watermark, clear.through, to L with a CompareAndSwap; readers drop the
// prefix of their snapshot with Seq <= through. Messages appended
// concurrently with a Clear may or may not be cleared; messages appended
// after it returns never are.
//
//	ring: | 5 | 6 | 3 | 4 |  last 6, through 0 -> window 3 4 5 6
//	Clear:                   through 6           -> window (empty)
//	Push 7, 8:  | 5 | 6 | 7 | 8 |  through 6    -> window 7 8
//
// Linearizability. The ring's operations are linearizable and the
// watermark only rises, so the history's state at any instant is the pair
// (the ring's newest Seq, through), and the visible window is the Seq range
// (max(through, last-cap), last]. Clear takes effect at its successful
// CompareAndSwap: L is at least the Seq of every Append that returned
// before Clear was called (the Snapshot began after those Pushes ended)
// and at most the ring's newest Seq at that instant (the Snapshot ended
// before it), so through never passes the ring. A reader loads the clear
// state, takes its ring snapshot (the instant it takes effect), and loads
// the state again; if the watermark rose in between, a Clear took effect
// during the snapshot, and it starts over. Otherwise the watermark was the
// same throughout, and the window it returns is the state at the
// snapshot's instant. Loading the watermark only after the snapshot would
// cut an old ring with a newer Clear's watermark: a window that never
// existed, and more messages gone than were ever appended. A reader
// retries only when a Clear succeeded, so with the lockfree ring Messages
// and Window stay lock-free.
//
// What Clear costs depends on the ring: its Snapshot holds the mutex
// ring's lock, or every shard lock of the sharded ring, while it copies
// the window, and Appends on those rings wait for it; only with
// the lockfree ring is Clear lock-free (the Snapshot, plus a CAS loop that
// fails only when another Clear or a Stats updated the state). The copy is
// a window-sized allocation per Clear to read one number; Buffer has no
// cheaper way to read the newest Seq linearizably.
//
// How Stats counts. The clear state also counts the messages no longer in
// the window: Seq 1 ... cleared+evicted are accounted for, each exactly
// once, as cleared or evicted, and the state is immutable behind an
// atomic.Pointer, so a reader always sees a consistent triple. Who writes
// the state decides the category of the messages it accounts for:
//
//   - Stats, after its ring snapshot with newest Seq last, counts the
//     messages up to last-cap that are not yet accounted for as evicted,
//     with a CompareAndSwap from the state it loaded before the snapshot
//     (if that fails, another Stats or a Clear changed the state during
//     the snapshot, and it starts over);
//   - Clear counts the messages of the window its Snapshot read that are
//     not yet accounted for as cleared, and those older than that window
//     as evicted.
//
// Why that is consistent: a state's evicted count reaches at most
// last-cap of the snapshot its writer took, and a writer's snapshot ends
// before its CompareAndSwap, so when Stats loads a state and then takes
// its snapshot with newest Seq last, the state accounts for at most
// max(through, last-cap) messages. Stats raises that to exactly
// max(through, last-cap), the messages its snapshot's window lacks, so
// Evicted + Cleared + WindowMessages == LastSeq, and Evicted <= last-cap.
// The counts only grow, so a later Stats never reports less. The price is
// that a message that was in the window a Clear read, and was pushed out
// by newer messages before the Clear took effect, counts as cleared
// unless a Stats counted it as evicted first: the split is exact except
// for messages pushed out while a Clear runs.

// History is a bounded, concurrent conversation history: the newest
// 2 × Config.MaxTurns messages, a pinned system prompt, metrics and a
// token-budget view for building model requests.
//
// Create one with New; the zero value is not usable. Every method is safe
// for concurrent use by multiple goroutines with every backend. With the
// lockfree backend no method takes a lock but Append of a message with an
// ID (see Append): Append without an ID, Messages, Window, Clear,
// SetSystemPrompt and Stats use only atomic operations (plus whatever the
// configured slog.Handler and Tokenizer do; the defaults take no lock).
//
// Memory is bounded by construction: the ring holds at most
// 2 × MaxTurns messages (shards × that for the sharded backend, whose
// evicted entries stay reachable until overwritten), each at most
// MaxMessageBytes of content plus MaxNameBytes of name, and the counters
// are fixed-size. Nothing grows with the number of messages appended.
type History struct {
	*env // set by New and never written again; shared by a MemoryStore's histories

	// These fields are set by New and never written again.
	buf   ringbuf.Buffer[Message]
	start time.Time // now() at New, for Stats.Uptime

	// These fields are atomics, written by any method without a lock.
	system  atomic.Pointer[Message]    // pinned system prompt; nil when unset
	clear   atomic.Pointer[clearState] // never nil; replaced by Clear (CAS)
	closed  atomic.Bool                // set once by Close (or retire)
	retired atomic.Bool                // set once by retire, before closed

	// idMu serializes the Appends that carry a Message.ID, so that the
	// check for the ID in the window and the push are one step for them.
	// Appends without an ID never take it.
	idMu sync.Mutex

	// held tracks the bytes of the messages in the ring for a MemoryStore's
	// estimate (nil sizes for a History made by New): sizes[(seq-1)%cap]
	// holds the size of the newest message counted in that slot, with its
	// lap (see countSize); held is their sum plus the pinned prompt and the
	// conversation's fixed bytes (see heldCounter).
	sizes []atomic.Uint64
	held  heldCounter
}

// env is what a History needs besides its ring: its configuration and its
// collaborators. A History made by New has its own; the histories of a
// MemoryStore share the store's, counters included.
type env struct {
	cfg Config // with defaults filled in
	tok Tokenizer
	log *slog.Logger
	now func() time.Time // the clock: time.Now unless WithClock
	ctr *counters
	// approx is set when tok is ApproxTokenizer: Append then counts the
	// content's tokens in the pass that validates it (approxScan).
	approx bool
	// quiet is set when log discards everything (slog.DiscardHandler, the
	// default): Append then skips asking the handler whether it logs.
	quiet bool
}

// counters are the metrics kept with one atomic add each per call.
type counters struct {
	byRole       [len(roles)]atomic.Uint64 // appended messages, by roleIndex
	bytes        atomic.Uint64             // content, name and tool bytes ever appended
	tokens       atomic.Uint64             // tokens ever appended
	rejected     [numReasons]atomic.Uint64 // failed calls, by reason
	deduplicated atomic.Uint64             // Appends that found their ID in the window
}

// clearState is an immutable Clear watermark with the counts of messages
// gone from the window; see "How Seq and Clear work" and "How Stats
// counts". Seq 1 ... cleared+evicted are accounted for, and through <=
// cleared+evicted.
type clearState struct {
	through uint64 // messages with Seq <= through are cleared
	cleared uint64 // messages accounted for as removed by Clear
	evicted uint64 // messages accounted for as pushed out by newer ones
}

// counted returns the number of messages accounted for: Seq 1 ... counted.
func (cs *clearState) counted() uint64 { return cs.cleared + cs.evicted }

// evict returns cs with the messages that a ring snapshot with newest Seq
// last no longer holds (Seq <= last-capacity) accounted for as evicted
// where they are not yet, or cs itself when there are none.
func (cs *clearState) evict(last, capacity uint64) *clearState {
	if last <= capacity || last-capacity <= cs.counted() {
		return cs
	}
	return &clearState{through: cs.through, cleared: cs.cleared, evicted: last - capacity - cs.cleared}
}

// clearTo returns the state after a Clear whose ring snapshot had newest
// Seq last > cs.through: the messages older than that snapshot's window
// are accounted for as evicted, the rest up to last as cleared.
func (cs *clearState) clearTo(last, capacity uint64) *clearState {
	e := cs.evict(last, capacity)
	return &clearState{
		through: last,
		cleared: e.cleared + last - min(last, e.counted()),
		evicted: e.evicted,
	}
}

// Option configures a History in New.
type Option func(*options)

type options struct {
	log *slog.Logger
	tok Tokenizer
	now func() time.Time
}

// WithLogger sets the structured logger (default: one that discards
// everything). History logs each Append at Debug, each rejected call at
// Warn with the reason, and Clear, Close and SetSystemPrompt at Debug. It
// logs roles, sizes, token counts and sequence numbers, never the content
// or name of a message: those may be personal data. A nil logger means the
// default.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// WithTokenizer sets the Tokenizer that counts Message.Tokens (default:
// ApproxTokenizer). A nil Tokenizer means the default.
func WithTokenizer(t Tokenizer) Option {
	return func(o *options) { o.tok = t }
}

// WithClock sets the clock History reads for Message.Time, the pinned
// system prompt's Time and Stats.Uptime (default: time.Now). Use it for
// reproducible times in tests, or for a cheaper clock where time.Now is
// slow: on some virtual machines one clock read costs more than the rest of
// an Append (see Floor/backend=clock in bench/RESULTS.md); CoarseClock is
// one, with a documented resolution. now must be safe
// for concurrent use; History strips any monotonic reading from the times
// it stores. A nil clock means the default.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// New returns an empty History configured by cfg. Zero fields of cfg mean
// their defaults; a cfg that Validate rejects returns an error wrapping
// ErrInvalidConfig.
func New(cfg Config, opts ...Option) (*History, error) {
	e, err := newEnv(cfg, opts)
	if err != nil {
		return nil, err
	}
	return newHistory(e, false), nil
}

// newEnv checks cfg and applies opts.
func newEnv(cfg Config, opts []Option) (*env, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.tok == nil {
		o.tok = ApproxTokenizer{}
	}
	if o.now == nil {
		o.now = time.Now
	}
	_, approx := o.tok.(ApproxTokenizer)
	return &env{cfg: cfg.withDefaults(), tok: o.tok, log: o.log, now: o.now, ctr: new(counters),
		approx: approx, quiet: o.log.Handler() == slog.DiscardHandler}, nil
}

// newHistory returns an empty History in e, tracking the bytes it holds
// when trackHeld is set.
func newHistory(e *env, trackHeld bool) *History {
	capacity := 2 * e.cfg.MaxTurns
	h := &History{env: e, start: e.now()}
	switch e.cfg.Backend {
	case BackendMutex:
		h.buf = ringbuf.New[Message](capacity)
	case BackendLockFree:
		h.buf = lockfree.New[Message](capacity)
	case BackendSharded:
		var so []sharded.Option
		if e.cfg.Shards > 0 {
			so = append(so, sharded.WithShards(e.cfg.Shards))
		}
		h.buf = sharded.New[Message](capacity, so...)
	default:
		panic("chatring: Validate accepted unknown backend " + e.cfg.Backend)
	}
	if trackHeld {
		h.sizes = make([]atomic.Uint64, capacity)
	}
	h.clear.Store(&clearState{})
	return h
}

// Config returns the configuration h was created with, defaults filled in
// (Shards stays 0 when the sharded backend chose its default).
func (h *History) Config() Config { return h.cfg }

// count returns the token count of text, never negative.
func (e *env) count(text string) int {
	return max(e.tok.Count(text), 0)
}

// Append validates m and adds it as the newest message of the window,
// evicting the oldest message when the window is full. It returns the
// stored message: m with Seq, Time and Tokens filled in (values the caller
// set in those fields are ignored).
//
// Append copies m.ToolCalls before it validates them (one allocation for
// a message with tool calls, none for one without), so the caller may
// reuse or change its slice once Append returns. The returned message's
// ToolCalls are the stored copy: treat them as read-only (see
// Message.ToolCalls).
//
// Append checks, in this order: ctx (returning ctx.Err()), Close
// (ErrClosed), the role (ErrInvalidRole), the content's size
// (ErrMessageTooLarge), its characters (ErrInvalidContent) and emptiness
// (ErrEmptyContent), then the name and the ID, then the tool fields
// (ErrInvalidToolCall for their structure, ErrMessageTooLarge and
// ErrInvalidContent as for content; the ValidationError names the field,
// e.g. "tool_calls[2].arguments"). Append does not check that a Tool
// message answers a call in the window: Window leaves out results that do
// not (see CompleteExchanges). A rejected message changes nothing but
// Stats.Rejected and Stats.RejectedByReason. Every error is permanent:
// retrying the same message cannot succeed, so do not.
//
// When m.ID is set and a message with that ID is in the window, Append
// stores nothing and returns that message (its Seq, Time and Tokens, and
// its content, even if m's differs) with a nil error, counted in
// Stats.Deduplicated. Appends with an ID take turns on a mutex of the
// History, because the search of the window and the push must be one
// step for them; concurrent Appends with one ID therefore store it once and
// all return the same message. Appends without an ID never wait for them
// and keep the backend's progress guarantee (lock-free with the lockfree
// backend). An Append with an ID costs a copy of the window to search it.
//
// An Append that is running when Close is called may still complete; one
// called after Close has returned fails with ErrClosed.
func (h *History) Append(ctx context.Context, m Message) (Message, error) {
	if err := ctx.Err(); err != nil {
		return Message{}, h.reject(ctx, "append", m.Role, len(m.Content), err)
	}
	if h.closed.Load() {
		return Message{}, h.reject(ctx, "append", m.Role, len(m.Content),
			closedError("append"))
	}
	// The message is passed by pointer from here on: it is 144 bytes, and
	// each copy of it costs Append as much as a few checks.
	if err := h.prepareIn(ctx, &m); err != nil {
		return Message{}, err
	}
	h.commitIn(ctx, &m)
	return m, nil
}

// prepare validates m, counting and logging a rejection, and fills in its
// Tokens.
func (e *env) prepare(ctx context.Context, m Message) (Message, error) {
	if err := e.prepareIn(ctx, &m); err != nil {
		return Message{}, err
	}
	return m, nil
}

// prepareIn is prepare on *m, in place. It first gives *m its own copy
// of ToolCalls (ownToolCalls), so that what it validates is what is
// stored, whatever the caller does with its slice afterwards.
func (e *env) prepareIn(ctx context.Context, m *Message) error {
	ownToolCalls(m)
	content, err := validateCounted(m, e.cfg.MaxMessageBytes, e.approx)
	if err != nil {
		return e.reject(ctx, "append", m.Role, len(m.Content), err)
	}
	m.Tokens = countTokens(e.tok, m, content)
	return nil
}

// commit stores a prepared message, or finds the message with its ID in
// the window; ok is false, with nothing stored, only when h was retired by
// its MemoryStore.
func (h *History) commit(ctx context.Context, m Message) (_ Message, ok bool) {
	if !h.commitIn(ctx, &m) {
		return Message{}, false
	}
	return m, true
}

// commitIn is commit on *m, in place: *m becomes the stored message (or
// the one found with its ID).
func (h *History) commitIn(ctx context.Context, m *Message) (ok bool) {
	if m.ID == "" {
		h.push(ctx, m)
		return true
	}
	h.idMu.Lock()
	defer h.idMu.Unlock()
	if h.retired.Load() {
		return false
	}
	if old, found := h.findID(m.ID); found {
		h.ctr.deduplicated.Add(1)
		if h.log.Enabled(ctx, slog.LevelDebug) {
			h.log.LogAttrs(ctx, slog.LevelDebug, "chatring: duplicate append",
				slog.String("role", string(old.Role)), slog.Uint64("seq", old.Seq))
		}
		*m = old
		return true
	}
	h.push(ctx, m)
	return true
}

// scratch holds window-sized buffers for findID, so that Appends with an
// ID do not allocate in the steady state. The buffers are cleared before
// they go back, so they keep no message reachable.
var scratch = sync.Pool{New: func() any { return new([]Message) }}

// findID returns the message with the given ID in the window, searching
// from the newest (a retry usually follows its first attempt closely).
// The caller holds h.idMu.
func (h *History) findID(id string) (Message, bool) {
	p := scratch.Get().(*[]Message)
	win := h.snapshot((*p)[:0])
	var found Message
	ok := false
	for i := len(win) - 1; i >= 0; i-- {
		if win[i].ID == id {
			found, ok = win[i], true
			break
		}
	}
	clear(win)
	*p = win[:0]
	scratch.Put(p)
	return found, ok
}

// push stores the validated message *m, counts it, and fills in its Time
// and Seq.
func (h *History) push(ctx context.Context, m *Message) {
	// Time is taken before Push, which assigns Seq: see Message.Time.
	m.Time = h.now().Round(0)
	m.Seq = 0 // stored without Seq; readers compute it
	m.Seq = h.ringPush(m)

	h.ctr.byRole[roleIndex(m.Role)].Add(1)
	h.ctr.bytes.Add(uint64(m.size()))
	h.ctr.tokens.Add(uint64(m.Tokens))
	if h.sizes != nil {
		h.countSize(m)
	}
	if !h.quiet && h.log.Enabled(ctx, slog.LevelDebug) {
		h.log.LogAttrs(ctx, slog.LevelDebug, "chatring: append",
			slog.String("role", string(m.Role)),
			slog.Int("bytes", len(m.Content)),
			slog.Int("tokens", m.Tokens),
			slog.Uint64("seq", m.Seq))
	}
}

// ringPush is h.buf.Push(*m) with the call made on the ring's concrete
// type, through its PushPtr: a call through the generic interface passes
// the instantiation's dictionary and copies the Message once more
// (Floor/backend=mutex-direct in bench/RESULTS.md), and Push itself takes
// the 144-byte Message by value, a copy that PushPtr leaves out: *m is
// copied once, into the ring's slot.
func (h *History) ringPush(m *Message) uint64 {
	switch r := h.buf.(type) {
	case *ringbuf.Ring[Message]:
		return r.PushPtr(m)
	case *sharded.Ring[Message]:
		return r.PushPtr(m)
	case *lockfree.Ring[Message]:
		return r.PushPtr(m)
	}
	return h.buf.Push(*m)
}

// ringSnapshot is h.buf.Snapshot called on the ring's concrete type, as
// ringPush does for Push.
func (h *History) ringSnapshot(dst []Message) ([]Message, uint64) {
	switch r := h.buf.(type) {
	case *ringbuf.Ring[Message]:
		return r.Snapshot(dst)
	case *sharded.Ring[Message]:
		return r.Snapshot(dst)
	case *lockfree.Ring[Message]:
		return r.Snapshot(dst)
	}
	return h.buf.Snapshot(dst)
}

// reject counts and logs a failed call and returns err. The log record
// names the role only when it is valid (an invalid role is caller input
// and might be anything), and never includes content.
func (e *env) reject(ctx context.Context, op string, role Role, size int, err error) error {
	r := reasonOf(err)
	e.ctr.rejected[r].Add(1)
	if e.log.Enabled(ctx, slog.LevelWarn) {
		attrs := []slog.Attr{
			slog.String("op", op),
			slog.String("reason", reasonNames[r]),
		}
		if role.Valid() {
			attrs = append(attrs, slog.String("role", string(role)))
		} else {
			attrs = append(attrs, slog.String("role", "invalid"), slog.Int("role_bytes", len(role)))
		}
		attrs = append(attrs, slog.Int("bytes", size))
		if ve, ok := errors.AsType[*ValidationError](err); ok {
			// Field and Reason never quote the input.
			attrs = append(attrs, slog.String("field", ve.Field), slog.String("detail", ve.Reason))
		}
		e.log.LogAttrs(ctx, slog.LevelWarn, "chatring: rejected", attrs...)
	}
	return err
}

// Messages appends the window, oldest first, to dst and returns it. The
// messages have consecutive Seq values; the pinned system prompt is not
// among them (see Window and SystemPrompt). Passing a dst with room for
// 2 × MaxTurns messages avoids allocating. The messages' ToolCalls are
// not copied: they are the stored ones, shared with every other reader,
// and must be treated as read-only (see Message.ToolCalls). Messages
// keeps working after Close.
func (h *History) Messages(ctx context.Context, dst []Message) ([]Message, error) {
	if err := ctx.Err(); err != nil {
		return dst, err
	}
	return h.snapshot(dst), nil
}

// snapshot appends the visible window to dst with Seq filled in and
// returns it: the window at the instant of one ring snapshot, with the
// watermark of that instant (see "Linearizability").
func (h *History) snapshot(dst []Message) []Message {
	base := len(dst)
	for {
		through := h.clear.Load().through
		var last uint64
		dst, last = h.ringSnapshot(dst[:base])
		if h.clear.Load().through == through {
			return visible(dst, base, last, through)
		}
	}
}

// countedSnapshot is snapshot for Stats: it also accounts for the
// evictions the ring snapshot shows (see "How Stats counts"), and returns
// the window with the ring snapshot's newest sequence number and the
// clear state of the snapshot's instant, counts included.
func (h *History) countedSnapshot(dst []Message) ([]Message, uint64, *clearState) {
	base := len(dst)
	capacity := uint64(h.buf.Cap())
	for {
		cs := h.clear.Load()
		var last uint64
		dst, last = h.buf.Snapshot(dst[:base])
		// Every state is a new allocation and cs is still referenced, so
		// finding cs again means that nothing changed.
		next := cs.evict(last, capacity)
		if next == cs && h.clear.Load() == cs || next != cs && h.clear.CompareAndSwap(cs, next) {
			return visible(dst, base, last, next.through), last, next
		}
	}
}

// visible drops from dst[base:], a ring snapshot with newest Seq last, the
// messages with Seq <= through, and fills in the Seq of the rest.
func visible(dst []Message, base int, last, through uint64) []Message {
	n := uint64(len(dst) - base)
	first := last - n + 1 // Seq of dst[base]
	if through >= first {
		skip := int(min(through-first+1, n))
		k := copy(dst[base:], dst[base+skip:])
		clear(dst[base+k:]) // do not keep dropped messages reachable
		dst = dst[:base+k]
		first += uint64(skip)
	}
	for i := base; i < len(dst); i++ {
		dst[i].Seq = first + uint64(i-base)
	}
	return dst
}

// SetSystemPrompt pins prompt as the system prompt: stored outside the
// window, never evicted or cleared, and returned first by Window. It is
// validated like message content (ErrMessageTooLarge, ErrInvalidContent,
// ErrEmptyContent for white space only) and its tokens are counted once,
// here. The empty string removes the pinned prompt. After Close it fails
// with ErrClosed.
func (h *History) SetSystemPrompt(prompt string) error {
	ctx := context.Background()
	if prompt != "" && !h.closed.Load() {
		if err := validateText("system_prompt", prompt, h.cfg.MaxMessageBytes); err != nil {
			return h.reject(ctx, "set_system_prompt", System, len(prompt), err)
		}
	}
	if !h.pin(ctx, prompt) {
		return h.reject(ctx, "set_system_prompt", System, len(prompt),
			closedError("set system prompt"))
	}
	return nil
}

// pin pins prompt, already validated ("" removes the pinned prompt),
// unless h is closed; it reports whether it did. A MemoryStore calls it
// directly, so that a History retired under it costs a retry, not a
// rejection.
func (h *History) pin(ctx context.Context, prompt string) bool {
	if h.closed.Load() {
		return false
	}
	if prompt == "" {
		h.setPrompt(nil)
		h.log.LogAttrs(ctx, slog.LevelDebug, "chatring: system prompt removed")
		return true
	}
	m := &Message{Role: System, Content: prompt, Time: h.now().Round(0), Tokens: h.count(prompt)}
	h.setPrompt(m)
	h.log.LogAttrs(ctx, slog.LevelDebug, "chatring: system prompt set",
		slog.Int("bytes", len(prompt)), slog.Int("tokens", m.Tokens))
	return true
}

// SystemPrompt returns the pinned system prompt (Role System, Seq 0) and
// whether one is set.
func (h *History) SystemPrompt() (Message, bool) {
	if p := h.system.Load(); p != nil {
		return *p, true
	}
	return Message{}, false
}

// Window returns what to send to a model within a budget of maxTokens
// tokens: the pinned system prompt, if any, followed by the longest suffix
// of the window whose Tokens, with the prompt's, add up to at most
// maxTokens — except that
//
//   - it never starts with an Assistant or Tool message whose preceding
//     message is not included (a reply whose question was cut off by the
//     budget, by eviction or by Clear): such messages are dropped from the
//     front until a User or System message leads (an Assistant message
//     with Seq 1, which had nothing before it, may lead);
//   - it holds only whole tool exchanges: a Tool message is left out
//     unless it answers a call of the Assistant message before it, with
//     only other results of that message in between; an Assistant message
//     with ToolCalls is left out, with its results, when a result is
//     missing — except the exchange in flight, the newest Assistant message
//     when only its results so far follow it. Pass the result to
//     CompleteExchanges to leave that one out too before building a
//     request. Messages left out for these rules cost no budget, and the
//     Seq values of the result may skip where they were.
//
// maxTokens 0 means Config.MaxTokens. A negative budget, or one smaller
// than the system prompt alone, returns an error wrapping
// ErrBudgetTooSmall. Budgets count Message.Tokens only; chat APIs add a few
// tokens of framing per message, so leave some headroom. As with
// Messages, the messages' ToolCalls are shared with the stored messages:
// treat them as read-only. Window keeps working after Close.
func (h *History) Window(ctx context.Context, maxTokens int) ([]Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if maxTokens == 0 {
		maxTokens = h.cfg.MaxTokens
	}
	sys := h.system.Load()
	if err := checkBudget(sys, maxTokens); err != nil {
		return nil, err
	}
	// msgs[0] is reserved for the system prompt; the window follows.
	msgs := h.snapshot(make([]Message, 1, 1+h.buf.Cap()))
	return cutWindow(msgs, sys, maxTokens), nil
}

// checkBudget returns Window's error for a budget that is negative or
// smaller than the prompt alone.
func checkBudget(sys *Message, maxTokens int) error {
	if maxTokens < 0 {
		return negativeBudget(maxTokens)
	}
	if sys != nil && sys.Tokens > maxTokens {
		return &ValidationError{Field: "max_tokens", Err: ErrBudgetTooSmall,
			Reason: fmt.Sprintf("system prompt alone is %d tokens, budget %d", sys.Tokens, maxTokens)}
	}
	return nil
}

// cutWindow applies Window's rules: msgs[1:] is the window, oldest first,
// and msgs[0] a free slot for the prompt sys (nil if none); maxTokens was
// checked by checkBudget. It returns a subslice of msgs.
func cutWindow(msgs []Message, sys *Message, maxTokens int) []Message {
	budget := maxTokens
	if sys != nil {
		budget -= sys.Tokens
	}
	win := dropBrokenExchanges(msgs[1:])
	start := len(win)
	for start > 0 && win[start-1].Tokens <= budget {
		budget -= win[start-1].Tokens
		start--
	}
	for start < len(win) && win[start].Seq > 1 &&
		(win[start].Role == Assistant || win[start].Role == Tool) {
		start++
	}
	if sys == nil {
		return win[start:]
	}
	msgs[start] = *sys // the slot just before win[start]
	return msgs[start : 1+len(win)]
}

// CutWindow returns what Window returns for a conversation whose window,
// oldest first with consecutive Seq values, is window and whose pinned
// prompt is prompt (nil if none), with a budget of maxTokens. It returns a
// new slice, and the same errors as Window for a negative budget or one
// smaller than the prompt. Unlike Window it has no configured default: a
// budget of 0 is an error wrapping ErrBudgetTooSmall (resolve 0 to
// Config.MaxTokens first). Store implementations outside this package use
// it, so that their windows follow History's rules exactly, tool
// exchanges included.
func CutWindow(window []Message, prompt *Message, maxTokens int) ([]Message, error) {
	if maxTokens == 0 {
		return nil, &ValidationError{Field: "max_tokens", Err: ErrBudgetTooSmall,
			Reason: "budget 0: CutWindow has no default, resolve 0 to Config.MaxTokens first"}
	}
	if err := checkBudget(prompt, maxTokens); err != nil {
		return nil, err
	}
	msgs := make([]Message, 1+len(window))
	copy(msgs[1:], window)
	return cutWindow(msgs, prompt, maxTokens), nil
}

// Clear empties the window: messages appended before Clear was called are
// no longer returned by Messages or Window. Sequence numbers continue
// (the next message does not get Seq 1), the pinned system prompt stays,
// and counters other than Stats.Cleared and Stats.Evicted are kept (see
// Stats for how they count). Cleared messages are not removed from the
// ring: they stay in memory until newer messages overwrite them.
//
// Clear reads the ring with one Snapshot, so it blocks like the ring's
// Snapshot does: with the mutex backend it holds the ring's mutex and
// with the sharded backend every shard's mutex, so Appends wait for it;
// only with the lockfree backend is it lock-free. It copies the window
// into a new slice to read the newest sequence number. After Close it
// fails with ErrClosed.
func (h *History) Clear(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.closed.Load() {
		return closedError("clear")
	}
	_, last := h.buf.Snapshot(nil)
	capacity := uint64(h.buf.Cap())
	for {
		old := h.clear.Load()
		if last <= old.through {
			return nil // a concurrent Clear already covered this one
		}
		next := old.clearTo(last, capacity)
		if h.clear.CompareAndSwap(old, next) {
			h.log.LogAttrs(ctx, slog.LevelDebug, "chatring: clear",
				slog.Uint64("through_seq", last), slog.Uint64("removed", next.cleared-old.cleared))
			return nil
		}
	}
}

// Close marks h closed: afterwards Append, SetSystemPrompt and Clear fail
// with ErrClosed. Reads (Messages, Window, SystemPrompt, Stats) keep
// working on the final state, so a service can still export a closed
// conversation. Close releases no memory; drop the last reference to h for
// that. Close is idempotent and always returns nil.
func (h *History) Close() error {
	if !h.closed.Swap(true) {
		h.log.LogAttrs(context.Background(), slog.LevelDebug, "chatring: close")
	}
	return nil
}

// retire closes h for its MemoryStore, which has removed it: an Append
// that finds it retired goes back to the store for the conversation's
// current History. retired is set before closed, so whoever sees closed
// set also sees retired.
func (h *History) retire() {
	h.retired.Store(true)
	h.closed.Store(true)
}
