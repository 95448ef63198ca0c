package redistest_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
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

// TestProxyDelay: through a proxy WithDelay(d), a request and its reply
// take at least 2d, and a large value crosses in many chunks intact and in
// order.
func TestProxyDelay(t *testing.T) {
	s := redistest.NewServer(t)
	const oneWay = 25 * time.Millisecond
	p := redistest.StartProxy(t, s.Addr, redistest.WithDelay(oneWay))
	conn, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	roundTrip := func(args ...string) string {
		t.Helper()
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := conn.Write([]byte(b.String())); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(line, "$") {
			return strings.TrimRight(line, "\r\n")
		}
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	start := time.Now()
	if got := roundTrip("PING"); got != "+PONG" {
		t.Fatalf("PING = %q", got)
	}
	if took := time.Since(start); took < 2*oneWay {
		t.Errorf("PING through the proxy took %v, want at least 2 × %v", took, oneWay)
	}
	var big strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&big, "%d,", i)
	}
	if got := roundTrip("SET", "big", big.String()); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	if got := roundTrip("GET", "big"); got != big.String() {
		t.Errorf("GET returned %d bytes, not the %d set", len(got), big.Len())
	}
}

// TestServerFreezeKillRestart: a stopped (SIGSTOP) server answers nothing
// until SIGCONT; a server killed with appendonly yes and appendfsync
// always comes back from Restart, on the same address, with what it
// acknowledged.
func TestServerFreezeKillRestart(t *testing.T) {
	s := redistest.NewServer(t, "--appendonly", "yes", "--appendfsync", "always")
	if reply, err := s.Command(t.Context(), "SET", "k", "v"); err != nil || reply != "+OK" {
		t.Fatalf("SET = %q, %v", reply, err)
	}
	if err := s.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	reply, err := s.Command(ctx, "PING")
	cancel()
	if err == nil {
		t.Errorf("a stopped server answered PING: %q", reply)
	}
	if err := s.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if reply, err := s.Command(t.Context(), "PING"); err != nil || reply != "+PONG" {
		t.Fatalf("PING after SIGCONT = %q, %v", reply, err)
	}
	s.Kill()
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Kill", s.Addr)
	}
	if err := s.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if reply, err := s.Command(t.Context(), "GET", "k"); err != nil || reply != "v" {
		t.Errorf("GET after Restart = %q, %v: the acknowledged SET was lost", reply, err)
	}
}
