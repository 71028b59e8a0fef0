// Package pushdeliver sends the push notifications of the service emulators
// (gcaltest's watch channels, graphtest's subscriptions) the way the real
// services do: in the background, in the order they were raised, each retried
// with a doubling wait until the receiver takes it or the attempts run out, and
// lost now and then on request (the drop faults). What a notification says and
// which answers count as taken are the emulator's; this package only carries it.
//
// It holds no state beyond the Queues it builds and is imported by the
// emulators alone.
package pushdeliver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Notification is one push message: a POST of Body (nil: none) with Header to URL.
type Notification struct {
	URL    string
	Header http.Header
	Body   []byte
}

// Options are how a Queue delivers.
type Options struct {
	// Client sends the POSTs.
	Client *http.Client
	// Attempts is how often one notification is sent at most (at least once).
	Attempts int
	// Retry is the wait before the second attempt; it doubles for each further one.
	Retry time.Duration
	// Taken says whether the receiver's answer ends a notification's attempts.
	Taken func(status int) bool
	// MaxQueued bounds the notifications waiting to be sent or retried; past it
	// the oldest is lost, as notifications to a receiver that stays away are.
	MaxQueued int
	// Delivered, when set, is called after each notification the receiver took,
	// from the delivering goroutine.
	Delivered func()
	// Logger receives a line per lost or failed attempt (nil: discard).
	Logger *slog.Logger
}

// Queue delivers notifications from one goroutine, started by the first
// Enqueue and stopped by Close. Safe for concurrent use.
type Queue struct {
	opts   Options
	ctx    context.Context // cancelled by Close: ends a POST in flight
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	queue   []pending
	started bool
	closed  bool
}

type pending struct {
	n       Notification
	attempt int // attempts made
	due     time.Time
}

// New returns a Queue that delivers as opts say.
func New(opts Options) *Queue {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Queue{opts: opts, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Enqueue queues n for delivery now; after Close it is dropped.
func (q *Queue) Enqueue(n Notification) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if q.opts.MaxQueued > 0 && len(q.queue) >= q.opts.MaxQueued {
		q.opts.Logger.Warn("push queue full; oldest notification dropped", "address", q.queue[0].n.URL)
		q.queue = q.queue[1:]
	}
	q.queue = append(q.queue, pending{n: n, due: time.Now()})
	if !q.started {
		q.started = true
		go q.loop()
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Close stops delivery, ending a POST in flight and dropping what waits, and
// returns when the delivering goroutine is gone. It may be called more than once.
func (q *Queue) Close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	started := q.started
	q.mu.Unlock()
	q.cancel()
	if started {
		<-q.done
	}
}

func (q *Queue) loop() {
	defer close(q.done)
	for {
		due, next := q.takeDue(time.Now())
		for _, p := range due {
			if q.ctx.Err() != nil {
				return
			}
			if q.send(p) {
				continue
			}
			p.attempt++
			if p.attempt >= max(q.opts.Attempts, 1) {
				continue
			}
			p.due = time.Now().Add(q.opts.Retry << (p.attempt - 1))
			q.mu.Lock()
			if !q.closed {
				q.queue = append(q.queue, p)
				if next.IsZero() || p.due.Before(next) {
					next = p.due
				}
			}
			q.mu.Unlock()
		}
		if !q.wait(next) {
			return
		}
	}
}

// wait waits for an Enqueue, for next (zero: no timer) or for Close, and
// reports false for Close.
func (q *Queue) wait(next time.Time) bool {
	var fire <-chan time.Time
	if !next.IsZero() {
		timer := time.NewTimer(time.Until(next))
		defer timer.Stop()
		fire = timer.C
	}
	select {
	case <-q.ctx.Done():
		return false
	case <-q.wake:
	case <-fire:
	}
	return true
}

// takeDue removes from the queue what is due at now, in queue order, and
// returns it with the time the first of the rest falls due (zero: none).
func (q *Queue) takeDue(now time.Time) (due []pending, next time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	rest := q.queue[:0]
	for _, p := range q.queue {
		if !p.due.After(now) {
			due = append(due, p)
			continue
		}
		if next.IsZero() || p.due.Before(next) {
			next = p.due
		}
		rest = append(rest, p)
	}
	q.queue = rest
	return due, next
}

// send makes one attempt and reports whether the receiver took the notification.
func (q *Queue) send(p pending) bool {
	var body io.Reader
	if p.n.Body != nil {
		body = bytes.NewReader(p.n.Body)
	}
	req, err := http.NewRequestWithContext(q.ctx, http.MethodPost, p.n.URL, body)
	if err != nil {
		q.opts.Logger.Debug("notification not sent", "err", err)
		return false
	}
	req.Header = p.n.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	resp, err := q.opts.Client.Do(req)
	if err != nil {
		q.opts.Logger.Debug("notification not delivered", "attempt", p.attempt, "err", err)
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if !q.opts.Taken(resp.StatusCode) {
		q.opts.Logger.Debug("notification refused", "attempt", p.attempt, "status", resp.StatusCode)
		return false
	}
	if q.opts.Delivered != nil {
		q.opts.Delivered()
	}
	return true
}

// Drop draws whether the next notification is lost to the drop faults: the
// next *next ones are (counted down), then each with probability fraction,
// drawn from draw only when fraction > 0, so a run without the fault draws
// nothing from the emulator's random source.
func Drop(next *int, fraction float64, draw func() float64) bool {
	if *next > 0 {
		*next--
		return true
	}
	return fraction > 0 && draw() < fraction
}
