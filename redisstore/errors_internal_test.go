package redisstore

import (
	"context"
	"errors"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/redis/go-redis/v9"
)

// TestClassifyServerErrors feeds classify the error replies a real
// redis-server sends (a script returns each one with redis.error_reply, so
// the client parses it exactly as it would the server's own), including
// those that are hard to provoke in a test: LOADING after a restart,
// CLUSTERDOWN and TRYAGAIN on a cluster in trouble.
func TestClassifyServerErrors(t *testing.T) {
	server := redistest.NewServer(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	ctx := t.Context()
	for _, c := range []struct {
		reply       string
		unavailable bool
		format      bool
	}{
		{"LOADING Redis is loading the dataset in memory", true, false},
		{"READONLY You can't write against a read only replica.", true, false},
		{"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", true, false},
		{"CLUSTERDOWN The cluster is down", true, false},
		{"CLUSTERDOWN Hash slot not served", true, false},
		{"TRYAGAIN Multiple keys request during rehashing of slot", true, false},
		{"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT.", true, false},
		{"NOREPLICAS Not enough good replicas to write.", true, false},
		{"ERR max number of clients reached", true, false},
		{"ERR user_script:1: Script attempted to access nonexistent global variable 'x'", false, false},
		{"WRONGTYPE Operation against a key holding the wrong kind of value", false, false},
		{"OOM command not allowed when used memory > 'maxmemory'.", false, false},
		{"NOPERM this user has no permissions to run the 'evalsha' command", false, false},
		{"CHATRING_FORMAT conversation in format 2, this client writes format 1", false, true},
	} {
		err := client.Eval(ctx, "return redis.error_reply(ARGV[1])", nil, c.reply).Err()
		if err == nil || err.Error() != c.reply {
			t.Fatalf("the server replied %v, want the error %q", err, c.reply)
		}
		got := classify(ctx, "append", err)
		if errors.Is(got, chatring.ErrUnavailable) != c.unavailable || errors.Is(got, ErrFormat) != c.format {
			t.Errorf("classify(%q) = %v: ErrUnavailable %v (want %v), ErrFormat %v (want %v)", c.reply, got,
				errors.Is(got, chatring.ErrUnavailable), c.unavailable, errors.Is(got, ErrFormat), c.format)
		}
		if !errors.Is(got, err) {
			t.Errorf("classify(%q) = %v does not wrap the cause", c.reply, got)
		}
	}
}

// TestClassifyContext: a context error is the caller's when its ctx is
// done, and the client's own deadline (ErrUnavailable) when it is not.
func TestClassifyContext(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := classify(done, "append", context.Canceled); !errors.Is(err, context.Canceled) || errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("classify with the caller's ctx canceled = %v, want context.Canceled", err)
	}
	if err := classify(context.Background(), "append", context.DeadlineExceeded); !errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("classify of a deadline of the client's own = %v, want ErrUnavailable", err)
	}
	if err := classify(context.Background(), "append", redis.ErrPoolTimeout); !errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("classify(ErrPoolTimeout) = %v, want ErrUnavailable", err)
	}
}
