package peers_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/bench/internal/workload"
	"github.com/chatring/chatring/bench/peers"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/redis/go-redis/v9"
)

// The Redis benchmarks: redisstore beside the naive client (peers.RedisNaive,
// three commands per append, and pipelined in one MULTI/EXEC), against one
// redis-server that the benchmark binary starts on 127.0.0.1 and stops at
// the end, in the same run. Every conversation holds a full default window
// (20 messages of workload.PayloadBytes bytes) before timing starts, so
// every timed Append trims.
const (
	redisClients = 64
	redisWindow  = 2 * chatring.DefaultMaxTurns
)

// redisRTT is the round-trip time the benchmarks add with a delaying
// proxy (redistest.WithDelay, half of it each way) between every client
// and the server, set with -redis.rtt: 0, the default, connects them
// directly over loopback, where a round trip costs tens of microseconds; a
// network between a service and its Redis takes 0.2 to 1 ms.
var redisRTT = flag.Duration("redis.rtt", 0, "round-trip time added by a delaying proxy between the clients and redis-server (0: none)")

// redisConvs is the number of conversations: 10 000, or 1 000 with -short
// (filling 10 000 full windows for three contenders takes about 20 seconds
// on a 2-core machine).
func redisConvs() int {
	if testing.Short() {
		return 1_000
	}
	return 10_000
}

var redisBackends = []string{"redisstore", "naive", "naive-pipelined"}

// redisEnv is the server and the filled contenders, built on first use.
var redisEnv struct {
	once    sync.Once
	err     error
	server  *redistest.Server
	proxy   *redistest.Proxy // with -redis.rtt
	clients []*redis.Client
	byName  map[string]*redisContender
}

// redisContender is one way of keeping conversations in Redis, with a
// client of its own that counts the bytes it reads and the writes it makes.
type redisContender struct {
	client   *redis.Client
	counter  *connCounter
	append   func(ctx context.Context, conv string, m chatring.Message) error
	messages func(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error)
	window   func(ctx context.Context, conv string) ([]chatring.Message, error)
	keys     func(conv string) []string
}

func stopRedis() {
	for _, c := range redisEnv.clients {
		c.Close()
	}
	if redisEnv.proxy != nil {
		redisEnv.proxy.Close()
	}
	if redisEnv.server != nil {
		redisEnv.server.Stop()
	}
}

func convName(i int) string { return "user-" + strconv.Itoa(i) + ":session" }

// redisSetup starts the server and fills every contender's conversations.
func redisSetup(b *testing.B) map[string]*redisContender {
	b.Helper()
	redistest.Require(b)
	redisEnv.once.Do(func() {
		redisEnv.server, redisEnv.err = redistest.StartServer(context.Background())
		if redisEnv.err != nil {
			return
		}
		if *redisRTT > 0 {
			redisEnv.proxy, redisEnv.err = redistest.NewProxy(redisEnv.server.Addr, redistest.WithDelay(*redisRTT/2))
			if redisEnv.err != nil {
				return
			}
		}
		redisEnv.byName = map[string]*redisContender{}
		for _, name := range redisBackends {
			c := newRedisContender(name)
			redisEnv.byName[name] = c
			if redisEnv.err = fill(c, redisConvs(), redisWindow); redisEnv.err != nil {
				return
			}
		}
	})
	if redisEnv.err != nil {
		b.Fatal(redisEnv.err)
	}
	return redisEnv.byName
}

func newRedisContender(name string) *redisContender {
	counter := &connCounter{}
	addr := redisEnv.server.Addr
	if redisEnv.proxy != nil {
		addr = redisEnv.proxy.Addr
	}
	client := redis.NewClient(&redis.Options{
		Addr:     addr,
		PoolSize: redisClients, // a connection for each client goroutine
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: conn, c: counter}, nil
		},
	})
	redisEnv.clients = append(redisEnv.clients, client)
	c := &redisContender{client: client, counter: counter}
	cfg := chatring.Config{}
	switch name {
	case "redisstore":
		s, err := redisstore.New(client, cfg, redisstore.WithPrefix("bench:"))
		if err != nil {
			panic(err)
		}
		c.append = func(ctx context.Context, conv string, m chatring.Message) error {
			_, err := s.Append(ctx, conv, m)
			return err
		}
		c.messages = s.Messages
		c.window = func(ctx context.Context, conv string) ([]chatring.Message, error) { return s.Window(ctx, conv, 0) }
		c.keys = func(conv string) []string {
			m, meta, ids := s.Keys(conv)
			return []string{m, meta, ids}
		}
	default:
		n := &peers.RedisNaive{Client: client, Prefix: name + ":", Window: redisWindow,
			TTL: chatring.DefaultIdleTTL, Pipelined: name == "naive-pipelined"}
		c.append = n.Append
		c.messages = n.Messages
		c.window = func(ctx context.Context, conv string) ([]chatring.Message, error) { return n.Messages(ctx, conv, nil) }
		c.keys = func(conv string) []string { return []string{n.Key(conv)} }
	}
	return c
}

// fill appends window messages to each of convs conversations, from
// redisClients goroutines.
func fill(c *redisContender, convs, window int) error {
	msgs := workload.Messages(256, workload.PayloadBytes)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, redisClients)
	for range redisClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= convs*window {
					return
				}
				conv, j := i%convs, i/convs
				if err := c.append(context.Background(), convName(conv), msgs[(conv+j)&255]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// runClients runs b.N operations from redisClients goroutines, each on a
// conversation picked uniformly at random and with a random r (to pick a
// message: a message's role must not follow from the conversation, or
// some windows would hold only replies and Window would rightly return
// none of them), and reports ops/s and the latency percentiles p50 and
// p99 of one operation.
func runClients(b *testing.B, convs int, op func(ctx context.Context, conv string, r int) error) {
	b.SetParallelism((redisClients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var mu sync.Mutex
	var all []time.Duration
	var seed atomic.Uint64
	clientCPU, serverCPU := processCPU(b), redisCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 1))
		lat := make([]time.Duration, 0, 1024)
		ctx := context.Background()
		for pb.Next() {
			conv := convName(rng.IntN(convs))
			r := rng.IntN(1 << 30)
			start := time.Now()
			if err := op(ctx, conv, r); err != nil {
				b.Error(err)
				return
			}
			lat = append(lat, time.Since(start))
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b)-clientCPU).Nanoseconds())/float64(b.N), "client-cpu-ns/op")
	b.ReportMetric(float64((redisCPU(b)-serverCPU).Nanoseconds())/float64(b.N), "server-cpu-ns/op")
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
	if len(all) > 0 {
		slices.Sort(all)
		b.ReportMetric(float64(all[len(all)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds()), "p99-ns")
	}
}

func redisName(backend string) string {
	kv := []any{"backend", backend, "level", "store", "cap", redisWindow, "convs", redisConvs(), "goroutines", redisClients}
	if *redisRTT > 0 {
		kv = append(kv, "rtt", *redisRTT)
	}
	return workload.Name(kv...)
}

// BenchmarkRedisAppend appends to full windows of 10 000 conversations from
// 64 goroutines (clients of one process, each with a connection of its
// own): throughput, p50 and p99 latency, round trips per append
// (writes/op: go-redis writes each command, or each pipeline, with one
// write), and the CPU time per append of the clients' process and of
// redis-server (client-cpu-ns/op, server-cpu-ns/op: getrusage and INFO
// cpu; on a machine shared with other work they show where an operation's
// cost is, which throughput alone does not).
func BenchmarkRedisAppend(b *testing.B) {
	msgs := workload.Messages(256, workload.PayloadBytes)
	for _, name := range redisBackends {
		b.Run(redisName(name), func(b *testing.B) {
			c := redisSetup(b)[name]
			c.counter.reset()
			runClients(b, redisConvs(), func(ctx context.Context, conv string, r int) error {
				return c.append(ctx, conv, msgs[r&255])
			})
			b.ReportMetric(float64(c.counter.writes.Load())/float64(b.N), "writes/op")
		})
	}
}

// BenchmarkRedisWindow reads the window of one of 10 000 conversations
// (redisstore's Window with the default budget; the naive client's whole
// list, decoded) from 64 goroutines: throughput, p50 and p99 latency, the
// bytes received per read (resp-B/op, Redis's reply as it travels) and
// round trips per read (writes/op).
func BenchmarkRedisWindow(b *testing.B) {
	for _, name := range redisBackends {
		if name == "naive-pipelined" {
			continue // reads exactly as naive does
		}
		b.Run(redisName(name), func(b *testing.B) {
			c := redisSetup(b)[name]
			c.counter.reset()
			runClients(b, redisConvs(), func(ctx context.Context, conv string, _ int) error {
				w, err := c.window(ctx, conv)
				if err == nil && len(w) == 0 {
					err = fmt.Errorf("empty window of %s", conv)
				}
				return err
			})
			b.ReportMetric(float64(c.counter.read.Load())/float64(b.N), "resp-B/op")
			b.ReportMetric(float64(c.counter.writes.Load())/float64(b.N), "writes/op")
		})
	}
}

// BenchmarkRedisMemory measures what Redis holds per conversation with a
// full default window of 64-byte messages, beside the payload (20 × 64
// bytes of content):
//
//   - usage-B/conv: MEMORY USAGE (SAMPLES 0, exact) of one conversation's
//     keys, summed;
//   - used-B/conv: INFO's used_memory grown by filling 1 000 such
//     conversations, divided by 1 000 (the keyspace's own tables included);
//   - payload-B/conv: 20 × 64.
//
// Each iteration fills 1 000 conversations and deletes them; run it with
// -benchtime 1x.
func BenchmarkRedisMemory(b *testing.B) {
	const convs = 1000
	for _, name := range redisBackends {
		if name == "naive-pipelined" {
			continue // stores exactly as naive does
		}
		b.Run(workload.Name("backend", name, "level", "store", "cap", redisWindow, "convs", convs), func(b *testing.B) {
			redisSetup(b)
			c := newRedisContender(name)
			ctx := context.Background()
			prefix := fmt.Sprintf("memory-%s-", name)
			msgs := workload.Messages(256, workload.PayloadBytes)
			var usage, used float64
			for range b.N {
				before := usedMemory(b, c.client)
				var keys []string
				for i := range convs {
					conv := prefix + strconv.Itoa(i)
					for j := range redisWindow {
						if err := c.append(ctx, conv, msgs[(i+j)&255]); err != nil {
							b.Fatal(err)
						}
					}
					keys = append(keys, c.keys(conv)...)
				}
				used = float64(usedMemory(b, c.client)-before) / convs
				usage = 0
				for _, k := range c.keys(prefix + "0") {
					n, err := c.client.MemoryUsage(ctx, k, 0).Result()
					if err != nil {
						b.Fatal(err)
					}
					usage += float64(n)
				}
				for k := range slices.Chunk(keys, 1000) {
					c.client.Unlink(ctx, k...)
				}
			}
			b.ReportMetric(usage, "usage-B/conv")
			b.ReportMetric(used, "used-B/conv")
			b.ReportMetric(float64(redisWindow*workload.PayloadBytes), "payload-B/conv")
		})
	}
}

// processCPU returns the CPU time (user and system) this process has
// used: the clients' side of the benchmark.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU returns the CPU time (user and system) the redis-server has
// used, from INFO cpu: the server's side.
func redisCPU(b *testing.B) time.Duration {
	info, err := redisEnv.clients[0].Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, f); ok {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatal(err)
				}
				total += x
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}

// usedMemory returns INFO memory's used_memory.
func usedMemory(b *testing.B, c *redis.Client) int64 {
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no used_memory in INFO memory")
	return 0
}

// connCounter counts what a client's connections read and write.
type connCounter struct {
	read, writes atomic.Int64
}

func (c *connCounter) reset() { c.read.Store(0); c.writes.Store(0) }

type countingConn struct {
	net.Conn
	c *connCounter
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.c.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.c.writes.Add(1)
	return c.Conn.Write(p)
}
