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
	// lastAttempt is how the latest attempt that returned ended, valid
	// with flagAttemptEnded; in the struct's padding.
	lastAttempt Kind
}

const (
	flagStarted uint8 = 1 << iota
	flagFinished
	flagStuckLogged
	flagAttemptEnded // finished holds the end of the latest attempt
	flagOutcomeSet   // kind was set by Recorder.SetOutcome: TaskFinished keeps it
	flagNotStarted   // Recorder.SetNotStarted: attempts reported are not counted
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

// lanes is where the timeline draws each task: a lane is a concurrency
// slot the recorder assigns itself from the recorded times.
type lanes struct {
	first []int32           // by span index: the lane of its first stretch; -1 if it never started
	later map[int32][]int32 // by span index, for tasks that waited between attempts: the lanes of their later stretches
	count int               // lanes used
}

// of returns the lane of stretch k (from 0) of span i.
func (l *lanes) of(i int32, k int) int32 {
	if k == 0 {
		return l.first[i]
	}
	return l.later[i][k-1]
}

// assignLanes gives every stretch of every started task a lane (see
// Recorder.stretches). In order of start time, a stretch takes the lowest
// lane free at that moment, held until the stretch ends (an unfinished
// task's last one until r.last); a later stretch of a task takes the lane
// of its previous one instead when that lane is free, so that a retried
// task usually stays on one lane. This is interval partitioning (of
// stretches, not of tasks), so stretches on one lane never overlap and
// the number of lanes is the most tasks running at once: a task waiting
// for its retry holds no lane, and another can run on it meanwhile.
// Lanes are assigned from the recorded times, not in the order hooks
// arrive, so hooks of neighbouring tasks reported out of time order cannot
// open a needless lane. r.mu is held.
func (r *Recorder) assignLanes() lanes {
	type stretch struct{ i, k int32 } // stretch k of span i
	s := &r.spans
	l := lanes{first: make([]int32, s.n)}
	// First stretches in order, and the later ones (few: only tasks that
	// waited have any) apart, merged below, to keep the sort as cheap as
	// when there are none.
	order := make([]int32, 0, s.n)
	var later []stretch
	s.each(func(i int32, sp *span) {
		l.first[i] = -1
		if sp.has(flagStarted) {
			order = append(order, i)
			for k := range len(r.waits[i]) {
				later = append(later, stretch{i, int32(k + 1)})
			}
		}
	})
	// from and to are where stretch u starts and ends.
	from := func(u stretch) int64 {
		if u.k == 0 {
			return s.at(u.i).started
		}
		return r.waits[u.i][u.k-1].to
	}
	to := func(u stretch, from int64) int64 {
		sp, waits := s.at(u.i), r.waits[u.i]
		end := r.last
		switch {
		case int(u.k) < len(waits):
			end = waits[u.k].from
		case sp.has(flagFinished):
			end = sp.finished
		}
		return max(end, from)
	}
	slices.SortFunc(order, func(a, b int32) int {
		return cmp.Or(cmp.Compare(s.at(a).started, s.at(b).started), cmp.Compare(a, b))
	})
	slices.SortFunc(later, func(a, b stretch) int {
		return cmp.Or(cmp.Compare(from(a), from(b)), cmp.Compare(a.i, b.i))
	})
	type hold struct {
		end  int64
		lane int32
	}
	busy := heap[hold]{less: func(a, b hold) bool { return a.end < b.end }}
	// free may hold lanes taken since they were freed (a task's later
	// stretch takes its own lane out of turn); isFree tells them apart.
	free := heap[int32]{less: func(a, b int32) bool { return a < b }}
	var isFree []bool
	for len(order) > 0 || len(later) > 0 {
		var u stretch
		if len(later) > 0 && (len(order) == 0 || from(later[0]) < s.at(order[0]).started) {
			u, later = later[0], later[1:]
		} else {
			u, order = stretch{order[0], 0}, order[1:]
		}
		start := from(u)
		for len(busy.s) > 0 && busy.s[0].end <= start {
			lane := busy.pop().lane
			free.push(lane)
			isFree[lane] = true
		}
		lane := int32(-1)
		if u.k > 0 {
			if prev := l.of(u.i, int(u.k)-1); isFree[prev] {
				lane = prev
			}
		}
		for lane < 0 && len(free.s) > 0 {
			if f := free.pop(); isFree[f] {
				lane = f
			}
		}
		if lane < 0 {
			lane = int32(l.count)
			l.count++
			isFree = append(isFree, false)
		}
		isFree[lane] = false
		if u.k == 0 {
			l.first[u.i] = lane
		} else {
			if l.later == nil {
				l.later = make(map[int32][]int32)
			}
			l.later[u.i] = append(l.later[u.i], lane)
		}
		busy.push(hold{end: to(u, start), lane: lane})
	}
	return l
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
