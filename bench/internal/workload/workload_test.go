package workload

import (
	"context"
	"testing"
	"unicode/utf8"

	"github.com/chatring/chatring"
)

func TestIsReadSpread(t *testing.T) {
	for _, p := range []int{0, 1, WriteHeavyReadPercent, ChatMixReadPercent, 50, ReadHeavyReadPercent, 100} {
		for start := 0; start < 300; start += 100 {
			reads, run, longest := 0, 0, 0
			for i := start; i < start+100; i++ {
				if isRead(i, p) {
					reads++
					run = 0
				} else if run++; run > longest {
					longest = run
				}
			}
			if reads != p {
				t.Errorf("readPercent %d: %d reads in operations %d..%d, want %d", p, reads, start, start+99, p)
			}
			// Evenly spread: no run of pushes longer than the gap between
			// reads needs to be.
			if p > 0 && longest > (100+p-1)/p {
				t.Errorf("readPercent %d: %d pushes in a row, want at most %d", p, longest, (100+p-1)/p)
			}
		}
	}
}

func TestMessages(t *testing.T) {
	ms := Messages(4, PayloadBytes)
	for i, m := range ms {
		if len(m.Content) != PayloadBytes {
			t.Errorf("message %d: %d bytes, want %d", i, len(m.Content), PayloadBytes)
		}
		if want := []string{"user", "assistant"}[i%2]; string(m.Role) != want {
			t.Errorf("message %d: role %q, want %q", i, m.Role, want)
		}
	}
	if len(pool) != poolMask+1 {
		t.Errorf("pool has %d messages, want poolMask+1 = %d", len(pool), poolMask+1)
	}
}

func TestName(t *testing.T) {
	if got, want := Name("backend", "mutex", "cap", 20), "backend=mutex/cap=20"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
}

func TestPayloadMessages(t *testing.T) {
	want := map[string]int{MsgASCII: PayloadBytes, MsgChinese: PayloadBytes, MsgEnglish: 2048}
	for _, msg := range Msgs {
		ms := PayloadMessages(msg, 64)
		h := newHistory(chatring.BackendMutex, 20)
		for i, m := range ms {
			if len(m.Content) != want[msg] {
				t.Errorf("%s message %d: %d bytes, want %d", msg, i, len(m.Content), want[msg])
			}
			if _, err := h.Append(context.Background(), m); err != nil {
				t.Errorf("%s message %d: Append: %v", msg, i, err)
			}
		}
		if ms[0].Content == ms[1].Content {
			t.Errorf("%s: consecutive messages are equal", msg)
		}
	}
	zh := PayloadMessages(MsgChinese, 1)[0].Content
	if n := utf8.RuneCountInString(zh); n != 22 {
		t.Errorf("%s: %d runes, want 21 Chinese characters and one ASCII byte", MsgChinese, n)
	}
}
