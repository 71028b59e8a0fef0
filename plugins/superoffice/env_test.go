package superoffice_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice"
	"synchronizer/plugins/superoffice/internal/swagger"
	"synchronizer/plugins/superoffice/sotest"
)

// spec is SuperOffice's official description of the WebAPI.
var spec *swagger.Spec

// validating checks every answer the provider receives against the official
// descriptions: a body that does not match them fails the test.
type validating struct {
	t    testing.TB
	base http.RoundTripper
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil || resp.Header.Get("X-Emulator-Fault") != "" {
		return resp, nil
	}
	if err := spec.ValidateResponse(req.Method, req.URL.Path, resp.StatusCode, body); err != nil {
		v.t.Errorf("response does not match the Swagger description: %v", err)
	}
	return resp, nil
}

// Keys are expensive to generate; the tests share one pair.
var testKeys struct {
	signing, partner *rsa.PrivateKey
}

func TestMain(m *testing.M) {
	var err error
	if spec, err = swagger.Load(); err != nil {
		panic(err)
	}
	if testKeys.signing, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if testKeys.partner, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// clock is a manual clock shared by emulator and provider.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one emulated tenant with a configured provider.
type env struct {
	t   testing.TB
	clk *clock
	so  *sotest.Server
	srv *httptest.Server
	p   *superoffice.Provider
	log *sdk.RequestLog
	// settings configured the provider's instance "acme".
	settings map[string]string
	user1    int
	user2    int
	room1    int
	// intercept, when set, sees every request first and answers it itself
	// when it returns true.
	intercept *atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
}

type envOpt func(*sotest.Options, map[string]string)

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	clk := &clock{t: time.Date(2025, 3, 20, 9, 0, 0, 0, time.UTC)}
	o := sotest.Options{ContextID: "Cust42", Now: clk.Now, SigningKey: testKeys.signing, PartnerKey: testKeys.partner,
		WebhookRetryDelays: []time.Duration{0, time.Millisecond, time.Millisecond}}
	settings := map[string]string{"context_id": "Cust42", "client_id": "synchronizer", "client_secret": "synchronizer-secret",
		"tenant_state_ttl": "10m"}
	for _, f := range opts {
		f(&o, settings)
	}
	so := sotest.New(o)
	var intercept atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := intercept.Load(); f != nil && (*f)(w, r) {
			return
		}
		so.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); so.Close() })
	e := &env{t: t, clk: clk, so: so, srv: srv, log: &sdk.RequestLog{}, settings: settings, intercept: &intercept}
	var err error
	if e.user1, err = so.AddUser(sotest.User{Login: "USER1", FullName: "User One", Email: "user1@so.test", Admin: true, Password: "pw1"}); err != nil {
		t.Fatal(err)
	}
	if e.user2, err = so.AddUser(sotest.User{Login: "USER2", FullName: "User Two", Email: "user2@so.test"}); err != nil {
		t.Fatal(err)
	}
	if e.room1, err = so.AddResource("ROOM1", true); err != nil {
		t.Fatal(err)
	}
	if o.Onsite {
		settings["base_url"] = srv.URL + "/SuperOffice"
	} else {
		settings["endpoint"] = srv.URL
	}
	if _, set := settings["partner_key"]; !set {
		settings["partner_key"] = string(so.PartnerKeyPEM())
	}
	e.p = superoffice.New(nil)
	e.p.SetClock(clk.Now)
	if _, bench := t.(*testing.B); !bench { // benchmarks measure the provider, not the checks
		e.p.SetTransport(&validating{t: t, base: http.DefaultTransport})
	}
	if err := e.p.Configure(context.Background(), "acme", settings); err != nil {
		t.Fatal(err)
	}
	return e
}

func withSettings(kv ...string) envOpt {
	return func(_ *sotest.Options, s map[string]string) {
		for i := 0; i+1 < len(kv); i += 2 {
			s[kv[i]] = kv[i+1]
		}
	}
}

func onsite() envOpt {
	return func(o *sotest.Options, s map[string]string) {
		o.Onsite = true
		delete(s, "context_id")
		s["username"], s["password"] = "USER1", "pw1"
	}
}

func (e *env) ctx() context.Context {
	return sdk.WithRecorder(context.Background(), e.log)
}

// target is a diary reached as the tenant's system user.
func (e *env) target(assoc int) sdk.Target {
	return sdk.Target{Instance: "acme", Account: strconv.Itoa(assoc),
		Credential: sdk.Credential{Type: "system_token", Token: e.so.SystemToken()}}
}

// admin is a diary reached with the emulator's admin bearer token.
func (e *env) admin(assoc int) sdk.Target {
	return sdk.Target{Instance: "acme", Account: strconv.Itoa(assoc),
		Credential: sdk.Credential{Type: "bearer", Token: e.so.AdminToken()}}
}

func (e *env) window() sdk.Window {
	now := e.clk.Now()
	return sdk.Window{Start: now.Add(-30 * 24 * time.Hour), End: now.Add(365 * 24 * time.Hour)}
}

// listAll runs one round to its end and returns events by id, removed ids and the
// final cursor.
func (e *env) listAll(tg sdk.Target, cursor string, pageSize int) (map[string]sdk.Event, []string, string, bool) {
	e.t.Helper()
	evs := map[string]sdk.Event{}
	var removed []string
	full := false
	for i := 0; ; i++ {
		if i > 10000 {
			e.t.Fatal("ListChanges does not end")
		}
		ch, err := e.p.ListChanges(e.ctx(), tg, sdk.ChangesRequest{Cursor: cursor, Window: e.window(), PageSize: pageSize})
		if err != nil {
			e.t.Fatalf("ListChanges: %v", err)
		}
		full = full || ch.Full
		for _, ev := range ch.Events {
			if _, dup := evs[ev.ID]; dup {
				e.t.Fatalf("event %s listed twice in one round", ev.ID)
			}
			evs[ev.ID] = ev
		}
		removed = append(removed, ch.Removed...)
		cursor = ch.Cursor
		if !ch.More {
			return evs, removed, cursor, full
		}
	}
}

// requests counts requests recorded since mark.
func (e *env) requests() int { return len(e.log.Records()) }

// raw performs a request against the tenant API as the admin.
func (e *env) raw(method, path string, body string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.so.APIURL(e.srv.URL)+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.so.AdminToken())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}
