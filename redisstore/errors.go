package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/chatring/chatring"
	"github.com/redis/go-redis/v9"
)

// transientPrefixes are the Redis error replies that mean "not now": the
// server is loading its data set (LOADING), is a replica or was demoted
// during a failover (READONLY), is a replica cut off from its master
// (MASTERDOWN), belongs to a cluster that is down or cannot serve the
// slot (CLUSTERDOWN, TRYAGAIN during a resharding), is running a slow
// script (BUSY), or could not reach enough replicas (NOREPLICAS).
var transientPrefixes = []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "NOREPLICAS"}

// classify turns an error of the Redis client into the error a Store
// returns. It is the only place that decides what ErrUnavailable means:
//
//   - the caller's ctx ended: the error wraps ctx.Err() (and the cause);
//   - the client was closed: chatring.ErrClosed;
//   - the network (refused, reset, EOF, timeouts), the pool (no free
//     connection in PoolTimeout), the server's "not now" replies
//     (transientPrefixes, and max clients reached): chatring.ErrUnavailable
//     wrapping the cause, so the same call may be retried;
//   - a stored conversation in another format: ErrFormat;
//   - anything else (a script error, WRONGTYPE, OOM, NOAUTH, NOPERM):
//     the cause, wrapped. It is not ErrUnavailable: retrying will fail
//     the same way until someone fixes the data or the deployment.
func classify(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case ctxDone(ctx) != nil && (isContext(err) || transient(err)):
		return fmt.Errorf("redisstore: %s: %w (%w)", op, ctxDone(ctx), err)
	case errors.Is(err, redis.ErrClosed):
		return fmt.Errorf("redisstore: %s: %w (%w)", op, chatring.ErrClosed, err)
	case transient(err) || isContext(err):
		// A context error while ctx is live comes from the client's own
		// deadlines (dial, pool): the service is slow.
		return fmt.Errorf("redisstore: %s: %w: %w", op, chatring.ErrUnavailable, err)
	case redis.HasErrorPrefix(err, "CHATRING_FORMAT"):
		return fmt.Errorf("redisstore: %s: %w: %w", op, ErrFormat, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// ctxDone returns ctx.Err(), or context.DeadlineExceeded once ctx's
// deadline has passed even if ctx has not noticed yet: with
// ContextTimeoutEnabled, go-redis sets the connection's deadline to ctx's,
// and the network's i/o timeout can come a moment before ctx's own timer.
func ctxDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

func isContext(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// transient reports whether err means Redis cannot serve the call now.
func transient(err error) bool {
	var netErr net.Error
	switch {
	case errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted),
		redis.IsMaxClientsError(err):
		return true
	}
	for _, p := range transientPrefixes {
		if redis.HasErrorPrefix(err, p) {
			return true
		}
	}
	return false
}
