package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/chatring/chatring"
)

// History-level messages follow the seed's section 1: writer w's message
// #n is turn i = n/2, a user question for even n and the assistant's answer
// for odd n, with the seed's own content,
//
//	Thread 3 - 问题 17     (user, n = 34)
//	Thread 3 - 回答 17     (assistant, n = 35)
//
// padded with pseudo-random text to -payload bytes when that is longer.
// The checker decodes the writer and n back from the content.
const (
	contentPrefix = "Thread "
	contentSep    = " - "
	wordQuestion  = "问题"
	wordAnswer    = "回答"
)

// historySubject drives a chatring.History.
type historySubject struct {
	h       *chatring.History
	payload int
	seed    uint64
	// stats is read by finalChecks after the run, for details.
	stats *chatring.Stats
	sent  uint64
}

func newHistorySubject(o *options, backend string) (*historySubject, error) {
	// Content is max(payload, header) bytes, and the header (under 64
	// bytes) is far below the default limit.
	h, err := chatring.New(chatring.Config{
		Backend:         backend,
		MaxTurns:        o.maxTurns,
		MaxMessageBytes: max(chatring.DefaultMaxMessageBytes, o.payload),
	})
	if err != nil {
		return nil, err
	}
	return &historySubject{h: h, payload: o.payload, seed: o.seed}, nil
}

// content returns writer w's message #n: the seed's text, then pad (cut to
// a rune boundary and filled up with dots) up to payload bytes in all.
func content(pad []byte, w int, n uint64, payload int) string {
	var b strings.Builder
	b.Grow(max(payload, 32))
	b.WriteString(contentPrefix)
	b.WriteString(strconv.Itoa(w))
	b.WriteString(contentSep)
	if n%2 == 0 {
		b.WriteString(wordQuestion)
	} else {
		b.WriteString(wordAnswer)
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatUint(n/2, 10))
	if b.Len() < payload {
		b.WriteByte(' ')
		rest := payload - b.Len()
		k := min(rest, len(pad))
		for k > 0 && k < len(pad) && !utf8.RuneStart(pad[k]) {
			k--
		}
		b.Write(pad[:k])
		for range rest - k {
			b.WriteByte('.')
		}
	}
	return b.String()
}

// parseContent is the inverse of content: it returns the writer and n of a
// message, and whether the role matches the question or answer it holds.
func parseContent(m chatring.Message) (w int, n uint64, err error) {
	s, ok := strings.CutPrefix(m.Content, contentPrefix)
	if !ok {
		return 0, 0, errors.New("content does not start with " + strconv.Quote(contentPrefix))
	}
	ws, s, ok := strings.Cut(s, contentSep)
	if !ok {
		return 0, 0, errors.New("content has no writer")
	}
	if w, err = strconv.Atoi(ws); err != nil {
		return 0, 0, fmt.Errorf("content has a bad writer: %w", err)
	}
	word, s, _ := strings.Cut(s, " ")
	is, _, _ := strings.Cut(s, " ")
	i, err := strconv.ParseUint(is, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("content has a bad turn: %w", err)
	}
	switch {
	case word == wordQuestion && m.Role == chatring.User:
		return w, 2 * i, nil
	case word == wordAnswer && m.Role == chatring.Assistant:
		return w, 2*i + 1, nil
	}
	return 0, 0, fmt.Errorf("message seq %d: role %q does not match its content (%q, turn %d of writer %d)", m.Seq, m.Role, word, i, w)
}

func (s *historySubject) newWriter(w int) appender {
	rng := rand.New(rand.NewPCG(s.seed, uint64(w)))
	return &historyAppender{h: s.h, w: w, payload: s.payload, pad: []byte(filler(rng, s.payload))}
}

func (s *historySubject) newReader() reader {
	return &historyReader{h: s.h, dst: make([]chatring.Message, 0, s.h.Config().MaxTurns*2)}
}

func (s *historySubject) final(ctx context.Context) ([]rec, uint64, error) {
	r := &historyReader{h: s.h}
	if err := r.read(ctx); err != nil {
		return nil, 0, err
	}
	return r.records()
}

// finalChecks compares the History's own statistics with what the writers
// sent: appended in all and per role, no rejections, the newest sequence,
// the window's length and the evictions.
func (s *historySubject) finalChecks(v *violations, logs []*writerLog) uint64 {
	var sent, user, assistant uint64
	for _, l := range logs {
		sent += l.sent
		user += (l.sent + 1) / 2 // writers start with a question
		assistant += l.sent / 2
	}
	st := s.h.Stats()
	s.stats, s.sent = &st, sent
	window := min(sent, uint64(st.Capacity))
	checks := []struct {
		what      string
		got, want uint64
	}{
		{"appended", st.Appended, sent},
		{"user messages", st.ByRole[chatring.User], user},
		{"assistant messages", st.ByRole[chatring.Assistant], assistant},
		{"rejected", st.Rejected, 0},
		{"last sequence", st.LastSeq, sent},
		{"window messages", uint64(st.WindowMessages), window},
		{"evicted", st.Evicted, sent - window},
	}
	for _, c := range checks {
		if c.got != c.want {
			v.addf("history statistics: %s is %d, the writers sent %d", c.what, c.got, c.want)
		}
	}
	return uint64(len(checks))
}

func (s *historySubject) details() *HistoryReport {
	if s.stats == nil {
		return nil
	}
	raw, err := json.Marshal(s.stats)
	if err != nil {
		raw = nil // chatring.Stats always marshals; keep the field valid JSON
	}
	return &HistoryReport{Sent: s.sent, Stats: raw, stats: *s.stats}
}

func (s *historySubject) close() error { return s.h.Close() }

type historyAppender struct {
	h       *chatring.History
	w       int
	payload int
	pad     []byte
	msg     chatring.Message
}

func (a *historyAppender) prepare(n uint64) {
	a.msg = chatring.Message{Role: chatring.User, Content: content(a.pad, a.w, n, a.payload)}
	if n%2 == 1 {
		a.msg.Role = chatring.Assistant
	}
}

func (a *historyAppender) append(ctx context.Context) (uint64, error) {
	m, err := a.h.Append(ctx, a.msg)
	return m.Seq, err
}

type historyReader struct {
	h    *chatring.History
	dst  []chatring.Message
	recs []rec
}

func (r *historyReader) read(ctx context.Context) (err error) {
	r.dst, err = r.h.Messages(ctx, r.dst[:0])
	return err
}

func (r *historyReader) records() ([]rec, uint64, error) {
	r.recs = r.recs[:0]
	var last uint64
	for _, m := range r.dst {
		w, n, err := parseContent(m)
		if err != nil {
			return nil, 0, err
		}
		r.recs = append(r.recs, rec{writer: w, n: n, seq: m.Seq})
		last = m.Seq
	}
	return r.recs, last, nil
}

// writeHistoryTable prints the History statistics of every history-level
// result in the shape of the seed's own printout (total, user and
// assistant messages), with the window and what the writers sent. For the
// seed preset it also prints each backend's statistics as the seed's
// Python prints its dict, next to what the seed expects.
func writeHistoryTable(w io.Writer, rep *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\ttotal_messages\tuser_messages\tassistant_messages\trejected\tevicted\twindow\tsent\t\n", nameWidth, "history")
	for _, r := range rep.Results {
		if r.History == nil {
			continue
		}
		st := r.History.stats
		fmt.Fprintf(tw, "%-*s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", nameWidth, r.Backend, st.Appended,
			st.ByRole[chatring.User], st.ByRole[chatring.Assistant], st.Rejected, st.Evicted,
			st.WindowMessages, r.History.Sent)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Config.Preset != "seed" {
		return nil
	}
	fmt.Fprintf(w, "\nThe seed's section 1 (%d threads × %d × (user, assistant), max_turns %d) prints:\n",
		seedWriters, seedPairs, seedMaxTurns)
	fmt.Fprintf(w, "  %-*s 统计信息: %s\n", nameWidth, "seed", seedDict(seedWriters*seedPairs*2, seedWriters*seedPairs, seedWriters*seedPairs))
	for _, r := range rep.Results {
		if r.History != nil {
			st := r.History.stats
			fmt.Fprintf(w, "  %-*s 统计信息: %s, window %d\n", nameWidth, r.Backend,
				seedDict(st.Appended, st.ByRole[chatring.User], st.ByRole[chatring.Assistant]), st.WindowMessages)
		}
	}
	return nil
}

// seedDict formats statistics as the seed's Python prints its stats dict.
func seedDict(total, user, assistant uint64) string {
	return fmt.Sprintf("{'total_messages': %d, 'user_messages': %d, 'assistant_messages': %d}", total, user, assistant)
}
