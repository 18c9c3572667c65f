package trace

import (
	"cmp"
	"slices"
)

// span is the compact form of a [Span] kept for every task: times are
// nanoseconds since the recorder's first event, and nothing in it is a
// pointer except the three strings (the label and key are the caller's own
// strings, not copies). unsafe.Sizeof(span{}) is 88 bytes on 64-bit systems.
type span struct {
	label    string
	key      string
	err      string
	id       uint64
	queued   int64
	started  int64 // first attempt; valid when flags&flagStarted != 0
	finished int64 // valid when flags&flagFinished != 0 (or flagAttemptEnded)
	attempts int32
	kind     Kind
	flags    uint8
}

const (
	flagStarted uint8 = 1 << iota
	flagFinished
	flagStuckLogged
	flagAttemptEnded // finished holds the end of the latest attempt
	flagOutcomeSet   // kind was set by Recorder.SetOutcome: TaskFinished keeps it
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

// assignLanes gives every started task a lane, a concurrency slot: in
// order of start time, the lowest lane free at that moment, held until the
// task finishes (unfinished tasks until last). This is interval
// partitioning, so bars on one lane never overlap and the number of lanes
// is the most tasks running at once. Lanes are assigned from the recorded
// times, not in the order hooks arrive, so hooks of neighbouring tasks
// reported out of time order cannot open a needless lane. It returns the
// lane of each span (-1 if it never started) and the number of lanes.
func (s *store) assignLanes(last int64) (lanes []int32, count int) {
	lanes = make([]int32, s.n)
	order := make([]int32, 0, s.n)
	s.each(func(i int32, sp *span) {
		lanes[i] = -1
		if sp.has(flagStarted) {
			order = append(order, i)
		}
	})
	slices.SortFunc(order, func(a, b int32) int {
		return cmp.Or(cmp.Compare(s.at(a).started, s.at(b).started), cmp.Compare(a, b))
	})
	type hold struct {
		end  int64
		lane int32
	}
	busy := heap[hold]{less: func(a, b hold) bool { return a.end < b.end }}
	free := heap[int32]{less: func(a, b int32) bool { return a < b }}
	for _, i := range order {
		sp := s.at(i)
		for len(busy.s) > 0 && busy.s[0].end <= sp.started {
			free.push(busy.pop().lane)
		}
		lane := int32(count)
		if len(free.s) > 0 {
			lane = free.pop()
		} else {
			count++
		}
		lanes[i] = lane
		end := last
		if sp.has(flagFinished) {
			end = sp.finished
		}
		busy.push(hold{end: max(end, sp.started), lane: lane})
	}
	return lanes, count
}

// heap is a binary min-heap ordered by less.
type heap[T any] struct {
	s    []T
	less func(a, b T) bool
}

func (h *heap[T]) push(v T) {
	h.s = append(h.s, v)
	for i := len(h.s) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(h.s[i], h.s[p]) {
			break
		}
		h.s[p], h.s[i] = h.s[i], h.s[p]
		i = p
	}
}

func (h *heap[T]) pop() T {
	top := h.s[0]
	last := len(h.s) - 1
	h.s[0] = h.s[last]
	h.s = h.s[:last]
	for i := 0; ; {
		c := 2*i + 1
		if c >= len(h.s) {
			break
		}
		if c+1 < len(h.s) && h.less(h.s[c+1], h.s[c]) {
			c++
		}
		if !h.less(h.s[c], h.s[i]) {
			break
		}
		h.s[i], h.s[c] = h.s[c], h.s[i]
		i = c
	}
	return top
}
