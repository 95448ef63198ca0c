package resilient

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient/internal/faultstore"
	"github.com/google/go-cmp/cmp"
)

// TestBackoffFullJitter: the n-th wait is drawn from
// [0, min(MaxDelay, BaseDelay × 2^(n-1))], and over many calls it covers
// both halves of that range.
func TestBackoffFullJitter(t *testing.T) {
	const (
		base     = 2 * time.Millisecond
		maxDelay = 5 * time.Millisecond
		calls    = 40
	)
	mem, err := chatring.NewMemoryStore(chatring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	fs := faultstore.New(mem)
	fs.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	s, err := New(fs, WithRetry(RetryPolicy{Attempts: 4, BaseDelay: base, MaxDelay: maxDelay, MaxElapsed: time.Minute}),
		WithBreaker(BreakerPolicy{Failures: 1 << 30}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	var mu sync.Mutex
	var waits []time.Duration
	s.onRetry = func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
	}
	bounds := []time.Duration{base, 2 * base, maxDelay} // waits before attempts 2, 3 and 4
	lowHalf, highHalf := make([]int, 3), make([]int, 3)
	for range calls {
		waits = waits[:0]
		if _, err := s.Messages(context.Background(), "c", nil); err == nil {
			t.Fatal("Messages succeeded during an outage")
		}
		if len(waits) != 3 {
			t.Fatalf("%d waits in a call of 4 attempts, want 3", len(waits))
		}
		for i, w := range waits {
			if w < 0 || w > bounds[i]+time.Nanosecond {
				t.Errorf("wait %d = %v, want within [0, %v]", i+1, w, bounds[i])
			}
			if w < bounds[i]/2 {
				lowHalf[i]++
			} else {
				highHalf[i]++
			}
		}
	}
	// With uniform draws, all 40 in one half has probability 2^-39.
	for i := range bounds {
		if lowHalf[i] == 0 || highHalf[i] == 0 {
			t.Errorf("wait %d: %d draws below %v and %d above: not full jitter", i+1, lowHalf[i], bounds[i]/2, highHalf[i])
		}
	}
}

// msg returns a message with Seq seq and content c (and c as its ID).
func msg(seq uint64, c string) chatring.Message {
	return chatring.Message{Role: chatring.User, Content: c, ID: c, Seq: seq}
}

func seqs(msgs []chatring.Message) []uint64 {
	out := []uint64{}
	for _, m := range msgs {
		out = append(out, m.Seq)
	}
	return out
}

// TestMirrorStamps: a read that started before a write this process
// recorded never takes the view back to an older window, but adds what
// the view lacks; a call that started before a Clear or Delete is
// ignored; acknowledged messages go at their Seq whatever order their
// replies come in, with gaps where the view knows nothing.
func TestMirrorStamps(t *testing.T) {
	m, err := newMirror(10, 4, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	check := func(what string, want []uint64) {
		t.Helper()
		got, _, _, _ := m.lookup("c").snapshot(nil)
		if diff := cmp.Diff(want, seqs(got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}
	v, st := m.view("c")
	m.read(v, st, []chatring.Message{msg(1, "a"), msg(2, "b")})
	check("a read", []uint64{1, 2})

	_, reading := m.view("c") // a read starts
	_, st = m.view("c")
	m.appended(v, st, msg(3, "c")) // an append returns first
	m.read(v, reading, []chatring.Message{msg(1, "a"), msg(2, "b")})
	check("a read older than an append recorded meanwhile", []uint64{1, 2, 3})

	_, reading = m.view("c")
	_, st = m.view("c")
	m.appended(v, st, msg(4, "d"))
	m.read(v, reading, []chatring.Message{msg(2, "b"), msg(3, "c"), msg(4, "d"), msg(5, "e")})
	check("a read newer than the append", []uint64{2, 3, 4, 5})

	_, st = m.view("c")
	m.appended(v, st, msg(9, "x")) // others appended 6 to 8
	check("an append after a gap", []uint64{9})
	m.appended(v, st, msg(10, "y"))
	m.appended(v, st, msg(10, "y")) // a duplicate ID's answer
	m.appended(v, st, msg(7, "late"))
	check("a duplicate, and a late answer still in the window", []uint64{7, 9, 10})
	m.appended(v, st, msg(6, "later"))
	check("a late answer pushed out", []uint64{7, 9, 10})

	_, reading = m.view("c")
	_, st = m.view("c")
	m.appended(v, st, msg(12, "w"))
	m.read(v, reading, []chatring.Message{msg(8, "h"), msg(9, "x"), msg(10, "y"), msg(11, "v")})
	check("an older read fills the gaps it knows", []uint64{9, 10, 11, 12})

	_, before := m.view("c")
	m.cleared(v, false, 0)
	m.appended(v, before, msg(13, "z")) // started before the Clear
	m.read(v, before, []chatring.Message{msg(9, "x")})
	check("answers of calls older than a Clear", []uint64{})
	_, st = m.view("c")
	m.appended(v, st, msg(13, "z"))
	check("an append after Clear", []uint64{13})
	_, st = m.view("c")
	m.appended(v, st, msg(11, "v")) // a retry the primary recognised after the Clear
	check("a recognised retry of a cleared message", []uint64{13})
	// A Clear by a ClearReporter that removed more than the view knew of
	// (15 was stored, its reply lost): its retry stays out too.
	m.cleared(v, false, 15)
	_, st = m.view("c")
	m.appended(v, st, msg(15, "lost reply"))
	m.appended(v, st, msg(16, "new"))
	check("a retry at or below the reported Clear, then a new message", []uint64{16})

	_, st = m.view("c")
	m.cut(v, st, []chatring.Message{{Role: chatring.System, Content: "p"}, msg(12, "w"), msg(13, "z"), msg(14, "u")})
	check("a Window that overlaps", []uint64{12, 13, 14})
	if _, p, _, _ := v.snapshot(nil); p == nil || p.Content != "p" {
		t.Errorf("prompt after a Window: %v", p)
	}
	_, st = m.view("c")
	m.cut(v, st, []chatring.Message{msg(16, "f")})
	check("a Window cut by its budget, after a gap", []uint64{13, 14, 16})
	m.cut(v, st, []chatring.Message{msg(20, "far")})
	check("a Window far ahead", []uint64{20})

	m.cleared(v, true, 0)
	_, st = m.view("c")
	m.appended(v, st, msg(1, "again"))
	check("an append after Delete", []uint64{1})
	if _, p, last, _ := v.snapshot(nil); p != nil || last != 1 {
		t.Errorf("after Delete: prompt %v, last %d", p, last)
	}

	// A Clear here, then the conversation deleted elsewhere and started
	// again: a read that finds it below the Clear's floor lifts the floor.
	_, st = m.view("c")
	m.appended(v, st, msg(2, "b"))
	m.appended(v, st, msg(3, "c"))
	m.cleared(v, false, 0)
	_, st = m.view("c")
	m.read(v, st, []chatring.Message{msg(1, "new life")})
	m.appended(v, st, msg(2, "new life 2"))
	check("an append after a read found the conversation started again", []uint64{1, 2})
}

// TestMirrorAppendedOrder: appends recorded in any order — as replies
// come back — leave the view holding each of them that is within the
// window of the newest, and nothing else; a conversation that starts
// again behind this process's back (Delete elsewhere, expiry) is told
// from a late reply or an old duplicate by a different message at a Seq
// the view holds.
func TestMirrorAppendedOrder(t *testing.T) {
	const capacity = 4
	newView := func(t *testing.T) (*mirror, *view) {
		m, err := newMirror(10, capacity, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.close)
		v, _ := m.view("c")
		return m, v
	}
	t.Run("every order", func(t *testing.T) {
		// All orders of recording Seq 1 to 6, every call stamped
		// before any of them returned (they overlap).
		perm := []uint64{1, 2, 3, 4, 5, 6}
		var permute func(k int)
		permute = func(k int) {
			if k == len(perm) {
				m, v := newView(t)
				_, st := m.view("c")
				for _, s := range perm {
					m.appended(v, st, msg(s, fmt.Sprint("m", s)))
				}
				if got := seqs(v.win); !slices.Equal(got, []uint64{3, 4, 5, 6}) {
					t.Errorf("recorded in order %v: view %v, want [3 4 5 6]", perm, got)
				}
				return
			}
			for i := k; i < len(perm); i++ {
				perm[k], perm[i] = perm[i], perm[k]
				permute(k + 1)
				perm[k], perm[i] = perm[i], perm[k]
			}
		}
		permute(0)
	})
	t.Run("restart behind our back", func(t *testing.T) {
		m, v := newView(t)
		_, st := m.view("c")
		for s := uint64(1); s <= 3; s++ {
			m.appended(v, st, msg(s, fmt.Sprint("old", s)))
		}
		// Deleted elsewhere; appends of this process get Seq 1 and 2,
		// and 2 returns first: another message at Seq 2 than the
		// view's is a restart.
		m.appended(v, st, msg(2, "new2"))
		m.appended(v, st, msg(1, "new1"))
		if got := brief(v.win); !slices.Equal(got, []string{"1:new1", "2:new2"}) || v.last != 2 {
			t.Errorf("after a restart: %v (last %d), want [1:new1 2:new2] (last 2)", got, v.last)
		}
	})
	t.Run("old duplicate is no restart", func(t *testing.T) {
		// The primary recognised an ID whose message left the window
		// long ago (a replay of an append whose reply was lost).
		m, v := newView(t)
		_, st := m.view("c")
		for s := uint64(1); s <= 10; s++ {
			m.appended(v, st, msg(s, fmt.Sprint("m", s)))
		}
		m.appended(v, st, msg(2, "m2"))
		if got := seqs(v.win); !slices.Equal(got, []uint64{7, 8, 9, 10}) {
			t.Errorf("after an old duplicate: %v, want [7 8 9 10]", got)
		}
	})
	t.Run("late reply is no restart", func(t *testing.T) {
		m, v := newView(t)
		_, st := m.view("c") // the view knows nothing yet: last 0
		for s := uint64(2); s <= 10; s++ {
			m.appended(v, st, msg(s, fmt.Sprint("m", s)))
		}
		m.appended(v, st, msg(1, "m1")) // sent before all of them, pushed out
		if got := seqs(v.win); !slices.Equal(got, []uint64{7, 8, 9, 10}) {
			t.Errorf("after a late reply of Seq 1: %v, want [7 8 9 10]", got)
		}
	})
}

// brief renders messages as "seq:ID".
func brief(msgs []chatring.Message) []string {
	out := []string{}
	for _, m := range msgs {
		out = append(out, fmt.Sprintf("%d:%s", m.Seq, m.ID))
	}
	return out
}

// TestMirrorPush: appends to a full view keep its newest capacity
// messages, contiguous, across the moves back to the start of its
// buffer, interleaved with reads and Windows that replace or extend it;
// the dropped messages are zeroed in the buffer, and once the buffer
// exists an append allocates nothing.
func TestMirrorPush(t *testing.T) {
	const capacity = 4
	m, err := newMirror(10, capacity, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	v, st := m.view("c")
	want := func(last uint64) []uint64 {
		var w []uint64
		for s := max(last, capacity) - capacity + 1; s <= last; s++ {
			w = append(w, s)
		}
		return w
	}
	for seq := uint64(1); seq <= 50; seq++ {
		m.appended(v, st, msg(seq, fmt.Sprint("m", seq)))
		st.writes++ // the stamp of the next call, as view would return it
		got, _, _, _ := v.snapshot(nil)
		if diff := cmp.Diff(want(seq), seqs(got)); diff != "" {
			t.Fatalf("after appending %d (-want +got):\n%s", seq, diff)
		}
		switch seq {
		case 17: // a read of the same window: kept in place
			m.read(v, st, got)
		case 29: // a Window continuing the view
			m.cut(v, st, []chatring.Message{msg(28, "m28"), msg(29, "m29")})
		}
	}
	live := 0
	for _, b := range v.buf {
		if b.Seq != 0 {
			live++
		}
	}
	if live != capacity {
		t.Errorf("the buffer holds %d messages, want the window's %d (the others zeroed)", live, capacity)
	}
	seq := uint64(51)
	allocs := testing.AllocsPerRun(100, func() {
		m.appended(v, st, chatring.Message{Seq: seq, ID: "x", Role: chatring.User})
		st.writes++
		seq++
	})
	if allocs != 0 {
		t.Errorf("an append to a full view allocates %v times, want 0", allocs)
	}
}
