// Package push holds the end-to-end tests of push notifications: the link
// runner, the push manager and the notification route in-process, the three
// real providers, and the three emulators delivering real notifications (Graph
// subscriptions with the validation handshake, Google watch channels,
// SuperOffice webhooks with signatures) over loopback HTTP.
package push

import (
	"context"
	"encoding/json"
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

	"synchronizer/daemon/config"
	"synchronizer/daemon/engine"
	"synchronizer/daemon/runner"
	"synchronizer/daemon/scheduler/schedulertest"
	"synchronizer/daemon/state"
	"synchronizer/daemon/web"
	"synchronizer/plugins/google"
	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/m365"
	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice"
	"synchronizer/plugins/superoffice/sotest"
)

// creds hands every call the emulators' admin tokens.
type creds struct{ so, m365, google string }

func (c creds) Calendar(_ context.Context, cal *config.Calendar, _ *config.Link) (sdk.Credential, error) {
	if cal.Provider == config.ProviderGoogle {
		return sdk.Credential{Type: "bearer", Token: c.google}, nil
	}
	return sdk.Credential{Type: "bearer", Token: c.m365}, nil
}

func (c creds) SuperOffice(context.Context, *config.SuperOffice) (sdk.Credential, error) {
	return sdk.Credential{Type: "bearer", Token: c.so}, nil
}

func (creds) Invalidate(context.Context, sdk.Credential) {}

// world is one daemon's worth of sync, in-process, against the emulators:
// profile pm links USER1 with user1@m365.test, profile pg links USER2 with
// user2@google.test.
type world struct {
	t      *testing.T
	clock  *schedulertest.Clock
	so     *sotest.Server
	graph  *graphtest.Server
	gcal   *gcaltest.Server
	soURL  string
	grURL  string
	gcURL  string
	notify *httptest.Server
	r      *runner.Runner
	cfg    *config.Config
	ids    []state.LinkID
	check  map[string]sdk.Provider // providers for looking at the services
	user   map[string]int          // SuperOffice associate ids
}

var (
	linkM365   = state.LinkID{Profile: "pm", Link: "user1"}
	linkGoogle = state.LinkID{Profile: "pg", Link: "user2"}
)

func serve(t *testing.T, h http.Handler) string {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

func newWorld(t *testing.T) *world {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	w := &world{t: t, clock: schedulertest.NewClock(time.Now().UTC().Truncate(time.Second)), check: map[string]sdk.Provider{}, user: map[string]int{}}
	w.so = sotest.New(sotest.Options{Logger: log, WebhookRetryDelays: []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond}})
	w.graph = graphtest.New(graphtest.Options{Logger: log, NotificationRetry: 20 * time.Millisecond})
	w.gcal = gcaltest.New(gcaltest.Options{Logger: log})
	t.Cleanup(func() { w.so.Close(); w.graph.Close(); w.gcal.Close() })
	w.soURL, w.grURL, w.gcURL = serve(t, w.so), serve(t, w.graph), serve(t, w.gcal)
	for i := 1; i <= 2; i++ {
		id, err := w.so.AddUser(sotest.User{Login: fmt.Sprintf("USER%d", i), FullName: fmt.Sprintf("User %d", i), Email: fmt.Sprintf("user%d@superoffice.test", i)})
		if err != nil {
			t.Fatal(err)
		}
		w.user[fmt.Sprintf("USER%d", i)] = id
		if _, err := w.graph.AddUser(graphtest.User{UserPrincipalName: fmt.Sprintf("user%d@m365.test", i), DisplayName: fmt.Sprintf("User %d", i)}); err != nil {
			t.Fatal(err)
		}
		if err := w.gcal.AddUser(gcaltest.User{Email: gcaltest.UserEmail(i), Name: fmt.Sprintf("User %d", i)}); err != nil {
			t.Fatal(err)
		}
	}

	// The consent listener's stand-in: the notification route in front of a
	// consent handler that knows nothing.
	var mu sync.Mutex
	var handler http.Handler
	w.notify = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		mu.Lock()
		h := handler
		mu.Unlock()
		if h == nil {
			http.Error(rw, "starting", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(rw, req)
	}))
	t.Cleanup(w.notify.Close)

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "partner.pem")
	if err := os.WriteFile(keyFile, w.so.PartnerKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	ms := w.graph.Settings(w.grURL, false)
	text := fmt.Sprintf(`data_dir = %q
http {
  consent_address = "127.0.0.1:0"
  public_url      = %q
}
encryption { key_file = %q }
superoffice "emu" {
  context_id       = %q
  client_id        = %q
  client_secret    = %q
  partner_key_file = %q
  endpoint         = %q
  user_licenses    = 10
}
calendar "m365" "emu365" {
  tenant_id     = %q
  client_id     = %q
  client_secret = %q
  endpoint      = %q
}
calendar "google" "emugw" {
  client_id     = "cid"
  client_secret = "secret"
  endpoint      = %q
}
profile "pm" {
  superoffice = "emu"
  calendar    = "emu365"
  interval    = "1h"
  user "user1" {
    associate = "USER1"
    mailbox   = "user1@m365.test"
  }
}
profile "pg" {
  superoffice = "emu"
  calendar    = "emugw"
  interval    = "1h"
  user "user2" {
    associate = "USER2"
    mailbox   = %q
  }
}
`, filepath.Join(dir, "data"), w.notify.URL, filepath.Join(dir, "key"), w.so.ContextID(), w.so.ClientID(), w.so.ClientSecret(),
		keyFile, w.soURL, ms["tenant_id"], ms["client_id"], ms["client_secret"], w.grURL, w.gcURL, gcaltest.UserEmail(2))
	path := filepath.Join(dir, "c.hcl")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, res := config.Load(path, config.Options{})
	if cfg == nil {
		t.Fatal(res.Error())
	}
	w.cfg = cfg

	var pmu sync.Mutex
	providers := map[string]sdk.Provider{}
	plugins := func(name string) (sdk.Provider, error) {
		pmu.Lock()
		defer pmu.Unlock()
		if p, ok := providers[name]; ok {
			return p, nil
		}
		p, err := newProvider(name, log)
		if err != nil {
			return nil, err
		}
		providers[name] = p
		return p, nil
	}
	r, err := runner.New(runner.Options{
		Plugins: plugins, Store: state.NewMemory(w.clock.Now), SyncStore: engine.NewMemStore(),
		Credentials: creds{so: w.so.AdminToken(), m365: w.graph.AdminToken(), google: w.gcal.AdminToken()},
		Logger:      log, Clock: w.clock, Rand: rand.New(rand.NewPCG(3, 4)),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.r = r
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	mu.Lock()
	handler = web.WithNotify(http.NotFoundHandler(), r.NotifyHandler())
	mu.Unlock()
	for _, l := range cfg.Links() {
		w.ids = append(w.ids, state.LinkID{Profile: l.Profile, Link: l.Name})
	}
	if err := r.Apply(context.Background(), cfg, w.ids); err != nil {
		t.Fatal(err)
	}
	// Providers of our own to look at the services, configured alike.
	for _, name := range []string{"emu", "emu365", "emugw"} {
		prov, settings, _ := cfg.PluginSettings(name)
		p, err := newProvider(prov, log)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Configure(context.Background(), name, settings); err != nil {
			t.Fatal(err)
		}
		w.check[name] = p
	}
	return w
}

func newProvider(name string, log *slog.Logger) (sdk.Provider, error) {
	switch name {
	case config.ProviderSuperOffice:
		return superoffice.New(log), nil
	case config.ProviderM365:
		return m365.New(log), nil
	case config.ProviderGoogle:
		return google.New(log), nil
	}
	return nil, fmt.Errorf("no provider %s", name)
}

// run runs a link now and fails the test on an error.
func (w *world) run(id state.LinkID) engine.Result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs, err := w.r.RunNow(ctx, id.Profile, id.Link, engine.RunOptions{})
	if err != nil {
		w.t.Fatalf("%s: %v", id, err)
	}
	if rs[0].Err != nil {
		w.t.Fatalf("%s: %v", id, rs[0].Err)
	}
	return rs[0].Result
}

// start runs both links once and waits for their subscriptions: one Graph
// subscription, one Google channel, one SuperOffice webhook for the tenant.
func (w *world) start() {
	w.t.Helper()
	for _, id := range w.ids {
		w.run(id)
	}
	waitFor(w.t, "three push subscriptions", func() bool { return len(w.r.PushSubscriptions()) == 3 })
	// A run asked now queues behind the ones the new subscriptions asked for.
	for _, id := range w.ids {
		w.run(id)
	}
}

// waitFor waits, in bounded rounds, for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 400 {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// has reads a calendar or diary in full and reports whether an item has title.
func (w *world) has(block, account, title string) bool {
	w.t.Helper()
	tok := map[string]string{"emu": w.so.AdminToken(), "emu365": w.graph.AdminToken(), "emugw": w.gcal.AdminToken()}[block]
	tg := sdk.Target{Instance: block, Account: account, Credential: sdk.Credential{Type: "bearer", Token: tok}}
	now := time.Now()
	win := sdk.Window{Start: now.AddDate(0, 0, -30), End: now.AddDate(1, 0, 0)}
	cursor := ""
	for range 1000 {
		ch, err := w.check[block].ListChanges(context.Background(), tg, sdk.ChangesRequest{Cursor: cursor, Window: win})
		if err != nil {
			w.t.Fatalf("read %s of %s: %v", account, block, err)
		}
		for _, ev := range ch.Events {
			if ev.Title == title {
				return true
			}
		}
		if !ch.More {
			return false
		}
		cursor = ch.Cursor
	}
	w.t.Fatal("endless read")
	return false
}

func (w *world) soAccount(login string) string { return fmt.Sprint(w.user[login]) }

// tomorrow is a start time inside the window, at a given hour.
func tomorrow(hour int) time.Time {
	return time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1).Add(time.Duration(hour) * time.Hour)
}

// post sends JSON to a service as someone (bearer token) and wants a 2xx.
func (w *world) post(url, token string, body any) {
	w.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		w.t.Fatalf("POST %s: %d %s", url, resp.StatusCode, msg)
	}
}

// Changes as people make them, in each service's own API.

func (w *world) outlookCreate(title string, hour int) {
	s := tomorrow(hour)
	w.post(w.grURL+"/v1.0/users/user1@m365.test/events", w.graph.AdminToken(), map[string]any{
		"subject": title,
		"start":   map[string]string{"dateTime": s.Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
		"end":     map[string]string{"dateTime": s.Add(time.Hour).Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
	})
}

func (w *world) googleCreate(title string, hour int) {
	s := tomorrow(hour)
	w.post(w.gcURL+"/calendar/v3/calendars/"+gcaltest.UserEmail(2)+"/events", w.gcal.AdminToken(), map[string]any{
		"summary": title,
		"start":   map[string]string{"dateTime": s.Format(time.RFC3339)},
		"end":     map[string]string{"dateTime": s.Add(time.Hour).Format(time.RFC3339)},
	})
}

// diaryCreate adds an appointment to a user's diary as that user (not as the
// system user the daemon acts as, whose changes are its own echoes).
func (w *world) diaryCreate(login, title string, hour int) {
	w.t.Helper()
	tok, err := w.so.TokenFor(login)
	if err != nil {
		w.t.Fatal(err)
	}
	s := tomorrow(hour)
	w.post(w.so.APIURL(w.soURL)+"/v1/Appointment", tok, map[string]any{
		"Associate": map[string]int{"AssociateId": w.user[login]}, "Title": title,
		"StartDate": s.Format(time.RFC3339), "EndDate": s.Add(time.Hour).Format(time.RFC3339),
	})
}
