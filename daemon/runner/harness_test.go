package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"synchronizer/daemon/agent"
	"synchronizer/daemon/config"
	"synchronizer/daemon/engine"
	"synchronizer/daemon/scheduler"
	"synchronizer/daemon/state"
	"synchronizer/daemon/telemetry"
	"synchronizer/plugins/memory"
	"synchronizer/plugins/sdk"
)

// stillClock is a scheduler clock whose timers never fire: runs happen only
// when a test asks for them.
type stillClock struct{ t time.Time }

func (c stillClock) Now() time.Time                         { return c.t }
func (c stillClock) NewTimer(time.Duration) scheduler.Timer { return stillTimer{} }

type stillTimer struct{}

func (stillTimer) C() <-chan time.Time { return nil }
func (stillTimer) Stop() bool          { return true }

// fakeCreds hands out credentials per calendar link and per tenant, with
// errors set by the test.
type fakeCreds struct {
	mu          sync.Mutex
	calErr      map[string]error // link name -> error
	soErr       error
	token       string // the token handed out
	stale       int    // this many calls hand out "stale" first
	invalidated int
	calls       int
}

func newFakeCreds() *fakeCreds { return &fakeCreds{calErr: map[string]error{}, token: "good"} }

func (f *fakeCreds) cred() sdk.Credential {
	f.calls++
	if f.stale > 0 {
		return sdk.Credential{Type: "bearer", Token: "stale"}
	}
	return sdk.Credential{Type: "bearer", Token: f.token}
}

func (f *fakeCreds) Calendar(_ context.Context, _ *config.Calendar, l *config.Link) (sdk.Credential, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.calErr[l.Name]; err != nil {
		return sdk.Credential{}, err
	}
	return f.cred(), nil
}

func (f *fakeCreds) SuperOffice(context.Context, *config.SuperOffice) (sdk.Credential, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.soErr != nil {
		return sdk.Credential{}, f.soErr
	}
	return f.cred(), nil
}

func (f *fakeCreds) Invalidate(_ context.Context, c sdk.Credential) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated++
	if c.Token == "stale" && f.stale > 0 {
		f.stale--
	}
}

func (f *fakeCreds) set(fn func(*fakeCreds)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// fakeActivations counts the activation links it issues.
type fakeActivations struct {
	mu           sync.Mutex
	ensure       map[string]int
	needsConsent map[string]int
}

func newFakeActivations() *fakeActivations {
	return &fakeActivations{ensure: map[string]int{}, needsConsent: map[string]int{}}
}

func (a *fakeActivations) Ensure(_ context.Context, p *config.Profile, l *config.Link) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ensure[l.Name]++
	return fmt.Sprintf("https://sync.example/activate/%s-%s-%d", p.Name, l.Name, a.ensure[l.Name]+a.needsConsent[l.Name]), nil
}

func (a *fakeActivations) NeedsConsent(_ context.Context, p *config.Profile, l *config.Link) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.needsConsent[l.Name]++
	return fmt.Sprintf("https://sync.example/activate/%s-%s-%d", p.Name, l.Name, a.ensure[l.Name]+a.needsConsent[l.Name]), nil
}

func (a *fakeActivations) counts(link string) (ensure, needs int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ensure[link], a.needsConsent[link]
}

// harness is a runner over two in-memory providers: so plays SuperOffice, cal
// the calendar system.
type harness struct {
	t       *testing.T
	dir     string
	so, cal *memory.Provider
	store   *state.Memory
	sync    *engine.MemStore
	creds   *fakeCreds
	acts    *fakeActivations
	metrics *telemetry.Metrics
	r       *Runner
	cfg     *config.Config
	allowed []state.LinkID
	// overlay marks links the agent would show unlicensed or disabled.
	overlay map[state.LinkID]state.LinkState
	srv     *httptest.Server
	plugErr map[string]error
	mu      sync.Mutex
}

// link is one user block of the test configuration.
type link struct{ name, associate, mailbox string }

func hcl(past, future string, links ...link) string {
	var b strings.Builder
	b.WriteString(`data_dir = "data"
encryption { key_file = "key" }
superoffice "acme" {
  context_id    = "Cust1"
  client_id     = "c"
  client_secret = "s"
  user_licenses = 10
}
calendar "memory" "mem" {
  client_id = "calclient"
}
profile "p" {
  superoffice = "acme"
  calendar    = "mem"
  interval    = "1h"
`)
	fmt.Fprintf(&b, "  past = %q\n  future = %q\n", past, future)
	for _, l := range links {
		fmt.Fprintf(&b, "  user %q {\n    associate = %q\n    mailbox = %q\n  }\n", l.name, l.associate, l.mailbox)
	}
	b.WriteString("}\n")
	return b.String()
}

func newHarness(t *testing.T, links ...link) *harness {
	t.Helper()
	h := buildHarness(t, stillClock{t: time.Now()}, nil)
	mux := http.NewServeMux()
	h.r.Routes(mux, h.views)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	h.apply(hcl("30d", "365d", links...))
	return h
}

// buildHarness builds the harness's runner, not yet configured: clock drives
// the scheduler, and now (nil: the wall clock) the state store, the runner and
// the engine. Cleanup closes the runner, then waits for the notifications the
// providers still have on the way.
func buildHarness(t *testing.T, clock scheduler.Clock, now func() time.Time) *harness {
	t.Helper()
	h := &harness{
		t: t, dir: t.TempDir(), so: memory.New(), cal: memory.New(),
		store: state.NewMemory(now), sync: engine.NewMemStore(),
		creds: newFakeCreds(), acts: newFakeActivations(), metrics: telemetry.New(),
		overlay: map[state.LinkID]state.LinkState{}, plugErr: map[string]error{},
	}
	r, err := New(Options{
		Plugins: func(name string) (sdk.Provider, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			if err := h.plugErr[name]; err != nil {
				return nil, err
			}
			switch name {
			case config.ProviderSuperOffice:
				return h.so, nil
			case memory.Name:
				return h.cal, nil
			}
			return nil, fmt.Errorf("no plugin %s", name)
		},
		Store: h.store, SyncStore: h.sync, Credentials: h.creds, Activations: h.acts,
		Metrics: h.metrics, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: now, Clock: clock, Rand: rand.New(rand.NewPCG(1, 2)),
		ConfigureWait: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		h.so.WaitNotifications()
		h.cal.WaitNotifications()
	})
	return h
}

// apply loads a configuration and hands it to the runner with every link
// allowed unless the overlay says otherwise.
func (h *harness) apply(text string) {
	h.t.Helper()
	path := filepath.Join(h.dir, "c.hcl")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		h.t.Fatal(err)
	}
	cfg, res := config.Load(path, config.Options{Builtins: []string{config.ProviderSuperOffice, memory.Name}})
	if cfg == nil {
		h.t.Fatalf("config: %s", res.Error())
	}
	var allowed []state.LinkID
	for _, l := range cfg.Links() {
		id := state.LinkID{Profile: l.Profile, Link: l.Name}
		if h.overlay[id] == "" {
			allowed = append(allowed, id)
		}
	}
	h.cfg, h.allowed = cfg, allowed
	if err := h.r.Apply(context.Background(), cfg, allowed); err != nil {
		h.t.Fatalf("apply: %v", err)
	}
}

// views plays the agent's Links.
func (h *harness) views(ctx context.Context) ([]agent.LinkView, error) {
	var out []agent.LinkView
	for _, l := range h.cfg.Links() {
		id := state.LinkID{Profile: l.Profile, Link: l.Name}
		st, _ := h.store.Link(ctx, id)
		v := agent.LinkView{Config: l, Stored: st, State: st.State, Reason: st.LastError}
		if v.State == "" {
			v.State = state.PendingActivation
		}
		if o := h.overlay[id]; o != "" {
			v.State, v.Reason = o, "over the cap"
		}
		out = append(out, v)
	}
	return out, nil
}

// run runs one link now and returns its result.
func (h *harness) run(name string, opts engine.RunOptions) (engine.Result, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs, err := h.r.RunNow(ctx, "p", name, opts)
	if err != nil {
		h.t.Fatalf("run %s: %v", name, err)
	}
	return rs[0].Result, rs[0].Err
}

func (h *harness) row(name string) state.Link {
	h.t.Helper()
	l, err := h.store.Link(context.Background(), state.LinkID{Profile: "p", Link: name})
	if err != nil {
		h.t.Fatalf("row %s: %v", name, err)
	}
	return l
}

// seed puts n single appointments in a calendar, starting tomorrow.
func seed(c *memory.Calendar, n int, prefix string) {
	base := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)
	for i := range n {
		start := base.Add(time.Duration(i) * time.Hour)
		c.Put(sdk.Event{Title: fmt.Sprintf("%s %d", prefix, i), Start: start, End: start.Add(30 * time.Minute), TimeZone: "Europe/Oslo"})
	}
}
