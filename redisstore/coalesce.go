package redisstore

import (
	"context"
	"sync"
)

// WithReadCoalescing makes concurrent reads (Messages, Window) of one
// conversation in this process share Redis reads: a read that arrives
// while another read of the same conversation is in the air waits for it
// to end and then shares one read with every other read that arrived
// meanwhile. It never joins a read that was sent before it was called, so
// it never returns a window older than one that an Append acknowledged
// before the call (a read that joined a flight already in the air could
// miss such an Append). The price: a read that arrives during another can
// wait for up to two reads instead of one. An Observer (WithObserver) is
// told of every read, whether it sent a Redis read, shared one or gave up
// waiting for one when its ctx ended (observed as canceled or timeout,
// though it sent nothing); its duration includes the wait.
func WithReadCoalescing() Option {
	return func(o *options) { o.coalesce = true }
}

// coalescer groups the reads of one conversation: at most one flight in
// the air per conversation, and at most one flight waiting behind it,
// which every read arriving meanwhile joins.
type coalescer struct {
	mu      sync.Mutex
	flights map[string]*flight // the conversation's newest flight
}

// flight is one Redis read shared by several calls.
type flight struct {
	// Under coalescer.mu:
	started bool    // sent: no call may join it
	waiters int     // calls waiting for it to start
	next    *flight // the flight waiting behind this one

	after chan struct{} // the previous flight's done: start after it
	done  chan struct{} // closed when raw and err are set
	raw   rawWindow
	err   error
}

// read returns conv's window from a flight that starts after read was
// called, running fetch itself when it leads that flight.
func (c *coalescer) read(ctx context.Context, conv string, fetch func(context.Context) (rawWindow, error)) (rawWindow, error) {
	c.mu.Lock()
	f := c.flights[conv]
	switch {
	case f == nil: // no read of conv: lead a new flight now
		f = &flight{started: true, done: make(chan struct{})}
		c.flights[conv] = f
		c.mu.Unlock()
		return c.lead(ctx, conv, f, fetch)
	case f.started: // in the air: wait behind it
		if f.next == nil {
			f.next = &flight{after: f.done, done: make(chan struct{})}
		}
		f = f.next
	}
	// f has not started: it will be sent after this call began.
	f.waiters++
	c.mu.Unlock()
	select {
	case <-f.after:
	case <-ctx.Done():
		c.mu.Lock()
		if f.waiters--; f.waiters == 0 && !f.started && c.flights[conv] == f {
			delete(c.flights, conv) // nobody left to send it
		}
		c.mu.Unlock()
		return rawWindow{}, ctx.Err()
	}
	c.mu.Lock()
	f.waiters--
	leader := !f.started
	f.started = true
	c.mu.Unlock()
	if leader {
		return c.lead(ctx, conv, f, fetch)
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return rawWindow{}, ctx.Err()
	}
	if f.err != nil {
		// Maybe the leader's own context ended: read alone.
		return fetch(ctx)
	}
	return f.raw, nil
}

// lead runs flight f and hands conv over to the flight waiting behind it.
func (c *coalescer) lead(ctx context.Context, conv string, f *flight, fetch func(context.Context) (rawWindow, error)) (rawWindow, error) {
	f.raw, f.err = fetch(ctx)
	c.mu.Lock()
	if f.next != nil && f.next.waiters > 0 {
		c.flights[conv] = f.next
	} else {
		delete(c.flights, conv) // also when every call behind f gave up
	}
	c.mu.Unlock()
	close(f.done)
	return f.raw, f.err
}
