package fanout

import (
	"context"
	"sync"
)

// keyWaiter is a task's runner that wants to know when its task starts and
// stops waiting for its key's slot: Map's tasks, whose window counts such
// inputs apart (see WithKeyBacklog). The executor tells it under its lock.
type keyWaiter interface {
	waitingForKey(bool)
}

// waitingForKey tells t's runner, if it wants to know, that t starts or
// stops waiting for its key's slot. Call it under e.mu.
func (t *task) waitingForKey(waits bool) {
	if kw, ok := t.r.(keyWaiter); ok {
		kw.waitingForKey(waits)
	}
}

// A mapWindow bounds the inputs Map has pulled and not yet yielded: at most
// size of them doing anything but waiting for their key's slot, and at
// most size+backlog in all. Inputs waiting for a key that is at its limit
// or paused hold memory (a task, no goroutine) but no slot, and do not
// keep the producer from pulling inputs for other keys until the backlog
// is full too: one slow key's inputs, round robin with the others', then
// do not hold back the rest. Its lock is a leaf: nothing else is taken
// under it, and the executor calls park under its own.
type mapWindow struct {
	size, backlog int

	mu       sync.Mutex
	out      int  // pulled and not yet yielded
	parked   int  // of out, waiting for their key's slot
	waiting  bool // the producer waits for room
	roomWake chan struct{}
}

func newMapWindow(size, backlog int) *mapWindow {
	return &mapWindow{size: size, backlog: backlog, roomWake: make(chan struct{}, 1)}
}

// capacity is the most inputs ever out at once: what channels carrying
// them must hold to never block.
func (w *mapWindow) capacity() int { return w.size + w.backlog }

func (w *mapWindow) roomLocked() bool {
	return w.out-w.parked < w.size && w.out < w.size+w.backlog
}

// acquire waits for room for one more input and counts it out. It reports
// false, counting nothing, once ctx has ended.
func (w *mapWindow) acquire(ctx context.Context) bool {
	for {
		if ctx.Err() != nil {
			return false
		}
		w.mu.Lock()
		if w.roomLocked() {
			w.out++
			w.mu.Unlock()
			return true
		}
		w.waiting = true
		w.mu.Unlock()
		select {
		case <-w.roomWake:
		case <-ctx.Done():
			return false
		}
	}
}

// release counts one input back in: yielded, or never pulled.
func (w *mapWindow) release() {
	w.mu.Lock()
	w.out--
	w.wakeLocked()
	w.mu.Unlock()
}

// park counts an input in or out of the wait for its key's slot.
func (w *mapWindow) park(parked bool) {
	w.mu.Lock()
	if parked {
		w.parked++
		w.wakeLocked()
	} else {
		w.parked--
	}
	w.mu.Unlock()
}

func (w *mapWindow) wakeLocked() {
	if w.waiting && w.roomLocked() {
		w.waiting = false
		select {
		case w.roomWake <- struct{}{}:
		default:
		}
	}
}
