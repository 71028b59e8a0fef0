package runner

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/scheduler/schedulertest"
	"synchronizer/daemon/state"
	"synchronizer/daemon/web"
	"synchronizer/plugins/memory"
	"synchronizer/plugins/sdk"
)

// waitFor waits, in bounded short rounds, for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// pushHarness is the harness with a consent listener serving the runner's
// notification route, a stepping clock, and the memory providers pushing to it.
type pushHarness struct {
	*harness
	clock   *schedulertest.Clock
	notify  *httptest.Server
	handler atomic.Pointer[http.Handler]
	lists   atomic.Int64 // ListChanges calls on the calendar side
}

// pushConfig is the harness configuration with a public URL and profile
// settings (interval 1h).
func pushConfig(publicURL, profileExtra string, links ...link) string {
	text := hcl("30d", "365d", links...)
	if publicURL != "" {
		text = fmt.Sprintf("http {\n  public_url = %q\n}\n", publicURL) + text
	}
	return strings.Replace(text, "  interval    = \"1h\"\n", "  interval    = \"1h\"\n"+profileExtra, 1)
}

func newPushHarness(t *testing.T, push bool, profileExtra string, links ...link) *pushHarness {
	t.Helper()
	clock := schedulertest.NewClock(time.Now().UTC().Truncate(time.Second))
	h := &pushHarness{clock: clock}
	h.notify = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hp := h.handler.Load(); hp != nil {
			(*hp).ServeHTTP(w, r)
			return
		}
		http.Error(w, "not yet", http.StatusServiceUnavailable)
	}))
	t.Cleanup(h.notify.Close)
	h.harness = buildHarness(t, clock, clock.Now)
	h.cal.SetHook(func(_ context.Context, op string, _ sdk.Target, phase string) error {
		if op == "ListChanges" && phase == "before" {
			h.lists.Add(1)
		}
		return nil
	})
	consent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	var hd http.Handler = web.WithNotify(consent, h.r.NotifyHandler())
	h.handler.Store(&hd)
	public := ""
	if push {
		public = h.notify.URL
	}
	h.apply(pushConfig(public, profileExtra, links...))
	return h
}

// titles returns the titles in a calendar, sorted.
func titles(c *memory.Calendar) string {
	var out []string
	for _, ev := range c.Events() {
		out = append(out, ev.Title)
	}
	return strings.Join(out, "|")
}

func has(c *memory.Calendar, title string) bool {
	for _, ev := range c.Events() {
		if ev.Title == title {
			return true
		}
	}
	return false
}

func tomorrow(clock *schedulertest.Clock, title string) sdk.Event {
	start := clock.Now().Truncate(time.Hour).Add(24 * time.Hour)
	return sdk.Event{Title: title, Start: start, End: start.Add(time.Hour), TimeZone: "Europe/Oslo"}
}

// settle waits until the link is idle: the subscriptions' creation wakes and
// their runs are over.
// quiesce waits until no calendar read happened for a while (bounded) and
// returns the number of reads so far.
func (h *pushHarness) quiesce() int64 {
	h.t.Helper()
	n, still := h.lists.Load(), 0
	for i := 0; i < 200 && still < 5; i++ {
		time.Sleep(20 * time.Millisecond)
		if m := h.lists.Load(); m != n {
			n, still = m, 0
		} else {
			still++
		}
	}
	if still < 5 {
		h.t.Fatal("the link keeps reading its calendar")
	}
	return n
}

func (h *pushHarness) settle(n int) {
	h.t.Helper()
	waitFor(h.t, fmt.Sprintf("%d push subscriptions", n), func() bool { return len(h.r.PushSubscriptions()) == n })
	h.so.WaitNotifications()
	h.cal.WaitNotifications()
	// A run requested now queues behind any the wakes started, so once it is
	// done they are too.
	h.run("jane", engine.RunOptions{})
}

// A change on either side reaches the other through a notification, with the
// poll interval (1h) never reached.
func TestPushBringsChangesAcrossWithoutPolling(t *testing.T) {
	h := newPushHarness(t, true, "", jane)
	soCal := h.so.Calendar("acme", "JANE")
	calCal := h.cal.Calendar("mem", "jane@acme.example")
	seed(soCal, 2, "diary")
	if _, err := h.run("jane", engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	h.settle(2)
	subs := h.r.PushSubscriptions()
	if subs[0].Provider != "memory" || subs[1].Provider != "superoffice" || subs[0].Account != "jane@acme.example" || subs[1].Account != "JANE" {
		t.Fatalf("subscriptions = %+v", subs)
	}

	calCal.Put(tomorrow(h.clock, "typed in the calendar"))
	waitFor(t, "the calendar's change in the diary", func() bool { return has(soCal, "typed in the calendar") })
	soCal.Put(tomorrow(h.clock, "typed in the diary"))
	waitFor(t, "the diary's change in the calendar", func() bool { return has(calCal, "typed in the diary") })
	if st := h.r.Status(); len(st) != 1 || !st[0].NextRun.After(h.clock.Now().Add(30*time.Minute)) {
		t.Fatalf("the poll was due: %+v", st)
	}
}

// Without public_url nothing subscribes, and the interval alone syncs.
func TestNoPublicURLPollsOnly(t *testing.T) {
	h := newPushHarness(t, false, "", jane)
	soCal := h.so.Calendar("acme", "JANE")
	h.clock.Advance(2 * time.Minute) // past the initial spread: the first run
	waitFor(t, "the first run", func() bool {
		l, err := h.store.Link(context.Background(), state.LinkID{Profile: "p", Link: "jane"})
		return err == nil && l.State == state.Active
	})
	if n := len(h.r.PushSubscriptions()); n != 0 {
		t.Fatalf("%d subscriptions without public_url", n)
	}
	if ids := h.cal.Subscriptions(); len(ids) != 0 {
		t.Fatalf("the calendar holds subscriptions %v", ids)
	}
	soCal.Put(tomorrow(h.clock, "polled"))
	h.clock.Advance(70 * time.Minute)
	waitFor(t, "the poll", func() bool { return has(h.cal.Calendar("mem", "jane@acme.example"), "polled") })
}

// Lost notifications and a subscription the service ended only delay a change
// until the next poll; the daemon subscribes again at its renewal.
func TestPollingConvergesWhenNotificationsAreLost(t *testing.T) {
	h := newPushHarness(t, true, "", jane)
	soCal := h.so.Calendar("acme", "JANE")
	calCal := h.cal.Calendar("mem", "jane@acme.example")
	h.run("jane", engine.RunOptions{})
	h.settle(2)

	h.cal.DropNotifications(1)
	calCal.Put(tomorrow(h.clock, "notification lost"))
	h.cal.WaitNotifications()
	if has(soCal, "notification lost") {
		t.Fatal("a change whose notification was dropped arrived without a run")
	}
	h.clock.Advance(70 * time.Minute)
	waitFor(t, "the poll to bring the change", func() bool { return has(soCal, "notification lost") })

	h.cal.ExpireSubscriptions()
	calCal.Put(tomorrow(h.clock, "subscription expired"))
	h.cal.WaitNotifications()
	if has(soCal, "subscription expired") {
		t.Fatal("a change after the subscription expired arrived without a run")
	}
	h.clock.Advance(70 * time.Minute)
	waitFor(t, "the poll after expiry", func() bool { return has(soCal, "subscription expired") })
	// The renewal (at two thirds of the memory service's 24h) finds it gone and
	// makes a new one: push works again.
	before := h.r.PushSubscriptions()
	h.clock.Advance(15 * time.Hour)
	waitFor(t, "a new subscription", func() bool {
		for _, s := range h.r.PushSubscriptions() {
			if s.Provider == "memory" && s.ID != before[0].ID {
				return true
			}
		}
		return false
	})
	calCal.Put(tomorrow(h.clock, "pushed again"))
	waitFor(t, "push after the new subscription", func() bool { return has(soCal, "pushed again") })
}

// A change no notification announced and no change feed reports (a service
// losing it) is found by the reconcile's full read, and only by it.
func TestReconcileFindsWhatTheFeedsMissed(t *testing.T) {
	for _, c := range []struct {
		name      string
		reconcile string
		arrives   bool
	}{
		{"reconcile every 3h", "", true},
		{"reconcile off", "  reconcile = \"0\"\n", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newPushHarness(t, true, c.reconcile, jane)
			soCal := h.so.Calendar("acme", "JANE")
			calCal := h.cal.Calendar("mem", "jane@acme.example")
			ev := calCal.Put(tomorrow(h.clock, "original"))
			h.run("jane", engine.RunOptions{})
			h.settle(2)
			if !has(soCal, "original") {
				t.Fatalf("diary = %s", titles(soCal))
			}
			ev.Title = "edited, unannounced"
			calCal.PutUnannounced(ev)
			h.clock.Advance(70 * time.Minute)
			h.run("jane", engine.RunOptions{})
			if has(soCal, "edited, unannounced") {
				t.Fatal("an incremental run saw the unannounced edit: the test proves nothing")
			}
			h.clock.Advance(2 * time.Hour)
			h.run("jane", engine.RunOptions{})
			if got := has(soCal, "edited, unannounced"); got != c.arrives {
				t.Fatalf("after 3h the edit arrived: %v, want %v (diary %s)", got, c.arrives, titles(soCal))
			}
		})
	}
}

// Forged notifications are refused and change nothing; push off for a profile
// removes its subscriptions.
func TestForgedNotificationsAndPushOff(t *testing.T) {
	h := newPushHarness(t, true, "", jane)
	h.run("jane", engine.RunOptions{})
	h.settle(2)
	sub := h.r.PushSubscriptions()[0]
	lists := h.quiesce() // the wakes of our own writes may still start a run
	for _, c := range []struct {
		path string
		sig  string
		want int
	}{
		{sub.Path, "", http.StatusForbidden},
		{sub.Path, memory.Sign("guessed", []byte(`{"subscription":"x"}`)), http.StatusForbidden},
		{"/notify/memory/unknown-token", "", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(http.MethodPost, h.notify.URL+c.path, strings.NewReader(`{"subscription":"x"}`))
		if c.sig != "" {
			req.Header.Set(memory.SignatureHeader, c.sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("POST %s answered %d, want %d", c.path, resp.StatusCode, c.want)
		}
	}
	// None of them started a run (which would read the calendar).
	if got := h.quiesce() - lists; got != 0 {
		t.Fatalf("%d calendar reads after forged notifications, want 0", got)
	}

	// Turning push off removes the subscriptions at once, before the link's
	// next run.
	h.apply(pushConfig(h.notify.URL, "  push = false\n", jane))
	waitFor(t, "the subscriptions removed", func() bool { return len(h.r.PushSubscriptions()) == 0 })
	waitFor(t, "the services' subscriptions removed", func() bool {
		return len(h.cal.Subscriptions()) == 0 && len(h.so.Subscriptions()) == 0
	})
}
