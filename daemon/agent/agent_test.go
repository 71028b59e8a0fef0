package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"synchronizer/daemon/config"
	"synchronizer/daemon/state"
	"synchronizer/daemon/telemetry"
	"synchronizer/daemon/web"
)

var quiet = slog.New(slog.DiscardHandler)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// conf writes a configuration: tenant acme (resources on, userLicenses < 0 =
// not set) and one profile with the given links ("u:name" users, "r:name"
// resources, "d:name" disabled users).
func conf(userLicenses int, links ...string) string {
	s := "encryption { key_file = \"key\" }\nhttp { admin_address = \"127.0.0.1:0\" }\n" +
		"superoffice \"acme\" {\n context_id = \"C\"\n client_id = \"c\"\n client_secret = \"s\"\n resources = true\n"
	if userLicenses >= 0 {
		s += fmt.Sprintf(" user_licenses = %d\n", userLicenses)
	}
	s += "}\ncalendar \"m365\" \"m\" {\n tenant_id = \"t\"\n client_id = \"c\"\n client_secret = \"s\"\n}\n" +
		"profile \"p\" {\n superoffice = \"acme\"\n calendar = \"m\"\n"
	for _, l := range links {
		kind, name, _ := strings.Cut(l, ":")
		switch kind {
		case "u", "d":
			s += fmt.Sprintf(" user %q {\n  associate = %q\n  mailbox = \"%s@x\"\n  disabled = %v\n }\n", name, strings.ToUpper(name), name, kind == "d")
		case "r":
			s += fmt.Sprintf(" resource %q {\n  resource = %q\n  mailbox = \"%s@x\"\n }\n", name, name, name)
		}
	}
	return s + "}\n"
}

type harness struct {
	t       *testing.T
	path    string
	store   *state.Memory
	agent   *Agent
	notes   *notes
	cancel  context.CancelFunc
	reload  chan struct{}
	done    chan error
	metrics *telemetry.Metrics
}

type notes struct {
	mu   sync.Mutex
	list []string
}

func (n *notes) add(s string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	first, _, _ := strings.Cut(s, "\n")
	n.list = append(n.list, first)
	return nil
}

func (n *notes) get() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.list)
}

func newHarness(t *testing.T, cfg string) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "c.hcl"), store: state.NewMemory(func() time.Time { return t0 }),
		notes: &notes{}, metrics: telemetry.New()}
	h.write(cfg)
	a, err := New(Options{
		ConfigPath:    h.path,
		ConfigOptions: config.Options{Getenv: func(string) (string, bool) { return "", false }},
		Logger:        quiet,
		Metrics:       h.metrics,
		Now:           func() time.Time { return t0 },
		Notify:        h.notes.add,
		OpenStore:     func(*config.Config, *slog.Logger) (state.Store, error) { return h.store, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.agent = a
	return h
}

func (h *harness) write(cfg string) {
	if err := os.WriteFile(h.path, []byte(cfg), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.reload, h.done = cancel, make(chan struct{}), make(chan error, 1)
	go func() { h.done <- h.agent.Run(ctx, h.reload) }()
	h.waitFor(func() bool { return slices.Contains(h.notes.get(), "READY=1") }, "READY")
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		h.t.Fatal("Run did not return after cancel")
	}
}

func (h *harness) waitFor(cond func() bool, what string) {
	h.t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("timed out waiting for %s", what)
}

func (h *harness) status() web.Status {
	h.t.Helper()
	resp, err := http.Get("http://" + h.agent.AdminAddress() + "/v1/status")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st web.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		h.t.Fatal(err)
	}
	return st
}

func linkStates(st web.Status) string {
	var out []string
	for _, p := range st.Profiles {
		for _, l := range p.Links {
			out = append(out, l.Name+"="+l.State)
		}
	}
	return strings.Join(out, " ")
}

func TestServesStatusWithoutServices(t *testing.T) {
	t.Parallel()
	h := newHarness(t, conf(-1, "u:jane", "r:room", "d:bob"))
	h.start()
	st := h.status()
	if got := linkStates(st); got != "jane=unlicensed room=unlicensed bob=disabled" {
		t.Fatalf("states = %s", got)
	}
	jane := st.Profiles[0].Links[0]
	if !strings.Contains(jane.LastError, "licence count of tenant acme is not known yet") || !strings.Contains(jane.LastError, "no licence source") {
		t.Fatalf("reason = %q", jane.LastError)
	}
	if st.Tenants[0] != (web.TenantStatus{Name: "acme", Licenses: 0, LicensesUsed: 0}) {
		t.Fatalf("tenant = %+v", st.Tenants[0])
	}
	resp, err := http.Get("http://" + h.agent.AdminAddress() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`synchronizer_links{profile="p",state="unlicensed"} 2`,
		`synchronizer_links{profile="p",state="disabled"} 1`,
		`synchronizer_links{profile="p",state="active"} 0`,
		`synchronizer_licenses{tenant="acme"} 0`,
		`synchronizer_config_last_reload_successful 1`,
		`synchronizer_sync_runs_total{profile="p",result="ok"} 0`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if code := get(t, "http://"+h.agent.AdminAddress()+"/readyz"); code != 200 {
		t.Errorf("readyz = %d", code)
	}
}

func get(t *testing.T, url string) int {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestLinksKeepStoredStateAndActivationURL(t *testing.T) {
	t.Parallel()
	h := newHarness(t, conf(10, "u:jane", "u:bob"))
	ctx := context.Background()
	h.store.UpdateLink(ctx, state.LinkID{Profile: "p", Link: "jane"}, func(l *state.Link) error {
		l.State, l.LastSync, l.Items = state.Active, t0, 12
		l.ActivationURL = "https://stale/activate/x"
		return nil
	})
	h.store.UpdateLink(ctx, state.LinkID{Profile: "p", Link: "bob"}, func(l *state.Link) error {
		l.State, l.ActivationURL = state.NeedsConsent, "https://s/activate/y"
		l.LastError = "the refresh token was revoked"
		return nil
	})
	h.start()
	st := h.status()
	jane, bob := st.Profiles[0].Links[0], st.Profiles[0].Links[1]
	if jane.State != "active" || jane.Items != 12 || jane.LastSync == nil || !jane.LastSync.Equal(t0) || jane.ActivationURL != "" {
		t.Fatalf("jane = %+v", jane)
	}
	if bob.State != "needs_consent" || bob.ActivationURL != "https://s/activate/y" || bob.LastError != "the refresh token was revoked" {
		t.Fatalf("bob = %+v", bob)
	}
	if st.Tenants[0].Licenses != 15 || st.Tenants[0].LicensesUsed != 2 {
		t.Fatalf("tenant = %+v", st.Tenants[0])
	}
}

type fakeSource struct {
	mu  sync.Mutex
	n   int
	err error
}

func (f *fakeSource) UserLicenses(ctx context.Context, so *config.SuperOffice) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.err
}

func (f *fakeSource) set(n int, err error) {
	f.mu.Lock()
	f.n, f.err = n, err
	f.mu.Unlock()
}

type fakeRunner struct {
	mu      sync.Mutex
	applied [][]string
	closed  bool
}

func (r *fakeRunner) Apply(ctx context.Context, cfg *config.Config, allowed []state.LinkID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for _, id := range allowed {
		names = append(names, id.String())
	}
	r.applied = append(r.applied, names)
	return nil
}

func (r *fakeRunner) Close(context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}

func (r *fakeRunner) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.applied) == 0 {
		return "<none>"
	}
	return strings.Join(r.applied[len(r.applied)-1], " ")
}

func TestLicenceCountFromSourceDecidesInDeclarationOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, conf(-1, "u:a", "r:room", "u:b", "u:c", "u:d", "u:e", "u:f", "u:g"))
	src := &fakeSource{n: 2} // cap 2 + 5 = 7 of 8 links
	runner := &fakeRunner{}
	h.agent.SetLicenseSource(src)
	h.agent.SetRunner(runner)
	h.start()
	h.waitFor(func() bool { return runner.last() == "p/a p/room p/b p/c p/d p/e p/f" }, "runner to get the 7 licensed links")
	st := h.status()
	if got := linkStates(st); got != "a=pending_activation room=pending_activation b=pending_activation c=pending_activation d=pending_activation e=pending_activation f=pending_activation g=unlicensed" {
		t.Fatalf("states = %s", got)
	}
	if !strings.Contains(st.Profiles[0].Links[7].LastError, "over the licence cap of tenant acme: 7 licences (2 user licences + 5 for resources)") {
		t.Fatalf("reason = %q", st.Profiles[0].Links[7].LastError)
	}
	if tn, err := h.store.Tenant(context.Background(), "acme"); err != nil || tn.UserLicenses != 2 || !tn.CheckedAt.Equal(t0) {
		t.Fatalf("stored count = %+v %v", tn, err)
	}
	// The tenant lost a licence: the last declared link goes, nothing else.
	src.set(1, nil)
	if !h.agent.RefreshLicenses(context.Background()) {
		t.Fatal("no change noticed")
	}
	h.agent.apply(context.Background())
	if got := runner.last(); got != "p/a p/room p/b p/c p/d p/e" {
		t.Fatalf("after losing a licence: %s", got)
	}
	// The source fails: the last known count stays in force.
	src.set(0, errors.New("dial tcp 127.0.0.1:1: connection refused"))
	if h.agent.RefreshLicenses(context.Background()) {
		t.Fatal("a failed read changed the count")
	}
	h.agent.apply(context.Background())
	if got := runner.last(); got != "p/a p/room p/b p/c p/d p/e" {
		t.Fatalf("after a failed read: %s", got)
	}
	h.stop()
	if !runner.closed {
		t.Fatal("runner not closed at shutdown")
	}
}

func TestUnreachableSourceIsTheReason(t *testing.T) {
	t.Parallel()
	h := newHarness(t, conf(-1, "u:jane"))
	h.agent.SetLicenseSource(&fakeSource{err: errors.New("dial tcp 127.0.0.1:1: connection refused")})
	h.start()
	h.waitFor(func() bool {
		return strings.Contains(h.status().Profiles[0].Links[0].LastError, "connection refused")
	}, "the reason to name the failure")
}

func TestReload(t *testing.T) {
	t.Parallel()
	h := newHarness(t, conf(10, "u:jane"))
	runner := &fakeRunner{}
	h.agent.SetRunner(runner)
	h.start()
	addr := h.agent.AdminAddress()

	// A valid change is applied.
	h.write(strings.Replace(conf(10, "u:jane", "u:bob"), "127.0.0.1:0", "127.0.0.1:1", 1))
	h.reload <- struct{}{}
	h.waitFor(func() bool { return runner.last() == "p/jane p/bob" }, "the new link")
	if got := testutil.ToFloat64(h.metrics.ConfigReloadSuccessful); got != 1 {
		t.Fatalf("reload metric = %v", got)
	}
	if h.agent.Config().HTTP.AdminAddress != "127.0.0.1:0" || h.agent.AdminAddress() != addr {
		t.Fatal("admin_address changed without a restart")
	}
	if _, err := h.store.Link(context.Background(), state.LinkID{Profile: "p", Link: "bob"}); err != nil {
		t.Fatalf("new link not stored: %v", err)
	}

	// An invalid one is rejected and the old one keeps running.
	h.write(conf(10, "u:jane", "u:bob") + "profile \"q\" { superoffice = \"nope\" }\n")
	if err := h.agent.Reload(context.Background()); err == nil {
		t.Fatal("invalid configuration accepted")
	}
	if got := testutil.ToFloat64(h.metrics.ConfigReloadSuccessful); got != 0 {
		t.Fatalf("reload metric after a rejected reload = %v", got)
	}
	if got := linkStates(h.status()); got != "jane=pending_activation bob=pending_activation" {
		t.Fatalf("states after rejected reload = %s", got)
	}
	if h.agent.Config().Profile("q") != nil {
		t.Fatal("rejected configuration in force")
	}

	// Over the cap by user_licenses is a configuration error too.
	h.write(conf(0, "u:jane", "u:bob", "u:c", "u:d", "u:e", "u:f"))
	var cerr *ConfigError
	if err := h.agent.Reload(context.Background()); !errors.As(err, &cerr) || !strings.Contains(cerr.Error(), "Over the licence cap") {
		t.Fatalf("over-cap reload: %v", err)
	}

	h.stop()
	n := h.notes.get()
	want := []string{"READY=1", "RELOADING=1", "READY=1", "RELOADING=1", "READY=1", "RELOADING=1", "READY=1", "STOPPING=1"}
	if !slices.Equal(n, want) {
		t.Fatalf("notifications = %v\nwant %v", n, want)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.hcl")
	os.WriteFile(path, []byte("bogus = 1\n"), 0o600)
	m := telemetry.New()
	_, err := New(Options{ConfigPath: path, Logger: quiet, Metrics: m})
	var cerr *ConfigError
	if !errors.As(err, &cerr) || cerr.Result.Errors() != 2 {
		t.Fatalf("err = %v", err)
	}
	if testutil.ToFloat64(m.ConfigReloadSuccessful) != 0 {
		t.Fatal("metric says the config loaded")
	}
}

func TestOverrides(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.hcl")
	os.WriteFile(path, []byte(conf(5)), 0o600)
	cfg, res := LoadConfig(path, config.Options{}, Overrides{AdminAddress: "127.0.0.1:9999", ConsentAddress: "127.0.0.1:9998"})
	if cfg == nil || cfg.HTTP.AdminAddress != "127.0.0.1:9999" || cfg.HTTP.ConsentAddress != "127.0.0.1:9998" {
		t.Fatalf("overrides: %v %s", cfg, res.Error())
	}
	if cfg, res := LoadConfig(path, config.Options{}, Overrides{AdminAddress: "nope"}); cfg != nil || !strings.Contains(res.Error(), "-admin-address") {
		t.Fatalf("bad override accepted: %s", res.Error())
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	h1 := newHarness(t, conf(5))
	h1.start()
	cfg := strings.Replace(conf(5), "127.0.0.1:0", h1.agent.AdminAddress(), 1)
	h2 := newHarness(t, cfg)
	err := h2.agent.Run(context.Background(), nil)
	if !errors.Is(err, web.ErrAddressInUse) {
		t.Fatalf("err = %v", err)
	}
}

func TestBoltStoreErrorsReachTheCaller(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	base := "data_dir = \"data\"\nsuperoffice \"acme\" {\n context_id = \"C\"\n client_id = \"c\"\n client_secret = \"s\"\n}\n"
	cases := []struct {
		name, cfg, want string
	}{
		{"missing key", base + "encryption { key_file = \"nokey\" }\n", "does not exist"},
		{"short key", base + "encryption { key_file = \"short\" }\n", "holds 5 bytes"},
	}
	write("short", "12345")
	for _, c := range cases {
		_, err := New(Options{ConfigPath: write("c.hcl", c.cfg), Logger: quiet})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
	key := filepath.Join(dir, "key")
	if err := state.WriteKeyFile(key, nil); err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{ConfigPath: write("c.hcl", base+"encryption { key_file = \"key\" }\n"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	second := Options{ConfigPath: filepath.Join(dir, "c.hcl"), Logger: quiet, OpenStore: OpenBoltStore(nil, 100*time.Millisecond)}
	if _, err := New(second); !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), "another synchronizer is using") {
		t.Fatalf("second instance: %v", err)
	}
}

func TestConsentListener(t *testing.T) {
	t.Parallel()
	cfg := strings.Replace(conf(5, "u:jane"), "http { admin_address = \"127.0.0.1:0\" }", "http {\n admin_address = \"127.0.0.1:0\"\n consent_address = \"127.0.0.1:0\"\n}", 1)
	h := newHarness(t, cfg)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /activate/{token}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("activate " + r.PathValue("token"))) })
	h.agent.SetConsentHandler(mux)
	h.start()
	resp, err := http.Get("http://" + h.agent.ConsentAddress() + "/activate/abc")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "activate abc" {
		t.Fatalf("consent listener answered %q", b)
	}
	if h.agent.ConsentAddress() == h.agent.AdminAddress() {
		t.Fatal("one listener for both")
	}
	// A taken consent port stops the start with a clear error.
	h2 := newHarness(t, strings.Replace(cfg, "consent_address = \"127.0.0.1:0\"", "consent_address = \""+h.agent.ConsentAddress()+"\"", 1))
	h2.agent.SetConsentHandler(mux)
	if err := h2.agent.Run(context.Background(), nil); !errors.Is(err, web.ErrAddressInUse) || !strings.Contains(err.Error(), "consent_address") {
		t.Fatalf("err = %v", err)
	}
}
