package oauth_test

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"synchronizer/daemon/state"
	"synchronizer/plugins/sdk"
)

// Everything the daemon's side logs during full consent flows, refreshes, a
// revocation and failures holds none of the secrets involved: the emulators'
// tokens, client secrets, activation secrets, codes, states and PKCE challenges.
func TestNoSecretReachesTheLog(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	var secrets []string
	var texts []string // error texts and admin answers, checked like the log
	addToken := func(tok state.Token) {
		secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
		for _, v := range tok.Extra {
			secrets = append(secrets, v)
		}
	}

	for _, pl := range [][2]string{{"p365", "u1"}, {"p365", "room1"}, {"pgw", "u1"}, {"pgw", "room1"}} {
		u := e.activate(pl[0], pl[1])
		secrets = append(secrets, secretOf(u))
		if pg := e.get(e.browser(), u+"/go?login_hint=user2@m365.test"); pg.status != 403 && pg.kind() != "error-not_admin" {
			t.Errorf("%v: wrong account: %d %s", pl, pg.status, pg.kind())
		}
		if pg := e.get(e.browser(), u+"/go"); pg.kind() != "done" {
			t.Fatalf("%v: %d %s", pl, pg.status, pg.kind())
		}
		tok, err := e.store.Token(ctx, state.LinkToken(state.LinkID{Profile: pl[0], Link: pl[1]}))
		must(t, err)
		addToken(tok)
	}
	for _, setup := range [][2]string{{"acme", "ADMIN"}, {"m365app", ""}, {"gw", ""}} {
		res, err := e.svc.OpenSetup(ctx, setup[0])
		must(t, err)
		if pg := e.get(e.browser(), res.URL+"/go?login_hint="+setup[1]); pg.kind() != "done" {
			t.Fatalf("setup %s: %d %s", setup[0], pg.status, pg.kind())
		}
		tok, err := e.store.Token(ctx, state.ConnectionToken(setup[0]))
		must(t, err)
		addToken(tok)
	}
	// Credentials as the runner asks for them, a refresh after the service
	// refused a token, and a revoked grant.
	for _, p := range e.cfg.Profiles {
		cal := e.cfg.Calendar(p.Calendar)
		for _, l := range p.Links {
			cred, err := e.svc.Calendar(ctx, cal, l)
			must(t, err)
			secrets = append(secrets, cred.Token)
			e.svc.Invalidate(ctx, cred)
			cred, err = e.svc.Calendar(ctx, cal, l)
			must(t, err)
			secrets = append(secrets, cred.Token)
		}
	}
	so, err := e.svc.SuperOffice(ctx, e.cfg.Tenant("acme"))
	must(t, err)
	secrets = append(secrets, so.Token)
	p, l := e.link("p365", "u1")
	tok, err := e.store.Token(ctx, state.LinkToken(state.LinkID{Profile: "p365", Link: "u1"}))
	must(t, err)
	addToken(tok)
	must(t, e.graph.RevokeUser("user1@m365.test"))
	e.svc.Invalidate(ctx, sdk.Credential{Type: "bearer", Token: tok.AccessToken})
	_, err = e.svc.Calendar(ctx, e.cfg.Calendar("m365"), l)
	if !errors.Is(err, sdk.ErrConsentRevoked) {
		t.Fatalf("revoked: %v", err)
	}
	texts = append(texts, err.Error())
	u, err := e.svc.NeedsConsent(ctx, p, l)
	must(t, err)
	secrets = append(secrets, secretOf(u))
	// The admin API answers with activation URLs (that is its job), never tokens.
	for _, path := range []string{"/v1/profiles/p365/links/u1/activation", "/v1/profiles/p365/links/room1/activation", "/v1/connections/gw/setup"} {
		resp, err := http.Post(e.admin.URL+path, "application/json", strings.NewReader(`{"resend":true}`))
		must(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		texts = append(texts, string(b))
	}

	// What else is secret: the emulators' own tokens, client secrets, the partner
	// key, and every code, state and PKCE challenge the browsers carried.
	secrets = append(secrets, e.so.SystemToken(), e.so.AdminToken(), e.graph.AdminToken(), e.gcal.AdminToken(),
		e.so.ClientSecret(), e.cfg.Calendar("m365").ClientSecret, googleClientSecret)
	if block, _ := pem.Decode(e.so.PartnerKeyPEM()); block != nil {
		secrets = append(secrets, string(e.so.PartnerKeyPEM())[40:100])
	}
	e.mu.Lock()
	for _, v := range e.visited {
		q := queryOf(t, v)
		secrets = append(secrets, q.Get("code"), q.Get("state"), q.Get("code_challenge"))
		if strings.Contains(v, "/activate/") {
			secrets = append(secrets, secretOf(strings.TrimSuffix(strings.Split(v, "?")[0], "/go")))
		}
	}
	e.mu.Unlock()

	logs := e.logs.String()
	for _, want := range []string{"link activated", "tenant-level access granted", "sign-in failed", "grant was revoked"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q; is the logger wired?", want)
		}
	}
	checked := 0
	for _, s := range secrets {
		if len(s) < 8 {
			continue
		}
		checked++
		if strings.Contains(logs, s) {
			t.Errorf("the log holds a secret (%d chars, starting %q)", len(s), s[:4])
		}
		for _, txt := range texts {
			if strings.Contains(txt, s) && !strings.Contains(txt, "/activate/"+s) {
				t.Errorf("an error or admin answer holds a secret (%d chars, starting %q)", len(s), s[:4])
			}
		}
	}
	if checked < 40 {
		t.Errorf("only %d secrets checked; the test lost track of them", checked)
	}
	t.Logf("checked %d secrets against %d bytes of log", checked, len(logs))
}
