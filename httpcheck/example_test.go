package httpcheck_test

import (
	"context"
	"fmt"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/httpcheck"
	"github.com/fanout-go/fanout/internal/testserver"
)

func Example() {
	srv, err := testserver.Start()
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	checker, err := httpcheck.New(httpcheck.Config{Retries: 2})
	if err != nil {
		panic(err)
	}
	defer checker.Close()
	e := fanout.New(append(checker.ExecutorOptions(), fanout.WithLimit(10))...)
	defer e.Close()

	urls := httpcheck.URLs(
		srv.URL("/status/200?delay=50ms"),
		srv.URL("/status/404"),
		srv.URL("/redirect/2"),
		srv.URL("/flaky/a?fail=1&status=503"),
		srv.URL("/reset"),
		"not a url",
	)
	for r := range checker.CheckAll(context.Background(), e, urls) {
		fmt.Printf("%d status=%d redirects=%d attempts=%d", r.Index, r.Status, r.Redirects, r.Attempts)
		if r.Err != nil {
			fmt.Print(" error_kind=", r.ErrorKind)
		}
		fmt.Println()
	}
	// Output:
	// 0 status=200 redirects=0 attempts=1
	// 1 status=404 redirects=0 attempts=1
	// 2 status=200 redirects=2 attempts=1
	// 3 status=200 redirects=0 attempts=2
	// 4 status=0 redirects=0 attempts=1 error_kind=reset
	// 5 status=0 redirects=0 attempts=0 error_kind=invalid_url
}
