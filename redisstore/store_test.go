package redisstore_test

import (
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/storetest"
)

// TestConformance runs the Store conformance suite against a real
// redis-server and against a real three-master Redis Cluster.
func TestConformance(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		client, _ := singleNode(t)
		storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
			return newStore(t, client, cfg)
		})
	})
	t.Run("cluster", func(t *testing.T) {
		client, _ := cluster(t)
		storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
			return newStore(t, client, cfg)
		})
	})
}
