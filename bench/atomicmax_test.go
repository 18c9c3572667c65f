package bench

import "sync/atomic"

// atomicMax tracks a counter and the highest value it reached.
type atomicMax struct{ v atomic.Int64 }

func (a *atomicMax) add(d int64) int64 { return a.v.Add(d) }

func (a *atomicMax) load() int64 { return a.v.Load() }

// observe raises the stored value to x if x is higher.
func (a *atomicMax) observe(x int64) {
	for {
		cur := a.v.Load()
		if x <= cur || a.v.CompareAndSwap(cur, x) {
			return
		}
	}
}
