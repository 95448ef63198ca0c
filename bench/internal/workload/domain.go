package workload

import (
	"strings"
	"testing"
	"time"

	"github.com/chatring/chatring"
)

// The payloads of HistoryAppend: the same operation on three kinds of
// text, since History.Append reads every byte of the content (validation
// and the token count) and the ring reads none.
const (
	// MsgASCII is the workloads' usual message: PayloadBytes of ASCII
	// ("user 7: xxx...", see Messages).
	MsgASCII = "ascii64"
	// MsgChinese is PayloadBytes of Chinese: 21 Han characters and
	// punctuation of three bytes each, then one ASCII byte.
	MsgChinese = "zh64"
	// MsgEnglish is a 2 KiB English paragraph: words, spaces,
	// punctuation and a few digits.
	MsgEnglish = "en2k"
)

// Msgs lists the payloads of HistoryAppend in the order of its table.
var Msgs = []string{MsgASCII, MsgChinese, MsgEnglish}

// The texts the payloads are cut from. Each message starts at a
// different offset, so that no two consecutive ones are equal.
const (
	chineseText = "今天天气很好，我们一起去公园散步吧。你想喝咖啡还是茶？我更喜欢绿茶，因为它的味道很清淡。" +
		"周末的时候我们可以去图书馆看书，然后在附近的餐厅吃午饭。"
	englishText = "The meeting on Thursday covered the budget for the next quarter, which is 12% higher " +
		"than last year's. Maria asked whether the new hires would start in March or April; the answer " +
		"depends on the visa process, which usually takes 6 to 8 weeks. Meanwhile, the team will keep " +
		"working on the search feature: users have reported that results are slow when a query has more " +
		"than three words, and the logs confirm it. A fix is planned for version 2.4, together with " +
		"better ranking for recent documents. "
)

// PayloadMessages returns n messages of the payload kind msg (one of
// Msgs), alternating user and assistant; every content is valid for
// chatring.History and exactly as long as the kind says.
func PayloadMessages(msg string, n int) []Msg {
	ms := make([]Msg, n)
	for i := range ms {
		role := chatring.User
		if i%2 == 1 {
			role = chatring.Assistant
		}
		var content string
		switch msg {
		case MsgASCII:
			content = pool[i&poolMask].Content
		case MsgChinese:
			runes := []rune(chineseText)
			var sb strings.Builder
			for j := range (PayloadBytes - 1) / 3 {
				sb.WriteRune(runes[(i+j)%len(runes)])
			}
			sb.WriteByte('!')
			content = sb.String()
		case MsgEnglish:
			text := strings.Repeat(englishText, 2048/len(englishText)+2)
			off := (i * 7) % len(englishText)
			content = strings.TrimLeft(text[off:off+2048], " ")
			content += strings.Repeat(".", 2048-len(content))
		default:
			panic("workload: unknown payload " + msg)
		}
		ms[i] = Msg{Role: role, Content: content}
	}
	return ms
}

// The levels of HistoryAppend besides LevelRing and LevelHistory (the
// default clock, time.Now): History.Append with a clock that returns a
// fixed time (chatring.WithClock), what the domain layer costs without the
// clock read; and with a chatring.CoarseClock of a millisecond.
const (
	LevelHistoryFixedClock  = "history-fixedclock"
	LevelHistoryCoarseClock = "history-coarseclock"
)

// HistoryAppend puts History.Append next to the bare Push of the same
// backend, for each payload of Msgs, at capacity 20: for every backend
// and payload, level=ring (the backend's Push), level=history
// (History.Append, default clock), level=history-fixedclock
// (History.Append with WithClock returning a constant) and
// level=history-coarseclock (WithClock of a CoarseClock, 1ms), one
// goroutine per P, every push evicting. `benchstat -col /level` gives the
// ratios of issue 13's targets 1 and 2.
//
// Besides ns/op (wall time) it reports cpu-ns/op: the CPU time of the whole
// process (user and system, from getrusage; every goroutine, the garbage
// collector included) per operation. On a machine shared with other work,
// wall time counts the time the benchmark waited for a core and CPU time
// does not, so cpu-ns/op is the steadier of the two there; where the
// goroutines spin waiting for a lock, it counts the spinning.
//
// Sub-benchmarks: backend=B/level=L/cap=20/msg=M.
func HistoryAppend(b *testing.B, rings []Contender) {
	const capacity = 20
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, ring := range rings {
		for _, msg := range Msgs {
			msgs := PayloadMessages(msg, 64)
			const mask = 63
			levels := []struct {
				level string
				new   func(b *testing.B) Ring
			}{
				{LevelRing, func(*testing.B) Ring { return ring.New(capacity) }},
				{LevelHistory, func(*testing.B) Ring { return historyRing{newHistory(ring.Backend, capacity)} }},
				{LevelHistoryFixedClock, func(*testing.B) Ring {
					return historyRing{newHistory(ring.Backend, capacity,
						chatring.WithClock(func() time.Time { return fixed }))}
				}},
				{LevelHistoryCoarseClock, func(b *testing.B) Ring {
					clock := chatring.NewCoarseClock(time.Millisecond)
					b.Cleanup(clock.Stop)
					return historyRing{newHistory(ring.Backend, capacity, chatring.WithClock(clock.Now))}
				}},
			}
			for _, l := range levels {
				c := Contender{Backend: ring.Backend, Level: l.level}
				b.Run(name(c, capacity)+"/"+Name("msg", msg), func(b *testing.B) {
					r := l.new(b)
					for i := range capacity {
						r.Push(msgs[i&mask])
					}
					b.ReportAllocs()
					b.ResetTimer()
					cpu0, ok := cpuTime()
					b.RunParallel(func(pb *testing.PB) {
						for i := 0; pb.Next(); i++ {
							r.Push(msgs[i&mask])
						}
					})
					if cpu1, ok1 := cpuTime(); ok && ok1 && b.N > 0 {
						b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
					}
					reportThroughput(b)
				})
			}
		}
	}
}
