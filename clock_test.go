package chatring_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chatring/chatring"
)

// TestWithClock checks that every time History stores or reports comes
// from the configured clock, without its monotonic reading, and that a nil
// clock means time.Now.
func TestWithClock(t *testing.T) {
	base := time.Now() // has a monotonic reading, which History must strip
	readings := 0
	clock := func() time.Time { // not concurrent: this test calls from one goroutine
		readings++
		return base.Add(time.Duration(readings) * time.Minute)
	}
	ctx := context.Background()
	for _, backend := range chatring.Backends() {
		t.Run(backend, func(t *testing.T) {
			readings = 0
			h, err := chatring.New(chatring.Config{Backend: backend}, chatring.WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			// Reading 1 was New's.
			m, err := h.Append(ctx, chatring.Message{Role: chatring.User, Content: "hi"})
			if err != nil {
				t.Fatal(err)
			}
			if want := base.Add(2 * time.Minute).Round(0); m.Time != want {
				t.Errorf("Append: Time = %v, want %v (the clock's second reading, no monotonic part)", m.Time, want)
			}
			if err := h.SetSystemPrompt("Be brief."); err != nil {
				t.Fatal(err)
			}
			if p, _ := h.SystemPrompt(); p.Time != base.Add(3*time.Minute).Round(0) {
				t.Errorf("system prompt Time = %v, want the clock's third reading", p.Time)
			}
			msgs, err := h.Messages(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || msgs[0].Time != m.Time {
				t.Errorf("Messages = %+v, want the appended message with Time %v", msgs, m.Time)
			}
			if up := h.Stats().Uptime; up != 3*time.Minute {
				t.Errorf("Stats().Uptime = %v, want 3m (fourth reading minus New's)", up)
			}
		})
	}

	h, err := chatring.New(chatring.Config{}, chatring.WithClock(nil))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	m, err := h.Append(ctx, chatring.Message{Role: chatring.User, Content: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if after := time.Now(); m.Time.Before(before) || m.Time.After(after) {
		t.Errorf("WithClock(nil): Time = %v, want time.Now, between %v and %v", m.Time, before, after)
	}
}

// TestCoarseClock checks that a CoarseClock's readings follow time.Now
// (never ahead of it, and moving on as it does), that a History stamps
// messages with them, and that after Stop it is time.Now and leaves no
// goroutine (TestMain checks that).
func TestCoarseClock(t *testing.T) {
	c := chatring.NewCoarseClock(time.Millisecond)
	defer c.Stop()
	first := c.Now()
	if now := time.Now(); first.After(now) {
		t.Fatalf("Now() = %v, after time.Now() = %v", first, now)
	}
	// The goroutine ticks every millisecond; allow a loaded machine
	// seconds to run it.
	deadline := time.Now().Add(10 * time.Second)
	for !c.Now().After(first) {
		if time.Now().After(deadline) {
			t.Fatalf("Now() still %v after 10s", first)
		}
		time.Sleep(time.Millisecond)
	}
	h := newHistory(t, chatring.Config{}, chatring.WithClock(c.Now))
	stamped := c.Now()
	m := mustAppend(t, h, chatring.User, "hi")
	if after := time.Now(); m.Time.Before(stamped.Round(0)) || m.Time.After(after) {
		t.Errorf("Append: Time = %v, want between the clock's reading %v and time.Now() %v", m.Time, stamped, after)
	}
	c.Stop()
	c.Stop()                         // idempotent
	time.Sleep(5 * time.Millisecond) // a frozen reading would now be behind
	before := time.Now()
	if got := c.Now(); got.Before(before) || got.After(time.Now()) {
		t.Errorf("after Stop, Now() = %v, want time.Now() (%v or a little later)", got, before)
	}
}

func TestCoarseClockRejectsNonPositiveResolution(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewCoarseClock(0) did not panic")
		}
	}()
	chatring.NewCoarseClock(0)
}

// TestCoarseClockConcurrentStop appends from several goroutines through a
// CoarseClock while two others stop it: no data race (under -race), no
// goroutine left (TestMain), and each goroutine's message times never go
// back, neither between ticks nor where Now changes over to time.Now.
func TestCoarseClockConcurrentStop(t *testing.T) {
	c := chatring.NewCoarseClock(50 * time.Microsecond)
	h := newHistory(t, chatring.Config{Backend: chatring.BackendSharded, MaxTurns: 4}, chatring.WithClock(c.Now))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var last time.Time
			for i := range 2000 {
				m, err := h.Append(t.Context(), chatring.Message{Role: chatring.User, Content: "hi"})
				if err != nil {
					t.Error(err)
					return
				}
				if m.Time.Before(last) {
					t.Errorf("goroutine %d, append %d: Time %v before the previous %v", g, i, m.Time, last)
					return
				}
				last = m.Time
			}
		})
	}
	time.Sleep(time.Millisecond)
	wg.Go(c.Stop)
	wg.Go(c.Stop)
	wg.Wait()
}
