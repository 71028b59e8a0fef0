package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/plugins/sdk"
)

var t0 = time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC)

// fakeClock fires its timers when advanced.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    chan time.Time
	at   time.Time
	done bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }
func (t *fakeTimer) Stop() bool {
	was := !t.done
	t.done = true
	return was
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: make(chan time.Time, 1), at: c.now.Add(d)}
	c.timers = append(c.timers, t)
	return t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if !t.done && !t.at.After(c.now) {
			t.done = true
			t.c <- c.now
		}
	}
	c.mu.Unlock()
}

type call struct {
	profile, link string
	at            time.Time
	opts          engine.RunOptions
}

// recorder is a RunFunc that records calls and answers from a table.
type recorder struct {
	mu    sync.Mutex
	clock *fakeClock
	calls []call
	fail  map[string]error // by link
	block map[string]chan struct{}
	// concurrent counts runs in progress per link and the maximum seen per key.
	inFlight   map[string]int
	maxFlight  map[string]int
	keysOfLink map[string][]string
}

func newRecorder(c *fakeClock) *recorder {
	return &recorder{clock: c, fail: map[string]error{}, block: map[string]chan struct{}{},
		inFlight: map[string]int{}, maxFlight: map[string]int{}, keysOfLink: map[string][]string{}}
}

func (r *recorder) run(ctx context.Context, profile, link string, opts engine.RunOptions) (engine.Result, error) {
	r.mu.Lock()
	r.calls = append(r.calls, call{profile, link, r.clock.Now(), opts})
	keys := append([]string{"*", link}, r.keysOfLink[link]...)
	for _, k := range keys {
		r.inFlight[k]++
		r.maxFlight[k] = max(r.maxFlight[k], r.inFlight[k])
	}
	block := r.block[link]
	err := r.fail[link]
	r.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
		}
	}
	r.mu.Lock()
	for _, k := range keys {
		r.inFlight[k]--
	}
	r.mu.Unlock()
	return engine.Result{Link: profile + "/" + link, Pairs: 7}, err
}

func (r *recorder) times(link string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Time
	for _, c := range r.calls {
		if c.link == link && !c.opts.DryRun {
			out = append(out, c.at)
		}
	}
	return out
}

func newTest(t *testing.T, cfg Config) (*Scheduler, *fakeClock, *recorder) {
	t.Helper()
	clock := &fakeClock{now: t0}
	rec := newRecorder(clock)
	cfg.Clock = clock
	cfg.Run = rec.run
	if cfg.Rand == nil {
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		cfg.Rand = rand.New(rand.NewPCG(seed, 3))
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, clock, rec
}

// step advances the clock, starts what is due and waits for the runs.
func step(s *Scheduler, c *fakeClock, d time.Duration) {
	c.Advance(d)
	s.dispatch()
	s.wg.Wait()
}

func TestIntervalWithJitter(t *testing.T) {
	s, clock, rec := newTest(t, Config{Jitter: 0.1})
	if err := s.SetJobs([]Job{{Profile: "p", Link: "a", Interval: 5 * time.Minute}, {Profile: "p", Link: "b", Interval: 15 * time.Minute}}); err != nil {
		t.Fatal(err)
	}
	for range 24 * 60 / 5 * 5 { // five hours in 12 s steps... bounded loop
		step(s, clock, 12*time.Second)
	}
	for _, tc := range []struct {
		link     string
		interval time.Duration
	}{{"a", 5 * time.Minute}, {"b", 15 * time.Minute}} {
		ts := rec.times(tc.link)
		if len(ts) < 2 {
			t.Fatalf("%s ran %d times", tc.link, len(ts))
		}
		if first := ts[0].Sub(t0); first > time.Minute+12*time.Second {
			t.Errorf("%s: first run after %s, want within the initial spread", tc.link, first)
		}
		distinct := map[time.Duration]bool{}
		for i := 1; i < len(ts); i++ {
			gap := ts[i].Sub(ts[i-1])
			lo, hi := time.Duration(float64(tc.interval)*0.9), time.Duration(float64(tc.interval)*1.1)+12*time.Second
			if gap < lo || gap > hi {
				t.Errorf("%s: gap %s outside [%s, %s]", tc.link, gap, lo, hi)
			}
			distinct[gap] = true
		}
		if len(distinct) < 2 {
			t.Errorf("%s: every gap is the same; no jitter", tc.link)
		}
	}
}

func TestBackoffAndRetryAfter(t *testing.T) {
	s, clock, rec := newTest(t, Config{BackoffBase: 30 * time.Second, BackoffMax: 10 * time.Minute})
	rec.fail["bad"] = errors.New("service down")
	if err := s.SetJobs([]Job{{Profile: "p", Link: "bad", Interval: time.Minute}, {Profile: "p", Link: "good", Interval: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	for range 60 * 60 / 5 { // an hour in 5 s steps
		step(s, clock, 5*time.Second)
	}
	bad, good := rec.times("bad"), rec.times("good")
	if len(good) < 50 {
		t.Errorf("the good link ran %d times in an hour; a failing link must not slow it", len(good))
	}
	// Gaps grow: base 30s doubling (jittered down to half), capped at 10m.
	for i := 2; i < len(bad); i++ {
		gap, prev := bad[i].Sub(bad[i-1]), bad[i-1].Sub(bad[i-2])
		if gap < prev/2-5*time.Second || gap > 10*time.Minute+5*time.Second {
			t.Errorf("backoff gap %d = %s after %s", i, gap, prev)
		}
	}
	if len(bad) > 15 {
		t.Errorf("failing link ran %d times in an hour", len(bad))
	}
	st := s.Status()
	if st[0].Link != "bad" || st[0].LastError != "service down" || st[0].Failures != len(bad) || !st[0].LastSuccess.IsZero() {
		t.Errorf("status of the failing link = %+v", st[0])
	}
	if st[1].LastError != "" || st[1].LastSuccess.IsZero() || st[1].Pairs != 7 {
		t.Errorf("status of the good link = %+v", st[1])
	}
	// A throttle's retry-after is honoured even when longer than the backoff.
	rec.mu.Lock()
	rec.fail["bad"] = fmt.Errorf("list: %w", &sdk.ThrottledError{RetryAfter: 2 * time.Hour})
	rec.mu.Unlock()
	step(s, clock, 11*time.Minute) // the next try happens and is throttled
	n := len(rec.times("bad"))
	for range 12 {
		step(s, clock, 10*time.Minute)
		if got := len(rec.times("bad")); got != n {
			if since := clock.Now().Sub(rec.times("bad")[n-1]); since < 2*time.Hour {
				t.Fatalf("retried %s after a 2h retry-after", since)
			}
			break
		}
	}
	// Success resets the backoff.
	rec.mu.Lock()
	delete(rec.fail, "bad")
	rec.mu.Unlock()
	step(s, clock, 3*time.Hour)
	if st := s.Status(); st[0].Failures != 0 || st[0].LastError != "" {
		t.Errorf("after a success: %+v", st[0])
	}
}

func TestRunNow(t *testing.T) {
	s, _, rec := newTest(t, Config{})
	if err := s.SetJobs([]Job{{Profile: "p", Link: "b"}, {Profile: "p", Link: "a"}, {Profile: "q", Link: "a"}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := s.RunNow(ctx, "p", "", engine.RunOptions{DryRun: true})
	if err != nil || len(res) != 2 || res[0].Link != "a" || res[1].Link != "b" || res[0].Result.Link != "p/a" {
		t.Fatalf("RunNow(p) = %+v, %v", res, err)
	}
	res, err = s.RunNow(ctx, "q", "a", engine.RunOptions{ForceDelete: true})
	if err != nil || len(res) != 1 || res[0].Profile != "q" {
		t.Fatalf("RunNow(q/a) = %+v, %v", res, err)
	}
	rec.mu.Lock()
	last := rec.calls[len(rec.calls)-1]
	rec.mu.Unlock()
	if !last.opts.ForceDelete || last.link != "a" || last.profile != "q" {
		t.Fatalf("last call %+v", last)
	}
	if _, err := s.RunNow(ctx, "nope", "", engine.RunOptions{}); !errors.Is(err, ErrUnknownProfile) {
		t.Fatalf("unknown profile: %v", err)
	}
	if _, err := s.RunNow(ctx, "p", "zz", engine.RunOptions{}); !errors.Is(err, ErrUnknownLink) {
		t.Fatalf("unknown link: %v", err)
	}
	// Dry runs leave the status alone.
	for _, st := range s.Status() {
		if st.Profile == "p" && !st.LastRun.IsZero() {
			t.Fatalf("dry run touched the status: %+v", st)
		}
	}
	// A run-now error is returned to the caller and shown in the status.
	rec.mu.Lock()
	rec.fail["b"] = errors.New("mass-delete guard")
	rec.mu.Unlock()
	res, err = s.RunNow(ctx, "p", "b", engine.RunOptions{})
	if err != nil || res[0].Err == nil {
		t.Fatalf("failing run: %+v, %v", res, err)
	}
	if st := s.Status(); st[1].Link != "b" || st[1].LastError != "mass-delete guard" {
		t.Fatalf("status %+v", st)
	}
}

func TestConcurrencyLimits(t *testing.T) {
	s, clock, rec := newTest(t, Config{MaxConcurrent: 3, Limits: map[string]int{"mailbox": 1, "provider:m365/a": 2}})
	var jobs []Job
	for i := range 8 {
		link := fmt.Sprintf("l%d", i)
		keys := []string{"provider:m365/a", fmt.Sprintf("mailbox:m365/a/box%d", i%3)}
		if i >= 5 {
			keys = []string{"provider:google/g", fmt.Sprintf("mailbox:google/g/box%d", i)}
		}
		jobs = append(jobs, Job{Profile: "p", Link: link, Interval: time.Minute, Keys: keys})
		rec.keysOfLink[link] = keys
		rec.block[link] = make(chan struct{})
	}
	if err := s.SetJobs(jobs); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	s.dispatch()
	// Release runs one by one; each release lets the dispatcher start more.
	started := func() bool {
		s.mu.Lock()
		n := s.running
		s.mu.Unlock()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.inFlight["*"] == n
	}
	for round := 0; round < 40; round++ {
		waitFor(t, started)
		rec.mu.Lock()
		var running []string
		for l, n := range rec.inFlight {
			if n > 0 && len(l) > 1 && l[0] == 'l' {
				running = append(running, l)
			}
		}
		rec.mu.Unlock()
		sort.Strings(running)
		if len(running) == 0 {
			break
		}
		// Hand the run a fresh channel for next time, then let it end.
		rec.mu.Lock()
		ch := rec.block[running[0]]
		rec.block[running[0]] = make(chan struct{})
		rec.mu.Unlock()
		close(ch)
		waitFor(t, func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return rec.inFlight[running[0]] == 0
		})
		s.dispatch()
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.maxFlight["*"] != 3 {
		t.Errorf("at most %d runs at once, want 3", rec.maxFlight["*"])
	}
	if rec.maxFlight["provider:m365/a"] > 2 {
		t.Errorf("provider limit exceeded: %d", rec.maxFlight["provider:m365/a"])
	}
	for k, n := range rec.maxFlight {
		if len(k) > 8 && k[:8] == "mailbox:" && n > 1 {
			t.Errorf("%s had %d runs at once", k, n)
		}
	}
	ran := map[string]bool{}
	for _, c := range rec.calls {
		ran[c.link] = true
	}
	if len(ran) != 8 {
		t.Errorf("only %d links ran: %v", len(ran), ran)
	}
}

// Requests run oldest first; one that cannot start yet (its mailbox is busy)
// does not hold up those behind it, and a link's request with other options
// waits its turn behind requests made before it.
func TestRequestsRunOldestFirst(t *testing.T) {
	s, _, rec := newTest(t, Config{MaxConcurrent: 1, Limits: map[string]int{"mailbox": 1}})
	jobs := []Job{
		{Profile: "p", Link: "x", Interval: time.Hour, Keys: []string{"mailbox:m"}},
		{Profile: "p", Link: "a", Interval: time.Hour, Keys: []string{"mailbox:m"}},
		{Profile: "p", Link: "b", Interval: time.Hour},
		{Profile: "p", Link: "c", Interval: time.Hour},
	}
	for _, j := range jobs {
		rec.block[j.Link] = make(chan struct{})
	}
	if err := s.SetJobs(jobs); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ask := func(link string, opts engine.RunOptions) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.RunNow(context.Background(), "p", link, opts); err != nil {
				t.Error(err)
			}
		}()
	}
	queued := func(n int) func() bool {
		return func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			got := 0
			for _, e := range s.entries {
				got += len(e.requests)
			}
			return got == n
		}
	}
	ask("x", engine.RunOptions{})
	waitFor(t, func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return rec.inFlight["x"] == 1 })
	ask("a", engine.RunOptions{})
	waitFor(t, queued(1))
	ask("b", engine.RunOptions{})
	waitFor(t, queued(2))
	ask("a", engine.RunOptions{DryRun: true})
	waitFor(t, queued(3))
	ask("c", engine.RunOptions{})
	waitFor(t, queued(4))
	for _, l := range []string{"x", "a", "b", "a", "c"} {
		waitFor(t, func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return rec.inFlight[l] == 1 })
		rec.mu.Lock()
		ch := rec.block[l]
		rec.block[l] = make(chan struct{})
		rec.mu.Unlock()
		close(ch)
	}
	wg.Wait()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var got []string
	for _, c := range rec.calls {
		got = append(got, fmt.Sprintf("%s%v", c.link, map[bool]string{true: "(dry)"}[c.opts.DryRun]))
	}
	if want := []string{"x", "a", "b", "a(dry)", "c"}; !slices.Equal(got, want) {
		t.Fatalf("runs in order %v, want %v", got, want)
	}
}

// Admit holds runs beyond the limits: while it says no only AdmitMin runs go
// ahead and the scheduler looks again after AdmitRetry; once it says yes runs
// start a burst at a time. A due run that waits for a slot does not make the
// loop spin.
func TestAdmitHoldsRuns(t *testing.T) {
	var mu sync.Mutex
	open := false
	asked := 0
	s, clock, rec := newTest(t, Config{MaxConcurrent: 100, StartBurst: 3, AdmitMin: 2, AdmitRetry: 2 * time.Second, Admit: func() bool {
		mu.Lock()
		defer mu.Unlock()
		asked++
		return open
	}})
	var jobs []Job
	for i := range 8 {
		l := fmt.Sprintf("l%d", i)
		jobs = append(jobs, Job{Profile: "p", Link: l, Interval: time.Hour})
		rec.block[l] = make(chan struct{})
	}
	if err := s.SetJobs(jobs); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute) // all due
	if next := s.dispatch(); next != 2*time.Second {
		t.Fatalf("held runs are looked at again in %v, want 2s", next)
	}
	if n := s.Running(); n != 2 || asked == 0 {
		t.Fatalf("%d runs started while Admit said no (asked %d times), want AdmitMin's 2", n, asked)
	}
	mu.Lock()
	open = true
	mu.Unlock()
	if next := s.dispatch(); next != 2*time.Second {
		t.Fatalf("after a burst, the rest are looked at again in %v, want 2s", next)
	}
	if n := s.Running(); n != 5 {
		t.Fatalf("%d runs under way after one burst, want 2+3", n)
	}
	s.dispatch()
	if n := s.Running(); n != 8 {
		t.Fatalf("%d runs under way after two bursts, want 8", n)
	}
	for _, j := range jobs {
		close(rec.block[j.Link])
	}
	s.wg.Wait()

	// Limits: a due run that cannot start until a slot frees does not make the
	// loop look again at once; the end of a run starts it.
	s2, clock2, rec2 := newTest(t, Config{MaxConcurrent: 1})
	if err := s2.SetJobs([]Job{{Profile: "p", Link: "a", Interval: time.Hour}, {Profile: "p", Link: "b", Interval: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	rec2.block["a"], rec2.block["b"] = make(chan struct{}), make(chan struct{})
	clock2.Advance(2 * time.Minute)
	if next := s2.dispatch(); next == 0 {
		t.Fatal("a run waiting for a slot makes the scheduler look again at once")
	}
	close(rec2.block["a"])
	close(rec2.block["b"])
	waitFor(t, func() bool { rec2.mu.Lock(); defer rec2.mu.Unlock(); return len(rec2.calls) == 2 })
	s2.wg.Wait()
}

// waitFor polls cond for a bounded time (a run's goroutine finishing).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReload(t *testing.T) {
	s, clock, rec := newTest(t, Config{})
	if err := s.SetJobs([]Job{{Profile: "p", Link: "a", Interval: time.Minute}, {Profile: "p", Link: "b", Interval: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	step(s, clock, 2*time.Minute)
	if err := s.SetJobs([]Job{{Profile: "p", Link: "a", Interval: time.Minute}, {Profile: "p", Link: "c", Interval: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	nb := len(rec.times("b"))
	for range 10 {
		step(s, clock, time.Minute)
	}
	if len(rec.times("b")) != nb || len(rec.times("c")) < 5 {
		t.Fatalf("after reload: b ran %d more, c ran %d", len(rec.times("b"))-nb, len(rec.times("c")))
	}
	if st := s.Status(); len(st) != 2 || st[0].Link != "a" || st[1].Link != "c" || st[0].LastSuccess.IsZero() {
		t.Fatalf("status after reload: %+v", st)
	}
	for _, bad := range [][]Job{{{Profile: "p"}}, {{Profile: "p", Link: "a"}, {Profile: "p", Link: "a"}}, {{Profile: "p", Link: "a", Interval: -1}}} {
		if err := s.SetJobs(bad); err == nil {
			t.Errorf("SetJobs(%+v) accepted", bad)
		}
	}
}

// TestRunLoop drives the real loop with the fake clock: scheduled runs happen,
// and the loop stops cleanly, cancelling a run in progress.
func TestRunLoop(t *testing.T) {
	s, clock, rec := newTest(t, Config{})
	if err := s.SetJobs([]Job{{Profile: "p", Link: "a", Interval: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for i := 0; i < 200 && len(rec.times("a")) < 3; i++ {
		clock.Advance(10 * time.Second)
		waitFor(t, func() bool { return true })
		time.Sleep(time.Millisecond) // let the loop take the timer
	}
	if n := len(rec.times("a")); n < 3 {
		t.Fatalf("loop ran a %d times", n)
	}
	rec.mu.Lock()
	rec.block["a"] = make(chan struct{}) // the next run blocks until cancelled
	rec.mu.Unlock()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := s.RunNow(context.Background(), "p", "a", engine.RunOptions{}); !errors.Is(err, ErrStopped) {
		t.Fatalf("RunNow after stop: %v", err)
	}
}

func TestWait(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		act  func(c *fakeClock, wake chan struct{}, cancel context.CancelFunc)
		want bool
	}{
		{"the timer fires", time.Minute, func(c *fakeClock, _ chan struct{}, _ context.CancelFunc) { c.Advance(time.Minute) }, true},
		{"woken before the timer", time.Hour, func(_ *fakeClock, w chan struct{}, _ context.CancelFunc) { w <- struct{}{} }, true},
		{"woken with no timer", -1, func(_ *fakeClock, w chan struct{}, _ context.CancelFunc) { w <- struct{}{} }, true},
		{"the context ends", time.Hour, func(_ *fakeClock, _ chan struct{}, cancel context.CancelFunc) { cancel() }, false},
		{"the context ends with no timer", -1, func(_ *fakeClock, _ chan struct{}, cancel context.CancelFunc) { cancel() }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{now: t0}
			wake := make(chan struct{}, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make(chan bool, 1)
			go func() { got <- Wait(ctx, c, tc.d, wake) }()
			// Act once Wait has its timer (or at once when it takes none).
			for range 1000 {
				c.mu.Lock()
				n := len(c.timers)
				c.mu.Unlock()
				if n > 0 || tc.d < 0 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			tc.act(c, wake, cancel)
			select {
			case g := <-got:
				if g != tc.want {
					t.Fatalf("Wait = %v, want %v", g, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Wait did not return")
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, tm := range c.timers {
				if !tm.done {
					t.Fatal("Wait left its timer running")
				}
			}
		})
	}
}

// BenchmarkRunNowProfile2000 runs every link of a profile of 2,000 links once,
// as the idle cycle does, with runs that return at once: what the scheduler
// itself costs per run when thousands wait for a slot.
func BenchmarkRunNowProfile2000(b *testing.B) {
	const links = 2000
	s, err := New(Config{
		Run: func(ctx context.Context, profile, link string, opts engine.RunOptions) (engine.Result, error) {
			return engine.Result{Pairs: -1}, nil
		},
		Clock: &fakeClock{now: t0}, Rand: rand.New(rand.NewPCG(1, 2)), MaxConcurrent: 128,
		Limits: map[string]int{"provider": 96, "diary": 1},
	})
	if err != nil {
		b.Fatal(err)
	}
	jobs := make([]Job, links)
	for i := range jobs {
		jobs[i] = Job{Profile: "p", Link: fmt.Sprintf("l%04d", i), Interval: time.Hour,
			Keys: []string{"provider:superoffice/acme", "provider:m365/acme365", fmt.Sprintf("diary:superoffice/acme/u%d", i)}}
	}
	if err := s.SetJobs(jobs); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := s.RunNow(context.Background(), "p", "", engine.RunOptions{})
		if err != nil || len(res) != links {
			b.Fatalf("%d results, %v", len(res), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*links), "ns/run")
}
