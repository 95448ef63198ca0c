package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/chatring/chatring/redisstore/redistest"
)

// TestSecondSignalRemovesRedisServer: a run that started its own
// redis-server removes its directory even when a second signal makes it
// exit at once — here while the server is frozen (the first fault), so
// that the run cannot finish its report before the second signal.
func TestSecondSignalRemovesRedisServer(t *testing.T) {
	redistest.Require(t)
	cmd := exec.Command(os.Args[0], "-level", "store", "-store", "redis", "-faults", "freeze", "-duration", "1h", "-conversations", "4")
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	started := regexp.MustCompile(`started redis-server on \S+ in (\S+) `)
	lines := bufio.NewScanner(stderr)
	var dir string
	for lines.Scan() {
		if m := started.FindStringSubmatch(lines.Text()); m != nil {
			dir = m[1]
			break
		}
	}
	if dir == "" {
		t.Fatal("the run did not say where it started redis-server")
	}
	go func() { // drain stderr so that the child never blocks on it
		for lines.Scan() {
		}
	}()
	time.Sleep(time.Second) // into the freeze
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	err = cmd.Wait()
	// Two signals sent back to back may reach the run in either order
	// (the kernel can hand them to two threads at once), so the second
	// one the run saw, whose number is in the exit status, is either.
	switch code := cmd.ProcessState.ExitCode(); code {
	case 0, 128 + int(syscall.SIGTERM), 128 + int(syscall.SIGINT):
	default:
		t.Errorf("exit %v (status %d), want 128 + the number of SIGTERM or SIGINT", err, code)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		os.RemoveAll(dir)
		t.Errorf("the redis-server directory %s is left after the second signal (stat: %v)", dir, err)
	}
}
