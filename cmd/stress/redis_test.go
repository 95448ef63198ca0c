package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore/redistest"
)

// The Redis tests start their own redis-server (redistest): they skip
// when it is not on PATH, and fail instead when CHATRING_REQUIRE_REDIS=1.

func TestRedisStore(t *testing.T) {
	redistest.Require(t)
	out, errOut, err := runArgs(t, t.Context(), defaultEnv(), "-level", "store", "-store", "redis", "-format", "json",
		"-conversations", "20", "-ops", "3000", "-max-turns", "2")
	if err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(errOut, "started redis-server on 127.0.0.1:") {
		t.Errorf("the run did not say it started a server: %q", errOut)
	}
	rep := decodeReport(t, out)
	if !rep.OK || rep.Config.Store != "redis" || len(rep.Results) != 1 {
		t.Fatalf("report: ok %v, config %+v, %d results", rep.OK, rep.Config, len(rep.Results))
	}
	r := rep.Results[0]
	if r.Backend != "redis" || r.Store == nil || r.Store.Sent != r.Appends || r.Appends == 0 || r.Snapshots == 0 ||
		r.Appends+r.Snapshots != 3000 || r.Invariants.Checks <= r.Snapshots || r.Store.Faults != nil {
		t.Errorf("result: backend %q, store %+v, %d appends, %d reads, %d checks", r.Backend, r.Store, r.Appends, r.Snapshots, r.Invariants.Checks)
	}

	// Against a server given with -redis, nothing is started.
	s := redistest.NewServer(t)
	out, errOut, err = runArgs(t, t.Context(), defaultEnv(), "-level", "store", "-store", "redis", "-redis", s.Addr,
		"-conversations", "5", "-ops", "400")
	if err != nil || strings.Contains(errOut, "started") || !strings.Contains(out, "OK: ") {
		t.Errorf("-redis %s: %v\n%s\n%s", s.Addr, err, out, errOut)
	}
}

// TestRedisFaults runs every fault for a second each (slots of 2 s): the breaker opens,
// appends are buffered and flushed, replies are lost, and every check
// holds.
func TestRedisFaults(t *testing.T) {
	redistest.Require(t)
	out, errOut, err := runArgs(t, t.Context(), defaultEnv(), "-level", "store", "-store", "redis", "-faults", "all",
		"-format", "json", "-conversations", "20", "-max-turns", "4", "-duration", "8s")
	if err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, out, errOut)
	}
	rep := decodeReport(t, out)
	if !rep.OK || rep.Config.DurationSeconds != 8 || strings.Join(rep.Config.Faults, ",") != "freeze,restart,lost,pause" || rep.Config.Outbox != defaultOutbox {
		t.Fatalf("report: ok %v, config %+v", rep.OK, rep.Config)
	}
	r := rep.Results[0]
	f := r.Store.Faults
	if r.Backend != "resilient" || f == nil || len(f.Schedule) != 4 {
		t.Fatalf("result: backend %q, faults %+v", r.Backend, f)
	}
	for _, ev := range f.Schedule {
		if ev.Error != "" || ev.Seconds < 0.9 {
			t.Errorf("fault %+v", ev)
		}
		if ev.Fault == "lost" && ev.Dropped == 0 {
			t.Errorf("the proxy lost no reply: %+v", ev)
		}
	}
	if f.Durable == 0 || f.Buffered == 0 || f.Acknowledged != f.Durable+f.Buffered || f.BreakerTransitions["open"] == 0 ||
		f.DegradedReads == 0 || f.OutboxHighWater == 0 || f.Replayed == 0 || f.StoredTwice != 0 ||
		f.DurableChecked != f.Durable || f.BufferedChecked != f.Buffered || r.Store.Sent != f.Acknowledged {
		t.Errorf("fault report %+v", f)
	}
}

// TestRedisBrokenStoresFailTheRun: a Redis store that acknowledges appends
// it did not store, or stores some twice, fails the run — on its own and
// under the fault schedule, through the resilient Store.
func TestRedisBrokenStoresFailTheRun(t *testing.T) {
	redistest.Require(t)
	for _, c := range []struct {
		name   string
		wrap   func(chatring.Store) chatring.Store
		faults string
		want   string
	}{
		{"loses acknowledged appends", func(s chatring.Store) chatring.Store { return &losingStore{Store: s} }, "", "Seq"},
		{"stores appends twice", func(s chatring.Store) chatring.Store { return &duplicatingStore{Store: s} }, "", "writer"},
		{"loses acknowledged appends under faults", func(s chatring.Store) chatring.Store { return &losingStore{Store: s} }, "lost", "but the primary acknowledged"},
		{"stores appends twice under faults", func(s chatring.Store) chatring.Store { return &duplicatingStore{Store: s} }, "lost", "is in the window twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := defaultEnv()
			e.wrapRedis = c.wrap
			args := []string{"-level", "store", "-store", "redis", "-format", "json", "-conversations", "10"}
			if c.faults != "" {
				// Windows large enough that the final check finds the
				// damage in them, not only in the counts.
				args = append(args, "-faults", c.faults, "-duration", "2s", "-max-turns", "500")
			} else {
				args = append(args, "-ops", "2000", "-max-turns", "4")
			}
			out, errOut, err := runArgs(t, t.Context(), e, args...)
			var ve *violationsError
			if !errors.As(err, &ve) || ve.n == 0 {
				t.Fatalf("run = %v, want a *violationsError\n%s\n%s", err, out, errOut)
			}
			rep := decodeReport(t, out)
			failures := strings.Join(rep.Results[0].Invariants.Failures, "\n")
			if !strings.Contains(failures, c.want) {
				t.Errorf("failures do not mention %q:\n%s", c.want, failures)
			}
			fs := rep.Results[0].Invariants.Failures
			t.Logf("%d violations, first: %s; last: %s", ve.n, fs[0], fs[len(fs)-1])
		})
	}
}

func TestRedisFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-level", "store", "-redis", "127.0.0.1:1"},                 // not -store redis
		{"-level", "store", "-faults", "all"},                        // not -store redis
		{"-level", "store", "-store", "redis", "-outbox", "5"},       // not -faults
		{"-level", "store", "-store", "redis", "-backend", "mutex"},  // no ring backend
		{"-level", "store", "-store", "redis", "-faults", "flood"},   // unknown
		{"-level", "store", "-store", "redis", "-faults", "freeze,"}, // empty name
		{"-level", "store", "-store", "redis", "-faults", "all", "-ops", "100"},
		{"-level", "store", "-store", "redis", "-faults", "all", "-redis", "127.0.0.1:1"},
		{"-level", "store", "-store", "redis", "-faults", "all", "-outbox", "0"},
		{"-store", "redis"}, // not -level store
	} {
		if _, _, err := runArgs(t, t.Context(), defaultEnv(), args...); !isUsage(err) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}

// TestFaultsDefaultDuration: -faults gives each fault a slot of 4 s
// unless -duration is given.
func TestFaultsDefaultDuration(t *testing.T) {
	for args, want := range map[string]time.Duration{
		"-faults all":                 16 * time.Second,
		"-faults freeze,pause":        8 * time.Second,
		"-faults lost -duration 3s":   3 * time.Second,
		"-faults restart,lost,freeze": 12 * time.Second,
	} {
		o, err := parseFlags(append([]string{"-level", "store", "-store", "redis"}, strings.Fields(args)...), io.Discard)
		if err != nil {
			t.Errorf("%s: %v", args, err)
		} else if o.duration != want || o.outbox != defaultOutbox || o.backends[0] != "resilient" {
			t.Errorf("%s: duration %v, outbox %d, backends %v; want %v", args, o.duration, o.outbox, o.backends, want)
		}
	}
}
