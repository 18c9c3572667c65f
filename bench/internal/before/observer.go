package fanout

import "time"

// TaskInfo identifies a task to an [Observer]. ID is unique within an
// Executor and increases in submission order; Label and Key are the values
// given with [WithLabel] and [WithKey].
type TaskInfo struct {
	ID    uint64
	Label string
	Key   string
}

// Outcome is how a task ended, as reported to [Observer.TaskFinished].
type Outcome struct {
	// Err is the error the task's future settled with; nil on success.
	// It wraps [ErrQueueTimeout], [ErrClosed], a *[PanicError], a context
	// error or the function's own error.
	Err error
	// Attempts is how many times the function was called (0 when the task
	// never started).
	Attempts int
	// Abandoned is true when the future settled (canceled or timed out)
	// while the function was still running and ignoring its context; the
	// task kept its slot until the function returned, which is when
	// TaskFinished is called.
	Abandoned bool
	// Settled is when the future settled. For an abandoned task it is
	// earlier than the time TaskFinished is called.
	Settled time.Time
}

// An Observer is told about each task's life: queued once, started once per
// attempt, finished once. An Executor calls these hooks synchronously from
// the goroutine doing the work, so they must be fast and safe for concurrent
// use; they must not call back into the Executor.
//
// An Executor without observers does not read the clock or build events for
// them: hooks cost nothing when unused.
type Observer interface {
	// TaskQueued is called when Submit accepts the task, before it waits
	// for a slot.
	TaskQueued(t TaskInfo, at time.Time)
	// AttemptStarted is called when an attempt holds its slots and the
	// function is about to be called. attempt counts from 1.
	AttemptStarted(t TaskInfo, attempt int, at time.Time)
	// AttemptFinished is called when an attempt's function returned; err is
	// what it returned (a *PanicError for a panic).
	AttemptFinished(t TaskInfo, attempt int, err error, at time.Time)
	// TaskFinished is called once per task, when it holds no slot any more
	// and will never run again.
	TaskFinished(t TaskInfo, o Outcome, at time.Time)
}

// LimitObserver is an optional interface an Observer may implement to learn
// the executor's concurrency limit: once from New, then at each change (see
// [Executor.SetLimit]).
type LimitObserver interface {
	LimitChanged(limit int, at time.Time)
}
