// Package schedulertest holds test support for the users of daemon/scheduler's
// Clock: a clock that moves only when a test advances it. It is imported by
// tests alone and holds no state beyond the clocks it builds.
package schedulertest

import (
	"sync"
	"time"

	"synchronizer/daemon/scheduler"
)

// Clock is a scheduler.Clock whose timers fire only when the test calls
// Advance, so nothing that waits on it runs unless the test says so. Its Now
// can stand for every other clock of the code under test (Options.Now, the
// state store's) so that all of them agree. Safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

// NewClock returns a Clock that reads now until it is advanced.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

type timer struct {
	clock   *Clock
	c       chan time.Time
	at      time.Time
	stopped bool
}

func (t *timer) C() <-chan time.Time { return t.c }

// Stop keeps the timer from firing at a later Advance; it always reports true.
func (t *timer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	t.stopped = true
	return true
}

// Now is the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires at the first Advance that reaches now+d;
// one of d <= 0 has fired already.
func (c *Clock) NewTimer(d time.Duration) scheduler.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{clock: c, c: make(chan time.Time, 1), at: c.now.Add(d)}
	if d <= 0 {
		t.c <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock on by d and fires every timer that is due and not
// stopped.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			if !t.stopped {
				t.c <- c.now
			}
			continue
		}
		keep = append(keep, t)
	}
	c.timers = keep
}
