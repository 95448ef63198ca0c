// Package resilient wraps a chatring.Store — in production the Redis
// store, github.com/chatring/chatring/redisstore — with the four
// reliability mechanisms of the deployment checklist this module's Python
// tutorial ends with: retries, a circuit breaker, degradation and a
// graceful close. The result is itself a chatring.Store (it passes
// storetest), so a service that holds a chatring.Store does not change:
//
//	primary, err := redisstore.New(client, cfg)
//	...
//	store, err := resilient.New(primary, resilient.WithOutbox(10_000))
//	...
//	defer store.Close(shutdownCtx)
//
// It is its own module, so that the core module's importers never
// download the resilience libraries it uses: the circuit breaker of
// github.com/sony/gobreaker/v2 and the backoff of
// github.com/cenkalti/backoff/v5.
//
// # Retries
//
// Only chatring.ErrUnavailable is retried: the primary could not be
// reached, did not answer within the attempt's deadline
// (RetryPolicy.AttemptTimeout), or is busy. Validation errors,
// ErrClosed, any other error and the caller's own cancellation or
// deadline are returned at once. (The tutorial retries a ValueError
// three times with exponential sleeps; a permanent error is never
// retried here.) Waits grow exponentially with full jitter, and a call
// ends after RetryPolicy.Attempts attempts, MaxElapsed, or ctx, whichever
// comes first (with a negative AttemptTimeout, an attempt that gets no
// answer ends only with ctx); see RetryPolicy.
//
// A call to a conversation with appends in the outbox (see Degradation)
// first replays them, within a budget of its own: MaxElapsed (and ctx).
// So with a non-negative AttemptTimeout no call of this Store takes much
// more than 2 × MaxElapsed, or its ctx, whichever ends first, however
// long the conversation's outbox queue is.
//
// So a caller never needs to retry: a call that returns ErrUnavailable
// was already retried as long as the policy allows. Retrying at once
// only adds load to a primary that is failing. Validation errors are
// permanent, ErrClosed is final, and a canceled or expired ctx is the
// caller's own decision. A caller may send a failed Append again later
// (a user resubmitting, a job rerun) with the ID the Store returned with
// the error. An append that returned ErrBuffered is queued already and
// must not be sent again; sent again without the returned ID (by code
// that retries every ErrUnavailable), it is a second message.
//
// An Append without a Message.ID gets one before its first attempt (see
// IDPrefix), so a retry after an ambiguous failure — the request reached
// the primary, the reply was lost — finds the first attempt's message
// instead of storing it twice. How long a primary recognises an ID is the
// primary's: the Store contract guarantees it while the first attempt's
// message is in the window; the Redis store keeps IDs longer, for the
// conversation's newest 128 appends by default
// (redisstore.WithIdempotencyHorizon), which also covers an outbox replay
// that comes after newer messages pushed the first attempt's message
// out. With a primary that forgets an ID when its message leaves the
// window (a MemoryStore), a retry or replay after 2 × MaxTurns newer
// messages, or after a Clear, stores it again; after a Delete every
// primary stores it again. Clear,
// Delete and SetSystemPrompt are retried too; after an ambiguous failure
// a retried Clear or Delete also removes what other callers appended
// between its attempts, and a retried SetSystemPrompt overwrites a prompt
// set between them — effects a caller retrying by hand would have as
// well.
//
// # Circuit breaker
//
// Every attempt passes the breaker (see BreakerPolicy). It counts
// ErrUnavailable (attempt timeouts included) as failures and nil as
// successes; validation errors, ErrClosed, other errors and attempts
// ended by the caller's ctx are neither. It opens when, within a rolling
// window, failures reach a count and a share of the outcomes; while open
// every call fails fast with ErrUnavailable wrapping ErrBreakerOpen,
// without touching the primary, or is degraded (below). After OpenFor it
// lets Probes attempts through: enough successes close it, a failure
// opens it again. Every state change is logged (Warn when it opens, Info
// otherwise) and counted in Stats.BreakerTransitions (by the state
// entered) and Stats.BreakerChanges (by the states left and entered). It
// is logged by the call that caused it once the breaker has returned,
// outside the breaker's lock, so a slow log handler holds up that call
// only.
//
// # Degradation
//
// When a call ends with ErrUnavailable — retries exhausted or the
// breaker open — reads and writes degrade differently.
//
// Reads (Messages, Window) are answered from a local mirror. Per
// conversation it holds the messages this process saw through this
// Store: the window its latest read returned, and each message its
// appends stored (durably, or replayed from the outbox), put at its Seq
// whatever order the replies came back in; of those, the ones within
// 2 × MaxTurns of the newest Seq it saw (older ones were pushed out of
// the primary's window too). A degraded read is those messages, then
// the appends this process has buffered (with provisional Seq values
// after that newest), the oldest dropped so that all are within
// 2 × MaxTurns of the newest, with the pinned prompt last seen. So:
//
//   - A degraded read is sorted by Seq, but unlike the primary's window
//     it may have gaps: where this process does not know the messages —
//     other processes' appends since its latest read, its own appends
//     that failed with ErrUnavailable (and may have been stored), and
//     appends still in flight. A process that only appends to a
//     conversation, never reads it, sees only its own appends.
//   - Read-your-writes: a degraded read holds every append this process
//     acknowledged (nil error, or ErrBuffered) whose Seq is within
//     2 × MaxTurns of the newest Seq this process has seen of the
//     conversation, at its Seq (a buffered one, still in the outbox, at
//     its provisional Seq, or after it when the mirror has since learned
//     of a message at that Seq), except those that a Clear or Delete through
//     this process removed or that were in flight when one of them
//     returned, as long as the mirror holds the conversation (see
//     WithMirror) and nothing else deleted it. After another replica's
//     Delete or the primary's idle TTL the mirror keeps the old messages,
//     and leaves out this process's new ones while their Seq values are
//     older than the window of the old newest (they cannot be told from
//     late replies), until a read of the primary, or a new message at a
//     Seq where the mirror holds another one, shows the new start.
//   - A retry that the primary recognises after its message left the
//     window (the Redis store does, for its idempotency horizon) is not
//     put back into the mirror when this process's view is newer or this
//     process cleared it: the Clear's floor is the newest Seq the mirror
//     knew, or, when the primary is a ClearReporter (the Redis store
//     is), the newest Seq the Clear removed, so that even a retry whose
//     first attempt's reply was lost before the Clear stays out. With a
//     primary that is not a ClearReporter, such a retry may come back
//     above the floor and appear in degraded reads until a read of the
//     primary replaces the view (a retry of an append that never reached
//     the primary, stored after the Clear, cannot be told from it by its
//     Seq, and must appear). In a view that knows nothing newer (this
//     process has not read the conversation since it started, and the
//     retry's Seq is the newest it has seen), it appears in degraded
//     reads until a read of the primary replaces the view: a Seq alone
//     cannot tell such an answer from a new message.
//   - A degraded Window includes the pinned prompt only if this process
//     saw it (through Window or SetSystemPrompt), otherwise it returns
//     the messages without the prompt.
//
// A degraded read returns a nil error, is counted (Stats.DegradedReads)
// and logged at Debug. A conversation the mirror does not hold returns
// the ErrUnavailable. The mirror is bounded (WithMirror, W-TinyLFU
// eviction and the IdleTTL).
//
// Writes fail with ErrUnavailable by default. With WithOutbox, Appends
// (and only Appends) are accepted into a bounded, per-process outbox and
// replayed to the primary — in order per conversation, idempotently by
// ID — by a background flusher every WithFlushInterval and as soon as
// the breaker closes (up to 8 conversations at a time; a conversation's
// appends up to 64 per call when the primary is a BatchAppender, as the
// Redis store is, else one Append each), and by any later
// call on the same conversation, which replays the conversation's outbox
// before its own call so as to come after it (a write) or see it (a
// read). That replay, or a write's wait for another goroutine's replay
// of the conversation, is part of the call and bounded by its own
// budget, MaxElapsed (and ctx). If the queue is not empty by then, an
// Append is buffered behind it (ErrBuffered), which keeps its order,
// even though the primary may be up again; SetSystemPrompt, Clear and
// Delete fail with ErrUnavailable; a read is served from the mirror,
// and does not wait for another goroutine's replay at all. What is left
// stays queued for the flusher. A full outbox refuses the append with
// ErrUnavailable (ErrOutboxFull). The outbox holds at most WithOutbox appends in all,
// each at most the Config's MaxMessageBytes of content. SetSystemPrompt, Clear and Delete are never buffered:
// replayed later they would erase or overwrite what others wrote in the
// meantime.
//
// # Durable and buffered acknowledgments
//
// Append's error says how the message was acknowledged:
//
//	m, err := store.Append(ctx, conv, msg)
//	switch {
//	case err == nil:
//		// durable: the primary stored m (m.Seq is its sequence number).
//	case errors.Is(err, resilient.ErrBuffered):
//		// buffered: only this process holds m, until the outbox replays
//		// it; m.Seq is provisional. Lost if the process dies first.
//	default:
//		// not stored (ErrUnavailable: maybe stored by an attempt whose
//		// reply was lost; retrying later with m.ID stores it once).
//	}
//
// ErrBuffered also matches chatring.ErrUnavailable, so code written
// against chatring.Store alone never takes a buffered append for a
// durable one: a nil error from this Store always means the primary has
// the message, as the Store contract requires.
//
// # Consistency across replicas while degraded
//
// Each replica of a service has its own mirror and outbox; nothing is
// shared but the primary. While degraded:
//
//   - A degraded read returns what this replica last saw, not the
//     primary's window: it lacks every message that other replicas
//     appended (durably or into their own outboxes) since this replica's
//     last call on the conversation, and it may still hold messages that
//     another replica has cleared or deleted, or that the idle TTL has
//     expired. Two replicas may answer the same conversation with
//     different windows at the same time, and neither need match the
//     primary's. Within one replica, reads see that replica's own
//     acknowledged appends, durable and buffered, within the limits
//     of read-your-writes above.
//   - A buffered append's Seq is provisional and local: it continues the
//     Seq of the newest message this replica knows of, so two replicas
//     can give the same provisional Seq to different messages. On replay
//     the primary assigns the real Seq; it differs from the provisional
//     one when other replicas appended to the conversation first, or when
//     this replica's mirror did not hold the conversation.
//   - Order: one replica's buffered appends to a conversation reach the
//     primary in the order they were accepted, and after that replica's
//     earlier durable appends; relative to other replicas' appends they
//     land in replay order, interleaved arbitrarily.
//   - Once the primary is back and the outboxes have drained, reads go to
//     the primary again and every replica sees the same window, with the
//     replayed appends in it (unless newer messages already pushed them
//     out). A buffered append that was not replayed before its process
//     ended is lost; Close reports how many.
//
// Durable acknowledgments keep the whole Store contract: a nil error
// means the primary holds the message, and the primary's windows are the
// only source of truth.
//
// # Cost
//
// BenchmarkAppend, BenchmarkMessages and BenchmarkBreakerOpen measure it
// (go test -run '^$' -bench . -count 10 -benchtime 200ms, compared with
// benchstat). On the shared 2-core machine they ran on, other builds kept
// the load average between 13 and 20, so the wall-clock intervals are
// wide (±40–300%) and the figures are medians:
//
//   - With the breaker open, an Append fails fast in 0.34 µs at the
//     median and 5.1 µs at the 99th percentile (9.4 µs in the worst of
//     the ten runs): far below a millisecond, and the primary is not
//     called. A degraded Messages of 20 messages takes 1.0 µs at the
//     median, 133 µs at the 99th percentile.
//   - On the happy path the Store adds about 0.9 µs of CPU to an Append
//     on a MemoryStore (1.8 µs against 0.9 µs of process CPU time per
//     call, cpu-ns/op, at load average 19; ns/op varied by ±34–170%
//     there), and no allocation, with or without AttemptTimeout, under
//     context.Background: the attempts that start within a 64th of
//     AttemptTimeout share one deadline and its timer (see
//     RetryPolicy.AttemptTimeout), where a context.WithDeadline per
//     attempt cost 1.2 µs. Under a cancelable ctx an attempt's context
//     polls the caller's ctx and the shared deadline until the primary
//     asks for its Done channel, which a MemoryStore never does: there
//     an Append costs 1.7 µs of CPU against 2.5 µs with a
//     context.WithDeadline per attempt (-31%, 5 allocations to 2; 10
//     interleaved runs of each binary at load average 6–8). The rest is
//     the breaker's lock and two clock reads, the mirror and
//     validation. (An
//     earlier run, by ns/op, put a read of 20 messages at 2.2 µs more.)
//     Over a loopback Redis Append the client's CPU per call grows by
//     4.0 µs (21.8 µs to 25.8 µs, +18.5%; 8.5 µs before the shared
//     deadline and the mirror's cheaper lookup and append) under
//     context.Background, about 5% of the Append's wall-clock time at
//     load average 16–19 and 8% of the 49 µs it took at a lower load;
//     under a cancelable ctx, by about 8 µs, as before. The wall-clock
//     difference itself could not be resolved (±54–83%); bench/RESULTS.md
//     has the runs. Those runs, and a later one that put the wrapper at
//     +4.9% under context.Background and +34% under a cancelable ctx,
//     timed duplicates in part or mostly: every case numbered its IDs
//     from req-0 on one server, so a -count repeat, or a case after
//     another on the same store, appended IDs Redis already held, which
//     it answers without storing. With fresh
//     IDs, 20 runs of the test binary (-benchtime 1s, load average
//     2.2–5.8) put the median of the per-run ratios of the client's CPU
//     at 1.085 under context.Background (not significant, sign test
//     p = 0.26) and at 1.15 under a cancelable ctx (p = 0.003). That
//     1.15 is about 1.04 for the attempt's deadline itself (the bare
//     store under a context.WithTimeout of AttemptTimeout per call, as a
//     service bounding its Redis calls pays, against none; p = 0.50)
//     and 1.04 for the wrapper beyond it (p = 0.041; 38 allocations per
//     Append against 35). Under the caller's own deadline, where the
//     wrapper makes none, the ratio is 1.086 (p = 0.041). The wall-clock
//     time per Append, the target's measure, differed by a median of
//     0–3%, which these runs could not tell from 0 (interquartile ranges
//     about ±15%). bench/RESULTS.md has the table. Measure it on your
//     primary.
//
// The outbox's drain after a 5 s freeze of a redis-server with
// appendfsync always (TestFreeze in resilient/redisfault, 8 writers over
// 16 conversations, 4,100–6,400 appends buffered) took 0.31–1.15 s from
// the breaker closing, median 0.96 s, in 6 runs at load average 5.7–11.3,
// with batches through the Redis store's AppendBatch; one Append per
// round trip took 1.99–2.88 s, median 2.22 s, in 6 runs alternated with
// those (bench/RESULTS.md has an earlier pair of runs too). Three later
// runs drained in 0.19–1.54 s. cmd/stress's fault run (-faults
// freeze,pause -duration 16s: 1000 conversations, 4 s faults, an outbox
// of 10,000 that fills) drained in 0.58–1.47 s after the freeze and
// 0.41–0.86 s after the pause, in 9 runs at load average 2.7–5.8, once it
// replayed in batches too. Before that it replayed one Append per
// message and took 2.4 s to more than the rest of the run.
//
// # Close
//
// Close stops accepting writes (ErrClosed), waits for the writes in
// flight, replays the outbox (up to 8 conversations at a time, each in
// order, in batches as above) until it is empty or ctx is done, and
// closes the primary. Its error says how many buffered appends, in how
// many conversations, were not flushed (an *UnflushedError); they are
// logged with counts only. Nothing this package logs contains message
// content, names or conversation IDs.
package resilient
