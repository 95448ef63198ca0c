package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/chatring/chatring/resilient"
)

// The Redis store (-store redis). Without -redis, the run starts its own
// redis-server (redistest: a free port of 127.0.0.1, a temporary
// directory, killed and removed at the end) and says so on stderr. Every
// run writes under a key prefix of its own, with an idle TTL, so that a
// run against a shared server neither reads an earlier run's
// conversations nor leaves them there for long.
//
// With -faults, the server is always one the run started (it is frozen,
// killed and restarted), with appendonly yes and appendfsync always; the
// store is a resilient.Store with an outbox over the Redis store, whose
// client goes through a TCP proxy (redistest.Proxy) that can lose replies.

// redisKeyTTL is the idle TTL of the keys a run writes.
const redisKeyTTL = 10 * time.Minute

// redisRig is what a Redis run started and uses.
type redisRig struct {
	server *redistest.Server // nil with -redis
	proxy  *redistest.Proxy  // -faults only
	addr   string            // where the server listens
	prefix string            // the run's key prefix
	client *redis.Client     // the store's client (through proxy with -faults)
	cfg    chatring.Config
}

// faultClientOptions are the go-redis options of a -faults run, as in
// resilient/redisfault: ContextTimeoutEnabled, so that an attempt's
// deadline cuts a call to a frozen server, and no retries of go-redis's
// own, so that the retries are the resilient Store's (and counted).
func faultClientOptions(addr string) *redis.Options {
	return &redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, PoolTimeout: 200 * time.Millisecond}
}

// openRedis starts (or connects to) the server of a Redis run and opens
// its client. say receives the line that tells the user what was started.
func openRedis(ctx context.Context, o *options, say io.Writer) (*redisRig, error) {
	rig := &redisRig{
		prefix: fmt.Sprintf("chatring-stress:%d:", time.Now().UnixNano()),
		cfg: chatring.Config{
			MaxTurns:        o.capacity / 2,
			MaxMessageBytes: max(chatring.DefaultMaxMessageBytes, o.payload+64),
			IdleTTL:         redisKeyTTL,
		},
	}
	if o.redisAddr != "" {
		rig.addr = o.redisAddr
	} else {
		if _, err := exec.LookPath("redis-server"); err != nil {
			return nil, fmt.Errorf("-store redis: redis-server is not on PATH to start one (%s), and no -redis address was given", redistest.InstallHint)
		}
		var args []string
		if len(o.faults) > 0 {
			args = []string{"--appendonly", "yes", "--appendfsync", "always"}
		}
		s, err := redistest.StartServer(ctx, args...)
		if err != nil {
			return nil, err
		}
		rig.server, rig.addr = s, s.Addr
		startedServers.add(s)
		what := "persistence off"
		if len(o.faults) > 0 {
			what = "appendonly yes, appendfsync always"
		}
		fmt.Fprintf(say, "stress: started redis-server on %s in %s (%s; stopped and removed at the end; -redis ADDR uses another server)\n", s.Addr, s.Dir, what)
	}
	opts := &redis.Options{Addr: rig.addr}
	if len(o.faults) > 0 {
		p, err := redistest.NewProxy(rig.addr)
		if err != nil {
			rig.close()
			return nil, err
		}
		rig.proxy = p
		opts = faultClientOptions(p.Addr)
	}
	rig.client = redis.NewClient(opts)
	if err := rig.client.Ping(ctx).Err(); err != nil {
		rig.close()
		return nil, fmt.Errorf("-store redis: %s: %w", rig.addr, err)
	}
	return rig, nil
}

// store opens a Redis store on the rig's client.
func (rig *redisRig) store(client redis.UniversalClient) (*redisstore.Store, error) {
	return redisstore.New(client, rig.cfg, redisstore.WithPrefix(rig.prefix))
}

// close releases what openRedis started.
func (rig *redisRig) close() {
	if rig.client != nil {
		rig.client.Close()
	}
	if rig.proxy != nil {
		rig.proxy.Close()
	}
	if rig.server != nil {
		rig.server.Stop()
		startedServers.remove(rig.server)
	}
}

// startedServers are the redis-servers that runs started and have not
// stopped yet: exitNow stops them (killed, their directories removed)
// before a second signal ends the process, which skips every deferred
// close.
var startedServers serverSet

// serverSet is a set of servers, safe for concurrent use.
type serverSet struct {
	mu sync.Mutex
	m  map[*redistest.Server]struct{}
}

func (s *serverSet) add(srv *redistest.Server) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[*redistest.Server]struct{}{}
	}
	s.m[srv] = struct{}{}
}

func (s *serverSet) remove(srv *redistest.Server) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, srv)
}

// stopAll stops every server of the set (Stop is idempotent).
func (s *serverSet) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for srv := range s.m {
		srv.Stop()
	}
}

// Fault names, in the order "all" runs them.
var faultNames = []string{"freeze", "restart", "lost", "pause"}

// parseFaults parses -faults: a comma-separated list of fault names, or
// "all".
func parseFaults(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if s == "all" {
		return faultNames, nil
	}
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f == "freeze" && stopSignal == nil {
			return nil, usagef("-faults freeze needs SIGSTOP, which this system does not have")
		}
		known := false
		for _, n := range faultNames {
			known = known || f == n
		}
		if !known {
			return nil, usagef("unknown fault %q: want a comma-separated list of %s, or all", f, strings.Join(faultNames, ", "))
		}
		out = append(out, f)
	}
	return out, nil
}

// FaultEvent is one fault of the schedule: its name, when it began after
// the start of the load, and how long it lasted, in seconds; Dropped is
// the replies the proxy lost (fault "lost"), Error what went wrong
// injecting or healing it ("" when nothing did).
type FaultEvent struct {
	Fault        string  `json:"fault"`
	StartSeconds float64 `json:"start_seconds"`
	Seconds      float64 `json:"seconds"`
	Dropped      int64   `json:"dropped_replies"`
	Error        string  `json:"error"`
}

// runFaults runs the fault schedule of a run of length d that started at
// t0: each fault gets an equal slot, in which it starts after a quarter
// and lasts half. It always heals what it injected (SIGCONT, restart)
// before it returns, also when ctx ends first; it then stops injecting.
func (rig *redisRig) runFaults(ctx context.Context, faults []string, t0 time.Time, d time.Duration) []FaultEvent {
	slot := d / time.Duration(len(faults))
	var events []FaultEvent
	sleep := func(until time.Time) bool {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for i, f := range faults {
		start := t0.Add(time.Duration(i)*slot + slot/4)
		if !sleep(start) {
			break
		}
		ev := FaultEvent{Fault: f, StartSeconds: time.Since(t0).Seconds()}
		end := time.Now().Add(slot / 2)
		var errs []error
		switch f {
		case "freeze":
			errs = append(errs, rig.server.Signal(stopSignal))
			sleep(end)
			errs = append(errs, rig.server.Signal(contSignal))
		case "restart":
			rig.server.Kill()
			sleep(end)
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			errs = append(errs, rig.server.Restart(rctx))
			cancel()
		case "lost":
			before := rig.proxy.Dropped()
			for time.Now().Before(end) && ctx.Err() == nil {
				// The key prefix is in every command of the store: the
				// next request reaches the server, its reply is lost and
				// its connection reset.
				rig.proxy.DropReplyTo([]byte(rig.prefix))
				sleep(time.Now().Add(50 * time.Millisecond))
			}
			rig.proxy.DropReplyTo(nil)
			ev.Dropped = rig.proxy.Dropped() - before
		case "pause":
			ms := fmt.Sprint((slot / 2).Milliseconds())
			reply, err := rig.server.Command(context.WithoutCancel(ctx), "CLIENT", "PAUSE", ms, "WRITE")
			if err == nil && reply != "+OK" {
				err = fmt.Errorf("CLIENT PAUSE: %s", reply)
			}
			errs = append(errs, err)
			sleep(end)
			if ctx.Err() != nil {
				rig.server.Command(context.WithoutCancel(ctx), "CLIENT", "UNPAUSE")
			}
		}
		ev.Seconds = time.Since(t0).Seconds() - ev.StartSeconds
		if err := errors.Join(errs...); err != nil {
			ev.Error = err.Error()
		}
		events = append(events, ev)
	}
	return events
}

// msgKey identifies one message of the run: writer w's #n in
// conversation c.
type msgKey struct {
	c, w int
	n    uint64
}

// recorder sits between the resilient Store and the Redis store of a
// -faults run and records the Seq the primary gave each message it
// stored, retries and replays included: a message given two Seqs was
// stored twice, and a buffered message never given one was not flushed.
type recorder struct {
	chatring.Store
	mu   sync.Mutex
	seqs map[msgKey][]uint64
}

// batchRecorder is a recorder over a primary that is a
// resilient.BatchAppender, and is one too, so that the resilient Store
// replays its outbox in batches as it does over the Redis store itself:
// the recorder, an embedded chatring.Store, would hide AppendBatch, and
// a replay of one Append per message costs Redis one fsync each
// (appendfsync always), which a backlog of thousands does not drain
// through within seconds under the run's load.
type batchRecorder struct {
	*recorder
	ba resilient.BatchAppender
}

func newRecorder(s chatring.Store) *recorder {
	return &recorder{Store: s, seqs: map[msgKey][]uint64{}}
}

// primary returns r as the resilient Store's primary: a batchRecorder
// when the store it records is a resilient.BatchAppender, else r.
func (r *recorder) primary() chatring.Store {
	if ba, ok := r.Store.(resilient.BatchAppender); ok {
		return &batchRecorder{recorder: r, ba: ba}
	}
	return r
}

// Append records the Seq of every message the primary acknowledged.
func (r *recorder) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	got, err := r.Store.Append(ctx, conv, m)
	if err == nil {
		r.record(got)
	}
	return got, err
}

// AppendBatch records the Seq of every message the primary acknowledged,
// those of a batch that failed part way included.
func (r *batchRecorder) AppendBatch(ctx context.Context, conv string, ms []chatring.Message) ([]chatring.Message, error) {
	got, err := r.ba.AppendBatch(ctx, conv, ms)
	for _, m := range got {
		r.record(m)
	}
	return got, err
}

// record records that the primary stored a message of the run as got.
func (r *recorder) record(got chatring.Message) {
	c, w, n, err := parseStoreContent(got)
	if err != nil {
		return
	}
	k := msgKey{c, w, n}
	r.mu.Lock()
	if seqs := r.seqs[k]; len(seqs) == 0 || seqs[len(seqs)-1] != got.Seq {
		r.seqs[k] = append(seqs, got.Seq)
	}
	r.mu.Unlock()
}

// FaultReport is the fault-run part of a store-level result (-faults): the
// schedule, how the appends were acknowledged, what the resilient Store
// did, and what its final checks found. It is null without -faults.
type FaultReport struct {
	// Schedule is the faults injected, in order.
	Schedule []FaultEvent `json:"schedule"`
	// Acknowledged counts the appends acknowledged: Durable (a nil
	// error: stored by Redis) plus Buffered (resilient.ErrBuffered: in
	// the outbox). Failed counts the appends that returned another
	// chatring.ErrUnavailable (not acknowledged: stored at most once).
	Acknowledged uint64 `json:"acknowledged"`
	Durable      uint64 `json:"durable"`
	Buffered     uint64 `json:"buffered"`
	Failed       uint64 `json:"failed"`
	// Retried, FailedFast, DegradedReads, OutboxHighWater and
	// BreakerTransitions are the resilient Store's Stats after the run
	// (Retries, FailedFast, DegradedReads, OutboxHighWater,
	// BreakerTransitions by the state entered).
	Retried            uint64            `json:"retried"`
	FailedFast         uint64            `json:"failed_fast"`
	DegradedReads      uint64            `json:"degraded_reads"`
	DegradedMisses     uint64            `json:"degraded_misses"`
	OutboxHighWater    int               `json:"outbox_high_water"`
	Replayed           uint64            `json:"replayed"`
	BreakerTransitions map[string]uint64 `json:"breaker_transitions"`
	// Unflushed is the buffered appends Close reported as not flushed.
	Unflushed int `json:"unflushed"`
	// Final checks, once the store was closed and Redis read back:
	// DurableChecked durable acks (each in its window at its Seq, or
	// pushed out by newer messages), BufferedChecked buffered ones
	// (flushed once, then the same, or reported unflushed), and
	// StoredTwice the messages Redis gave two Seqs (each a violation).
	DurableChecked  uint64 `json:"durable_checked"`
	BufferedChecked uint64 `json:"buffered_checked"`
	StoredTwice     uint64 `json:"stored_twice"`
	// ClosedSeconds is, per fault, how long after it ended the breaker
	// was first seen closed, and DrainSeconds how long after that the
	// outbox was first seen empty with the breaker closed (sampled every
	// 5 ms; -1: not within the run).
	ClosedSeconds []float64 `json:"closed_seconds"`
	DrainSeconds  []float64 `json:"drain_seconds"`
}

// redisRun is the store of a -store redis run and what it stands on.
type redisRun struct {
	rig   *redisRig
	store chatring.Store   // what the workers load
	res   *resilient.Store // -faults: the resilient Store (store)
	rec   *recorder        // -faults: between res and the Redis store
}

// The resilient Store's policies in a -faults run: short enough that the
// breaker opens within a fault of a second and closes soon after it, as
// in resilient/redisfault.
var (
	faultRetry   = resilient.RetryPolicy{AttemptTimeout: 200 * time.Millisecond, MaxElapsed: 400 * time.Millisecond}
	faultBreaker = resilient.BreakerPolicy{Failures: 5, Window: time.Second, OpenFor: 200 * time.Millisecond}
)

// faultFlushInterval is how often the outbox retries its replay.
const faultFlushInterval = 20 * time.Millisecond

// openRedisRun opens the store of a Redis run. e.wrapRedis, when set,
// wraps the Redis store (tests put a broken store there).
func openRedisRun(ctx context.Context, o *options, e env) (*redisRun, error) {
	rig, err := openRedis(ctx, o, e.stderr)
	if err != nil {
		return nil, err
	}
	prim, err := rig.store(rig.client)
	if err != nil {
		rig.close()
		return nil, err
	}
	var s chatring.Store = prim
	if e.wrapRedis != nil {
		s = e.wrapRedis(s)
	}
	run := &redisRun{rig: rig, store: s}
	if len(o.faults) == 0 {
		return run, nil
	}
	run.rec = newRecorder(s)
	run.res, err = resilient.New(run.rec.primary(), resilient.WithConfig(rig.cfg),
		resilient.WithOutbox(o.outbox), resilient.WithFlushInterval(faultFlushInterval),
		resilient.WithMirror(o.conversations), resilient.WithRetry(faultRetry), resilient.WithBreaker(faultBreaker))
	if err != nil {
		rig.close()
		return nil, err
	}
	run.store = run.res
	return run, nil
}

// faultAck is one append of a -faults run and how it was acknowledged.
type faultAck struct {
	msgKey
	seq uint64 // the Seq of a durable ack
}

// faultAcks are the appends of a -faults run, per writer (each writer
// appends to its own slices).
type faultAcks struct {
	durable, buffered, failed [][]faultAck
	readFailed                []uint64        // per reader: reads that returned ErrUnavailable
	fullWait                  []time.Duration // per writer: see backoff
}

func newFaultAcks(writers, readers int) *faultAcks {
	return &faultAcks{
		durable:    make([][]faultAck, writers),
		buffered:   make([][]faultAck, writers),
		failed:     make([][]faultAck, writers),
		readFailed: make([]uint64, readers),
		fullWait:   make([]time.Duration, writers),
	}
}

// The bounds of a writer's wait after an append refused for a full
// outbox; see backoff.
const (
	fullWaitMin = time.Millisecond
	fullWaitMax = 50 * time.Millisecond
)

// backoff waits, after writer w's append that returned err, before its
// next one when err is resilient.ErrOutboxFull, as a client would: the
// outbox refuses at once, and appending again at once only keeps it full
// while it drains. The wait is drawn from [0, bound] (full jitter), the
// bound doubling from fullWaitMin to fullWaitMax while appends are
// refused; any other outcome resets it. It ends early when ctx is done.
func (fa *faultAcks) backoff(ctx context.Context, w int, err error) {
	if !errors.Is(err, resilient.ErrOutboxFull) {
		fa.fullWait[w] = 0
		return
	}
	fa.fullWait[w] = min(max(2*fa.fullWait[w], fullWaitMin), fullWaitMax)
	t := time.NewTimer(rand.N(fa.fullWait[w] + 1))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// notAcked records writer w's append k that returned err, and reports
// whether err is one a fault run expects: resilient.ErrBuffered (a
// buffered ack) or another chatring.ErrUnavailable (not acknowledged).
func (fa *faultAcks) notAcked(w int, k msgKey, err error) bool {
	switch {
	case errors.Is(err, resilient.ErrBuffered):
		fa.buffered[w] = append(fa.buffered[w], faultAck{msgKey: k})
	case errors.Is(err, chatring.ErrUnavailable):
		fa.failed[w] = append(fa.failed[w], faultAck{msgKey: k})
	default:
		return false
	}
	return true
}

// sample is the resilient Store's outbox and breaker at one instant.
type sample struct {
	at      time.Time
	outbox  int
	breaker string
}

// monitor samples the resilient Store every few milliseconds until stop
// is closed, and returns the samples.
func monitor(res *resilient.Store, stop <-chan struct{}) []sample {
	var out []sample
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		st := res.Stats()
		out = append(out, sample{at: time.Now(), outbox: st.Outbox, breaker: st.Breaker})
		select {
		case <-stop:
			return out
		case <-tick.C:
		}
	}
}

// drainTimes returns, per fault, the seconds from its end until the
// breaker was first seen closed, and from then until the outbox was first
// seen empty with the breaker closed (-1: not within the samples).
func drainTimes(t0 time.Time, events []FaultEvent, samples []sample) (closed, drained []float64) {
	closed, drained = make([]float64, len(events)), make([]float64, len(events))
	for i, ev := range events {
		end := t0.Add(time.Duration((ev.StartSeconds + ev.Seconds) * float64(time.Second)))
		closed[i], drained[i] = -1, -1
		var closedAt time.Time
		for _, s := range samples {
			if s.at.Before(end) || s.breaker != "closed" {
				continue
			}
			if closedAt.IsZero() {
				closedAt = s.at
				closed[i] = s.at.Sub(end).Seconds()
			}
			if s.outbox == 0 {
				drained[i] = s.at.Sub(closedAt).Seconds()
				break
			}
		}
	}
	return closed, drained
}

// closeFaults closes the resilient Store of a -faults run, which flushes
// its outbox, and fills in rep from its Stats and the acks.
func (run *redisRun) closeFaults(wl *storeWorkload, rep *FaultReport) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run.res.Close(ctx)
	var ue *resilient.UnflushedError
	switch {
	case errors.As(err, &ue):
		rep.Unflushed = ue.Messages
	case err != nil:
		wl.viol.addf("closing the resilient store: %v", err)
	}
	st := run.res.Stats()
	rep.Retried, rep.FailedFast, rep.DegradedReads, rep.DegradedMisses = st.Retries, st.FailedFast, st.DegradedReads, st.DegradedMisses
	rep.OutboxHighWater, rep.Replayed, rep.BreakerTransitions = st.OutboxHighWater, st.Replayed, st.BreakerTransitions
	for w := range wl.o.writers {
		rep.Durable += uint64(len(wl.faults.durable[w]))
		rep.Buffered += uint64(len(wl.faults.buffered[w]))
		rep.Failed += uint64(len(wl.faults.failed[w]))
	}
	rep.Acknowledged = rep.Durable + rep.Buffered
}

// faultFinalCheck reads every conversation back from Redis, on a client
// of its own (not through the proxy), once the resilient Store is closed,
// and checks the acks of a -faults run:
//
//   - every window is contiguous in Seq, as long as the conversation's
//     newest Seq allows (up to the capacity), with no message twice;
//   - every durable ack is in its window at its Seq, with its own
//     message, or was pushed out by newer messages (its Seq is below the
//     window), and the primary gave it that Seq and no other (or no
//     reply at all: the resilient Store also acknowledges an append whose
//     ID it finds in its mirror, stored by an attempt whose reply was lost
//     and seen since by a read);
//   - every buffered ack was stored by the primary once (a single Seq),
//     and is then in its window at that Seq or pushed out, or is among
//     the appends Close reported as not flushed;
//   - no message was given two Seqs (stored twice);
//   - per conversation, the newest Seq counts the messages stored: at
//     least the ones the primary acknowledged, at most those plus the
//     appends that were not (failed, or buffered and unflushed).
func (run *redisRun) faultFinalCheck(ctx context.Context, wl *storeWorkload, rep *FaultReport) (checks uint64) {
	wl.viol.finalPhase()
	client := redis.NewClient(&redis.Options{Addr: run.rig.addr})
	defer client.Close()
	reader, err := run.rig.store(client)
	if err != nil {
		wl.viol.addf("final check: %v", err)
		return 1
	}
	windows := make([]map[uint64]msgKey, len(wl.convs)) // per conversation: Seq -> message
	first := make([]uint64, len(wl.convs))
	last := make([]uint64, len(wl.convs))
	for ci, c := range wl.convs {
		win, err := reader.Messages(ctx, c.name, nil)
		checks++
		if err != nil {
			wl.viol.addf("final read of %q failed: %v", c.name, err)
			continue
		}
		windows[ci] = map[uint64]msgKey{}
		seen := map[msgKey]uint64{}
		for i, m := range win {
			if i > 0 && m.Seq != win[i-1].Seq+1 {
				wl.viol.addf("%s: final window not contiguous: Seq %d after %d", c.name, m.Seq, win[i-1].Seq)
				break
			}
			mc, w, n, err := parseStoreContent(m)
			if err != nil || mc != ci {
				wl.viol.addf("%s: final window's Seq %d is not a message of this conversation (%v)", c.name, m.Seq, err)
				break
			}
			k := msgKey{mc, w, n}
			if prev, dup := seen[k]; dup {
				wl.viol.addf("%s: writer %d's #%d is in the window twice, at Seq %d and %d", c.name, w, n, prev, m.Seq)
			}
			seen[k] = m.Seq
			windows[ci][m.Seq] = k
		}
		if len(win) > 0 {
			first[ci], last[ci] = win[0].Seq, lastSeq(win)
			if want := min(last[ci], uint64(wl.o.capacity)); uint64(len(win)) != want {
				wl.viol.addf("%s: final window has %d messages up to Seq %d, want %d", c.name, len(win), last[ci], want)
			}
		}
	}
	run.rec.mu.Lock()
	defer run.rec.mu.Unlock()
	for k, seqs := range run.rec.seqs {
		checks++
		if len(seqs) > 1 {
			rep.StoredTwice++
			wl.viol.addf("%s: writer %d's #%d was stored %d times, at Seq %v", wl.convs[k.c].name, k.w, k.n, len(seqs), seqs)
		}
	}
	// at checks that message k, stored at Seq seq, is there in the final
	// window or was pushed out.
	at := func(what string, k msgKey, seq uint64) {
		c := wl.convs[k.c]
		switch got, ok := windows[k.c][seq]; {
		case windows[k.c] == nil: // its read failed, reported above
		case seq > last[k.c]:
			wl.viol.addf("%s: %s ack of writer %d's #%d at Seq %d is lost: the conversation ends at Seq %d", c.name, what, k.w, k.n, seq, last[k.c])
		case seq >= first[k.c] && (!ok || got != k):
			wl.viol.addf("%s: Seq %d holds writer %d's #%d, but was acknowledged (%s) for writer %d's #%d", c.name, seq, got.w, got.n, what, k.w, k.n)
		}
	}
	stored := make([]uint64, len(wl.convs))  // acknowledged by the primary
	unknown := make([]uint64, len(wl.convs)) // not acknowledged: stored at most once
	for k := range run.rec.seqs {
		stored[k.c]++
	}
	unflushed := 0
	for w := range wl.o.writers {
		for _, a := range wl.faults.durable[w] {
			checks++
			rep.DurableChecked++
			switch seqs := run.rec.seqs[a.msgKey]; {
			case len(seqs) == 0:
				// Acknowledged without a reply of the primary's Append:
				// an attempt whose reply was lost stored it, a read
				// brought it into the mirror, and the append found its
				// ID there. It is stored all the same.
				stored[a.c]++
			case seqs[0] != a.seq:
				wl.viol.addf("%s: writer %d's #%d was acknowledged at Seq %d, but the primary gave it %v", wl.convs[a.c].name, a.w, a.n, a.seq, seqs)
			}
			at("durable", a.msgKey, a.seq)
		}
		for _, a := range wl.faults.buffered[w] {
			checks++
			rep.BufferedChecked++
			seqs := run.rec.seqs[a.msgKey]
			if len(seqs) == 0 {
				unflushed++
				unknown[a.c]++
				continue
			}
			at("buffered", a.msgKey, seqs[0])
		}
		for _, a := range wl.faults.failed[w] {
			if len(run.rec.seqs[a.msgKey]) == 0 {
				unknown[a.c]++
			}
		}
	}
	checks++
	if unflushed > rep.Unflushed {
		wl.viol.addf("%d buffered appends were never stored, but Close reported %d not flushed", unflushed, rep.Unflushed)
	}
	for ci, c := range wl.convs {
		if windows[ci] == nil {
			continue
		}
		checks++
		if last[ci] < stored[ci] || last[ci] > stored[ci]+unknown[ci] {
			wl.viol.addf("%s: the newest Seq is %d, but the primary acknowledged %d messages and %d more may have been stored",
				c.name, last[ci], stored[ci], unknown[ci])
		}
	}
	return checks
}

// writeFaultTable prints the fault report of every -faults result: the
// schedule, then the acknowledgments and the resilient Store's counters,
// then the final checks.
func writeFaultTable(w io.Writer, rep *Report) error {
	for _, r := range rep.Results {
		f := r.Store.faultReport()
		if f == nil {
			continue
		}
		fmt.Fprintf(w, "\nfault schedule (%s):\n", r.Backend)
		for i, ev := range f.Schedule {
			drain := "the breaker did not close within the run"
			switch {
			case i >= len(f.ClosedSeconds) || f.ClosedSeconds[i] < 0:
			case f.DrainSeconds[i] < 0:
				drain = fmt.Sprintf("breaker closed %v after; the outbox did not drain within the run", fmtSeconds(f.ClosedSeconds[i]))
			default:
				drain = fmt.Sprintf("breaker closed %v after, outbox empty %v later", fmtSeconds(f.ClosedSeconds[i]), fmtSeconds(f.DrainSeconds[i]))
			}
			fmt.Fprintf(w, "  %-8s at %6s for %6s", ev.Fault, fmtSeconds(ev.StartSeconds), fmtSeconds(ev.Seconds))
			if ev.Fault == "lost" {
				fmt.Fprintf(w, ", %d replies lost", ev.Dropped)
			}
			fmt.Fprintf(w, "; %s\n", drain)
			if ev.Error != "" {
				fmt.Fprintf(w, "           error: %s\n", ev.Error)
			}
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "acknowledged\tdurable\tbuffered\tfailed\tretried\tfailed fast\tdegraded reads\toutbox high-water\treplayed\tbreaker opened\thalf-open\tclosed\t\n")
		bt := f.BreakerTransitions
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", f.Acknowledged, f.Durable, f.Buffered, f.Failed,
			f.Retried, f.FailedFast, f.DegradedReads, f.OutboxHighWater, f.Replayed, bt["open"], bt["half-open"], bt["closed"])
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "final checks: %d durable acks in their window or pushed out, %d buffered acks flushed once or reported unflushed (%d unflushed), %d messages stored twice\n",
			f.DurableChecked, f.BufferedChecked, f.Unflushed, f.StoredTwice)
	}
	return nil
}

// faultReport returns the fault report of a store-level result, or nil.
func (r *StoreReport) faultReport() *FaultReport {
	if r == nil {
		return nil
	}
	return r.Faults
}

// fmtSeconds formats seconds as a duration rounded to the millisecond.
func fmtSeconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}
