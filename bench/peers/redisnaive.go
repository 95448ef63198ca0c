package peers

import (
	"context"
	"encoding/json"
	"time"

	"github.com/chatring/chatring"
	"github.com/redis/go-redis/v9"
)

// RedisNaive is the Redis chat history most services write by hand, the
// way LangChain's RedisChatMessageHistory does it: one list per
// conversation, each message pushed as JSON, the key's TTL set by a
// command of its own, the whole list read back with LRANGE. Unlike
// LangChain (which pushes and never trims) it caps the list with LTRIM, so
// that it keeps the same window as the store it is compared with.
//
// What it does not do, and redisstore does: sequence numbers, idempotent
// appends (a command go-redis sends again after losing its reply pushes
// the message twice), a pinned prompt, token counts, atomicity between its
// commands (a concurrent reader may see the push before the trim), and a
// hash tag (its one key per conversation needs none).
//
// It is safe for concurrent use, as the client is.
type RedisNaive struct {
	// Client is the connection to Redis.
	Client redis.UniversalClient
	// Prefix is put before each conversation ID to make its key.
	Prefix string
	// Window is how many messages each list keeps.
	Window int
	// TTL is the idle TTL, set again at every Append.
	TTL time.Duration
	// Pipelined sends RPUSH, LTRIM and PEXPIRE in one MULTI/EXEC round
	// trip instead of three commands and three round trips.
	Pipelined bool
}

// Append pushes m, trims the list to Window and sets its TTL.
func (r *RedisNaive) Append(ctx context.Context, conv string, m chatring.Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	key := r.Prefix + conv
	if r.Pipelined {
		_, err := r.Client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.RPush(ctx, key, b)
			p.LTrim(ctx, key, int64(-r.Window), -1)
			p.PExpire(ctx, key, r.TTL)
			return nil
		})
		return err
	}
	if err := r.Client.RPush(ctx, key, b).Err(); err != nil {
		return err
	}
	if err := r.Client.LTrim(ctx, key, int64(-r.Window), -1).Err(); err != nil {
		return err
	}
	return r.Client.PExpire(ctx, key, r.TTL).Err()
}

// Messages reads the whole list and decodes it, appending to dst.
func (r *RedisNaive) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	elems, err := r.Client.LRange(ctx, r.Prefix+conv, 0, -1).Result()
	if err != nil {
		return dst, err
	}
	for _, e := range elems {
		var m chatring.Message
		if err := json.Unmarshal([]byte(e), &m); err != nil {
			return dst, err
		}
		dst = append(dst, m)
	}
	return dst, nil
}

// Key returns the key of conversation conv.
func (r *RedisNaive) Key(conv string) string { return r.Prefix + conv }
