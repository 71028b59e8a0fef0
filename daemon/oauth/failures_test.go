package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"synchronizer/daemon/state"
	"synchronizer/daemon/web"
)

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// snapshot is everything a consent could change in the store.
type snapshot struct {
	Links       []state.Link
	Tokens      map[state.TokenKey]state.Token
	Activations map[string]string // secret -> "ok", or the store's verdict
}

func (e *env) snapshot(secrets ...string) snapshot {
	e.t.Helper()
	ctx := context.Background()
	links, err := e.store.Links(ctx)
	must(e.t, err)
	s := snapshot{Links: links, Tokens: map[state.TokenKey]state.Token{}, Activations: map[string]string{}}
	keys := []state.TokenKey{state.ConnectionToken("acme"), state.ConnectionToken("gw"), state.ConnectionToken("m365app"), state.ConnectionToken("m365")}
	for _, p := range e.cfg.Profiles {
		for _, l := range p.Links {
			keys = append(keys, state.LinkToken(state.LinkID{Profile: p.Name, Link: l.Name}))
		}
	}
	for _, k := range keys {
		if tok, err := e.store.Token(ctx, k); err == nil {
			s.Tokens[k] = tok
		} else if !errors.Is(err, state.ErrNotFound) {
			e.t.Fatal(err)
		}
	}
	for _, sec := range secrets {
		if _, err := e.store.Activation(ctx, sec, e.clk.Now()); err != nil {
			s.Activations[sec] = err.Error()
		} else {
			s.Activations[sec] = "ok"
		}
	}
	return s
}

func secretOf(u string) string { return u[strings.LastIndexByte(u, '/')+1:] }

// startFlow presses the activation page's button in browser b and returns the
// provider's sign-in URL it was sent to, without going there.
func (e *env) startFlow(b *http.Client, goURL string) string {
	e.t.Helper()
	resp, err := e.stopAt(b).Get(goURL)
	must(e.t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("GET %s: %d, want a redirect to the provider", goURL, resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		e.t.Fatal("no Location")
	}
	return loc
}

func (e *env) callback(params url.Values) string {
	return e.cfg.HTTP.PublicURL + "/oauth/callback?" + params.Encode()
}

func TestFailurePagesChangeNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	userURL := e.activate("p365", "u1")
	roomURL := e.activate("pgw", "room1")
	secrets := []string{secretOf(userURL), secretOf(roomURL)}
	base := e.cfg.HTTP.PublicURL
	start := e.clk.Now()

	type result struct {
		pg   page
		more func(t *testing.T) // further checks, after the store comparison
	}
	cases := []struct {
		name   string
		run    func(t *testing.T) result
		status int
		kind   string
		text   []string
	}{
		{name: "unknown token", status: 404, kind: "error-unknown", text: []string{"This link is not valid", "ask your administrator"},
			run: func(t *testing.T) result {
				return result{pg: e.get(e.browser(), base+"/activate/"+strings.Repeat("A", 43))}
			}},
		{name: "malformed token", status: 404, kind: "error-unknown",
			run: func(t *testing.T) result { return result{pg: e.get(e.browser(), base+"/activate/x%3Cscript%3E")} }},
		{name: "unknown token's button", status: 404, kind: "error-unknown",
			run: func(t *testing.T) result {
				return result{pg: e.get(e.browser(), base+"/activate/"+strings.Repeat("B", 43)+"/go")}
			}},
		{name: "unknown route", status: 404, kind: "error-unknown",
			run: func(t *testing.T) result { return result{pg: e.get(e.browser(), base+"/admin")} }},
		{name: "expired link", status: 410, kind: "error-expired", text: []string{"This link has expired", "new link"},
			run: func(t *testing.T) result {
				e.clk.Set(start.Add(8 * 24 * time.Hour))
				defer e.clk.Set(start)
				return result{pg: e.get(e.browser(), userURL)}
			}},
		{name: "expired link's button", status: 410, kind: "error-expired",
			run: func(t *testing.T) result {
				e.clk.Set(start.Add(8 * 24 * time.Hour))
				defer e.clk.Set(start)
				return result{pg: e.get(e.browser(), userURL+"/go")}
			}},
		{name: "link expires during the sign-in", status: 410, kind: "error-expired",
			run: func(t *testing.T) result {
				defer e.clk.Set(start)
				b := e.browser()
				e.clk.Set(start.Add(7*24*time.Hour - time.Minute))
				auth := e.startFlow(b, userURL+"/go")
				e.clk.Set(start.Add(7*24*time.Hour + time.Minute))
				return result{pg: e.get(b, auth)}
			}},
		{name: "consent denied", status: 403, kind: "error-denied", text: []string{"Access was not granted", "open the link again", userURL},
			run: func(t *testing.T) result {
				b := e.browser()
				q := queryOf(t, e.startFlow(b, userURL+"/go"))
				cb := e.callback(url.Values{"error": {"access_denied"}, "error_description": {"AADSTS65004: User declined to consent."}, "state": {q.Get("state")}})
				pg := e.get(b, cb)
				return result{pg: pg, more: func(t *testing.T) {
					// The same answer again is a replay.
					if again := e.get(b, cb); again.status != 400 || again.kind() != "error-state" {
						t.Errorf("replayed callback: %d %s", again.status, again.kind())
					}
				}}
			}},
		{name: "wrong account", status: 403, kind: "error-wrong_account", text: []string{"user2@m365.test", "User1@M365.test", "Sign out of user2@m365.test"},
			run: func(t *testing.T) result {
				return result{pg: e.get(e.browser(), userURL+"/go?login_hint=user2@m365.test")}
			}},
		{name: "unknown state", status: 400, kind: "error-state", text: []string{"could not be completed", "same browser"},
			run: func(t *testing.T) result {
				return result{pg: e.get(e.browser(), e.callback(url.Values{"state": {strings.Repeat("s", 43)}, "code": {"x"}}))}
			}},
		{name: "no state", status: 400, kind: "error-state",
			run: func(t *testing.T) result {
				return result{pg: e.get(e.browser(), e.callback(url.Values{"code": {"x"}}))}
			}},
		{name: "callback in another browser", status: 400, kind: "error-state",
			run: func(t *testing.T) result {
				a, other := e.browser(), e.browser()
				auth := e.startFlow(a, userURL+"/go")
				// The other browser holds a sign-in cookie of its own for this state
				// (one that does not match): that is another browser's sign-in. A
				// client with no cookie at all is let through on the state alone, so
				// scripts can consent with curl -L.
				cb, err := url.Parse(e.callback(url.Values{}))
				if err != nil {
					t.Fatal(err)
				}
				other.Jar.SetCookies(cb, []*http.Cookie{{Name: web.BindingCookie(queryOf(t, auth).Get("state")), Value: "forged", Path: "/"}})
				pg := e.get(other, auth) // the emulator signs in and sends the code to the other browser
				return result{pg: pg, more: func(t *testing.T) {
					// The sign-in is spent: the browser that started it cannot finish it now.
					q := queryOf(t, auth)
					if late := e.get(a, e.callback(url.Values{"state": {q.Get("state")}, "code": {"x"}})); late.status != 400 {
						t.Errorf("the starting browser after a foreign callback: %d", late.status)
					}
				}}
			}},
		{name: "provider error", status: 502, kind: "error-provider", text: []string{"reported a problem", "server_error: Backend unavailable"},
			run: func(t *testing.T) result {
				b := e.browser()
				q := queryOf(t, e.startFlow(b, userURL+"/go"))
				return result{pg: e.get(b, e.callback(url.Values{"error": {"server_error"}, "error_description": {"Backend unavailable"}, "state": {q.Get("state")}}))}
			}},
		{name: "token endpoint refuses the code", status: 502, kind: "error-token_exchange", text: []string{"could not be confirmed"},
			run: func(t *testing.T) result {
				b := e.browser()
				q := queryOf(t, e.startFlow(b, userURL+"/go"))
				return result{pg: e.get(b, e.callback(url.Values{"code": {"0.emu-code.forged"}, "state": {q.Get("state")}}))}
			}},
		{name: "callback without a code", status: 502, kind: "error-provider",
			run: func(t *testing.T) result {
				b := e.browser()
				q := queryOf(t, e.startFlow(b, userURL+"/go"))
				return result{pg: e.get(b, e.callback(url.Values{"state": {q.Get("state")}}))}
			}},
		{name: "google room by a non-admin", status: 403, kind: "error-not_admin", text: []string{"user1@google.test darf diesen Zugriff nicht gewähren"},
			run: func(t *testing.T) result {
				return result{pg: e.get(e.browser(), roomURL+"/go?login_hint=user1@google.test")}
			}},
		{name: "setup not opened", status: 404, kind: "error-setup_closed", text: []string{"synchronizer connect acme"},
			run: func(t *testing.T) result { return result{pg: e.get(e.browser(), base+"/setup/acme")} }},
		{name: "setup of an unknown block", status: 404, kind: "error-setup_closed",
			run: func(t *testing.T) result { return result{pg: e.get(e.browser(), base+"/setup/nope/go")} }},
		{name: "setup by a non-admin", status: 403, kind: "error-not_admin", text: []string{"user1@google.test may not grant this access"},
			run: func(t *testing.T) result {
				_, err := e.svc.OpenSetup(ctx, "gw")
				must(t, err)
				return result{pg: e.get(e.browser(), base+"/setup/gw/go?login_hint=user1@google.test")}
			}},
		{name: "superoffice setup by a non-admin", status: 403, kind: "error-not_admin",
			run: func(t *testing.T) result {
				_, err := e.svc.OpenSetup(ctx, "acme")
				must(t, err)
				return result{pg: e.get(e.browser(), base+"/setup/acme/go?login_hint=USER1")}
			}},
		{name: "link left the configuration", status: 404, kind: "error-unknown",
			run: func(t *testing.T) result {
				p := e.cfg.Profile("p365")
				saved := p.Links
				p.Links = p.Links[1:]
				defer func() { p.Links = saved }()
				return result{pg: e.get(e.browser(), userURL)}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			before := e.snapshot(secrets...)
			res := c.run(t)
			e.clk.Set(start)
			if res.pg.status != c.status || res.pg.kind() != c.kind {
				t.Fatalf("got %d %s, want %d %s\n%s", res.pg.status, res.pg.kind(), c.status, c.kind, res.pg.body)
			}
			for _, want := range c.text {
				if !strings.Contains(res.pg.body, want) {
					t.Errorf("page lacks %q:\n%s", want, res.pg.body)
				}
			}
			if ct := res.pg.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if diff := cmp.Diff(before, e.snapshot(secrets...)); diff != "" {
				t.Errorf("the failure changed the store (-before +after):\n%s", diff)
			}
			if res.more != nil {
				res.more(t)
			}
		})
	}
	// After all that, both links still activate.
	e.t = t
	for _, u := range []string{userURL, roomURL} {
		b := e.browser()
		if pg := e.get(b, u+"/go"); pg.status != 200 || pg.kind() != "done" {
			t.Errorf("%s after the failures: %d %s", u, pg.status, pg.kind())
		}
	}
}
