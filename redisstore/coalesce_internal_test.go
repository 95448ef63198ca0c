package redisstore

import (
	"context"
	"runtime"
	"testing"
)

// TestCoalescerGivesUp: a read waiting behind a flight in the air returns
// its context's error when that ends; the flight's own caller gets its
// result; and the next read sends a flight of its own (nothing was left
// waiting for callers that have gone).
func TestCoalescerGivesUp(t *testing.T) {
	c := &coalescer{flights: map[string]*flight{}}
	release := make(chan struct{})
	fetches := 0
	blocked := func(context.Context) (rawWindow, error) {
		fetches++
		<-release
		return rawWindow{list: []string{"first"}}, nil
	}
	first := make(chan rawWindow)
	go func() {
		raw, _ := c.read(context.Background(), "conv", blocked)
		first <- raw
	}()
	for { // wait until the first flight is in the air
		c.mu.Lock()
		f := c.flights["conv"]
		c.mu.Unlock()
		if f != nil {
			break
		}
		runtime.Gosched()
	}
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error)
	go func() {
		_, err := c.read(ctx, "conv", func(context.Context) (rawWindow, error) {
			t.Error("a read that gave up sent a flight")
			return rawWindow{}, nil
		})
		gaveUp <- err
	}()
	for { // wait until it waits behind the first
		c.mu.Lock()
		f := c.flights["conv"]
		waiting := f.next != nil && f.next.waiters == 1
		c.mu.Unlock()
		if waiting {
			break
		}
		runtime.Gosched()
	}
	cancel()
	if err := <-gaveUp; err != context.Canceled {
		t.Errorf("the waiting read returned %v, want context.Canceled", err)
	}
	close(release)
	if raw := <-first; len(raw.list) != 1 || raw.list[0] != "first" {
		t.Errorf("the first read got %v", raw.list)
	}
	if n := len(c.flights); n != 0 {
		t.Errorf("%d flights left after every read returned", n)
	}
	raw, err := c.read(context.Background(), "conv", func(context.Context) (rawWindow, error) {
		return rawWindow{list: []string{"second"}}, nil
	})
	if err != nil || len(raw.list) != 1 || raw.list[0] != "second" || fetches != 1 {
		t.Errorf("the next read got %v, %v after %d fetches", raw.list, err, fetches)
	}
}
