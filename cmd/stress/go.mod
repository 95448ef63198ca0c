module github.com/chatring/chatring/cmd/stress

go 1.26.0

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/chatring/chatring v0.2.0
	github.com/chatring/chatring/redisstore v0.2.0
	github.com/chatring/chatring/resilient v0.2.0
	github.com/redis/go-redis/v9 v9.23.0
	go.uber.org/goleak v1.3.0
	golang.org/x/term v0.48.0
)

require (
	github.com/cenkalti/backoff/v5 v5.0.3 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace (
	github.com/chatring/chatring => ../..
	github.com/chatring/chatring/redisstore => ../../redisstore
	github.com/chatring/chatring/resilient => ../../resilient
)
