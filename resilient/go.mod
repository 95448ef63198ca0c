module github.com/chatring/chatring/resilient

go 1.26.0

require (
	github.com/cenkalti/backoff/v5 v5.0.3
	github.com/chatring/chatring v0.2.0
	github.com/google/go-cmp v0.7.0
	github.com/maypok86/otter/v2 v2.4.0
	github.com/sony/gobreaker/v2 v2.4.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/anishathalye/porcupine v1.3.1 // indirect
	pgregory.net/rapid v1.3.0 // indirect
)

replace github.com/chatring/chatring => ..
