// Command stress load-tests chatring's history backends.
//
// Writers append messages and readers take snapshots of the window, all at
// once, on the mutex, lock-free and sharded rings (-level ring), on a
// chatring.History built on them (-level history), or on a chatring.Store
// of many conversations (-level store, checked per conversation). Every
// snapshot is checked
// online for the guarantees every backend makes: a contiguous run of
// sequence numbers, oldest first, each writer's messages in its own order,
// and each writer's newest append that returned before the read began at
// the position its sequence number gives, with its own message number (or
// evicted), every other message of that writer on the right side of it.
// docs/stress.md says exactly what each check does and does not prove.
// After the run, the final window must equal the last appends and the
// totals must equal what the writers sent. Any violation is described and makes the exit
// status 1.
//
// With no flags it runs each backend for two seconds on a mixed workload (4
// writers, 4 readers, a window of 20 messages) and prints a comparison
// table:
//
//	go -C cmd/stress run .
//
// The report gives appends/s and snapshots/s, latency percentiles (p50, p90,
// p99, p99.9, max) per operation from HDR histograms, allocations and GC
// pauses from runtime/metrics, the invariant checks made and violations
// found, and each backend's ratio against the mutex ring. -format json
// prints it as JSON with a stable, versioned schema.
//
// By default the workers run a closed loop, so the percentiles are service
// times: a stalled operation holds back its worker's next ones and shows as
// one slow sample (coordinated omission). -rate R runs an open loop
// instead: R operations per second spread over the workers, each latency
// measured from when the operation was due, as wrk2 does.
//
// -level store -store redis loads the Redis store (redisstore) with the
// same checks, on the server at -redis host:port or, by default, on a
// redis-server it starts on a free port of 127.0.0.1 in a temporary
// directory (when the binary is on PATH), saying so on stderr, and stops
// at the end. -faults freeze,restart,lost,pause (or all) also runs a fault
// schedule on that server — frozen with SIGSTOP and SIGCONT, killed and
// restarted on its append-only file (appendfsync always), replies lost
// and connections reset by a TCP proxy, CLIENT PAUSE WRITE — with the
// store wrapped in a resilient.Store whose outbox holds -outbox appends;
// the report adds the appends acknowledged (durable, buffered) and failed,
// the retries, failed-fast attempts, degraded reads, outbox high-water
// mark and breaker transitions, and the final checks: every durable
// acknowledgment in its window at its Seq or pushed out, none stored
// twice, windows contiguous, every buffered append flushed once or
// reported unflushed:
//
//	go -C cmd/stress run . -level store -store redis -faults all -duration 60s
//
// -preset seed reproduces the example of the Python tutorial chatring
// replaces: 10 goroutines × 100 × (user, assistant) messages into one
// history with max_turns 10, and prints its statistics (2000 messages, 1000
// per role, a window of 20).
//
// The first interrupt (SIGINT or SIGTERM) stops the run and prints the
// report of what ran; a second exits at once. Exit status: 0 success, 1
// invariant violation or failure, 2 bad flags (go run reports the status
// and exits 1 for any failure; build the binary to tell them apart).
//
// This directory is a module of its own, so that the core module never
// requires a Redis client; run it from the repository root with
// "go -C cmd/stress run .". docs/stress.md documents every flag, examples
// and the JSON schema; run "stress -h" for the flags.
package main
