package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	randv1 "math/rand"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/chatring/chatring"
)

// Store level (-level store). Writers and readers share a chatring.Store
// of -conversations conversations; each operation picks its conversation
// from a table drawn once per worker (-dist uniform or zipf). The checks
// are those of the other levels, per conversation:
//
//   - every window a reader gets is contiguous in Seq (with -faults,
//     where a read may be degraded, served from the resilient Store's
//     mirror: sorted by Seq, with gaps where this process does not know
//     the messages), at most the capacity long, and holds only messages
//     of its own conversation;
//   - each writer's messages in a window are in the order it sent them;
//   - the newest append acknowledged in that conversation before the read
//     began is in the window, at its Seq, with its own content (so a
//     window that lags behind or is shifted by one fails);
//   - after the run, every conversation's window is exactly its newest
//     acknowledged messages, and the sequence numbers the store gave add
//     up to the appends it acknowledged (none lost, none given twice);
//   - the store's own statistics agree with what the writers sent.

// Store-level content is "conv C · writer W · #N" padded to -payload
// bytes: N counts writer W's messages in conversation C, and its parity
// gives the role (even: user, odd: assistant).
const storeContentFmt = "conv %d · writer %d · #%d"

// storeContent returns writer w's message #n in conversation c.
func storeContent(pad []byte, c, w int, n uint64, payload int) string {
	s := fmt.Sprintf(storeContentFmt, c, w, n)
	if len(s) >= payload {
		return s
	}
	return s + " " + padTo(pad, payload-len(s)-1)
}

// padTo returns n bytes of pad cut at a rune boundary and filled up with
// dots.
func padTo(pad []byte, n int) string {
	k := min(n, len(pad))
	for k > 0 && k < len(pad) && pad[k]&0xC0 == 0x80 {
		k--
	}
	return string(pad[:k]) + strings.Repeat(".", n-k)
}

// parseStoreContent is the inverse of storeContent, checking the role.
func parseStoreContent(m chatring.Message) (c, w int, n uint64, err error) {
	head, _, _ := strings.Cut(m.Content, " · #")
	rest := m.Content[len(head):]
	if _, err := fmt.Sscanf(head, "conv %d · writer %d", &c, &w); err != nil {
		return 0, 0, 0, fmt.Errorf("message seq %d: content is not this tool's: %v", m.Seq, err)
	}
	num, _, _ := strings.Cut(strings.TrimPrefix(rest, " · #"), " ")
	if n, err = strconv.ParseUint(num, 10, 64); err != nil {
		return 0, 0, 0, fmt.Errorf("message seq %d: bad message number: %v", m.Seq, err)
	}
	if want := roleOf(n); m.Role != want {
		return 0, 0, 0, fmt.Errorf("message seq %d: role %q, but message #%d of writer %d is a %s message", m.Seq, m.Role, n, w, want)
	}
	return c, w, n, nil
}

func roleOf(n uint64) chatring.Role {
	if n%2 == 1 {
		return chatring.Assistant
	}
	return chatring.User
}

// storeRecord is what the writers know of one acknowledged append.
type storeRecord struct {
	seq uint64
	w   int
	n   uint64
}

// conversation is the writers' shared knowledge of one conversation: the
// newest acknowledged append, and the last capacity appends by Seq.
type conversation struct {
	name string
	mu   sync.Mutex
	last storeRecord   // the acknowledged append with the highest Seq
	ring []storeRecord // ring[seq % capacity]: the newest append with that residue
	sent []uint64      // per writer: messages sent to this conversation
}

// acked records an acknowledged append and returns an error when its Seq
// was given before.
func (c *conversation) acked(r storeRecord) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	slot := &c.ring[r.seq%uint64(len(c.ring))]
	if slot.seq == r.seq {
		return fmt.Errorf("%s: Seq %d given to writer %d's #%d and to writer %d's #%d", c.name, r.seq, slot.w, slot.n, r.w, r.n)
	}
	if r.seq > slot.seq {
		*slot = r
	}
	if r.seq > c.last.seq {
		c.last = r
	}
	return nil
}

// newest returns the acknowledged append with the highest Seq.
func (c *conversation) newest() storeRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// record returns the acknowledged append with Seq seq, if it is still known.
func (c *conversation) record(seq uint64) (storeRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.ring[seq%uint64(len(c.ring))]
	return r, r.seq == seq
}

// storeWorkload is one run of a store: its parameters and shared state.
type storeWorkload struct {
	o       *options
	store   chatring.Store
	stats   func() chatring.StoreStats // nil when the store has none
	convs   []*conversation
	tables  [][]int32 // per worker: the conversation of each operation
	stop    atomic.Bool
	viol    violations
	hists   []*hdrhistogram.Histogram
	appends []uint64
	reads   []uint64
	checks  []uint64
	started []atomic.Uint64 // per worker, for the progress display
	faults  *faultAcks      // -faults: every append's outcome; nil otherwise
}

// storeTable is the length of each worker's table of conversations.
const storeTable = 1 << 14

func newStoreWorkload(o *options, store chatring.Store, stats func() chatring.StoreStats) *storeWorkload {
	workers := o.writers + o.readers
	wl := &storeWorkload{
		o: o, store: store, stats: stats,
		convs:   make([]*conversation, o.conversations),
		tables:  make([][]int32, workers),
		hists:   make([]*hdrhistogram.Histogram, workers),
		appends: make([]uint64, o.writers),
		reads:   make([]uint64, o.readers),
		checks:  make([]uint64, o.readers),
		started: make([]atomic.Uint64, workers),
	}
	if len(o.faults) > 0 {
		wl.faults = newFaultAcks(o.writers, o.readers)
	}
	for i := range wl.convs {
		wl.convs[i] = &conversation{
			name: fmt.Sprintf("stress:{%d} user %d", i, i),
			ring: make([]storeRecord, o.capacity),
			sent: make([]uint64, o.writers),
		}
	}
	for i := range workers {
		wl.hists[i] = newHistogram()
		rng := randv1.New(randv1.NewSource(int64(o.seed)*1000 + int64(i)))
		t := make([]int32, storeTable)
		var z *randv1.Zipf
		if o.dist == "zipf" && o.conversations > 1 {
			z = randv1.NewZipf(rng, 1.1, 1, uint64(o.conversations-1))
		}
		for k := range t {
			if z != nil {
				t[k] = int32(z.Uint64())
			} else {
				t[k] = int32(rng.Intn(o.conversations))
			}
		}
		wl.tables[i] = t
	}
	return wl
}

func (wl *storeWorkload) opsBound() uint64 { return wl.o.ops }

func (wl *storeWorkload) progressCounts() (appends, snapshots uint64) {
	for i := range wl.started {
		if i < wl.o.writers {
			appends += wl.started[i].Load()
		} else {
			snapshots += wl.started[i].Load()
		}
	}
	return appends, snapshots
}

// quota is worker i's share of -ops (0 with a time bound).
func (wl *storeWorkload) quota(i int) uint64 {
	if wl.o.ops == 0 {
		return 0
	}
	n := uint64(wl.o.writers + wl.o.readers)
	q := wl.o.ops / n
	if uint64(i) < wl.o.ops%n {
		q++
	}
	return q
}

func (wl *storeWorkload) run(ctx context.Context) (time.Duration, bool) {
	opCtx := context.WithoutCancel(ctx)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range wl.o.writers {
		wg.Go(func() { <-start; wl.writer(opCtx, w) })
	}
	for r := range wl.o.readers {
		wg.Go(func() { <-start; wl.reader(opCtx, r) })
	}
	halt := func() { wl.stop.Store(true) }
	stopCancel := context.AfterFunc(ctx, halt)
	defer stopCancel()
	t0 := time.Now()
	if wl.o.ops == 0 {
		t := time.AfterFunc(wl.o.duration, halt)
		defer t.Stop()
	}
	close(start)
	wg.Wait()
	return time.Since(t0), ctx.Err() != nil
}

// each runs op for worker i's operations, one per call, with the index of
// the conversation each is on, until the quota or the time is up or op
// reports false, and returns how many succeeded.
func (wl *storeWorkload) each(i int, op func(k uint64, ci int) bool) uint64 {
	table := wl.tables[i]
	bounded, quota := wl.o.ops > 0, wl.quota(i)
	var k uint64
	for ; (!bounded || k < quota) && !wl.stop.Load(); k++ {
		if !op(k, int(table[k%storeTable])) {
			break
		}
		wl.started[i].Store(k + 1)
	}
	return k
}

func (wl *storeWorkload) writer(ctx context.Context, w int) {
	h := wl.hists[w]
	pad := []byte(filler(rand.New(rand.NewPCG(wl.o.seed, uint64(w))), wl.o.payload))
	wl.appends[w] = wl.each(w, func(_ uint64, ci int) bool {
		c := wl.convs[ci]
		n := c.sent[w] // only writer w touches sent[w]
		m := chatring.Message{Role: roleOf(n), Content: storeContent(pad, ci, w, n, wl.o.payload)}
		t0 := time.Now()
		got, err := wl.store.Append(ctx, c.name, m)
		d := time.Since(t0)
		if err != nil && (wl.faults == nil || !wl.faults.notAcked(w, msgKey{ci, w, n}, err)) {
			wl.viol.addf("writer %d: append #%d to %q failed: %v", w, n, c.name, err)
			return false
		}
		record(h, d)
		c.sent[w] = n + 1 // a buffered or failed #n may be stored: never reuse it
		if wl.faults != nil {
			wl.faults.backoff(ctx, w, err)
		}
		if err != nil {
			return true
		}
		if wl.faults != nil {
			wl.faults.durable[w] = append(wl.faults.durable[w], faultAck{msgKey{ci, w, n}, got.Seq})
		}
		if err := c.acked(storeRecord{seq: got.Seq, w: w, n: n}); err != nil {
			wl.viol.addf("%v", err)
		}
		return true
	})
}

func (wl *storeWorkload) reader(ctx context.Context, r int) {
	i := wl.o.writers + r
	h := wl.hists[i]
	dst := make([]chatring.Message, 0, wl.o.capacity)
	wl.reads[r] = wl.each(i, func(k uint64, ci int) bool {
		c := wl.convs[ci]
		var before storeRecord
		if wl.o.check {
			before = c.newest()
		}
		t0 := time.Now()
		var err error
		dst, err = wl.store.Messages(ctx, c.name, dst[:0])
		d := time.Since(t0)
		if err != nil && wl.faults != nil && errors.Is(err, chatring.ErrUnavailable) {
			// Unavailable, and not in the resilient Store's mirror.
			wl.faults.readFailed[r]++
			return true
		}
		if err != nil {
			wl.viol.addf("reader %d: read #%d of %q failed: %v", r, k, c.name, err)
			return false
		}
		record(h, d)
		if wl.o.check {
			wl.checkWindow(ci, dst, before)
			wl.checks[r]++
		}
		return true
	})
}

// checkWindow checks one window of conversation ci; before is the newest
// append acknowledged in it before the read began.
func (wl *storeWorkload) checkWindow(ci int, win []chatring.Message, before storeRecord) {
	c := wl.convs[ci]
	if len(win) > wl.o.capacity {
		wl.viol.addf("%s: a window of %d messages, capacity %d", c.name, len(win), wl.o.capacity)
	}
	lastN := map[int]uint64{}
	for i, m := range win {
		// With -faults a read may be degraded, served from the resilient
		// Store's mirror: sorted by Seq, with gaps where this process
		// does not know the messages (see package resilient).
		if i > 0 && m.Seq <= win[i-1].Seq {
			wl.viol.addf("%s: window not sorted by Seq: Seq %d after %d", c.name, m.Seq, win[i-1].Seq)
			return
		}
		if i > 0 && wl.faults == nil && m.Seq != win[i-1].Seq+1 {
			wl.viol.addf("%s: window not contiguous: Seq %d after %d", c.name, m.Seq, win[i-1].Seq)
			return
		}
		mc, w, n, err := parseStoreContent(m)
		if err != nil {
			wl.viol.addf("%s: %v", c.name, err)
			return
		}
		if mc != ci {
			wl.viol.addf("%s: Seq %d holds a message of conversation %d", c.name, m.Seq, mc)
		}
		if prev, ok := lastN[w]; ok && n <= prev {
			wl.viol.addf("%s: writer %d's #%d after its #%d", c.name, w, n, prev)
		}
		lastN[w] = n
		if rec, ok := c.record(m.Seq); ok && (rec.w != w || rec.n != n) {
			wl.viol.addf("%s: Seq %d holds writer %d's #%d, but the store gave it to writer %d's #%d", c.name, m.Seq, w, n, rec.w, rec.n)
		}
	}
	if before.seq == 0 {
		return
	}
	if len(win) == 0 || win[len(win)-1].Seq < before.seq {
		wl.viol.addf("%s: Seq %d (writer %d's #%d) was acknowledged before the read, which ended at Seq %d",
			c.name, before.seq, before.w, before.n, lastSeq(win))
		return
	}
	if before.seq >= win[0].Seq {
		i, ok := slices.BinarySearchFunc(win, before.seq, func(m chatring.Message, seq uint64) int { return cmp.Compare(m.Seq, seq) })
		if !ok {
			wl.viol.addf("%s: Seq %d (writer %d's #%d) was acknowledged before the read, which skips it", c.name, before.seq, before.w, before.n)
			return
		}
		m := win[i]
		if _, w, n, err := parseStoreContent(m); err == nil && (w != before.w || n != before.n) {
			wl.viol.addf("%s: Seq %d holds writer %d's #%d, but was acknowledged for writer %d's #%d", c.name, m.Seq, w, n, before.w, before.n)
		}
	}
}

func lastSeq(win []chatring.Message) uint64 {
	if len(win) == 0 {
		return 0
	}
	return win[len(win)-1].Seq
}

// finalCheck reads every conversation once the workers stopped.
func (wl *storeWorkload) finalCheck(ctx context.Context) (checks uint64, sent uint64) {
	wl.viol.finalPhase()
	var seqs uint64
	var dst []chatring.Message
	for _, c := range wl.convs {
		last := c.newest().seq
		seqs += last
		var err error
		dst, err = wl.store.Messages(ctx, c.name, dst[:0])
		checks++
		if err != nil {
			wl.viol.addf("final read of %q failed: %v", c.name, err)
			continue
		}
		want := min(last, uint64(wl.o.capacity))
		if uint64(len(dst)) != want || lastSeq(dst) != last {
			wl.viol.addf("%s: final window has %d messages up to Seq %d, want the newest %d up to Seq %d",
				c.name, len(dst), lastSeq(dst), want, last)
			continue
		}
		for _, m := range dst {
			_, w, n, err := parseStoreContent(m)
			rec, ok := c.record(m.Seq)
			if err != nil || !ok || rec.w != w || rec.n != n {
				wl.viol.addf("%s: final window's Seq %d is not what the store acknowledged for it", c.name, m.Seq)
				break
			}
		}
	}
	for _, n := range wl.appends {
		sent += n
	}
	checks++
	if seqs != sent {
		// Sequence numbers are dense per conversation, so the newest
		// ones add up to the appends acknowledged.
		wl.viol.addf("the conversations' newest Seq add up to %d, but %d appends were acknowledged", seqs, sent)
	}
	return checks, sent
}

// StoreReport is the store-level part of a result: the store, its
// conversations and its own statistics after the run. It is null at the
// other levels.
type StoreReport struct {
	// Store names the store: "memory" or "redis".
	Store string `json:"store"`
	// Conversations is -conversations; Distribution is -dist.
	Conversations int    `json:"conversations"`
	Distribution  string `json:"distribution"`
	// Sent is the number of appends the store acknowledged (with
	// -faults, durable and buffered acknowledgments).
	Sent uint64 `json:"sent"`
	// Stats is the store's statistics (chatring.StoreStats as that package
	// marshals it), or null for a store without them (redis).
	Stats json.RawMessage `json:"stats"`
	// Faults is what a -faults run injected, counted and checked; null
	// without -faults.
	Faults *FaultReport `json:"faults"`

	stats *chatring.StoreStats // the same, for the text report
}

// newStore opens the store a store-level run of backend loads.
func newStore(o *options, backend string) (chatring.Store, func() chatring.StoreStats, error) {
	s, err := chatring.NewMemoryStore(chatring.Config{
		Backend:          backend,
		MaxTurns:         o.capacity / 2,
		MaxMessageBytes:  max(chatring.DefaultMaxMessageBytes, o.payload+64),
		MaxConversations: max(o.conversations, 1),
	})
	if err != nil {
		return nil, nil, err
	}
	return s, s.Stats, nil
}

// runStoreBackend loads one backend at store level (with -store redis,
// the one Redis store).
func runStoreBackend(ctx context.Context, o *options, e env, backend string, prog *progress) (Result, error) {
	var (
		store chatring.Store
		stats func() chatring.StoreStats
		rrun  *redisRun
		err   error
	)
	if o.store == "redis" {
		if rrun, err = openRedisRun(ctx, o, e); err != nil {
			return Result{}, err
		}
		defer rrun.rig.close()
		store = rrun.store
	} else if store, stats, err = e.newStore(o, backend); err != nil {
		return Result{}, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		store.Close(cctx)
	}()
	wl := newStoreWorkload(o, store, stats)
	runtime.GC()
	before := readRuntime()
	stopProgress := prog.start(wl, o.duration)
	var (
		fr                        *FaultReport
		t0                        time.Time
		samples                   []sample
		stopFaults                context.CancelFunc
		stopMonitor               chan struct{}
		scheduleDone, monitorDone sync.WaitGroup
	)
	if rrun != nil && rrun.res != nil {
		fr, t0, stopMonitor = &FaultReport{}, time.Now(), make(chan struct{})
		var faultCtx context.Context
		faultCtx, stopFaults = context.WithCancel(ctx)
		defer stopFaults()
		monitorDone.Go(func() { samples = monitor(rrun.res, stopMonitor) })
		scheduleDone.Go(func() { fr.Schedule = rrun.rig.runFaults(faultCtx, o.faults, t0, o.duration) })
	}
	elapsed, interrupted := wl.run(ctx)
	after := readRuntime()
	stopProgress()
	if fr != nil {
		// Heal the server (the schedule ends within -duration unless
		// interrupted), then flush the outbox and stop sampling.
		stopFaults()
		scheduleDone.Wait()
		rrun.closeFaults(wl, fr)
		close(stopMonitor)
		monitorDone.Wait()
		fr.ClosedSeconds, fr.DrainSeconds = drainTimes(t0, fr.Schedule, samples)
	}

	res := Result{Backend: backend, Interrupted: interrupted, ElapsedSeconds: elapsed.Seconds()}
	appendLat, readLat := newHistogram(), newHistogram()
	for i, h := range wl.hists {
		if i < o.writers {
			appendLat.Merge(h)
		} else {
			readLat.Merge(h)
		}
	}
	for _, n := range wl.reads {
		res.Snapshots += n
	}
	var online uint64
	for _, n := range wl.checks {
		online += n
	}
	var final, sent uint64
	if fr != nil {
		final = rrun.faultFinalCheck(context.WithoutCancel(ctx), wl, fr)
		sent = fr.Acknowledged
	} else {
		final, sent = wl.finalCheck(context.WithoutCancel(ctx))
	}
	res.Appends = sent
	rep := &StoreReport{Store: o.store, Conversations: o.conversations, Distribution: o.dist, Sent: sent, Faults: fr}
	if stats != nil {
		st := stats()
		final += wl.checkStats(&st, sent)
		rep.stats = &st
		rep.Stats, _ = json.Marshal(st)
	}
	res.Store = rep
	res.Latency = Latencies{Append: summarize(appendLat), Snapshot: summarize(readLat)}
	res.Runtime = runtimeDelta(before, after)
	res.Invariants = Invariants{Checks: online + final, Violations: wl.viol.count.Load(), Failures: wl.viol.descriptions()}
	if s := elapsed.Seconds(); s > 0 {
		res.AppendsPerSecond = float64(res.Appends) / s
		res.SnapshotsPerSecond = float64(res.Snapshots) / s
	}
	if n := res.Appends + res.Snapshots; n > 0 {
		res.Runtime.AllocsPerOp = float64(res.Runtime.AllocObjects) / float64(n)
	}
	return res, nil
}

// checkStats compares the store's statistics with what the writers sent.
func (wl *storeWorkload) checkStats(st *chatring.StoreStats, sent uint64) uint64 {
	touched := 0
	for _, c := range wl.convs {
		if c.newest().seq > 0 {
			touched++
		}
	}
	checks := []struct {
		what      string
		got, want uint64
	}{
		{"appended", st.Appended, sent},
		{"rejected", st.Rejected, 0},
		{"conversations created", st.Created, uint64(touched)},
		{"conversations evicted", st.EvictedByReason["capacity"] + st.EvictedByReason["idle"], 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			wl.viol.addf("store statistics: %s is %d, want %d", c.what, c.got, c.want)
		}
	}
	return uint64(len(checks))
}

// writeStoreTable prints the store's statistics of every store-level
// result.
func writeStoreTable(w io.Writer, rep *Report) error {
	if !slices.ContainsFunc(rep.Results, func(r Result) bool { return r.Store != nil && r.Store.stats != nil }) {
		return nil // a Redis store has no statistics of its own
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tconversations\tcreated\tappended\tsent\theld bytes\tbytes/conv\t\n", nameWidth, "store")
	for _, r := range rep.Results {
		if r.Store == nil || r.Store.stats == nil {
			continue
		}
		st := r.Store.stats
		perConv := int64(0)
		if st.Conversations > 0 {
			perConv = st.HeldBytes / int64(st.Conversations)
		}
		fmt.Fprintf(tw, "%-*s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", nameWidth, r.Backend, st.Conversations, st.Created,
			st.Appended, r.Store.Sent, st.HeldBytes, perConv)
	}
	return tw.Flush()
}
