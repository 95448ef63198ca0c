module github.com/chatring/chatring

go 1.26
