module github.com/chatring/chatring/tokenizer/tiktoken

go 1.26.0

require (
	github.com/chatring/chatring v0.1.0
	github.com/tiktoken-go/tokenizer v0.10.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/dlclark/regexp2/v2 v2.5.1 // indirect
	github.com/maypok86/otter/v2 v2.4.0 // indirect
)

replace github.com/chatring/chatring => ../..
