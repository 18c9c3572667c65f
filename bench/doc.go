// Package bench compares fanout with the executors Go users would pick
// instead: raw goroutines with a sync.WaitGroup, errgroup with SetLimit,
// sourcegraph/conc, alitto/pond/v2 and panjf2000/ants/v2.
//
// It is its own module so that users of fanout never download the peers.
// The package holds no API: run the benchmarks with
//
//	cd bench && go test -run '^$' -bench . -benchmem
//
// and the side-by-side comparison of the command-line tools with
//
//	cd bench && go run ./compare
//
// README.md in this directory records the latest figures and the machine.
package bench
