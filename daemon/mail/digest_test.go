package mail

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// memStore is a DigestStore in memory; sharing one between two schedulers stands in
// for a daemon restart over the same state store.
type memStore struct {
	mu       sync.Mutex
	last     time.Time
	readErr  error
	writeErr error
}

func (s *memStore) LastDigest(context.Context) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.readErr
}

func (s *memStore) SetLastDigest(_ context.Context, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr != nil {
		return s.writeErr
	}
	s.last = t
	return nil
}

// recordingMailer keeps the digests it is asked to send.
type recordingMailer struct {
	mu      sync.Mutex
	digests []Digest
	err     error
}

func (m *recordingMailer) Activation(context.Context, Activation) error         { return nil }
func (m *recordingMailer) ExpiredCredentials(context.Context, Activation) error { return nil }
func (m *recordingMailer) Digest(_ context.Context, d Digest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.digests = append(m.digests, d)
	return nil
}

func (m *recordingMailer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.digests)
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	seen chan<- time.Time // if set, told of every reading
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	now, seen := c.now, c.seen
	c.mu.Unlock()
	if seen != nil {
		seen <- now
	}
	return now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// digestRig is a scheduler with fakes for everything around it.
type digestRig struct {
	clock  *fakeClock
	store  *memStore
	mailer *recordingMailer
	mu     sync.Mutex
	links  []LinkStatus
}

func newDigestRig() *digestRig {
	return &digestRig{clock: &fakeClock{now: testNow}, store: &memStore{}, mailer: &recordingMailer{}}
}

func (r *digestRig) setLinks(ls ...LinkStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.links = ls
}

// scheduler builds a fresh scheduler over the rig's store, as a restart would.
func (r *digestRig) scheduler(t *testing.T) *DigestScheduler {
	t.Helper()
	s, err := NewDigestScheduler(DigestConfig{
		Mailer: r.mailer,
		Store:  r.store,
		Links: LinkSourceFunc(func(context.Context) ([]LinkStatus, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			return append([]LinkStatus(nil), r.links...), nil
		}),
		Clock: r.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func broken(name string) LinkStatus {
	return LinkStatus{Profile: "p", Link: name, Mailbox: name + "@acme.example", State: StateNeedsConsent, Since: testNow}
}

func TestDigestAtMostEvery12Hours(t *testing.T) {
	t.Parallel()
	r := newDigestRig()
	s := r.scheduler(t)
	ctx := context.Background()

	// step: move the clock, maybe restart, set the links, Check; want a digest or not.
	steps := []struct {
		name    string
		advance time.Duration
		restart bool
		links   []LinkStatus
		want    bool
	}{
		{name: "nothing needs attention", links: nil, want: false},
		{name: "a link breaks: first digest at once", advance: time.Minute, links: []LinkStatus{broken("a")}, want: true},
		{name: "an hour later", advance: time.Hour, links: []LinkStatus{broken("a"), broken("b")}, want: false},
		{name: "restart 2 hours later", advance: time.Hour, restart: true, links: []LinkStatus{broken("a"), broken("b")}, want: false},
		{name: "just under 12 hours", advance: 10*time.Hour - time.Second, links: []LinkStatus{broken("a")}, want: false},
		{name: "12 hours after the first", advance: time.Second, links: []LinkStatus{broken("a")}, want: true},
		{name: "12 more hours, all fixed", advance: 12 * time.Hour, links: []LinkStatus{{Link: "a", State: StateActive}}, want: false},
		{name: "breaks again: due, sent at once", advance: time.Hour, links: []LinkStatus{broken("c")}, want: true},
		{name: "restart right after", advance: time.Minute, restart: true, links: []LinkStatus{broken("c")}, want: false},
	}
	sent := 0
	for _, st := range steps {
		r.clock.Advance(st.advance)
		if st.restart {
			s = r.scheduler(t)
		}
		r.setLinks(st.links...)
		got, err := s.Check(ctx)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got != st.want {
			t.Fatalf("%s: sent = %v, want %v", st.name, got, st.want)
		}
		if got {
			sent++
			last, _ := r.store.LastDigest(ctx)
			if !last.Equal(r.clock.Now()) {
				t.Errorf("%s: recorded %v, want %v", st.name, last, r.clock.Now())
			}
		}
		if r.mailer.count() != sent {
			t.Fatalf("%s: mailer got %d digests, want %d", st.name, r.mailer.count(), sent)
		}
	}
	if got := r.mailer.digests[2].Links; len(got) != 1 || got[0].Link != "c" {
		t.Errorf("third digest has %v, want link c only", got)
	}
}

func TestDigestWhatNeedsAttention(t *testing.T) {
	t.Parallel()
	now := testNow
	tests := []struct {
		name string
		link LinkStatus
		want bool
	}{
		{"needs consent", LinkStatus{State: StateNeedsConsent}, true},
		{"error", LinkStatus{State: StateError, LastError: "boom"}, true},
		{"unlicensed", LinkStatus{State: StateUnlicensed}, true},
		{"active", LinkStatus{State: StateActive}, false},
		{"disabled", LinkStatus{State: StateDisabled}, false},
		{"pending for an hour", LinkStatus{State: StatePendingActivation, Since: now.Add(-time.Hour)}, false},
		{"pending for just under 3 days", LinkStatus{State: StatePendingActivation, Since: now.Add(-DefaultPendingAfter + time.Second)}, false},
		{"pending for 3 days", LinkStatus{State: StatePendingActivation, Since: now.Add(-DefaultPendingAfter)}, true},
		{"pending, link expired", LinkStatus{State: StatePendingActivation, Since: now.Add(-time.Hour), ActivationExpires: now}, true},
		{"pending, link still valid", LinkStatus{State: StatePendingActivation, Since: now.Add(-time.Hour), ActivationExpires: now.Add(time.Hour)}, false},
		{"pending since unknown", LinkStatus{State: StatePendingActivation}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newDigestRig()
			tt.link.Link = "x"
			r.setLinks(tt.link)
			got, err := r.scheduler(t).Check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("digest sent = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDigestFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("mail fails: not recorded, retried next time", func(t *testing.T) {
		t.Parallel()
		r := newDigestRig()
		r.setLinks(broken("a"))
		r.mailer.err = errors.New("smtp down")
		s := r.scheduler(t)
		if sent, err := s.Check(ctx); sent || err == nil {
			t.Fatalf("Check = %v, %v; want not sent and an error", sent, err)
		}
		if last, _ := r.store.LastDigest(ctx); !last.IsZero() {
			t.Errorf("a failed digest was recorded at %v", last)
		}
		r.mailer.err = nil
		r.clock.Advance(10 * time.Minute)
		if sent, err := s.Check(ctx); !sent || err != nil {
			t.Fatalf("retry: Check = %v, %v", sent, err)
		}
	})

	t.Run("store unreadable: nothing sent", func(t *testing.T) {
		t.Parallel()
		r := newDigestRig()
		r.setLinks(broken("a"))
		r.store.readErr = errors.New("disk gone")
		if sent, err := r.scheduler(t).Check(ctx); sent || err == nil {
			t.Fatalf("Check = %v, %v", sent, err)
		}
		if r.mailer.count() != 0 {
			t.Error("a digest went out although the last time could not be read")
		}
	})

	t.Run("store unwritable: sent, error says so", func(t *testing.T) {
		t.Parallel()
		r := newDigestRig()
		r.setLinks(broken("a"))
		r.store.writeErr = errors.New("read-only")
		sent, err := r.scheduler(t).Check(ctx)
		if !sent || err == nil {
			t.Fatalf("Check = %v, %v; want sent and an error", sent, err)
		}
	})

	t.Run("clock set back a long way", func(t *testing.T) {
		t.Parallel()
		r := newDigestRig()
		r.setLinks(broken("a"))
		r.store.last = testNow.Add(30 * 24 * time.Hour) // recorded by a clock that ran ahead
		if sent, err := r.scheduler(t).Check(ctx); !sent || err != nil {
			t.Fatalf("Check = %v, %v; a last time far in the future must not block the digest", sent, err)
		}
	})

	t.Run("missing dependencies", func(t *testing.T) {
		t.Parallel()
		if _, err := NewDigestScheduler(DigestConfig{}); err == nil {
			t.Error("NewDigestScheduler without dependencies succeeded")
		}
	})
}

func TestDigestRun(t *testing.T) {
	t.Parallel()
	r := newDigestRig()
	r.setLinks(broken("a"))
	s := r.scheduler(t)
	seen := make(chan time.Time)
	r.clock.seen = seen // each Check reads the clock once; the test moves it only after
	ticks := make(chan time.Time)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(context.Background(), ticks)
	}()
	// Four ticks, 5 hours apart: at 0h a digest goes out, at 5h and 10h none is due,
	// at 15h the next one goes out.
	for i := 0; i < 4; i++ {
		ticks <- time.Time{}
		if at := <-seen; !at.Equal(testNow.Add(time.Duration(i) * 5 * time.Hour)) {
			t.Fatalf("tick %d checked at %v", i, at)
		}
		r.clock.Advance(5 * time.Hour)
	}
	close(ticks)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its ticks closed")
	}
	if got := r.mailer.count(); got != 2 {
		t.Errorf("Run sent %d digests over 15 hours, want 2", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.Run(ctx, make(chan time.Time))
	}()
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}

// TestDigestOverSMTP runs the scheduler against the real mailer and server: one
// delivered digest to the admin, none on the next check.
func TestDigestOverSMTP(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	r := newDigestRig()
	m := newTestMailer(t, srv, "it-ops@acme.example", nil)
	s, err := NewDigestScheduler(DigestConfig{
		Mailer: m, Store: r.store, Clock: r.clock,
		Links: LinkSourceFunc(func(context.Context) ([]LinkStatus, error) { return testDigest().Links, nil }),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := s.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Hour)
	}
	d := srv.only(t)
	if len(d.To) != 1 || d.To[0] != "it-ops@acme.example" {
		t.Errorf("digest went to %q", d.To)
	}
	p := parseMessage(t, d.Data)
	if p.Subject != "Synchronizer: 5 links need attention" {
		t.Errorf("Subject = %q", p.Subject)
	}
}
