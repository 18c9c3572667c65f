package fanout

// taskList is an intrusive doubly linked FIFO of tasks: push, pop and remove
// in O(1) without allocating. A task is in at most one list at a time; all
// lists belong to an Executor and are guarded by its mutex.
type taskList struct {
	head, tail *task
	n          int
}

func (l *taskList) push(t *task) {
	t.list, t.prev, t.next = l, l.tail, nil
	if l.tail != nil {
		l.tail.next = t
	} else {
		l.head = t
	}
	l.tail = t
	l.n++
}

func (l *taskList) pop() *task {
	t := l.head
	if t != nil {
		l.remove(t)
	}
	return t
}

func (l *taskList) remove(t *task) {
	if t.list != l {
		return
	}
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		l.head = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	} else {
		l.tail = t.prev
	}
	t.list, t.prev, t.next = nil, nil, nil
	l.n--
}

func (l *taskList) each(f func(*task)) {
	for t := l.head; t != nil; t = t.next {
		f(t)
	}
}

// taskSet is an intrusive set of tasks linked through gprev and gnext: the
// members of a parentGroup, guarded by the Executor's mutex.
type taskSet struct {
	head *task
	n    int
}

func (s *taskSet) add(t *task) {
	t.gprev, t.gnext = nil, s.head
	if s.head != nil {
		s.head.gprev = t
	}
	s.head = t
	s.n++
}

func (s *taskSet) drop(t *task) {
	if t.gprev != nil {
		t.gprev.gnext = t.gnext
	} else {
		s.head = t.gnext
	}
	if t.gnext != nil {
		t.gnext.gprev = t.gprev
	}
	t.gprev, t.gnext = nil, nil
	s.n--
}
