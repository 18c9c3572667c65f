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
