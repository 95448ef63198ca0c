module github.com/chatring/chatring/adapters/langchaingo

go 1.26.0

require (
	github.com/chatring/chatring v0.2.0
	github.com/google/go-cmp v0.7.0
	github.com/tmc/langchaingo v0.1.14
)

require (
	github.com/dlclark/regexp2 v1.10.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/pkoukk/tiktoken-go v0.1.6 // indirect
)

replace github.com/chatring/chatring => ../..
