// Package gate counts the calls a store has in flight and lets its Close
// stop new ones and wait for those in flight. MemoryStore and the
// resilient Store use it.
package gate

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Gate counts calls in flight. state is their number, plus closedBit once
// Close was called; the last call to leave a closed gate (or Close, if
// none is in flight) closes done. Call Init before use; all methods are
// safe for concurrent use.
type Gate struct {
	state    atomic.Int64
	done     chan struct{}
	doneOnce sync.Once
}

const closedBit = 1 << 62

// Init prepares g for use.
func (g *Gate) Init() { g.done = make(chan struct{}) }

// Enter registers a call; it reports false, registering nothing, once the
// gate is closed.
func (g *Gate) Enter() bool {
	if g.state.Add(1)&closedBit != 0 {
		g.Exit()
		return false
	}
	return true
}

// Exit unregisters a call.
func (g *Gate) Exit() {
	if g.state.Add(-1) == closedBit {
		g.doneOnce.Do(func() { close(g.done) })
	}
}

// Close closes the gate to new calls.
func (g *Gate) Close() {
	if old := g.state.Or(closedBit); old == 0 {
		g.doneOnce.Do(func() { close(g.done) })
	}
}

// Closed reports whether Close was called.
func (g *Gate) Closed() bool { return g.state.Load()&closedBit != 0 }

// Wait waits for the calls in flight after Close, or for ctx; its error
// says how many calls were still in flight and wraps ctx.Err(). When no
// call is in flight it returns nil, even if ctx is done.
func (g *Gate) Wait(ctx context.Context) error {
	select {
	case <-g.done:
		return nil
	default:
	}
	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d calls still in flight: %w", g.state.Load()&^closedBit, ctx.Err())
	}
}
