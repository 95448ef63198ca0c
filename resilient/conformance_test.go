package resilient_test

import (
	"time"

	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
	"github.com/chatring/chatring/storetest"
)

// newWrapped returns a Store over a MemoryStore configured by cfg, with
// opts.
func newWrapped(t *testing.T, cfg chatring.Config, opts ...resilient.Option) *resilient.Store {
	t.Helper()
	mem, err := chatring.NewMemoryStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := resilient.New(mem, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// patient is the default retry policy with room for a machine so loaded
// that a MemoryStore call waits for a CPU longer than the default 500ms
// attempt deadline (seen at load average 20 on 2 cores, under -race):
// the suite checks the Store contract, not the deadlines.
var patient = resilient.WithRetry(resilient.RetryPolicy{AttemptTimeout: 10 * time.Second, MaxElapsed: 30 * time.Second})

// TestConformance: the wrapper with its default policies (but deadlines)
// is a Store.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
		return newWrapped(t, cfg, patient)
	})
}

// TestConformanceWithOutbox: the same with the outbox on (it stays empty:
// nothing fails).
func TestConformanceWithOutbox(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
		return newWrapped(t, cfg, patient, resilient.WithOutbox(100))
	})
}

// TestConformanceUnderFaults: every third call of every method fails
// before reaching the store, and every fourth read fails after it, and
// the retries hide it: the suite passes, linearizability included.
// Ambiguous failures of writes are left out here: a retried write whose
// first attempt took effect is only idempotent while the first attempt's
// message is in the window (see TestAmbiguousAppend and the package doc),
// and the suite's tiny windows, Clears and Deletes rightly show it.
func TestConformanceUnderFaults(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
		mem, err := chatring.NewMemoryStore(cfg)
		if err != nil {
			t.Fatal(err)
		}
		fs := faultstore.New(mem)
		before := faultstore.Every(faultstore.Any, faultstore.Before, 3)
		fs.SetPolicy(func(op faultstore.Op, n uint64) faultstore.Fault {
			if f := before(op, n); f != faultstore.None {
				return f
			}
			if (op == faultstore.Messages || op == faultstore.Window) && n%4 == 0 {
				return faultstore.After
			}
			return faultstore.None
		})
		s, err := resilient.New(fs,
			resilient.WithRetry(resilient.RetryPolicy{Attempts: 10, BaseDelay: 10 * time.Microsecond,
				MaxDelay: time.Millisecond, AttemptTimeout: 10 * time.Second, MaxElapsed: 30 * time.Second}),
			resilient.WithBreaker(resilient.BreakerPolicy{Failures: 1 << 30}))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
