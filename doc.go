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
// cost; the benchmarks in bench/ compare them.
//
//	backend    pick it when                         progress                      memory
//	---------  -----------------------------------  ----------------------------  ------------------------------
//	mutex      the default; few goroutines per       blocking: one mutex for       capacity messages,
//	           history, or you are unsure            Push and Snapshot             no allocation per Append
//	lockfree   read-heavy loads, goroutines          lock-free Push and Snapshot   capacity messages + one small
//	           outnumbering cores, tail latency      (a reader retries when a      allocation per Append; no lock
//	           matters; no lock in History but       push overwrites a slot it     in History but for Appends
//	           for Appends with an ID                has not copied yet)           with an ID
//	sharded    write-heavy loads with many           blocking: one shard mutex     shards × capacity messages
//	           concurrent writers                    per Push, all for Snapshot    (evicted ones stay reachable
//	                                                                               until their shard overwrites)
//
// Capacity is 2 × MaxTurns. Content is bounded by MaxMessageBytes, so the
// memory a History can ever hold is about capacity × (MaxMessageBytes +
// MaxNameBytes + 100 bytes) — times Shards for the sharded backend — and
// never grows with the number of messages appended.
//
// # Validation
//
// Append accepts only the roles [System], [User], [Assistant] and [Tool],
// and content that is valid UTF-8, not empty or white space only, at most
// MaxMessageBytes long and free of control characters other than tab,
// newline and carriage return. Every rejection wraps a sentinel error
// ([ErrInvalidRole], [ErrEmptyContent], [ErrMessageTooLarge],
// [ErrInvalidContent], [ErrClosed]) matched with errors.Is, carries a
// [*ValidationError] for errors.As, and changes nothing but the rejection
// counters. A validation error is permanent: the Python tutorial this
// package replaces retries a ValueError three times with exponential
// sleeps, which only delays the same failure by three seconds (1 s + 2 s of
// sleep) while the caller waits. Never retry these errors.
//
// # Sequence numbers, time and Clear
//
// Each appended message gets Seq 1, 2, 3, ... in the order it entered the
// ring; Messages and Window always return consecutive Seq values, oldest
// first. Message.Time is taken just before the message is stored, so under
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
