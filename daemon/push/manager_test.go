package push

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"synchronizer/daemon/scheduler/schedulertest"
	"synchronizer/daemon/state"
	"synchronizer/plugins/memory"
	"synchronizer/plugins/sdk"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// eventually waits (a bounded number of short rounds) for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// wakes records Wake calls.
type wakes struct {
	mu  sync.Mutex
	got map[state.LinkID]int
}

func (w *wakes) wake(id state.LinkID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.got == nil {
		w.got = map[state.LinkID]int{}
	}
	w.got[id]++
}

func (w *wakes) count(id state.LinkID) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got[id]
}

// world is a manager over the memory provider, serving on loopback.
type world struct {
	t     *testing.T
	clock *schedulertest.Clock
	mem   *memory.Provider
	store *state.Memory
	wakes *wakes
	srv   *httptest.Server
	m     *Manager
	stop  context.CancelFunc
	done  chan struct{}
	extra map[string]sdk.Pusher
}

func newWorld(t *testing.T, store *state.Memory, mem *memory.Provider) *world {
	t.Helper()
	clock := schedulertest.NewClock(t0)
	if mem == nil {
		mem = memory.New()
	}
	mem.SetClock(clock.Now)
	if store == nil {
		store = state.NewMemory(clock.Now)
	}
	w := &world{t: t, clock: clock, mem: mem, store: store, wakes: &wakes{}, extra: map[string]sdk.Pusher{}}
	m, err := New(Options{
		Store: store,
		Pushers: func(name string) (sdk.Pusher, error) {
			if p, ok := w.extra[name]; ok {
				return p, nil
			}
			if name != "memory" {
				return nil, errors.New("no plugin " + name)
			}
			return mem, nil
		},
		Wake:   w.wakes.wake,
		Clock:  clock,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.m = m
	w.srv = httptest.NewServer(m.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	w.stop, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		_ = m.Run(ctx)
	}()
	t.Cleanup(w.close)
	return w
}

func (w *world) close() {
	w.stop()
	<-w.done
	w.srv.Close()
	w.mem.WaitNotifications()
}

func memSource(account string) Source {
	return Source{Provider: "memory", Instance: "i", Account: account,
		Target: func(context.Context) (sdk.Target, error) { return sdk.Target{Instance: "i", Account: account}, nil }}
}

var jane = state.LinkID{Profile: "p", Link: "jane"}

func (w *world) subs() []Subscription { return w.m.Subscriptions() }

func (w *world) waitSub(what string, ok func([]Subscription) bool) []Subscription {
	w.t.Helper()
	var got []Subscription
	eventually(w.t, what, func() bool {
		got = w.subs()
		return ok(got)
	})
	return got
}

func (w *world) post(path, body string, header map[string]string) (int, string) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

func TestSubscribeNotifyRenewRemove(t *testing.T) {
	w := newWorld(t, nil, nil)
	w.m.SetBaseURL(w.srv.URL)
	w.m.Retain([]state.LinkID{jane})
	w.m.Bind(jane, []Source{memSource("jane")})

	subs := w.waitSub("a subscription", func(s []Subscription) bool { return len(s) == 1 })
	first := subs[0]
	if first.Account != "jane" || len(first.Links) != 1 || first.Links[0] != jane {
		t.Fatalf("subscription = %+v", first)
	}
	if got := w.mem.Subscriptions(); len(got) != 1 || got[0] != first.ID {
		t.Fatalf("the service holds %v, the manager %s", got, first.ID)
	}
	// A new subscription wakes its link once: changes before it are read.
	eventually(t, "the wake of a new subscription", func() bool { return w.wakes.count(jane) == 1 })
	stored, _ := w.store.PushSubscriptions(context.Background())
	if len(stored) != 1 || stored[0].Secret == "" || stored[0].ID != first.ID || !strings.HasSuffix(stored[0].URL, first.Path) {
		t.Fatalf("stored = %+v", stored)
	}

	// A change at the service wakes the link through the notification route.
	w.mem.Calendar("i", "jane").Put(sdk.Event{Title: "x", Start: t0, End: t0.Add(time.Hour)})
	eventually(t, "a wake by notification", func() bool { return w.wakes.count(jane) == 2 })
	// Another calendar's change wakes nobody.
	w.mem.Calendar("i", "bob").Put(sdk.Event{Title: "y", Start: t0, End: t0.Add(time.Hour)})
	w.mem.WaitNotifications()

	// Renewal at two thirds of the life keeps the subscription, later.
	w.clock.Advance(17 * time.Hour) // memory caps the life at 24h
	subs = w.waitSub("a renewal", func(s []Subscription) bool { return len(s) == 1 && s[0].Expires.After(first.Expires) })
	if subs[0].ID != first.ID || subs[0].Path != first.Path {
		t.Fatalf("renewal changed the subscription: %+v -> %+v", first, subs[0])
	}

	// The service drops it: a lifecycle notification makes a new one at a new URL.
	if err := w.mem.Lifecycle(first.ID, sdk.LifecycleRecreate); err != nil {
		t.Fatal(err)
	}
	subs = w.waitSub("a recreated subscription", func(s []Subscription) bool { return len(s) == 1 && s[0].ID != first.ID })
	if subs[0].Path == first.Path {
		t.Error("the recreated subscription kept the old URL")
	}
	eventually(t, "the wake of the recreated subscription", func() bool { return w.wakes.count(jane) == 3 })
	eventually(t, "the old record gone", func() bool {
		s, _ := w.store.PushSubscriptions(context.Background())
		return len(s) == 1 && s[0].ID == subs[0].ID
	})
	// The old URL is dead now.
	if code, _ := w.post(first.Path, "{}", nil); code != http.StatusNotFound {
		t.Errorf("POST to the old URL = %d, want 404", code)
	}

	// The link leaves the configuration: the subscription is removed everywhere.
	w.m.Retain(nil)
	w.waitSub("no subscription", func(s []Subscription) bool { return len(s) == 0 })
	eventually(t, "the service's subscription removed", func() bool { return len(w.mem.Subscriptions()) == 0 })
	eventually(t, "the store emptied", func() bool {
		s, _ := w.store.PushSubscriptions(context.Background())
		return len(s) == 0
	})
}

func TestForgedAndMalformedNotificationsWakeNothing(t *testing.T) {
	w := newWorld(t, nil, nil)
	w.m.SetBaseURL(w.srv.URL)
	w.m.Retain([]state.LinkID{jane})
	w.m.Bind(jane, []Source{memSource("jane")})
	sub := w.waitSub("a subscription", func(s []Subscription) bool { return len(s) == 1 })[0]
	eventually(t, "the creation wake", func() bool { return w.wakes.count(jane) == 1 })

	body := `{"subscription":"` + sub.ID + `","account":"jane"}`
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		header map[string]string
		want   int
	}{
		{"no signature", http.MethodPost, sub.Path, body, nil, http.StatusForbidden},
		{"wrong secret", http.MethodPost, sub.Path, body, map[string]string{memory.SignatureHeader: memory.Sign("guess", []byte(body))}, http.StatusForbidden},
		{"unknown token", http.MethodPost, "/notify/memory/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", body, nil, http.StatusNotFound},
		{"other provider's path", http.MethodPost, strings.Replace(sub.Path, "/memory/", "/m365/", 1), body, nil, http.StatusNotFound},
		{"no token", http.MethodPost, "/notify/memory/", body, nil, http.StatusNotFound},
		{"deeper path", http.MethodPost, sub.Path + "/x", body, nil, http.StatusNotFound},
		{"GET", http.MethodGet, sub.Path, "", nil, http.StatusMethodNotAllowed},
		{"too large", http.MethodPost, sub.Path, strings.Repeat("x", 2<<20), nil, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, w.srv.URL+c.path, strings.NewReader(c.body))
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
	if n := w.wakes.count(jane); n != 1 {
		t.Fatalf("refused notifications woke the link (%d wakes)", n)
	}
	// The genuine one still works.
	code, _ := w.post(sub.Path, body, map[string]string{memory.SignatureHeader: memory.Sign(w.secretOf(t, sub), []byte(body))})
	if code != http.StatusAccepted || w.wakes.count(jane) != 2 {
		t.Fatalf("genuine notification: %d, %d wakes", code, w.wakes.count(jane))
	}
}

func (w *world) secretOf(t *testing.T, sub Subscription) string {
	stored, err := w.store.PushSubscriptions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stored {
		if s.ID == sub.ID {
			return s.Secret
		}
	}
	t.Fatalf("no stored record of %s", sub.ID)
	return ""
}

func TestNoPublicURLNoPush(t *testing.T) {
	w := newWorld(t, nil, nil)
	w.m.SetBaseURL(w.srv.URL)
	w.m.Retain([]state.LinkID{jane})
	w.m.Bind(jane, []Source{memSource("jane")})
	w.waitSub("a subscription", func(s []Subscription) bool { return len(s) == 1 })
	w.m.SetBaseURL("")
	w.waitSub("no subscription", func(s []Subscription) bool { return len(s) == 0 })
	eventually(t, "the service's subscription removed", func() bool { return len(w.mem.Subscriptions()) == 0 })
	w.m.Bind(jane, []Source{memSource("jane")})
	w.mem.WaitNotifications()
	if n := len(w.subs()); n != 0 {
		t.Fatalf("%d subscriptions without a public URL", n)
	}
}

func TestRestartKeepsSubscriptionsAndRoutes(t *testing.T) {
	store := state.NewMemory(func() time.Time { return t0 })
	mem := memory.New()
	w := newWorld(t, store, mem)
	w.m.SetBaseURL(w.srv.URL)
	w.m.Retain([]state.LinkID{jane})
	w.m.Bind(jane, []Source{memSource("jane")})
	sub := w.waitSub("a subscription", func(s []Subscription) bool { return len(s) == 1 })[0]
	w.close()

	// A new process on the same store and URL: no new subscription, and a
	// notification wakes the stored link before any run bound it.
	w2 := newWorld(t, store, mem)
	w2.srv.Close()
	w2.srv = httptest.NewUnstartedServer(w2.m.Handler())
	w2.srv.Listener.Close()
	w2.srv.Listener = listenOn(t, w.srv.Listener.Addr().String())
	w2.srv.Start()
	w2.m.SetBaseURL(w.srv.URL)
	w2.m.Retain([]state.LinkID{jane})
	eventually(t, "the stored subscription loaded", func() bool {
		w2.m.mu.Lock()
		defer w2.m.mu.Unlock()
		return w2.m.loaded
	})
	mem.Calendar("i", "jane").Put(sdk.Event{Title: "after restart", Start: t0, End: t0.Add(time.Hour)})
	eventually(t, "a wake after the restart", func() bool { return w2.wakes.count(jane) == 1 })
	w2.m.Bind(jane, []Source{memSource("jane")})
	mem.WaitNotifications()
	if got := mem.Subscriptions(); len(got) != 1 || got[0] != sub.ID {
		t.Fatalf("after a restart the service holds %v, want only %s", got, sub.ID)
	}
}

// instancePusher is an instance-wide pusher: one subscription per instance; a
// notification's body names the accounts that changed.
type instancePusher struct {
	mu      sync.Mutex
	watches int
	targets []sdk.Target
}

func (p *instancePusher) Watch(_ context.Context, t sdk.Target, req sdk.WatchRequest) (sdk.Subscription, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.watches++
	p.targets = append(p.targets, t)
	return sdk.Subscription{ID: "hook"}, nil
}
func (p *instancePusher) Unwatch(context.Context, sdk.Target, sdk.Subscription) error { return nil }
func (p *instancePusher) Notification(_ context.Context, _ string, req sdk.NotificationRequest) (sdk.NotificationResult, error) {
	if string(req.Body) == "all" {
		return sdk.NotificationResult{Wake: true}, nil
	}
	return sdk.NotificationResult{Wake: true, Accounts: strings.Split(string(req.Body), ",")}, nil
}

func TestInstanceWideSubscriptionWakesTheChangedAccounts(t *testing.T) {
	w := newWorld(t, nil, nil)
	ip := &instancePusher{}
	w.extra["crm"] = ip
	w.m.SetBaseURL(w.srv.URL)
	bob := state.LinkID{Profile: "p", Link: "bob"}
	other := state.LinkID{Profile: "q", Link: "jane"}
	w.m.Retain([]state.LinkID{jane, bob, other})
	src := func(account string) Source {
		return Source{Provider: "crm", Instance: "t", Scope: sdk.PushScopeInstance, Account: account,
			Target: func(context.Context) (sdk.Target, error) { return sdk.Target{Instance: "t", Account: account}, nil }}
	}
	w.m.Bind(jane, []Source{src("5")})
	w.m.Bind(bob, []Source{src("6")})
	w.m.Bind(other, []Source{src("5")})
	sub := w.waitSub("one subscription for the instance", func(s []Subscription) bool { return len(s) == 1 && len(s[0].Links) == 3 })[0]
	ip.mu.Lock()
	if ip.watches != 1 || ip.targets[0].Account != "" {
		t.Errorf("instance-wide watches: %d, target %+v", ip.watches, ip.targets)
	}
	ip.mu.Unlock()
	eventually(t, "creation wakes", func() bool { return w.wakes.count(jane) == 1 && w.wakes.count(bob) == 1 && w.wakes.count(other) == 1 })

	if code, _ := w.post(sub.Path, "5", nil); code != http.StatusAccepted {
		t.Fatalf("notification answered %d", code)
	}
	if w.wakes.count(jane) != 2 || w.wakes.count(other) != 2 || w.wakes.count(bob) != 1 {
		t.Fatalf("wakes after a change of account 5: jane %d, other %d, bob %d", w.wakes.count(jane), w.wakes.count(other), w.wakes.count(bob))
	}
	w.post(sub.Path, "all", nil)
	if w.wakes.count(bob) != 2 {
		t.Fatal("a notification without accounts did not wake every link")
	}
}

func TestUnsupportedProviderIsPolledOnly(t *testing.T) {
	w := newWorld(t, nil, nil)
	w.extra["plain"] = unsupported{}
	w.m.SetBaseURL(w.srv.URL)
	w.m.Retain([]state.LinkID{jane})
	src := Source{Provider: "plain", Instance: "x", Account: "a", Target: func(context.Context) (sdk.Target, error) { return sdk.Target{}, nil }}
	w.m.Bind(jane, []Source{src})
	eventually(t, "the provider marked as without push", func() bool {
		w.m.mu.Lock()
		defer w.m.mu.Unlock()
		return w.m.noPush["plain"]
	})
	w.clock.Advance(2 * time.Hour)
	w.m.Bind(jane, []Source{src})
	if n := len(w.subs()); n != 0 || w.wakes.count(jane) != 0 {
		t.Fatalf("subscriptions %d, wakes %d for a provider without push", n, w.wakes.count(jane))
	}
}

type unsupported struct{}

func (unsupported) Watch(context.Context, sdk.Target, sdk.WatchRequest) (sdk.Subscription, error) {
	return sdk.Subscription{}, sdk.ErrUnsupported
}
func (unsupported) Unwatch(context.Context, sdk.Target, sdk.Subscription) error {
	return sdk.ErrUnsupported
}
func (unsupported) Notification(context.Context, string, sdk.NotificationRequest) (sdk.NotificationResult, error) {
	return sdk.NotificationResult{}, sdk.ErrUnsupported
}

func TestFailedWatchBacksOff(t *testing.T) {
	w := newWorld(t, nil, nil)
	w.m.SetBaseURL(w.srv.URL)
	w.m.Retain([]state.LinkID{jane})
	var mu sync.Mutex
	fail := true
	calls := 0
	w.mem.SetHook(func(_ context.Context, op string, _ sdk.Target, phase string) error {
		if op != "Watch" || phase != "before" {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		calls++
		if fail {
			return errors.New("service down")
		}
		return nil
	})
	w.m.Bind(jane, []Source{memSource("jane")})
	eventually(t, "a first attempt", func() bool { mu.Lock(); defer mu.Unlock(); return calls == 1 })
	// No retry before the backoff ends.
	w.m.Bind(jane, nil)
	w.m.Bind(jane, []Source{memSource("jane")})
	w.clock.Advance(30 * time.Second)
	mu.Lock()
	if calls != 1 {
		t.Fatalf("retried %d times within the backoff", calls-1)
	}
	fail = false
	mu.Unlock()
	w.clock.Advance(31 * time.Second)
	w.waitSub("a subscription after the retry", func(s []Subscription) bool { return len(s) == 1 })
}

func listenOn(t *testing.T, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("listen on %s again: %v", addr, err)
	return nil
}
