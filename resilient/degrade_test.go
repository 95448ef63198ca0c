package resilient_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
	"github.com/google/go-cmp/cmp"
)

// TestDegradedReads: while the primary is unavailable, Messages and
// Window answer from the mirror exactly what the primary answered last,
// counted and logged; a conversation the mirror lacks returns the error.
func TestDegradedReads(t *testing.T) {
	for _, open := range []bool{false, true} {
		name := "retries exhausted"
		if open {
			name = "breaker open"
		}
		t.Run(name, func(t *testing.T) {
			breaker := lazyBreaker
			if open {
				breaker = resilient.BreakerPolicy{Failures: 1, FailureRatio: 0.01, OpenFor: time.Hour}
			}
			r := newRig(t, chatring.Config{MaxTurns: 3}, resilient.WithBreaker(breaker))
			ctx := context.Background()
			if err := r.SetSystemPrompt(ctx, "c", "be brief"); err != nil {
				t.Fatal(err)
			}
			for _, c := range []string{"one", "two", "three", "four", "five", "six", "seven"} {
				r.append(t, "c", c)
			}
			wantMsgs, err := r.Messages(ctx, "c", nil)
			if err != nil {
				t.Fatal(err)
			}
			budgets := []int{0, 1, 5, 8, 12, 1000}
			wantWin := map[int][]chatring.Message{}
			wantErr := map[int]error{}
			for _, b := range budgets {
				wantWin[b], wantErr[b] = r.Window(ctx, "c", b)
			}
			if !errors.Is(wantErr[1], chatring.ErrBudgetTooSmall) {
				t.Fatalf("Window(1) with a 2-token prompt: %v, want ErrBudgetTooSmall", wantErr[1])
			}
			r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
			if open {
				if _, err := r.Messages(ctx, "unknown", nil); !errors.Is(err, chatring.ErrUnavailable) {
					t.Fatalf("a read of a conversation the mirror lacks: %v", err)
				}
				if st := r.Stats(); st.Breaker != "open" {
					t.Fatalf("breaker %s, want open", st.Breaker)
				}
			}
			before := r.faults.Calls(faultstore.Any)
			got, err := r.Messages(ctx, "c", nil)
			if err != nil {
				t.Fatalf("degraded Messages: %v", err)
			}
			if diff := cmp.Diff(wantMsgs, got); diff != "" {
				t.Errorf("degraded Messages (-primary's +mirror's):\n%s", diff)
			}
			for _, b := range budgets {
				got, err := r.Window(ctx, "c", b)
				if wantErr[b] != nil {
					if !errors.Is(err, chatring.ErrBudgetTooSmall) {
						t.Errorf("degraded Window(%d): %v, want %v", b, err, wantErr[b])
					}
					continue
				}
				if err != nil {
					t.Fatalf("degraded Window(%d): %v", b, err)
				}
				if diff := cmp.Diff(wantWin[b], got); diff != "" {
					t.Errorf("degraded Window(%d) (-primary's +mirror's):\n%s", b, diff)
				}
			}
			if _, err := r.Window(ctx, "c", -1); !errors.Is(err, chatring.ErrBudgetTooSmall) {
				t.Errorf("degraded Window(-1): %v, want ErrBudgetTooSmall", err)
			}
			if _, err := r.Messages(ctx, "unknown-2", nil); !errors.Is(err, chatring.ErrUnavailable) {
				t.Errorf("a read of a conversation the mirror lacks: %v, want ErrUnavailable", err)
			}
			st := r.Stats()
			if st.DegradedReads != uint64(2+len(budgets)) || st.DegradedMisses < 1 {
				t.Errorf("DegradedReads %d, DegradedMisses %d; want %d and at least 1", st.DegradedReads, st.DegradedMisses, 2+len(budgets))
			}
			if open && r.faults.Calls(faultstore.Any) != before {
				t.Errorf("degraded reads with the breaker open called the primary %d times", r.faults.Calls(faultstore.Any)-before)
			}
			if recs := r.logs.records(t, "resilient: degraded read from the mirror"); len(recs) != 2+len(budgets) {
				t.Errorf("%d degraded reads logged, want %d", len(recs), 2+len(budgets))
			}
		})
	}
}

// TestDegradedWritesFailFast: without an outbox, writes fail with
// ErrUnavailable while the primary is unavailable; with the breaker open
// they fail without calling it.
func TestDegradedWritesFailFast(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithBreaker(resilient.BreakerPolicy{Failures: 1, FailureRatio: 0.01, OpenFor: time.Hour}))
	ctx := context.Background()
	r.append(t, "c", "kept")
	r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	_ = r.try("c") // opens the breaker
	before := r.faults.Calls(faultstore.Any)
	m, err := r.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "lost"})
	if !errors.Is(err, resilient.ErrBreakerOpen) || errors.Is(err, resilient.ErrBuffered) || !strings.HasPrefix(m.ID, resilient.IDPrefix) {
		t.Errorf("Append = %+v, %v; want ErrBreakerOpen, not buffered, with the ID to retry with", m, err)
	}
	for name, err := range map[string]error{
		"SetSystemPrompt": r.SetSystemPrompt(ctx, "c", "p"),
		"Clear":           r.Clear(ctx, "c"),
		"Delete":          r.Delete(ctx, "c"),
	} {
		if !errors.Is(err, chatring.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", name, err)
		}
	}
	if r.faults.Calls(faultstore.Any) != before {
		t.Error("writes with the breaker open reached the primary")
	}
	if diff := cmp.Diff([]string{"1:kept"}, r.stored(t, "c")); diff != "" {
		t.Errorf("the primary changed (-want +got):\n%s", diff)
	}
}

// TestMirrorOff: WithMirror(0) turns degraded reads off.
func TestMirrorOff(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithMirror(0))
	r.append(t, "c", "one")
	if _, err := r.Messages(context.Background(), "c", nil); err != nil {
		t.Fatal(err)
	}
	r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	if _, err := r.Messages(context.Background(), "c", nil); !errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("Messages without a mirror: %v, want ErrUnavailable", err)
	}
}

// TestDegradedReadYourWrites: the mirror follows this process's writes —
// appends, Clear, Delete, SetSystemPrompt — so degraded reads show them.
func TestDegradedReadYourWrites(t *testing.T) {
	r := newRig(t, chatring.Config{MaxTurns: 2}, oneAttempt)
	ctx := context.Background()
	down := func() { r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before)) }
	up := func() { r.faults.SetPolicy(nil) }
	read := func() []string {
		t.Helper()
		down()
		defer up()
		w, err := r.Window(ctx, "c", 0)
		if err != nil {
			t.Fatalf("degraded Window: %v", err)
		}
		out := brief(w)
		for i, m := range w {
			if m.ID != "" {
				t.Errorf("degraded read shows ID %q at %d", m.ID, i)
			}
		}
		return out
	}
	for _, c := range []string{"a", "b", "c", "d", "e"} { // writes only: never read
		r.append(t, "c", c)
	}
	if diff := cmp.Diff([]string{"2:b", "3:c", "4:d", "5:e"}, read()); diff != "" {
		t.Errorf("after appends (-want +got):\n%s", diff)
	}
	if err := r.SetSystemPrompt(ctx, "c", "prompt"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"0:prompt", "2:b", "3:c", "4:d", "5:e"}, read()); diff != "" {
		t.Errorf("after SetSystemPrompt (-want +got):\n%s", diff)
	}
	if err := r.Clear(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	r.append(t, "c", "f")
	if diff := cmp.Diff([]string{"0:prompt", "6:f"}, read()); diff != "" {
		t.Errorf("after Clear and an append (-want +got):\n%s", diff)
	}
	if err := r.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if got := read(); len(got) != 0 {
		t.Errorf("after Delete: %v, want an empty window", got)
	}
	r.append(t, "c", "g")
	if diff := cmp.Diff([]string{"1:g"}, read()); diff != "" {
		t.Errorf("after Delete and an append (-want +got):\n%s", diff)
	}
}
