package redisstore_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/storetest"
)

// TestConformanceCoalesced runs the conformance suite with read
// coalescing on.
func TestConformanceCoalesced(t *testing.T) {
	client, _ := singleNode(t)
	storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
		return newStore(t, client, cfg, redisstore.WithReadCoalescing())
	})
}

// TestCoalescedReadsAreFresh: with coalescing, many goroutines read one
// conversation while another appends to it; every read must hold every
// message whose Append returned before the read was called. A read that
// joined a Redis read already in the air would sometimes miss one.
func TestCoalescedReadsAreFresh(t *testing.T) {
	client, _ := singleNode(t)
	s := newStore(t, client, chatring.Config{MaxTurns: 50}, redisstore.WithReadCoalescing())
	ctx := t.Context()
	const conv, appends, readers = "hot", 300, 16
	var acked atomic.Uint64 // the newest Seq an Append returned
	var reads, stale atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				before := acked.Load()
				var err error
				var last uint64
				if i%2 == 0 {
					var msgs []chatring.Message
					msgs, err = s.Messages(ctx, conv, nil)
					if len(msgs) > 0 {
						last = msgs[len(msgs)-1].Seq
					}
				} else {
					var w []chatring.Message
					w, err = s.Window(ctx, conv, 0)
					if len(w) > 0 {
						last = w[len(w)-1].Seq
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
				reads.Add(1)
				if last < before {
					stale.Add(1)
					t.Errorf("a read called after Seq %d was acknowledged returned a window ending at Seq %d", before, last)
				}
			}
		})
	}
	for i := range appends {
		m, err := s.Append(ctx, conv, chatring.Message{Role: []chatring.Role{chatring.User, chatring.Assistant}[i%2], Content: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		acked.Store(m.Seq)
	}
	close(stop)
	wg.Wait()
	if reads.Load() < appends {
		t.Logf("only %d reads during %d appends", reads.Load(), appends)
	}
}
