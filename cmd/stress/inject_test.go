package main

import (
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/ringbuf"
)

// More buffers broken on purpose than broken_test.go's, each wrong in one
// way that a correct backend never is, to show that every such fault fails
// the run, online or in the final checks.

// edited is a mutex ring whose snapshots pass through edit before they are
// returned. edit gets the snapshot's number (1, 2, …, counted over every
// Snapshot call, the final read included), the window as it is, and the
// window as it was before the newest push; it returns the window to hand
// back, labelled with the true newest sequence number.
//
// So that an edit cannot miss because a reader did all its reads before
// the writers got going, a Snapshot first waits until more than capacity
// values were pushed.
type edited struct {
	mu     sync.Mutex
	pushed sync.Cond // on mu; broadcast by every push
	ring   *ringbuf.Ring[item]
	n      int    // guarded by mu: snapshots taken
	prev   []item // guarded by mu: the window before the newest push
	edit   func(n int, win, prev []item) []item
}

func newEdited(capacity int, edit func(n int, win, prev []item) []item) *edited {
	b := &edited{ring: ringbuf.New[item](capacity), edit: edit}
	b.pushed.L = &b.mu
	return b
}

func (b *edited) Push(v item) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prev, _ = b.ring.Snapshot(b.prev[:0])
	defer b.pushed.Broadcast()
	return b.ring.Push(v)
}

func (b *edited) Snapshot(dst []item) ([]item, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.prev) < b.ring.Cap() {
		b.pushed.Wait()
	}
	b.n++
	win, last := b.ring.Snapshot(nil)
	return append(dst, b.edit(b.n, win, slices.Clone(b.prev))...), last
}

func (b *edited) Len() int { return b.ring.Len() }
func (b *edited) Cap() int { return b.ring.Cap() }

// swapAt swaps positions i and i+1 of win when both exist.
func swapAt(win []item, i int) []item {
	if i >= 0 && i+1 < len(win) {
		win[i], win[i+1] = win[i+1], win[i]
	}
	return win
}

// dupAt overwrites position i+1 of win with a copy of position i.
func dupAt(win []item, i int) []item {
	if i >= 0 && i+1 < len(win) {
		win[i+1] = win[i]
	}
	return win
}

// The runs below make 1000 appends and, with one reader, 1000 online
// snapshots: snapshot 1001 is the final read.
const onlineReads = 1000

func TestEditedBuffersFailTheRun(t *testing.T) {
	oneEach := []string{"-writers", "1", "-readers", "1", "-ops", "2000", "-capacity", "8"}
	twoEach := []string{"-writers", "2", "-readers", "2", "-ops", "4000", "-capacity", "8"}
	online := func(n int) bool { return n <= onlineReads }
	for _, c := range []struct {
		name string
		args []string
		edit func(n int, win, prev []item) []item
		want string // in the failure descriptions
	}{
		{
			// One lagging snapshot in three, once the window is full:
			// the others and the final read are right.
			name: "every third online snapshot lags one push behind",
			args: oneEach,
			edit: func(n int, win, prev []item) []item {
				if online(n) && n%3 == 0 && len(prev) == len(win) {
					return prev
				}
				return win
			},
			want: "returned before the read began",
		},
		{
			name: "same, two writers and two readers",
			args: twoEach,
			edit: func(n int, win, prev []item) []item {
				if n%3 == 0 && len(prev) == len(win) && n < 2*onlineReads {
					return prev
				}
				return win
			},
			want: "returned before the read began",
		},
		{
			name: "online snapshots drop their oldest value",
			args: twoEach,
			edit: func(n int, win, _ []item) []item {
				if n < 2*onlineReads && len(win) > 0 {
					return win[1:]
				}
				return win
			},
			want: "window holds",
		},
		{
			name: "online snapshots duplicate a value over its neighbour",
			args: twoEach,
			edit: func(n int, win, _ []item) []item {
				if n < 2*onlineReads {
					return dupAt(win, len(win)/2)
				}
				return win
			},
			want: "each writer's messages must be consecutive",
		},
		{
			name: "online snapshots swap two adjacent values of one writer",
			args: oneEach,
			edit: func(n int, win, _ []item) []item {
				if online(n) {
					return swapAt(win, len(win)/2)
				}
				return win
			},
			want: "each writer's messages must be consecutive",
		},
		{
			// The newest value is its writer's newest returned append
			// (when it returned before the read), so moving it is caught
			// whichever writer its neighbour belongs to.
			name: "online snapshots swap the two newest values",
			args: twoEach,
			edit: func(n int, win, _ []item) []item {
				if n < 2*onlineReads {
					return swapAt(win, len(win)-2)
				}
				return win
			},
			want: "",
		},
		{
			name: "only the final read drops its oldest value",
			args: oneEach,
			edit: func(n int, win, _ []item) []item {
				if !online(n) {
					return win[1:]
				}
				return win
			},
			want: "final window holds 7 messages",
		},
		{
			name: "only the final read lags one push behind",
			args: oneEach,
			edit: func(n int, win, prev []item) []item {
				if !online(n) {
					return prev
				}
				return win
			},
			want: "final window: position 0 holds writer 0's message #991, but sequence 993 was writer 0's message #992",
		},
		{
			name: "only the final read swaps its two oldest values",
			args: oneEach,
			edit: func(n int, win, _ []item) []item {
				if !online(n) {
					return swapAt(win, 0)
				}
				return win
			},
			want: "final window: position 0 holds writer 0's message #993",
		},
		{
			name: "only the final read duplicates a value",
			args: oneEach,
			edit: func(n int, win, _ []item) []item {
				if !online(n) {
					return dupAt(win, 3)
				}
				return win
			},
			want: "final window: position 4 holds writer 0's message #995",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, check := range []string{"-check=true", "-check=false"} {
				if strings.HasPrefix(c.want, "final") || check == "-check=true" {
					t.Run(check, func(t *testing.T) {
						e := defaultEnv()
						e.newRing = func(_ string, capacity int) ringbuf.Buffer[item] { return newEdited(capacity, c.edit) }
						args := append([]string{"-backend", "mutex", "-format", "json", check}, c.args...)
						out, _, err := runArgs(t, t.Context(), e, args...)
						var ve *violationsError
						if !errors.As(err, &ve) || ve.n == 0 {
							t.Fatalf("run = %v, want a *violationsError\n%s", err, out)
						}
						rep := decodeReport(t, out)
						failures := strings.Join(rep.Results[0].Invariants.Failures, "\n")
						if rep.OK || !strings.Contains(failures, c.want) {
							t.Errorf("ok %v; failures do not mention %q:\n%s", rep.OK, c.want, failures)
						}
						t.Logf("%d violations in %d checks, first: %s", ve.n, ve.checks, rep.Results[0].Invariants.Failures[0])
					})
				}
			}
		})
	}
}

// editedHistory is a History whose reads pass through edit before the
// checker sees them: edit gets whether it is the final read and the
// messages, which it may change in place or replace.
type editedHistory struct {
	*historySubject
	edit func(final bool, msgs []chatring.Message) []chatring.Message
}

type editedReader struct {
	*historyReader
	final bool
	edit  func(final bool, msgs []chatring.Message) []chatring.Message
}

// read reads the History, online only once its window is full (so that
// no edit misses because the reader ran ahead of the writers), and edits
// what it read.
func (r *editedReader) read(ctx context.Context) error {
	for {
		if err := r.historyReader.read(ctx); err != nil {
			return err
		}
		if r.final || len(r.dst) == 2*r.h.Config().MaxTurns {
			break
		}
		runtime.Gosched()
	}
	r.dst = r.edit(r.final, r.dst)
	return nil
}

func (s *editedHistory) newReader() reader {
	return &editedReader{historyReader: s.historySubject.newReader().(*historyReader), edit: s.edit}
}

func (s *editedHistory) final(ctx context.Context) ([]rec, uint64, error) {
	r := &editedReader{historyReader: &historyReader{h: s.h}, final: true, edit: s.edit}
	if err := r.read(ctx); err != nil {
		return nil, 0, err
	}
	return r.records()
}

// runEditedHistory runs a history-level workload of args on the mutex
// backend, with every read passed through edit, and returns the
// violations found.
func runEditedHistory(t *testing.T, edit func(final bool, msgs []chatring.Message) []chatring.Message, args ...string) (uint64, []string) {
	t.Helper()
	o, err := parseFlags(append([]string{"-level", "history", "-backend", "mutex"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := newHistorySubject(o, "mutex")
	if err != nil {
		t.Fatal(err)
	}
	subj := &editedHistory{historySubject: hs, edit: edit}
	defer subj.close()
	wl := newWorkload(subj, o)
	elapsed, interrupted := wl.run(t.Context())
	wl.outcome(t.Context(), elapsed, interrupted)
	return wl.viol.count.Load(), wl.viol.descriptions()
}

// TestEditedHistoryFailsTheRun does at history level what
// TestEditedBuffersFailTheRun does at ring level. Here each message carries
// its own sequence number (Message.Seq), so a History can also get the
// labels wrong while the contents are right.
func TestEditedHistoryFailsTheRun(t *testing.T) {
	oneEach := []string{"-writers", "1", "-readers", "1", "-ops", "2000", "-max-turns", "4"}
	twoEach := []string{"-writers", "2", "-readers", "2", "-ops", "4000", "-max-turns", "4"}
	for _, c := range []struct {
		name  string
		args  []string
		check bool // run with the online checker; the final checks always run
		edit  func(final bool, msgs []chatring.Message) []chatring.Message
		want  string
	}{
		{
			name: "online reads label every message one too high",
			args: twoEach, check: true,
			edit: func(final bool, msgs []chatring.Message) []chatring.Message {
				for i := range msgs {
					if !final {
						msgs[i].Seq++
					}
				}
				return msgs
			},
			want: "returned before the read began",
		},
		{
			name: "online reads drop their oldest message",
			args: twoEach, check: true,
			edit: func(final bool, msgs []chatring.Message) []chatring.Message {
				if !final && len(msgs) > 0 {
					return msgs[1:]
				}
				return msgs
			},
			want: "",
		},
		{
			name: "online reads duplicate a message over its neighbour",
			args: twoEach, check: true,
			edit: func(final bool, msgs []chatring.Message) []chatring.Message {
				if i := len(msgs) / 2; !final && i+1 < len(msgs) {
					msgs[i+1] = msgs[i]
				}
				return msgs
			},
			want: "",
		},
		{
			name: "online reads swap the labels of two adjacent messages",
			args: oneEach, check: true,
			edit: func(final bool, msgs []chatring.Message) []chatring.Message {
				if i := len(msgs) / 2; !final && i+1 < len(msgs) {
					msgs[i].Seq, msgs[i+1].Seq = msgs[i+1].Seq, msgs[i].Seq
				}
				return msgs
			},
			want: "not contiguous",
		},
		{
			name: "the final read swaps two adjacent messages",
			args: oneEach, check: false,
			edit: func(final bool, msgs []chatring.Message) []chatring.Message {
				if final {
					msgs[0], msgs[1] = msgs[1], msgs[0]
					msgs[0].Seq, msgs[1].Seq = msgs[1].Seq, msgs[0].Seq
				}
				return msgs
			},
			want: "final window: position 0",
		},
		{
			// The contents are in the right order, but the two oldest
			// carry each other's sequence numbers: Messages' Seq is
			// part of what the History returns, so the final check,
			// which "equals, message by message, the last appends",
			// must compare it too, or a -check=false run passes.
			name: "the final read swaps the labels of its two oldest messages",
			args: oneEach, check: false,
			edit: func(final bool, msgs []chatring.Message) []chatring.Message {
				if final {
					msgs[0].Seq, msgs[1].Seq = msgs[1].Seq, msgs[0].Seq
				}
				return msgs
			},
			want: "final window: position 0",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"-check=" + map[bool]string{true: "true", false: "false"}[c.check]}, c.args...)
			n, failures := runEditedHistory(t, c.edit, args...)
			all := strings.Join(failures, "\n")
			if n == 0 || !strings.Contains(all, c.want) {
				t.Fatalf("%d violations, want some mentioning %q:\n%s", n, c.want, all)
			}
			t.Logf("%d violations, first: %s", n, failures[0])
		})
	}
	t.Run("a correct History passes", func(t *testing.T) {
		n, failures := runEditedHistory(t, func(_ bool, msgs []chatring.Message) []chatring.Message { return msgs }, twoEach...)
		if n != 0 {
			t.Fatalf("%d violations on an unedited History: %q", n, failures)
		}
	})
}
