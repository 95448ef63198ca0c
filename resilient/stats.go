package resilient

import "github.com/sony/gobreaker/v2"

// Stats is a snapshot of a Store's metrics. It marshals to JSON with the
// snake_case keys shown. The counters are exact at the instant each is
// read; they are read one after another, so under concurrent calls they
// may disagree by the calls in flight.
type Stats struct {
	// Attempts counts the attempts that reached the primary, retries
	// and replays included.
	Attempts uint64 `json:"attempts"`
	// Retries counts the attempts after a call's first (each one after a
	// backoff wait; a caller that leaves during the wait gets none), those
	// the breaker refused included (see FailedFast).
	Retries uint64 `json:"retries"`
	// FailedFast counts the attempts the open (or fully probed half-open)
	// breaker refused without calling the primary.
	FailedFast uint64 `json:"failed_fast"`
	// DegradedReads counts the Messages and Window calls answered from
	// the mirror; DegradedMisses those that found nothing there and
	// returned the primary's error.
	DegradedReads  uint64 `json:"degraded_reads"`
	DegradedMisses uint64 `json:"degraded_misses"`
	// Buffered counts the appends the outbox accepted (a retry of a
	// buffered ID is not counted again), OutboxFull those it refused,
	// Replayed those the primary then stored, Discarded those the
	// primary rejected as invalid on replay, and Unflushed those Close
	// could not replay before its ctx was done (lost with the process;
	// Close's *UnflushedError counts them too).
	Buffered   uint64 `json:"buffered"`
	OutboxFull uint64 `json:"outbox_full"`
	Replayed   uint64 `json:"replayed"`
	Discarded  uint64 `json:"discarded"`
	Unflushed  uint64 `json:"unflushed"`
	// Rejected counts the writes (Append, SetSystemPrompt, Clear,
	// Delete) this Store refused itself, before calling the primary: a
	// ctx already done, an invalid conversation ID or message, a write
	// after Close. RejectedByReason splits it by
	// chatring.RejectionReason, the keys of chatring.Stats's and
	// redisstore.Stats's field of the same name; only reasons that
	// occurred are present. A write the primary refuses is counted by
	// the primary (its own Stats), not here, so that the two add up to
	// every write refused, each once (promexport.WithRejectionsOf
	// exports the sum).
	Rejected         uint64            `json:"rejected"`
	RejectedByReason map[string]uint64 `json:"rejected_by_reason"`
	// Outbox is the number of buffered appends now, in
	// OutboxConversations conversations; OutboxHighWater the most it
	// held at once; OutboxCapacity its bound (WithOutbox; 0: no outbox).
	Outbox              int `json:"outbox"`
	OutboxConversations int `json:"outbox_conversations"`
	OutboxHighWater     int `json:"outbox_high_water"`
	OutboxCapacity      int `json:"outbox_capacity"`
	// Breaker is the breaker's state: "closed", "open" or "half-open".
	Breaker string `json:"breaker"`
	// BreakerTransitions counts the breaker's state changes by the state
	// entered; all three keys are always present.
	BreakerTransitions map[string]uint64 `json:"breaker_transitions"`
	// BreakerChanges counts the breaker's state changes by the state
	// left and the state entered: one entry for each of the four changes
	// the breaker makes (closed to open, open to half-open, half-open to
	// closed, half-open to open: the only ones gobreaker makes), always
	// in that order.
	BreakerChanges []BreakerChange `json:"breaker_changes"`
}

// BreakerChange counts one kind of state change of the breaker.
type BreakerChange struct {
	// From is the state left and To the state entered: "closed",
	// "open" or "half-open".
	From string `json:"from"`
	To   string `json:"to"`
	// Count is the number of such changes since New.
	Count uint64 `json:"count"`
}

// breakerChanges are the state changes the breaker makes, in the order
// of Stats.BreakerChanges.
var breakerChanges = [...][2]gobreaker.State{
	{gobreaker.StateClosed, gobreaker.StateOpen},
	{gobreaker.StateOpen, gobreaker.StateHalfOpen},
	{gobreaker.StateHalfOpen, gobreaker.StateClosed},
	{gobreaker.StateHalfOpen, gobreaker.StateOpen},
}

// RejectedByReason returns Stats's RejectedByReason alone: the writes
// the Store refused before calling the primary, by
// chatring.RejectionReason. It takes no lock and allocates one small
// map; it is what promexport.WithRejectionsOf reads.
func (s *Store) RejectedByReason() map[string]uint64 {
	m, _ := s.ctr.rejected.ByReason()
	return m
}

// Stats returns the Store's metrics. It takes the breaker's and the
// outbox's locks briefly and allocates two small maps and one small
// slice.
func (s *Store) Stats() Stats {
	c := &s.ctr
	st := Stats{
		Attempts:       c.attempts.Load(),
		Retries:        c.retries.Load(),
		FailedFast:     c.failedFast.Load(),
		DegradedReads:  c.degradedReads.Load(),
		DegradedMisses: c.degradedMisses.Load(),
		Buffered:       c.buffered.Load(),
		OutboxFull:     c.outboxFull.Load(),
		Replayed:       c.replayed.Load(),
		Discarded:      c.discarded.Load(),
		Unflushed:      c.unflushed.Load(),
		Breaker:        s.breaker.State().String(),
		BreakerTransitions: map[string]uint64{
			gobreaker.StateClosed.String():   c.transitions[gobreaker.StateClosed].Load(),
			gobreaker.StateOpen.String():     c.transitions[gobreaker.StateOpen].Load(),
			gobreaker.StateHalfOpen.String(): c.transitions[gobreaker.StateHalfOpen].Load(),
		},
	}
	st.BreakerChanges = make([]BreakerChange, len(breakerChanges))
	for i, ch := range breakerChanges {
		st.BreakerChanges[i] = BreakerChange{From: ch[0].String(), To: ch[1].String(), Count: c.changes[ch[0]][ch[1]].Load()}
	}
	st.RejectedByReason, st.Rejected = c.rejected.ByReason()
	st.Outbox, st.OutboxConversations, st.OutboxHighWater = s.outbox.counts()
	if s.outbox != nil {
		st.OutboxCapacity = s.outbox.max
	}
	s.logTransitions() // State may have moved the breaker from open to half-open
	return st
}
