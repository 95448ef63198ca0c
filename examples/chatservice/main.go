// Command chatservice is chatring's reference service: a conversation
// history over HTTP, on a chatring.Store, with Prometheus metrics, health
// endpoints and a graceful shutdown. It shows how the pieces fit; copy what
// you need.
//
// Usage:
//
//	chatservice [-addr 127.0.0.1:8080] [-config chatring.json] [-redis host:port]
//	            [-shutdown-timeout 10s] [-drain-delay 0s]
//
// The config file is chatring's (see chatring.ParseConfig), e.g.
// {"max_turns": 10, "idle_ttl": "1h", "max_conversations": 100000}; without
// -config every default applies. The store is a chatring.MemoryStore, or
// with -redis the Redis store (redisstore, on a go-redis UniversalClient:
// one address for a single server, several, comma-separated, for a
// Cluster, with the client's own retries off) wrapped in resilient's
// retries, circuit breaker and degraded reads. resilient's outbox stays off: an append it buffered would be
// held by this process alone (lost if it dies, unseen by other replicas)
// and answered ErrBuffered, so a 2xx here always means Redis has the
// message.
//
// Routes, for a conversation ID in the path (any valid chatring
// conversation ID, path-escaped):
//
//	POST   /conversations/{id}/messages       append {"role", "content", "name"?, "id"?, "tool_calls"?, "tool_call_id"?}
//	                                          -> 201 and the stored message
//	GET    /conversations/{id}/messages       the window, oldest first -> {"messages": [...]}
//	GET    /conversations/{id}/window         the pinned prompt and what fits ?max_tokens=N -> {"messages": [...]}
//	DELETE /conversations/{id}/messages       Clear -> 204
//	PUT    /conversations/{id}/system-prompt  pin {"content"} -> 204
//	DELETE /conversations/{id}/system-prompt  unpin -> 204
//	DELETE /conversations/{id}                Delete -> 204
//	GET    /metrics                           Prometheus exposition
//	GET    /healthz                           200 while the process serves (liveness)
//	GET    /readyz                            200 while it can serve, 503 once shutdown begins or, with -redis,
//	                                          while the circuit breaker to Redis is open or Redis does not
//	                                          answer a PING within 500 ms (readiness)
//
// A message's "id", or the Idempotency-Key header, makes the append
// idempotent: a retry stores nothing twice and answers with the message
// stored first while it is in the window (with -redis, also later: then
// with the retry's own content and time at the first one's seq). An unknown conversation reads as an empty window (the
// Store contract does not tell it from a cleared one), so the GET routes
// answer 200 with [] rather than 404; 404 is for unknown routes.
//
// Errors are JSON, {"error": {"code": "...", "message": "..."}}: 400 for
// invalid input (invalid_role, empty_content, invalid_content,
// invalid_tool_call, invalid_conversation, budget_too_small,
// invalid_request), 413 for content
// over max_message_bytes or a body over the limit, 503 with Retry-After for
// chatring.ErrUnavailable and during shutdown, 404 and 405 for routes,
// and 499 (nginx's "client closed request", which nobody reads, but the
// metrics count) for a request whose client went away while the store
// worked on it; a store's own deadline is still 503. A handler's panic
// is recovered, logged at Error with its stack (its value only if it is
// a runtime error: another may quote content), counted as 500 and
// answered with a JSON 500, or, if the answer had begun, its connection
// is cut.
// A 4xx message says what was wrong with the request; a 503's or a 500's
// is the service's own sentence for its code, never the store's error,
// whose text may name internal addresses (a Redis client's does): that
// is logged instead, at Warn for a 503 (at most one line a second, with
// the number left out) and at Error for a 500. /readyz's 503 names the
// reason (shutdown, the breaker, the PING) and logs the PING's error.
//
// On SIGTERM or SIGINT the service fails /readyz, waits -drain-delay (for
// load balancers to stop sending), then stops accepting connections and
// waits for the requests in flight (http.Server.Shutdown), then closes the
// store (with -redis, then the Redis client), all within
// -shutdown-timeout; requests still running at the deadline are canceled
// (counted as 503 shutting_down) and their connections closed. It exits 0
// when both finished in time, 1 otherwise.
// It logs (JSON, to stderr) when it listens and when it stopped, with the
// store's final counters; it never logs message content.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/promexport"
	"github.com/chatring/chatring/promexport/promredis"
	"github.com/chatring/chatring/promexport/promresilient"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/resilient"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "chatservice:", err)
		os.Exit(1)
	}
}

// run runs the service until ctx is done or a SIGTERM or SIGINT arrives,
// then shuts it down. It logs to stderr.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("chatservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` to listen on (port 0: any free port, logged)")
	configPath := fs.String("config", "", "chatring config `file` (JSON, see chatring.ParseConfig); default: every default")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second,
		"how long shutdown may take: draining the requests in flight, then closing the store")
	drainDelay := fs.Duration("drain-delay", 0,
		"on SIGTERM, how long to fail /readyz while still serving, before shutdown")
	redisAddr := fs.String("redis", "",
		"Redis `host:port` (comma-separated for a Cluster): store conversations there; default: in memory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))

	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	store, storeCollectors, err := openStore(cfg, *redisAddr, log)
	if err != nil {
		return err
	}
	reg := newRegistry(storeCollectors...)
	a := newAPI(store, cfg.MaxMessageBytes, log, reg)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		store.Close(context.Background())
		return err
	}
	srv, cut := newServer(a, log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("chatservice: listening", slog.String("addr", ln.Addr().String()),
		slog.String("store", storeName(*redisAddr)), slog.String("backend", cfg.Backend), slog.Int("max_turns", cfg.MaxTurns),
		slog.Int("max_conversations", cfg.MaxConversations), slog.String("idle_ttl", cfg.IdleTTL.String()))

	select {
	case err := <-served: // the listener failed
		store.Close(context.Background())
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills the process
	return shutdown(srv, cut, store, a, log, *drainDelay, *shutdownTimeout)
}

// errCutByShutdown is the cause of the cancellation of the requests that
// the shutdown cuts at its deadline: they are counted as ErrClosed's 503
// shutting_down, not as requests their client closed (their connections
// are closed too: nobody reads the answer).
var errCutByShutdown = fmt.Errorf("%w: the shutdown deadline passed", chatring.ErrClosed)

// newServer returns the service's http.Server for h, and cut, which
// cancels the contexts of the requests it serves with a cause: a request
// whose context ends without one was given up by its client (net/http
// cancels it when the connection closes).
func newServer(h http.Handler, log *slog.Logger) (srv *http.Server, cut context.CancelCauseFunc) {
	base, cut := context.WithCancelCause(context.Background())
	return &http.Server{
		Handler:           h,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}, cut
}

// shutdown stops the service: /readyz fails at once; after drainDelay
// the server stops accepting and waits for the requests in flight; then
// the store closes. Both share one deadline, timeout; the requests still
// running at the deadline are canceled with cut (cause errCutByShutdown)
// and their connections closed.
func shutdown(srv *http.Server, cut context.CancelCauseFunc, store chatring.Store, a *api, log *slog.Logger, drainDelay, timeout time.Duration) error {
	a.draining.Store(true)
	log.Info("chatservice: shutting down", slog.String("drain_delay", drainDelay.String()), slog.String("timeout", timeout.String()))
	time.Sleep(drainDelay)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	errShutdown := srv.Shutdown(ctx)
	if errShutdown != nil {
		errShutdown = fmt.Errorf("draining requests: %w", errShutdown)
		cut(errCutByShutdown)
		srv.Close() // cut the connections still open
	}
	errClose := store.Close(ctx)
	if errClose != nil {
		errClose = fmt.Errorf("closing the store: %w", errClose)
	}
	attrs := []slog.Attr{slog.String("took", time.Since(start).String()),
		slog.Bool("clean", errShutdown == nil && errClose == nil)}
	if s, ok := store.(interface{ Stats() chatring.StoreStats }); ok {
		st := s.Stats()
		attrs = append(attrs, slog.Uint64("appended", st.Appended), slog.Uint64("deduplicated", st.Deduplicated),
			slog.Uint64("rejected", st.Rejected), slog.Int("conversations", st.Conversations))
	}
	if s, ok := store.(interface{ Stats() resilient.Stats }); ok {
		st := s.Stats()
		attrs = append(attrs, slog.String("breaker", st.Breaker), slog.Uint64("attempts", st.Attempts),
			slog.Uint64("retries", st.Retries), slog.Uint64("failed_fast", st.FailedFast),
			slog.Uint64("degraded_reads", st.DegradedReads))
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, "chatservice: stopped", attrs...)
	return errors.Join(errShutdown, errClose)
}

// newRegistry returns the registry /metrics serves: the Go runtime's
// metrics (go_gc_gomemlimit_bytes among them, which an alert uses), the
// process's, and the store's. newAPI adds the HTTP metrics.
func newRegistry(store ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	reg.MustRegister(store...)
	return reg
}

// storeName names the store for the logs.
func storeName(redisAddr string) string {
	if redisAddr != "" {
		return "redis"
	}
	return "memory"
}

// openStore returns the service's store for cfg, and the collectors that
// export its metrics: a MemoryStore (promexport), or with redisAddr the
// Redis store (promredis: its observer, and its Stats under the memory
// store's message metrics) behind resilient (promresilient);
// see the package documentation.
func openStore(cfg chatring.Config, redisAddr string, log *slog.Logger) (chatring.Store, []prometheus.Collector, error) {
	if redisAddr == "" {
		s, err := chatring.NewMemoryStore(cfg, chatring.WithLogger(log))
		if err != nil {
			return nil, nil, err
		}
		return s, []prometheus.Collector{promexport.NewMemoryStoreCollector(s)}, nil
	}
	redis.SetLogger(redisLogger{log}) // go-redis's own messages: dial and pool errors
	// One try per command and one dial per connection: resilient retries,
	// with backoff, under its attempt timeout. The client's own retries
	// (3 per command, 5 dials each, 100 ms apart) would redial a Redis
	// that refuses connections until that timeout passed, so that every
	// attempt took the whole timeout and a Redis that is down was counted
	// as slow (kind="timeout") rather than unavailable. With
	// ContextTimeoutEnabled a command's socket deadline is its ctx's:
	// without it the client ignores ctx deadlines and waits ReadTimeout
	// (5 s) for a Redis that accepts and answers nothing, so that an
	// attempt past resilient's timeout, and a readiness PING, held a
	// connection (and the probe) for that long.
	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: strings.Split(redisAddr, ","),
		MaxRetries: -1, DialerRetries: 1, ContextTimeoutEnabled: true})
	redisMetrics := promredis.New()
	primary, err := redisstore.New(client, cfg, redisstore.WithLogger(log), redisstore.WithObserver(redisMetrics))
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	s, err := resilient.New(primary, resilient.WithLogger(log))
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		// Not fatal: Redis may come up after the service; until it
		// answers, /readyz fails (redisStore.Ready).
		log.Warn("chatservice: redis does not answer yet", slog.String("addr", redisAddr), slog.Any("error", err))
	}
	return &redisStore{Store: s, client: client},
		[]prometheus.Collector{redisMetrics,
			// The wrapper refuses invalid writes before the Redis store
			// sees them: its rejections are added to the store's.
			promredis.NewStatsCollector(primary, promexport.WithRejectionsOf(s)),
			promresilient.New(s)}, nil
}

// redisLogger sends go-redis's log lines (connection and pool errors) to
// the service's log, at Warn, instead of plain text on stderr.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.LogAttrs(ctx, slog.LevelWarn, "chatservice: redis client", slog.String("detail", fmt.Sprintf(format, v...)))
}

// redisStore is the resilient Store on Redis, with the client it owns.
type redisStore struct {
	*resilient.Store
	client redis.UniversalClient
}

// readyTimeout bounds the PING of a readiness probe (see
// redisStore.Ready), so that a probe never hangs on a Redis that accepts
// connections and answers nothing: it is the resilient wrapper's default
// attempt timeout, and under the 1 s timeout of a Kubernetes probe.
const readyTimeout = 500 * time.Millisecond

// Ready implements readiness. While the circuit breaker is open it fails
// at once (every write fails fast then; only reads of conversations in
// resilient's mirror are answered). Otherwise it sends Redis a PING
// (with a Cluster, to one node), bounded by readyTimeout and the probe's
// ctx, and is ready when Redis answers: a closed breaker alone does not
// say that Redis can serve, as it stays closed until enough calls have
// failed (with Redis down at startup and no traffic, it never opens).
// A half-open breaker with Redis answering is ready: its probes will
// close it. The PING goes through the client, not the store: it is
// neither a call of the breaker nor an operation of the Redis metrics.
func (s *redisStore) Ready(ctx context.Context) error {
	if st := s.Stats().Breaker; st == "open" {
		return &notReady{reason: "the circuit breaker to Redis is open"}
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := s.client.Ping(ctx).Err(); err != nil {
		return &notReady{reason: "redis does not answer PING", err: err}
	}
	return nil
}

// Close closes the resilient Store (which closes the Redis store), then
// the client.
func (s *redisStore) Close(ctx context.Context) error {
	return errors.Join(s.Store.Close(ctx), s.client.Close())
}

// loadConfig reads the chatring config file at path, or returns the
// defaults for "".
func loadConfig(path string) (chatring.Config, error) {
	if path == "" {
		return chatring.ParseConfig([]byte("{}"))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return chatring.Config{}, err
	}
	cfg, err := chatring.ParseConfig(data)
	if err != nil {
		return chatring.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
