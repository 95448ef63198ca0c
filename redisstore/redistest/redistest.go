// Package redistest starts real Redis servers for tests and benchmarks: a
// single redis-server, or a Redis Cluster of several masters built with
// `redis-cli --cluster create`, each process on a free port of 127.0.0.1
// in a temporary directory of its own, stopped (killed, its directory
// removed) by Stop; and a Redis Sentinel (StartSentinel) to put in front
// of a master and its replicas. It also has Proxy, a TCP proxy that can
// lose the reply of a request the server has run, for tests of ambiguous
// failures, and delay every byte (WithDelay), to measure what a network's
// round trips cost.
//
// Nothing here is a fake: the servers are the redis-server and redis-cli
// binaries on PATH (Debian: apt-get install redis-server redis-tools).
// When they are missing, NewServer and NewCluster skip the test with a
// message saying how to install them, or fail it when the environment
// variable CHATRING_REQUIRE_REDIS is set to 1 (as CI sets it), so that a
// CI machine without Redis cannot pass by skipping.
//
// On Linux the servers are started with a parent-death signal, so that a
// test binary killed by a timeout does not leave them running.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing redis-server
// into a test failure instead of a skip when it is "1".
const RequireEnv = "CHATRING_REQUIRE_REDIS"

// InstallHint says how to install the binaries this package runs.
const InstallHint = "apt-get install redis-server redis-tools"

// Available reports whether redis-server and redis-cli are on PATH, and if
// not, an error naming the missing one.
func Available() error {
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("redistest: %s not found on PATH (%s)", bin, InstallHint)
		}
	}
	return nil
}

// Require skips tb when the Redis binaries are missing, or fails it when
// RequireEnv is set to 1.
func Require(tb testing.TB) {
	tb.Helper()
	if err := Available(); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("%v, and %s=1 requires the Redis tests to run", err, RequireEnv)
		}
		tb.Skipf("%v: Redis tests skipped", err)
	}
}

// Server is one redis-server process on 127.0.0.1.
type Server struct {
	// Addr is the server's host:port.
	Addr string
	// Dir is the server's working directory (its log is redis.log there).
	Dir string

	args []string // redis-server's command line, for Restart

	mu       sync.Mutex // guards cmd and exited, which Restart replaces
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has exited
	stopOnce sync.Once
	stopErr  error
}

// StartServer starts a redis-server on a free port of 127.0.0.1 in a new
// temporary directory, with persistence off, and waits until it answers
// PING. args are extra redis-server options ("--maxmemory", "10mb", ...).
func StartServer(ctx context.Context, args ...string) (*Server, error) {
	return start(ctx, nil, args)
}

// StartSentinel starts a Redis Sentinel (redis-server --sentinel, with a
// configuration file in its directory) on a free port of 127.0.0.1 that
// monitors the master at addr (host:port) under the name master, with a
// quorum of 1, so that it fails over alone; down-after-milliseconds is
// 1000 and failover-timeout 5000.
func StartSentinel(ctx context.Context, master, addr string) (*Server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("redistest: sentinel: %w", err)
	}
	return start(ctx, func(dir string) ([]string, error) {
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf("sentinel monitor %[1]s %[2]s %[3]s 1\n"+
			"sentinel down-after-milliseconds %[1]s 1000\n"+
			"sentinel failover-timeout %[1]s 5000\n", master, host, port)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return nil, err
		}
		return []string{conf, "--sentinel"}, nil
	}, nil)
}

// start starts a server: lead, when not nil, returns the arguments that
// go before the options (a configuration file) once its directory exists.
func start(ctx context.Context, lead func(dir string) ([]string, error), args []string) (*Server, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	var last error
	for range 3 { // a free port may be taken between probing and binding
		s, err := startServer(ctx, lead, args)
		if err == nil {
			return s, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

func startServer(ctx context.Context, lead func(dir string) ([]string, error), args []string) (*Server, error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	var first []string
	if lead != nil {
		if first, err = lead(dir); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("redistest: %w", err)
		}
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir}
	s.args = append(first,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--logfile", filepath.Join(dir, "redis.log"))
	s.args = append(s.args, args...)
	if err := s.launch(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// launch starts the server's process and waits until it answers.
func (s *Server) launch(ctx context.Context) error {
	cmd := exec.Command("redis-server", s.args...)
	cmd.Dir = s.Dir
	setParentDeath(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	if err := s.waitReady(ctx, exited); err != nil {
		return fmt.Errorf("redistest: redis-server on %s: %w; its log:\n%s", s.Addr, err, s.Log())
	}
	return nil
}

// Signal sends sig to the server's process: syscall.SIGSTOP freezes it
// (it accepts connections, but answers nothing) until syscall.SIGCONT.
func (s *Server) Signal(sig os.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Signal(sig)
}

// Kill kills the server's process (a stopped one too) and waits for it to
// exit, but keeps its directory: Restart starts it again on the same
// data. Killing a server that has exited does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	cmd.Process.Kill()
	<-exited
}

// Restart starts a server that Kill stopped again, on the same port and
// directory with the same options (with appendonly yes and appendfsync
// always among them, it comes back with every write it acknowledged), and
// waits until it answers PING.
func (s *Server) Restart(ctx context.Context) error {
	return s.launch(ctx)
}

// waitReady waits until the server answers PING, for up to 10 seconds.
func (s *Server) waitReady(ctx context.Context, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		// A replica without its master and replica-serve-stale-data no
		// answers MASTERDOWN, and that is how it is meant to run.
		reply, err := s.Command(ctx, "PING")
		if err == nil && (reply == "+PONG" || strings.HasPrefix(reply, "-MASTERDOWN")) {
			return nil
		}
		select {
		case <-exited:
			return errors.New("exited")
		case <-ctx.Done():
			return fmt.Errorf("not ready: %v (last error %v)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Command sends one command to the server on a new connection and returns
// its reply: a simple string, error or integer as its RESP line ("+OK",
// "-ERR ...", ":1"), a bulk string as its content (CLUSTER INFO's text).
// Arrays are not read. It is for setting up and inspecting servers; tests
// talk to them with a Redis client.
func (s *Server) Command(ctx context.Context, args ...string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "$") {
		return line, nil
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 {
		return "", fmt.Errorf("redistest: bulk reply %q", line)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// Log returns the server's log file, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	return string(b)
}

// Stop kills the server, waits for it to exit and removes its directory.
// It is idempotent.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		started := s.cmd != nil
		s.mu.Unlock()
		if started {
			s.Kill()
		}
		s.stopErr = os.RemoveAll(s.Dir)
	})
	return s.stopErr
}

// NewServer starts a server for tb (see Require and StartServer) and stops
// it when tb ends.
func NewServer(tb testing.TB, args ...string) *Server {
	tb.Helper()
	Require(tb)
	s, err := StartServer(context.Background(), args...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Stop() })
	return s
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
