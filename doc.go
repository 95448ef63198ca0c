// Package chatring keeps the bounded conversation history of an LLM chat
// service: the newest messages of a conversation, appended to and read by
// many goroutines at once, with validation, metrics, structured logging, a
// pinned system prompt and a token-budget view for building model
// requests.
//
// A [History] is created from a [Config] (a plain struct, loadable from a
// JSON file with [ParseConfig]) and keeps the newest 2 × MaxTurns messages
// in a ring chosen by name:
//
//	h, err := chatring.New(chatring.Config{Backend: "lockfree", MaxTurns: 10})
//	...
//	m, err := h.Append(ctx, chatring.Message{Role: chatring.User, Content: "Hi"})
//	msgs, err := h.Window(ctx, 0) // system prompt + newest messages within MaxTokens
//
// # Backends
//
// The three backends implement [ringbuf.Buffer] and behave identically:
// every read sees a contiguous run of sequence numbers. They differ in
// progress guarantee, memory and cost:
//
//	backend    progress                                memory
//	---------  --------------------------------------  ------------------------------------------
//	mutex      blocking: one mutex for Push and        capacity messages, no allocation per Append
//	           Snapshot
//	lockfree   lock-free Push and Snapshot (a reader   capacity messages + one small allocation
//	           retries when a push overwrites a slot   per Append
//	           it has not copied yet); no lock in
//	           History but for Appends with an ID
//	sharded    blocking: one shard mutex per Push,     shards × capacity messages (evicted ones
//	           all of them for Snapshot                stay reachable until their shard overwrites)
//
// Which is fastest depends on the load and the machine: measure on yours
// (make bench, go -C cmd/stress run .). On the 2-core machine of
// bench/RESULTS.md, as ratios of speed to the mutex ring's:
//
//   - mutex is the default, and the fastest or close to it in most
//     workloads. Pick it unless your case is one of the two below.
//   - lockfree is slower, or at best level, in every append-only,
//     write-heavy and chat-mix benchmark, and in the read-heavy one (90%
//     snapshots) at capacity 20: 0.43–0.69×. It is faster for snapshots
//     alone at capacity 20 (2.0–2.4× through History from 2 goroutines
//     on, 1.8–2.1× as a bare ring at 4 and 8), read-heavy at capacity 1024
//     from 2 goroutines on (1.1–1.3×) and the seed's workload through
//     History at 2 goroutines (1.3×), and its p99.9 latencies in the
//     stress CLI are worse (median over 5 runs: 1.4× the mutex ring's for
//     appends, 2.9× for snapshots). Pick it for its progress guarantee: a
//     goroutine preempted in the middle of an operation delays nobody.
//   - sharded appends faster when many goroutines append through History
//     (up to 1.5× at 4 and 8 goroutines) and in the stress CLI's 8 writers
//     and 8 readers (2.5–13×). As a bare ring under pushes alone it mostly
//     does not: 0.47–0.88× in the write-heavy benchmark, 0.39–2.18× in the
//     append-only one (faster only at capacity 1024 and 8 goroutines). In
//     the chat-mix benchmark (10% snapshots) it is slower: 0.38–0.77×
//     through History (but 1.2× at capacity 20 and 2 goroutines), 0.33–0.86×
//     as a bare ring. Its snapshots are the slowest of the three
//     (0.33–0.51× through History, 0.23–0.42× as a bare ring, 0.06–0.22× in
//     the stress CLI).
//
// Capacity is 2 × MaxTurns. Content and tool fields together are bounded
// by MaxMessageBytes, so the memory a History can ever hold is about
// capacity × (MaxMessageBytes + MaxNameBytes + 100 bytes + 48 bytes per
// tool call, at most [MaxToolCalls] of them) — times Shards for the
// sharded backend — and never grows with the number of messages appended.
//
// # Validation
//
// Append accepts only the roles [System], [User], [Assistant] and [Tool],
// and content that is valid UTF-8, not empty or white space only, at most
// MaxMessageBytes long and free of control characters other than tab,
// newline and carriage return. Every rejection but a canceled context
// wraps a sentinel error ([ErrInvalidRole], [ErrEmptyContent],
// [ErrMessageTooLarge], [ErrInvalidContent], [ErrClosed]) matched with
// errors.Is, is a [*ValidationError] for errors.As (with no Field for
// ErrClosed), and changes nothing but the rejection counters. ParseConfig
// and New reject a configuration the same way, with ErrInvalidConfig. A
// validation error is permanent: the Python tutorial this package
// replaces retries a ValueError three times with exponential sleeps, which
// only delays the same failure by three seconds (1 s + 2 s of sleep) while
// the caller waits. Never retry these errors.
//
// # Tool calls
//
// An [Assistant] message may carry [ToolCall]s (an ID, a function name and
// JSON arguments, validated like content and counted in MaxMessageBytes
// and Tokens; its Content may then be empty), and each result is a [Tool]
// message whose ToolCallID names the call it answers, appended right after
// the call. [History.Window] returns whole tool exchanges only — a call
// with all of its results — except the newest exchange while its results
// are still being appended; [CompleteExchanges] removes that one too.
// The adapter modules under adapters/ convert windows to the requests of
// the OpenAI, Anthropic and langchaingo Go SDKs, and responses back to
// Messages.
//
// # Sequence numbers, time and Clear
//
// Each appended message gets Seq 1, 2, 3, ... in the order it entered the
// ring; Messages always returns consecutive Seq values, oldest first, and
// so does Window, except where it left out a broken tool exchange (see
// Tool calls below). Message.Time is taken just before the message is stored, so under
// concurrent appends Time order may differ from Seq order by microseconds:
// order by Seq. Clear raises a watermark instead of touching the ring, and
// sequence numbers continue after it. It reads the ring's newest sequence
// number with one snapshot, so it locks what a read locks: the mutex
// ring's lock or all of the sharded ring's shard locks, nothing with the
// lockfree backend.
//
// # Metrics and logging
//
// [History.Stats] returns counters (appended, per role, rejected per
// reason, bytes, tokens) kept with one atomic add each per call — unlike
// the tutorial, nothing is recomputed over the window on Append — and the
// evicted and cleared counts, which Clear and Stats record (Append does
// not touch them); the window's bytes and tokens and the uptime are worked
// out when Stats is called. Evicted, cleared and the window always
// add up to the last sequence number, and the counters never decrease from
// one Stats call to the next, so they can be exported as counters. Logging
// uses log/slog (see [WithLogger]) and never includes the content or name
// of a message.
//
// # Tokens
//
// Token counts are computed once per message, by Append, with a
// [Tokenizer]: [ApproxTokenizer] by default, or the exact BPE tokenizer of
// the separate module github.com/chatring/chatring/tokenizer/tiktoken.
//
// # Concurrency
//
// Every method of History is safe for concurrent use with every backend.
// After [History.Close], writes fail with ErrClosed and reads keep working.
//
// # Many conversations
//
// A [Store] keeps many conversations, each a History addressed by a
// conversation ID. [MemoryStore] keeps them in this process, bounded by
// Config.IdleTTL and Config.MaxConversations; other modules implement it
// on Redis and wrap it with retries and a circuit breaker. Every Store
// passes the conformance suite in package
// github.com/chatring/chatring/storetest. [Message.ID] makes Append
// idempotent, on a History and on every Store, so that a retried Append is
// stored once; [ErrUnavailable] is the only error worth retrying.
package chatring
