package promredis_test

import (
	"context"
	"net/http"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/promexport"
	"github.com/chatring/chatring/promexport/promredis"
	"github.com/chatring/chatring/promexport/promresilient"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/resilient"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// A Redis store behind the resilient wrapper, with the metrics of both.
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()

	redisMetrics := promredis.New()
	primary, err := redisstore.New(client, chatring.Config{MaxTurns: 10}, redisstore.WithObserver(redisMetrics))
	if err != nil {
		panic(err)
	}
	store, err := resilient.New(primary, resilient.WithOutbox(10_000))
	if err != nil {
		panic(err)
	}
	defer store.Close(context.Background())

	// The Redis store's message counters, with the writes the wrapper
	// refused before they reached it among the rejected ones.
	reg := prometheus.NewRegistry()
	reg.MustRegister(redisMetrics,
		promredis.NewStatsCollector(primary, promexport.WithRejectionsOf(store)),
		promresilient.New(store))
	http.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
}
