package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/chatring/chatring"
)

// Defaults of the no-flag run: the README's main command. Three backends ×
// defaultDuration stays well under 15 seconds.
const (
	defaultWriters  = 4
	defaultReaders  = 4
	defaultDuration = 2 * time.Second
	defaultMaxTurns = 10 // the seed's max_turns: a window of 20 messages
	defaultPayload  = 64
	maxCapacity     = 1 << 20
	maxPayload      = 1 << 20
	// maxWorkers bounds -writers and -readers each, far above any useful
	// load on one machine, so that the memory estimate cannot overflow.
	maxWorkers = 1 << 16
	// maxFootprint bounds the memory a run may set aside (see footprint):
	// a load test that needs more is almost certainly a typo, and would
	// die out of memory with a stack trace instead of a message.
	maxFootprint = 1 << 30
	// maxRate bounds -rate: one operation per nanosecond.
	maxRate = 1e9
	// defaultConversations and maxConversations are -conversations'
	// default and bound (-level store).
	defaultConversations = 1000
	maxConversations     = 10_000_000
	// defaultFaultSlot is the default -duration per fault of -faults;
	// each fault lasts half of it.
	defaultFaultSlot = 4 * time.Second
	// defaultOutbox and maxOutbox are -outbox's default and bound.
	defaultOutbox = 10_000
	maxOutbox     = 10_000_000
)

// The seed preset: the seed's section 1, 10 threads × 100 × (user,
// assistant) into one manager with max_turns 10.
const (
	seedWriters  = 10
	seedPairs    = 100
	seedMaxTurns = 10
)

// usageError is a bad command line: main prints it on one line and exits
// with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// options is the parsed, validated command line.
type options struct {
	backends   []string
	level      string // "ring" or "history"
	writers    int
	readers    int
	duration   time.Duration // the time bound per backend when ops is 0
	ops        uint64        // total operations per backend, or 0
	rate       float64       // open loop: operations per second per backend; 0 for a closed loop
	capacity   int           // window size in messages
	maxTurns   int           // capacity/2 when given as -max-turns, else 0
	payload    int           // bytes of content per message
	format     string        // "text" or "json"
	seed       uint64
	cpuprofile string
	preset     string
	check      bool
	// Store level: the conversations, how operations pick them, and the
	// store ("memory" or "redis").
	conversations int
	dist          string
	store         string
	// -store redis: the server's address ("": start one), the faults to
	// inject and the resilient Store's outbox bound (with faults).
	redisAddr string
	faults    []string
	outbox    int
}

const usageHeader = `Usage: stress [flags]

stress load-tests chatring's history backends: writers append messages and
readers take snapshots of the window concurrently, while every snapshot is
checked for the backends' guarantees. It prints throughput, latency
percentiles, allocations and GC pauses per backend, and exits 1 if any
invariant was violated, 2 on bad flags.

With no flags it runs every backend for %v on a mixed workload and prints a
comparison table. The first interrupt (Ctrl-C) stops the run and still
prints the report; a second exits at once. See docs/stress.md.

Flags:
`

// parseFlags parses and validates args. For -h it prints the usage to
// stdout and returns flag.ErrHelp.
func parseFlags(args []string, stdout io.Writer) (*options, error) {
	fs := flag.NewFlagSet("stress", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by the caller, on one line
	var (
		backend  = fs.String("backend", "all", "backend to load: mutex, lockfree, sharded, or all (each in turn, compared with mutex)")
		writers  = fs.Int("writers", defaultWriters, "number of writer goroutines, each appending as fast as it can")
		readers  = fs.Int("readers", defaultReaders, "number of reader goroutines, each taking snapshots of the window as fast as it can")
		duration = fs.Duration("duration", defaultDuration, "how long to load each backend (exclusive with -ops)")
		ops      = fs.Int64("ops", 0, "total operations per backend, split evenly over the writers and readers (exclusive with -duration)")
		rate     = fs.Float64("rate", 0, "open loop: operations per second per backend, spread evenly over the writers and readers, with latency measured from when each was due (0: closed loop, as fast as each worker can)")
		maxTurns = fs.Int("max-turns", defaultMaxTurns, "window size in turns: the window holds 2 × max-turns messages, as in the seed (exclusive with -capacity)")
		capacity = fs.Int("capacity", 0, "window size in messages (exclusive with -max-turns)")
		payload  = fs.Int("payload", defaultPayload, "content bytes per message")
		level    = fs.String("level", "ring", "what to load: ring (the raw backends), history (chatring.History with validation and metrics) or store (a chatring.Store of many conversations)")
		convs    = fs.Int("conversations", defaultConversations, "-level store: the number of conversations the operations spread over")
		dist     = fs.String("dist", "zipf", "-level store: how each operation picks its conversation: uniform, or zipf (a few busy conversations, many quiet ones)")
		store    = fs.String("store", "memory", "-level store: the store to load: memory (chatring.MemoryStore, one per backend) or redis (redisstore on a redis-server)")
		redisA   = fs.String("redis", "", "-store redis: the host:port of the Redis server to load (default: start a redis-server on a free port of 127.0.0.1 in a temporary directory, if it is on PATH)")
		faults   = fs.String("faults", "", "-store redis: inject faults during the run, in equal slots of -duration, through a resilient Store with an outbox: a comma-separated list of freeze (SIGSTOP, SIGCONT), restart (SIGKILL, restart on the AOF), lost (replies lost, connections reset), pause (CLIENT PAUSE WRITE), or all (default -duration: 4s per fault)")
		outbox   = fs.Int("outbox", defaultOutbox, "-faults: the resilient Store's outbox bound, in buffered appends")
		format   = fs.String("format", "text", "report format: text or json")
		seed     = fs.Uint64("seed", 1, "seed of the pseudo-random message content")
		cpuprof  = fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
		preset   = fs.String("preset", "", "run a named workload: seed (the seed's example: 10 writers × 100 × (user, assistant), max_turns 10, at history level)")
		check    = fs.Bool("check", true, "check every snapshot online (the final checks always run)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, usageHeader, defaultDuration)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil, flag.ErrHelp
		}
		return nil, &usageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q: stress takes only flags", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	o := &options{
		level: *level, writers: *writers, readers: *readers, duration: *duration,
		payload: *payload, format: *format, seed: *seed, cpuprofile: *cpuprof,
		preset: *preset, check: *check, rate: *rate,
		conversations: *convs, dist: *dist, store: *store,
		redisAddr: *redisA, outbox: *outbox,
	}
	switch {
	case *backend == "all":
		o.backends = backendNames
	case slices.Contains(backendNames, *backend):
		o.backends = []string{*backend}
	default:
		return nil, usagef("unknown backend %q: want %s", *backend, describeBackends())
	}
	switch o.preset {
	case "":
	case "seed":
		for _, name := range []string{"writers", "readers", "duration", "ops", "max-turns", "capacity", "level", "payload"} {
			if set[name] {
				return nil, usagef("-preset seed fixes -%s: leave it out", name)
			}
		}
		o.level, o.writers, o.readers, o.payload = "history", seedWriters, 0, 0
		*ops, *maxTurns = seedWriters*seedPairs*2, seedMaxTurns
		set["ops"] = true
	default:
		return nil, usagef("unknown preset %q: want seed", o.preset)
	}
	if o.level != "ring" && o.level != "history" && o.level != "store" {
		return nil, usagef("unknown level %q: want ring, history or store", o.level)
	}
	if o.level != "store" {
		for _, name := range []string{"conversations", "dist", "store", "redis", "faults", "outbox"} {
			if set[name] {
				return nil, usagef("-%s applies to -level store only", name)
			}
		}
		o.conversations, o.dist, o.store, o.outbox = 0, "", "", 0
	} else {
		if o.conversations < 1 || o.conversations > maxConversations {
			return nil, usagef("-conversations must be between 1 and %d, got %d", maxConversations, o.conversations)
		}
		if o.dist != "uniform" && o.dist != "zipf" {
			return nil, usagef("unknown distribution %q: want uniform or zipf", o.dist)
		}
		if err := redisFlags(o, set, *faults); err != nil {
			return nil, err
		}
		if o.rate > 0 {
			return nil, usagef("-rate is not supported at -level store yet")
		}
	}
	if o.format != "text" && o.format != "json" {
		return nil, usagef("unknown format %q: want text or json", o.format)
	}
	if o.writers < 0 || o.readers < 0 {
		return nil, usagef("-writers and -readers must not be negative")
	}
	if o.writers > maxWorkers {
		return nil, usagef("-writers must be at most %d, got %d", maxWorkers, o.writers)
	}
	if o.readers > maxWorkers {
		return nil, usagef("-readers must be at most %d, got %d", maxWorkers, o.readers)
	}
	if o.writers == 0 && o.readers == 0 {
		return nil, usagef("-writers and -readers are both 0: nothing to run")
	}
	if !(o.rate >= 0 && o.rate <= maxRate) { // also false for NaN
		return nil, usagef("-rate must be between 0 (closed loop) and %g operations per second, got %g", float64(maxRate), o.rate)
	}
	if set["duration"] && set["ops"] {
		return nil, usagef("-duration and -ops are exclusive: give one bound")
	}
	if o.duration <= 0 {
		return nil, usagef("-duration must be positive, got %v", o.duration)
	}
	if set["ops"] {
		if *ops <= 0 {
			return nil, usagef("-ops must be positive, got %d", *ops)
		}
		if workers := o.writers + o.readers; *ops < int64(workers) {
			return nil, usagef("-ops %d is fewer than the %d writers and readers: each needs at least one operation", *ops, workers)
		}
		o.ops = uint64(*ops)
	}
	if set["max-turns"] && set["capacity"] {
		return nil, usagef("-max-turns and -capacity are exclusive: give one window size")
	}
	if set["capacity"] {
		o.capacity = *capacity
	} else {
		if *maxTurns < 1 || *maxTurns > maxCapacity/2 {
			return nil, usagef("-max-turns must be between 1 and %d (a window of %d messages), got %d", maxCapacity/2, maxCapacity, *maxTurns)
		}
		o.maxTurns, o.capacity = *maxTurns, 2**maxTurns
	}
	if o.capacity < 1 || o.capacity > maxCapacity {
		return nil, usagef("window capacity must be between 1 and %d messages, got %d", maxCapacity, o.capacity)
	}
	if o.level != "ring" && o.capacity%2 != 0 {
		return nil, usagef("-level %s keeps 2 × max-turns messages: -capacity must be even, got %d", o.level, o.capacity)
	}
	if o.level != "ring" && o.maxTurns == 0 {
		o.maxTurns = o.capacity / 2
	}
	if o.level != "ring" && o.maxTurns > chatring.MaxMaxTurns {
		return nil, usagef("-level %s keeps at most %d turns, got %d", o.level, chatring.MaxMaxTurns, o.maxTurns)
	}
	if o.payload < 0 || o.payload > maxPayload {
		return nil, usagef("-payload must be between 0 and %d bytes, got %d", maxPayload, o.payload)
	}
	if n := footprint(o); n > maxFootprint {
		return nil, usagef("-writers %d, -readers %d, a window of %d messages and -payload %d would take about %.1f GiB (latency histograms, per-worker windows, the ring and what it holds); the limit is %d GiB",
			o.writers, o.readers, o.capacity, o.payload, float64(n)/(1<<30), maxFootprint>>30)
	}
	return o, nil
}

// histogramBytes is the size of one worker's latency histogram (about
// 220 KB at 1 ns … 1 minute, 3 digits).
var histogramBytes = sync.OnceValue(func() uint64 { return uint64(newHistogram().ByteSize()) })

// footprint estimates the memory a run of o sets aside or keeps at once,
// in bytes: a latency histogram per worker, each writer's log of its last
// capacity appends, each reader's window and its decoded records, the
// ring (shards × capacity slots for the sharded backend) and, at history
// level, the content the ring keeps. Backends run one at a time, so only
// the largest ring counts. It is an estimate for a sanity bound, not an
// accounting: the runtime adds its own overhead.
func footprint(o *options) uint64 {
	capacity := uint64(o.capacity)
	elem := uint64(unsafe.Sizeof(item{}))
	if o.level != "ring" {
		elem = uint64(unsafe.Sizeof(chatring.Message{}))
	}
	rec := uint64(unsafe.Sizeof(rec{}))
	shards := uint64(1)
	if slices.Contains(o.backends, "sharded") {
		shards = uint64(min(runtime.GOMAXPROCS(0), chatring.MaxShards))
	}
	n := uint64(o.writers+o.readers) * histogramBytes()
	n += uint64(o.writers) * capacity * rec
	n += uint64(o.readers) * capacity * (elem + rec)
	ring := capacity * (elem + 16) // a slot, and the lock-free ring's entry header
	if o.level != "ring" {
		ring += capacity * uint64(o.payload)
	}
	if o.level == "store" {
		// Every conversation holds a ring, and the writers remember the
		// last capacity appends of each.
		convs := uint64(o.conversations)
		return n + convs*(shards*ring+capacity*uint64(unsafe.Sizeof(storeRecord{}))+256)
	}
	return n + shards*ring
}

// redisFlags checks -store and the flags of -store redis, and sets the
// backend list and the default duration of a Redis run.
func redisFlags(o *options, set map[string]bool, faults string) error {
	switch o.store {
	case "memory":
		for _, name := range []string{"redis", "faults", "outbox"} {
			if set[name] {
				return usagef("-%s applies to -store redis only", name)
			}
		}
		o.outbox = 0
		return nil
	case "redis":
	default:
		return usagef("unknown store %q: want memory or redis", o.store)
	}
	if set["backend"] {
		return usagef("-backend applies to -store memory only: a Redis store has no ring backend")
	}
	var err error
	if o.faults, err = parseFaults(faults); err != nil {
		return err
	}
	o.backends = []string{"redis"}
	if len(o.faults) == 0 {
		if set["outbox"] {
			return usagef("-outbox applies to -faults only")
		}
		o.outbox = 0
		return nil
	}
	o.backends = []string{"resilient"}
	if o.redisAddr != "" {
		return usagef("-faults freezes, kills and restarts the server: it needs one the run starts, not -redis")
	}
	if set["ops"] {
		return usagef("-faults runs a schedule in time: give -duration, not -ops")
	}
	if o.outbox < 1 || o.outbox > maxOutbox {
		return usagef("-outbox must be between 1 and %d, got %d", maxOutbox, o.outbox)
	}
	if !set["duration"] {
		o.duration = defaultFaultSlot * time.Duration(len(o.faults))
	}
	return nil
}
