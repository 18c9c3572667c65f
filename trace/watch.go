package trace

import (
	"context"
	"log/slog"
	"time"
)

// watchEntry is a started task waiting to be judged stuck. Tasks start in
// nearly increasing time, so the queue is a FIFO whose head has the
// earliest deadline; a finished task is dropped when it reaches the head.
type watchEntry struct {
	idx     int32
	started int64
}

type stuckTask struct {
	id       uint64
	label    string
	key      string
	running  time.Duration
	attempts int
}

// watch is the stuck-task watcher: one goroutine that sleeps until the
// oldest running task's deadline, logs what is overdue, and repeats until
// Close.
func (r *Recorder) watch() {
	defer close(r.exited)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		due, next, waiting := r.overdue(r.cfg.now())
		for _, t := range due {
			attrs := []slog.Attr{
				slog.Uint64("id", t.id),
				slog.String("label", t.label),
				slog.Duration("running", t.running),
				slog.Int("attempt", t.attempts),
			}
			if t.key != "" {
				attrs = append(attrs, slog.String("key", t.key))
			}
			r.cfg.stuckLog.LogAttrs(context.Background(), slog.LevelWarn, "fanout: stuck task", attrs...)
		}
		if waiting {
			timer.Reset(next)
		} else {
			timer.Stop()
		}
		select {
		case <-r.done:
			return
		case <-r.wake:
		case <-timer.C:
		}
	}
}

// overdue pops the tasks that have run for at least the stuck threshold
// by now, marks them logged, and says how long until the next deadline.
func (r *Recorder) overdue(now time.Time) (due []stuckTask, next time.Duration, waiting bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.based {
		return nil, 0, false
	}
	n := int64(now.Sub(r.base))
	limit := int64(r.cfg.stuck)
	for r.stuckHead < len(r.stuckQ) {
		e := r.stuckQ[r.stuckHead]
		sp := r.spans.at(e.idx)
		if sp.has(flagFinished) {
			r.stuckHead++
			continue
		}
		if e.started+limit > n {
			next, waiting = time.Duration(e.started+limit-n), true
			break
		}
		r.stuckHead++
		sp.flags |= flagStuckLogged
		due = append(due, stuckTask{
			id: sp.id, label: sp.label, key: sp.key,
			running: time.Duration(n - e.started), attempts: int(sp.attempts),
		})
	}
	// Reclaim the consumed front now and then; amortized O(1) per task.
	if r.stuckHead > 1024 && r.stuckHead*2 > len(r.stuckQ) {
		r.stuckQ = append(r.stuckQ[:0], r.stuckQ[r.stuckHead:]...)
		r.stuckHead = 0
	}
	return due, next, waiting
}
