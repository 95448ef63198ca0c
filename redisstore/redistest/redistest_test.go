package redistest_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/chatring/chatring/redisstore/redistest"
)

// TestServerLeavesNothing: a stopped server's process is gone (its port
// refuses connections) and so is its directory.
func TestServerLeavesNothing(t *testing.T) {
	redistest.Require(t)
	s, err := redistest.StartServer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if reply, err := s.Command(t.Context(), "SET", "k", "v"); err != nil || reply != "+OK" {
		t.Fatalf("SET = %q, %v", reply, err)
	}
	if reply, err := s.Command(t.Context(), "GET", "k"); err != nil || reply != "v" {
		t.Fatalf("GET = %q, %v", reply, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("directory %s still there after Stop: %v", s.Dir, err)
	}
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", s.Addr)
	}
}
