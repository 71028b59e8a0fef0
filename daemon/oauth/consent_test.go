package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/oauth"
	"synchronizer/daemon/runner"
	"synchronizer/daemon/state"
	"synchronizer/plugins/sdk"
)

// activate issues a link's activation through Ensure and returns its URL as the
// mail carried it.
func (e *env) activate(profile, link string) string {
	e.t.Helper()
	p, l := e.link(profile, link)
	before := 0
	if e.smtp != nil {
		before = len(e.smtp.messages())
	}
	u, err := e.svc.Ensure(context.Background(), p, l)
	must(e.t, err)
	if e.smtp != nil {
		msgs := e.smtp.messages()
		if len(msgs) != before+1 {
			e.t.Fatalf("Ensure sent %d mails, want 1", len(msgs)-before)
		}
		_, text := mailText(e.t, msgs[len(msgs)-1])
		if got := urlIn(e.t, text); got != u {
			e.t.Fatalf("the mail carries %s, Ensure returned %s", got, u)
		}
	}
	return u
}

func TestLinkConsentEndToEnd(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	cases := []struct {
		profile, link string
		pageText      []string // on the activation page
		doneText      string
		account       string // stored as the token's account
		mailTo        string
	}{
		{"p365", "u1", []string{"Connect your calendar", "User1@M365.test", "Sign in with Microsoft 365", "p365"}, "All set", "user1@m365.test", "User1@M365.test"},
		{"p365", "room1", []string{"Connect the calendar of Meeting room 1", "room1@m365.test"}, "All set", "room1@m365.test", "room1@m365.test"},
		{"pgw", "u1", []string{"Ihren Kalender verbinden", "user1@google.test", "Mit Google anmelden"}, "Alles erledigt", "user1@google.test", "user1@google.test"},
		// A Google resource calendar cannot sign in: the calendar's admin does.
		{"pgw", "room1", []string{"Meeting room 1", "admin@google.test"}, "Alles erledigt", "admin@google.test", "admin@google.test"},
	}
	for _, c := range cases {
		t.Run(c.profile+"/"+c.link, func(t *testing.T) {
			e.t = t
			u := e.activate(c.profile, c.link)
			msgs := e.smtp.messages()
			if got := msgs[len(msgs)-1].to; len(got) != 1 || !strings.EqualFold(got[0], c.mailTo) {
				t.Errorf("mail went to %v, want %s", got, c.mailTo)
			}
			b := e.browser()
			pg := e.get(b, u)
			if pg.status != http.StatusOK {
				t.Fatalf("activation page: %d\n%s", pg.status, pg.body)
			}
			for _, want := range append(c.pageText, u+"/go") {
				if !strings.Contains(pg.body, want) {
					t.Errorf("activation page lacks %q:\n%s", want, pg.body)
				}
			}
			done := e.get(b, u+"/go")
			if done.status != http.StatusOK || done.kind() != "done" || !strings.Contains(done.body, c.doneText) {
				t.Fatalf("after sign-in: %d %s\n%s", done.status, done.kind(), done.body)
			}
			// The authorize request used S256 PKCE, a state and the callback.
			auth := e.lastVisited(t, "authorize", "code_challenge=")
			q := queryOf(t, auth)
			if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 43 {
				t.Errorf("authorize request without S256 PKCE or a strong state: %s", auth)
			}
			if q.Get("redirect_uri") != e.cfg.HTTP.PublicURL+"/oauth/callback" {
				t.Errorf("redirect_uri %q", q.Get("redirect_uri"))
			}
			if !strings.EqualFold(q.Get("login_hint"), c.account) {
				t.Errorf("login_hint %q, want %s", q.Get("login_hint"), c.account)
			}

			id := state.LinkID{Profile: c.profile, Link: c.link}
			row, err := e.store.Link(ctx, id)
			must(t, err)
			if row.State != state.Active || row.ActivationURL != "" {
				t.Errorf("link after consent: %+v", row)
			}
			tok, err := e.store.Token(ctx, state.LinkToken(id))
			must(t, err)
			if tok.AccessToken == "" || tok.RefreshToken == "" || !strings.EqualFold(tok.Account, c.account) {
				t.Errorf("stored token: account %q, access %t, refresh %t", tok.Account, tok.AccessToken != "", tok.RefreshToken != "")
			}
			if !e.wasActivated(id) {
				t.Errorf("the first sync of %s was not started", id)
			}
			// The credential the runner gets is the stored access token, and it works.
			p, l := e.link(c.profile, c.link)
			cal := e.cfg.Calendar(p.Calendar)
			cred, err := e.svc.Calendar(ctx, cal, l)
			must(t, err)
			if cred.Type != "bearer" || cred.Token != tok.AccessToken {
				t.Errorf("credential %q, want the stored bearer token", cred.Type)
			}
			kind := sdk.AccountUser
			if l.Kind == config.KindResource {
				kind = sdk.AccountResource
			}
			if _, err := e.providers[cal.Provider].LookupAccount(ctx, sdk.Target{Instance: cal.Name, Credential: cred}, kind, l.Mailbox); err != nil {
				t.Errorf("the credential does not reach %s: %v", l.Mailbox, err)
			}
			// The link works once.
			again := e.get(e.browser(), u)
			if again.status != http.StatusGone || again.kind() != "error-used" {
				t.Errorf("activation page after use: %d %s", again.status, again.kind())
			}
		})
	}
}

func (e *env) lastVisited(t *testing.T, what, contains string) string {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.visited) - 1; i >= 0; i-- {
		if strings.Contains(e.visited[i], contains) {
			return e.visited[i]
		}
	}
	t.Fatalf("the browser never went to the %s URL (%s)", what, contains)
	return ""
}

func (e *env) wasActivated(id state.LinkID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range e.activated {
		if a == id {
			return true
		}
	}
	return false
}

func TestAdminSetupsEndToEnd(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()

	t.Run("superoffice system user", func(t *testing.T) {
		e.t = t
		res, err := e.svc.OpenSetup(ctx, "acme")
		must(t, err)
		if res.URL != e.cfg.HTTP.PublicURL+"/setup/acme" {
			t.Fatalf("setup URL %s", res.URL)
		}
		b := e.browser()
		pg := e.get(b, res.URL)
		if pg.status != http.StatusOK || pg.kind() != "setup" || !strings.Contains(pg.body, "Grant access to SuperOffice (acme)") {
			t.Fatalf("setup page: %d %s\n%s", pg.status, pg.kind(), pg.body)
		}
		done := e.get(b, res.URL+"/go?login_hint=ADMIN")
		if done.status != http.StatusOK || done.kind() != "done" {
			t.Fatalf("after sign-in: %d %s\n%s", done.status, done.kind(), done.body)
		}
		cred, err := e.svc.SuperOffice(ctx, e.cfg.Tenant("acme"))
		must(t, err)
		if cred.Type != "system_token" || cred.Token != e.so.SystemToken() {
			t.Errorf("superoffice credential type %q", cred.Type)
		}
		tok, err := e.store.Token(ctx, state.ConnectionToken("acme"))
		must(t, err)
		if tok.AccessToken != "" || tok.RefreshToken != "" {
			t.Error("the admin's own tokens were kept; only the system token should be")
		}
		// The system token works: the provider reads the tenant's licences with it.
		lic, err := e.providers["superoffice"].Licenses(ctx, sdk.Target{Instance: "acme", Credential: cred})
		if err != nil || lic.UserLicenses == 0 {
			t.Errorf("licences with the system token: %+v, %v", lic, err)
		}
		if again := e.get(e.browser(), res.URL); again.status != http.StatusGone || again.kind() != "error-used" {
			t.Errorf("setup page after use: %d %s", again.status, again.kind())
		}
	})

	t.Run("m365 application auth", func(t *testing.T) {
		e.t = t
		_, l := e.link("papp", "u2")
		if _, err := e.svc.Ensure(ctx, e.profile("papp"), l); !errors.Is(err, oauth.ErrNotNeeded) {
			t.Errorf("Ensure for an application-auth link: %v, want ErrNotNeeded", err)
		}
		res, err := e.svc.OpenSetup(ctx, "m365app")
		must(t, err)
		done := e.get(e.browser(), res.URL+"/go")
		if done.status != http.StatusOK || done.kind() != "done" {
			t.Fatalf("after admin consent: %d %s\n%s", done.status, done.kind(), done.body)
		}
		auth := e.lastVisited(t, "admin consent", "/adminconsent")
		if q := queryOf(t, auth); q.Get("state") == "" || q.Get("redirect_uri") != e.cfg.HTTP.PublicURL+"/oauth/callback" {
			t.Errorf("admin consent request %s", auth)
		}
		cred, err := e.svc.Calendar(ctx, e.cfg.Calendar("m365app"), l)
		must(t, err)
		if _, err := e.providers["m365"].LookupAccount(ctx, sdk.Target{Instance: "m365app", Credential: cred}, sdk.AccountUser, "user2@m365.test"); err != nil {
			t.Errorf("the application token does not reach user2: %v", err)
		}
		if _, err := e.store.Token(ctx, state.ConnectionToken("m365app")); err != nil {
			t.Errorf("the admin consent left no record: %v", err)
		}
	})

	t.Run("google admin connection serves resource calendars", func(t *testing.T) {
		e.t = t
		_, room := e.link("pgw", "room1")
		cal := e.cfg.Calendar("gw")
		if _, err := e.svc.Calendar(ctx, cal, room); !errors.Is(err, runner.ErrNoConsent) {
			t.Fatalf("resource without any consent: %v, want ErrNoConsent", err)
		}
		res, err := e.svc.OpenSetup(ctx, "gw")
		must(t, err)
		done := e.get(e.browser(), res.URL+"/go")
		if done.status != http.StatusOK || done.kind() != "done" || !strings.Contains(done.body, "admin@google.test") {
			t.Fatalf("after admin sign-in: %d %s\n%s", done.status, done.kind(), done.body)
		}
		cred, err := e.svc.Calendar(ctx, cal, room)
		must(t, err)
		conn, err := e.store.Token(ctx, state.ConnectionToken("gw"))
		must(t, err)
		if cred.Token != conn.AccessToken || conn.RefreshToken == "" {
			t.Error("the resource did not get the admin connection's token")
		}
		if _, err := e.providers["google"].LookupAccount(ctx, sdk.Target{Instance: "gw", Account: "admin@google.test", Credential: cred}, sdk.AccountResource, room.Mailbox); err != nil {
			t.Errorf("the admin connection does not reach the room: %v", err)
		}
		// A user link still needs its own consent.
		_, u := e.link("pgw", "u1")
		if _, err := e.svc.Calendar(ctx, cal, u); !errors.Is(err, runner.ErrNoConsent) {
			t.Errorf("user link through the admin connection: %v, want ErrNoConsent", err)
		}
	})

	t.Run("setups that need nobody", func(t *testing.T) {
		e.t = t
		if _, err := e.svc.OpenSetup(ctx, "m365"); !errors.Is(err, oauth.ErrNotNeeded) {
			t.Errorf("setup of a delegated m365 calendar: %v", err)
		}
		if _, err := e.svc.OpenSetup(ctx, "nope"); !errors.Is(err, oauth.ErrUnknown) {
			t.Errorf("setup of an unknown block: %v", err)
		}
	})
	if len(e.connected) != 3 {
		t.Errorf("OnConnected calls: %v", e.connected)
	}
}

// Behind a reverse proxy that serves the consent listener under a path, every
// link, the redirect URI and the browser-binding cookie follow the public URL.
func TestConsentBehindAPathPrefix(t *testing.T) {
	e := newEnv(t, envOptions{})
	proxy := httptest.NewServer(http.StripPrefix("/sync", e.svc.Handler()))
	defer proxy.Close()
	e.cfg.HTTP.PublicURL = proxy.URL + "/sync"
	u := e.activate("p365", "u1")
	if !strings.HasPrefix(u, proxy.URL+"/sync/activate/") {
		t.Fatalf("activation URL %s", u)
	}
	b := e.browser()
	if pg := e.get(b, u); pg.status != 200 || !strings.Contains(pg.body, u+"/go") {
		t.Fatalf("page: %d\n%s", pg.status, pg.body)
	}
	done := e.get(b, u+"/go")
	if done.kind() != "done" || !strings.HasPrefix(done.url, proxy.URL+"/sync/oauth/callback?") {
		t.Fatalf("ended at %s: %d %s\n%s", done.url, done.status, done.kind(), done.body)
	}
}

// TestConsentWithoutCookies is how scripts consent (SPEC: `curl -L URL/go` against
// an auto-approving sign-in): a client with no cookie jar follows the redirects and
// still completes the flow, because the state alone authenticates the callback.
func TestConsentWithoutCookies(t *testing.T) {
	e := newEnv(t, envOptions{})
	u := e.activate("p365", "u1")
	curl := &http.Client{Timeout: 30 * time.Second} // no Jar: like curl -L without -c
	done := e.get(curl, u+"/go")
	if done.status != http.StatusOK || done.kind() != "done" {
		t.Fatalf("cookie-less consent: %d %s\n%s", done.status, done.kind(), done.body)
	}
	tok, err := e.store.Token(context.Background(), state.LinkToken(state.LinkID{Profile: "p365", Link: "u1"}))
	if err != nil || !strings.EqualFold(tok.Account, "user1@m365.test") {
		t.Fatalf("token after cookie-less consent: %+v, %v", tok.Account, err)
	}
}
