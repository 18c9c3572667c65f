package testserver_test

import (
	"fmt"
	"net/http"

	"github.com/fanout-go/fanout/internal/testserver"
)

func Example() {
	s, err := testserver.Start()
	if err != nil {
		panic(err)
	}
	defer s.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}

	for _, path := range []string{"/status/404?delay=10ms", "/redirect/2", "/flaky/demo?fail=1"} {
		resp, err := c.Get(s.URL(path))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode)
	}
	fmt.Println("requests:", s.Stats().Requests)
	// Output:
	// /status/404?delay=10ms 404
	// /redirect/2 200
	// /flaky/demo?fail=1 429
	// requests: 5
}
