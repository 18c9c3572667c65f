package trace

import "math"

// span is the compact form of a [Span] kept for every task: times are
// nanoseconds since the recorder's first event, and nothing in it is a
// pointer except the three strings (the label and key are the caller's own
// strings, not copies). unsafe.Sizeof(span{}) is 96 bytes on 64-bit systems.
type span struct {
	label    string
	key      string
	err      string
	id       uint64
	queued   int64
	started  int64 // first attempt; valid when flags&flagStarted != 0
	finished int64 // valid when flags&flagFinished != 0
	lane     int32 // -1 until the task starts
	attempts int32
	kind     Kind
	flags    uint8
}

const (
	flagStarted uint8 = 1 << iota
	flagFinished
	flagStuckLogged
)

func (s *span) has(f uint8) bool { return s.flags&f != 0 }

// chunkSize is how many spans one allocation holds. Chunks instead of one
// growing slice keep memory at the number of tasks (plus one chunk) rather
// than up to twice that after a grow, and never copy old spans.
const chunkSize = 1024

// store holds spans in fixed chunks; an index stays valid forever.
type store struct {
	chunks [][]span
	n      int
}

func (s *store) add() int32 {
	if s.n == len(s.chunks)*chunkSize {
		s.chunks = append(s.chunks, make([]span, chunkSize))
	}
	i := s.n
	s.n++
	return int32(i)
}

func (s *store) at(i int32) *span { return &s.chunks[i/chunkSize][i%chunkSize] }

// each calls f for every span in recording order.
func (s *store) each(f func(i int32, sp *span)) {
	for i := 0; i < s.n; i++ {
		f(int32(i), s.at(int32(i)))
	}
}

// lanes hands out concurrency slots: the lowest free lane whose previous
// task ended no later than the new task's start, so bars on one lane never
// overlap even when hooks of neighbouring tasks arrive slightly out of time
// order.
type lanes struct {
	free []int32 // min-heap of free lanes
	end  []int64 // when each lane's last task finished
	tmp  []int32
}

func (l *lanes) acquire(start int64) int32 {
	l.tmp = l.tmp[:0]
	got := int32(-1)
	for len(l.free) > 0 {
		n := l.pop()
		if l.end[n] <= start {
			got = n
			break
		}
		l.tmp = append(l.tmp, n)
	}
	for _, n := range l.tmp {
		l.push(n)
	}
	if got >= 0 {
		return got
	}
	l.end = append(l.end, math.MinInt64)
	return int32(len(l.end) - 1)
}

func (l *lanes) release(n int32, end int64) {
	l.end[n] = end
	l.push(n)
}

func (l *lanes) count() int { return len(l.end) }

func (l *lanes) push(n int32) {
	h := append(l.free, n)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	l.free = h
}

func (l *lanes) pop() int32 {
	h := l.free
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if c+1 < len(h) && h[c+1] < h[c] {
			c++
		}
		if h[i] <= h[c] {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	l.free = h
	return top
}
