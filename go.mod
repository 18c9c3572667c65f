module github.com/fanout-go/fanout

go 1.26

require golang.org/x/time v0.15.0

require (
	github.com/google/go-cmp v0.7.0
	go.uber.org/goleak v1.3.0
)
