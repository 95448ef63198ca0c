package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/chatring/chatring/lockfree"
	"github.com/chatring/chatring/ringbuf"
	"github.com/chatring/chatring/sharded"
)

// backendNames lists the backends in report order; the first is the one the
// others are compared with.
var backendNames = []string{"mutex", "lockfree", "sharded"}

// subject is what the workers of one run drive: a raw ring backend
// (-level ring) or a chatring.History on top of one (-level history).
type subject interface {
	// newWriter returns the appender writer w uses; it is owned by that
	// writer's goroutine.
	newWriter(w int) appender
	// newReader returns a snapshot reader, owned by one reader goroutine.
	newReader() reader
	// final reads the window once every worker stopped.
	final(ctx context.Context) ([]rec, uint64, error)
	// finalChecks compares the subject's own accounting (if any) with what
	// the writers sent; it returns how many checks it made.
	finalChecks(v *violations, logs []*writerLog) uint64
	// details returns the level-specific part of the report: nil at ring
	// level, the History's statistics at history level.
	details() *HistoryReport
	close() error
}

// appender performs one writer's appends. prepare builds message #n outside
// the timed section; append stores it and returns its sequence number.
type appender interface {
	prepare(n uint64)
	append(ctx context.Context) (uint64, error)
}

// reader performs one reader's snapshots. read is the timed operation;
// records decodes what it read for the checker, outside the timed section,
// returning the window and the sequence number of its newest value.
type reader interface {
	read(ctx context.Context) error
	records() ([]rec, uint64, error)
}

// item is the value pushed at ring level: the writer and its counter, for
// the checker, and the payload. All of a run's items share one payload
// string, so a push copies a 32-byte value and allocates nothing itself.
type item struct {
	writer  int
	n       uint64
	payload string
}

// newRing returns the named ring backend. It is the default of
// env.newRing; tests replace it to inject broken buffers.
func newRing(backend string, capacity int) ringbuf.Buffer[item] {
	switch backend {
	case "mutex":
		return ringbuf.New[item](capacity)
	case "lockfree":
		return lockfree.New[item](capacity)
	case "sharded":
		return sharded.New[item](capacity)
	}
	panic("stress: unknown backend " + backend) // flags are validated first
}

// ringSubject drives a raw ring backend.
type ringSubject struct {
	buf     ringbuf.Buffer[item]
	payload string
}

func (s *ringSubject) newWriter(w int) appender {
	return &ringAppender{buf: s.buf, it: item{writer: w, payload: s.payload}}
}

func (s *ringSubject) newReader() reader {
	return &ringReader{buf: s.buf, dst: make([]item, 0, s.buf.Cap())}
}

func (s *ringSubject) final(context.Context) ([]rec, uint64, error) {
	r := &ringReader{buf: s.buf}
	r.read(context.Background())
	return r.records()
}

func (s *ringSubject) finalChecks(*violations, []*writerLog) uint64 { return 0 }
func (s *ringSubject) details() *HistoryReport                      { return nil }
func (s *ringSubject) close() error                                 { return nil }

type ringAppender struct {
	buf ringbuf.Buffer[item]
	it  item
}

func (a *ringAppender) prepare(n uint64) { a.it.n = n }

func (a *ringAppender) append(context.Context) (uint64, error) { return a.buf.Push(a.it), nil }

type ringReader struct {
	buf  ringbuf.Buffer[item]
	dst  []item
	last uint64
	recs []rec
}

func (r *ringReader) read(context.Context) error {
	r.dst, r.last = r.buf.Snapshot(r.dst[:0])
	return nil
}

func (r *ringReader) records() ([]rec, uint64, error) {
	r.recs = r.recs[:0]
	first := r.last - uint64(len(r.dst)) + 1
	for i, it := range r.dst {
		r.recs = append(r.recs, rec{writer: it.writer, n: it.n, seq: first + uint64(i)})
	}
	return r.recs, r.last, nil
}

// filler returns n bytes of pseudo-random text drawn from rng: mostly ASCII
// letters and spaces with some two- and three-byte UTF-8 runes (the seed's
// conversations are in Chinese), cut at a rune boundary so that it is valid
// UTF-8 of at most n bytes.
func filler(rng *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 " +
		"问题回答对话线程安全错误处理监控日志 é ü ß"
	runes := []rune(alphabet)
	var b strings.Builder
	b.Grow(n)
	for {
		r := runes[rng.IntN(len(runes))]
		if b.Len()+len(string(r)) > n {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// payloadFor returns the shared ring-level payload for a run.
func payloadFor(seed uint64, n int) string {
	return filler(rand.New(rand.NewPCG(seed, 0x5eed)), n)
}

// describeBackends formats the backend list for messages.
func describeBackends() string {
	return fmt.Sprintf("%s or all", strings.Join(backendNames, ", "))
}
