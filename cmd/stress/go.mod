module github.com/chatring/chatring/cmd/stress

go 1.26.0

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/chatring/chatring v0.2.0
	go.uber.org/goleak v1.3.0
	golang.org/x/term v0.48.0
)

require (
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/chatring/chatring => ../..
