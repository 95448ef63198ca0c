package chatring_test

import (
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/storetest"
)

// TestMemoryStoreConformance runs the Store conformance suite against a
// MemoryStore on each ring backend.
func TestMemoryStoreConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
			cfg.Backend = backend
			s, err := chatring.NewMemoryStore(cfg)
			if err != nil {
				t.Fatalf("NewMemoryStore(%+v): %v", cfg, err)
			}
			return s
		})
	})
}
