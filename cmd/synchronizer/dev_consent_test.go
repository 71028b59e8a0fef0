package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"synchronizer/cmd/synchronizer/internal/emulators"
	"synchronizer/plugins/google"
	"synchronizer/plugins/m365"
	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice"
)

// fakeConsent is a stand-in consent listener for the driver's test: /go starts the
// provider's authorization code flow as the provider's OAuth spec says (PKCE,
// state) and /oauth/callback exchanges the code at the emulator's token endpoint.
type fakeConsent struct {
	providers map[string]sdk.Provider
	mu        sync.Mutex
	pending   map[string]pendingFlow // by state
	exchanged []string               // services whose code was exchanged
	srv       *httptest.Server
}

type pendingFlow struct {
	svc      string
	cfg      oauth2.Config
	verifier string
}

func (f *fakeConsent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	switch r.URL.Path {
	case "/go":
		svc := r.URL.Query().Get("svc")
		spec, err := f.providers[svc].OAuth(ctx, sdk.OAuthRequest{Instance: "i", Purpose: sdk.OAuthPurpose(r.URL.Query().Get("purpose")),
			LoginHint: r.URL.Query().Get("hint"), RedirectURL: f.srv.URL + "/oauth/callback"})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		cfg := oauth2.Config{ClientID: spec.ClientID, ClientSecret: spec.ClientSecret, Scopes: spec.Scopes,
			RedirectURL: f.srv.URL + "/oauth/callback", Endpoint: oauth2.Endpoint{AuthURL: spec.AuthURL, TokenURL: spec.TokenURL}}
		verifier := oauth2.GenerateVerifier()
		state := fmt.Sprintf("state-%d", time.Now().UnixNano())
		opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
		for k, v := range spec.Params {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
		f.mu.Lock()
		f.pending[state] = pendingFlow{svc: svc, cfg: cfg, verifier: verifier}
		f.mu.Unlock()
		http.Redirect(w, r, cfg.AuthCodeURL(state, opts...), http.StatusFound)
	case "/oauth/callback":
		f.mu.Lock()
		p, ok := f.pending[r.URL.Query().Get("state")]
		delete(f.pending, r.URL.Query().Get("state"))
		f.mu.Unlock()
		if !ok {
			http.Error(w, "unknown state", http.StatusBadRequest)
			return
		}
		if e := r.URL.Query().Get("error"); e != "" {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, "<html><body><h1>Access was not granted</h1><p>The provider said %s.</p></body></html>", e)
			return
		}
		if _, err := p.cfg.Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(p.verifier)); err != nil {
			http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
			return
		}
		f.mu.Lock()
		f.exchanged = append(f.exchanged, p.svc)
		f.mu.Unlock()
		fmt.Fprint(w, "<html><body><h1>Done</h1></body></html>")
	case "/elsewhere":
		fmt.Fprint(w, "<p>not the callback</p>")
	default:
		http.NotFound(w, r)
	}
}

func TestConsentDriverCompletesRealFlows(t *testing.T) {
	t.Parallel()
	for _, auto := range []bool{true, false} {
		t.Run(fmt.Sprintf("AutoConsent=%v", auto), func(t *testing.T) {
			t.Parallel()
			testConsentDriver(t, auto)
		})
	}
}

func testConsentDriver(t *testing.T, autoConsent bool) {
	cl, err := emulators.Start(emulators.Options{AutoConsent: autoConsent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(context.Background()) })
	if _, err := cl.Populate(2, 1); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	providers := map[string]sdk.Provider{"m365": m365.New(nil), "google": google.New(nil), "superoffice": superoffice.New(nil)}
	settings := map[string]map[string]string{
		"m365":   cl.M365.Settings(cl.M365Base, false),
		"google": {"endpoint": cl.GoogleBase, "client_id": emulators.GoogleClientID, "client_secret": emulators.GoogleClientSecret},
		"superoffice": {"endpoint": cl.SuperOfficeBase, "context_id": cl.SuperOffice.ContextID(),
			"client_id": cl.SuperOffice.ClientID(), "client_secret": cl.SuperOffice.ClientSecret()},
	}
	for name, p := range providers {
		if err := p.Configure(ctx, "i", settings[name]); err != nil {
			t.Fatal(name, err)
		}
	}
	f := &fakeConsent{providers: providers, pending: map[string]pendingFlow{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	host := func(base string) string { return strings.TrimPrefix(base, "http://") }
	d := &consentDriver{consentHost: host(f.srv.URL), timeout: 10 * time.Second,
		emulatorHosts: map[string]bool{host(cl.SuperOfficeBase): true, host(cl.M365Base): true, host(cl.GoogleBase): true}}

	cases := []struct {
		name, svc, purpose, daemonHint, driverHint string
		fails                                      string
	}{
		{"a mailbox names itself", "m365", "user", "user1@m365.test", "", ""},
		{"the hint from the daemon wins", "m365", "user", "user2@m365.test", "admin@m365.test", ""},
		{"a SuperOffice admin setup names no one", "superoffice", "admin", "", emulators.SuperOfficeAdmin, ""},
		{"the Google admin connection", "google", "admin", "", emulators.GoogleAdmin, ""},
		{"a resource calendar cannot sign in", "google", "user", "", emulators.GoogleResource(1), "HTTP 403"},
		{"an unknown account", "m365", "user", "nobody@m365.test", "", "Access was not granted"},
	}
	for _, c := range cases {
		before := len(f.exchanged)
		goURL := f.srv.URL + "/go?" + url.Values{"svc": {c.svc}, "purpose": {c.purpose}, "hint": {c.daemonHint}}.Encode()
		err := d.complete(ctx, goURL, c.driverHint)
		switch {
		case c.fails == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.fails == "" && (len(f.exchanged) != before+1 || f.exchanged[before] != c.svc):
			t.Errorf("%s: no code exchanged (%v)", c.name, f.exchanged)
		case c.fails != "" && (err == nil || !strings.Contains(err.Error(), c.fails)):
			t.Errorf("%s: %v; want an error with %q", c.name, err, c.fails)
		case c.fails != "" && len(f.exchanged) != before:
			t.Errorf("%s: a code was exchanged", c.name)
		}
	}
	// A flow that ends anywhere but the callback is a failure.
	if err := d.complete(ctx, f.srv.URL+"/elsewhere", ""); err == nil || !strings.Contains(err.Error(), "/elsewhere") {
		t.Errorf("ending elsewhere: %v", err)
	}
}

func TestRedactPathAndPageText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://h:1/activate/SECRETTOKEN/go": "http://h:1/activate/…/go",
		"http://h:1/activate/SECRETTOKEN":    "http://h:1/activate/…",
		"http://h:1/setup/demo/go?x=1":       "http://h:1/setup/demo/go",
	} {
		if got := redactPath(in); got != want {
			t.Errorf("redactPath(%s) = %s, want %s", in, got, want)
		}
	}
	page := []byte("<html><head><style>p{}</style><script>x()</script></head><body><h1>Link  expired</h1>\n<p>Ask &amp; retry</p></body></html>")
	if got := pageText(page, 100); got != "Link expired Ask & retry" {
		t.Errorf("pageText = %q", got)
	}
	if got := pageText(page, 4); got != "Link…" {
		t.Errorf("short pageText = %q", got)
	}
}

func TestApproveForm(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("http://idp.test:9/o/auth?client_id=c")
	page := []byte(`<html><body><form method="post" action="/o/submit?x=1&amp;y=2">
<input type="hidden" name="state" value="s&amp;1"><input type="hidden" name="empty" value="">
<label>Account <input name="account" value=""></label><input type="checkbox" name="remember"><input type="radio" name="r" value="1" checked>
<button name="decision" value="deny">Cancel</button><button name="decision" value="approve">Allow</button>
</form><form action="/other"><button name="x" value="approve"></button></form></body></html>`)
	f, ok := approveForm(page, base, "who@idp.test")
	if !ok || f.action.String() != "http://idp.test:9/o/submit?x=1&y=2" {
		t.Fatalf("form = %+v, %v", f, ok)
	}
	want := url.Values{"state": {"s&1"}, "empty": {""}, "account": {"who@idp.test"}, "r": {"1"}, "decision": {"approve"}}
	if f.values.Encode() != want.Encode() {
		t.Fatalf("values = %v, want %v", f.values, want)
	}
	// A prefilled account stays; a form without an approving button is no form.
	f, ok = approveForm([]byte(`<form><input name="username" value="ADMIN"><button name="approve" value="yes">Approve</button></form>`), base, "other")
	if !ok || f.values.Get("username") != "ADMIN" || f.values.Get("approve") != "yes" || f.action.String() != base.String() {
		t.Fatalf("prefilled: %+v %v", f, ok)
	}
	for _, p := range []string{`<p>no form</p>`, `<form><button name="d" value="deny"></button></form>`} {
		if _, ok := approveForm([]byte(p), base, "x"); ok {
			t.Errorf("approveForm(%s) found a form", p)
		}
	}
}
