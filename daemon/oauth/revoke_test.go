package oauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"synchronizer/daemon/state"
	"synchronizer/plugins/sdk"
)

// A person's sign-in dies at the provider (password reset): the link goes to
// needs_consent with one "expired credentials" mail, and a new sign-in brings it
// back.
func TestRevocationMailsOnceAndReactivates(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	p, l := e.link("p365", "u1")
	cal := e.cfg.Calendar(p.Calendar)
	id := state.LinkID{Profile: "p365", Link: "u1"}
	u := e.activate("p365", "u1")
	if pg := e.get(e.browser(), u+"/go"); pg.kind() != "done" {
		t.Fatalf("first consent: %d %s", pg.status, pg.kind())
	}
	cred, err := e.svc.Calendar(ctx, cal, l)
	must(t, err)
	graph := e.providers["m365"]
	target := sdk.Target{Instance: cal.Name, Credential: cred}
	if _, err := graph.LookupAccount(ctx, target, sdk.AccountUser, l.Mailbox); err != nil {
		t.Fatalf("the fresh credential does not work: %v", err)
	}

	must(t, e.graph.RevokeUser("user1@m365.test"))
	e.graph.ExpireAccessTokens()
	_, err = graph.LookupAccount(ctx, target, sdk.AccountUser, l.Mailbox)
	if !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Fatalf("a call with the expired token: %v, want ErrUnauthenticated", err)
	}
	// What the runner does: invalidate, ask again, learn the grant is gone.
	e.svc.Invalidate(ctx, cred)
	if _, err := e.svc.Calendar(ctx, cal, l); !errors.Is(err, sdk.ErrConsentRevoked) {
		t.Fatalf("after revocation: %v, want ErrConsentRevoked", err)
	}
	mailsBefore := len(e.smtp.messages())
	u1, err := e.svc.NeedsConsent(ctx, p, l)
	must(t, err)
	u2, err := e.svc.NeedsConsent(ctx, p, l)
	must(t, err)
	msgs := e.smtp.messages()
	if len(msgs) != mailsBefore+1 || u1 != u2 {
		t.Fatalf("%d mails for one consent loss, URLs %s %s", len(msgs)-mailsBefore, u1, u2)
	}
	subject, text := mailText(t, msgs[len(msgs)-1])
	if !strings.Contains(subject, "please sign in again") || urlIn(t, text) != u1 || msgs[len(msgs)-1].to[0] != "User1@M365.test" {
		t.Errorf("expired-credentials mail: %q to %v\n%s", subject, msgs[len(msgs)-1].to, text)
	}
	row, err := e.store.Link(ctx, id)
	must(t, err)
	if row.State != state.NeedsConsent || row.ActivationURL != u1 {
		t.Errorf("link after the loss: %+v", row)
	}
	b := e.browser()
	pg := e.get(b, u1)
	if pg.status != 200 || !strings.Contains(pg.body, "Sign in again to restart the calendar sync") {
		t.Errorf("activation page of a lost link: %d\n%s", pg.status, pg.body)
	}
	if done := e.get(b, u1+"/go"); done.kind() != "done" {
		t.Fatalf("second consent: %d %s\n%s", done.status, done.kind(), done.body)
	}
	row, err = e.store.Link(ctx, id)
	must(t, err)
	if row.State != state.Active || row.ActivationURL != "" {
		t.Errorf("link after the new consent: %+v", row)
	}
	cred, err = e.svc.Calendar(ctx, cal, l)
	must(t, err)
	if _, err := graph.LookupAccount(ctx, sdk.Target{Instance: cal.Name, Credential: cred}, sdk.AccountUser, l.Mailbox); err != nil {
		t.Errorf("the new credential does not work: %v", err)
	}
	// A later loss mails again: the mark went with the old token.
	must(t, e.graph.RevokeUser("user1@m365.test"))
	e.graph.ExpireAccessTokens()
	e.svc.Invalidate(ctx, cred)
	if _, err := e.svc.Calendar(ctx, cal, l); !errors.Is(err, sdk.ErrConsentRevoked) {
		t.Fatalf("second revocation: %v", err)
	}
	if _, err := e.svc.NeedsConsent(ctx, p, l); err != nil {
		t.Fatal(err)
	}
	if n := len(e.smtp.messages()); n != mailsBefore+2 {
		t.Errorf("%d mails after the second loss, want %d", n, mailsBefore+2)
	}
}

// Google refresh tokens revoked by the user, and a SuperOffice tenant that
// withdrew the application, end the same way.
func TestRevocationAcrossProviders(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	p, l := e.link("pgw", "u1")
	cal := e.cfg.Calendar(p.Calendar)
	u := e.activate("pgw", "u1")
	if pg := e.get(e.browser(), u+"/go"); pg.kind() != "done" {
		t.Fatalf("consent: %d %s", pg.status, pg.kind())
	}
	cred, err := e.svc.Calendar(ctx, cal, l)
	must(t, err)
	req, err := newPost(e.gcalBase()+"/_emulator/revoke", `{"account":"user1@google.test"}`)
	must(t, err)
	resp, err := e.browser().Do(req)
	must(t, err)
	resp.Body.Close()
	e.svc.Invalidate(ctx, cred)
	if _, err := e.svc.Calendar(ctx, cal, l); !errors.Is(err, sdk.ErrConsentRevoked) {
		t.Errorf("google after revocation: %v", err)
	}

	res, err := e.svc.OpenSetup(ctx, "acme")
	must(t, err)
	if pg := e.get(e.browser(), res.URL+"/go?login_hint=ADMIN"); pg.kind() != "done" {
		t.Fatalf("superoffice setup: %d %s", pg.status, pg.kind())
	}
	soCred, err := e.svc.SuperOffice(ctx, e.cfg.Tenant("acme"))
	must(t, err)
	e.so.RevokeConsent()
	_, err = e.providers["superoffice"].Licenses(ctx, sdk.Target{Instance: "acme", Credential: soCred})
	if !errors.Is(err, sdk.ErrConsentRevoked) {
		t.Errorf("superoffice after the tenant withdrew consent: %v, want ErrConsentRevoked from the provider", err)
	}
}

// Refreshing against the real token endpoints: Microsoft rotates the refresh
// token on every use and the new one is kept; Google keeps its own.
func TestRefreshAgainstTheEmulators(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	for _, c := range []struct {
		profile, link string
		rotates       bool
	}{{"p365", "u1", true}, {"pgw", "u1", false}} {
		p, l := e.link(c.profile, c.link)
		cal := e.cfg.Calendar(p.Calendar)
		if pg := e.get(e.browser(), e.activate(c.profile, c.link)+"/go"); pg.kind() != "done" {
			t.Fatalf("%s: consent: %d %s", c.profile, pg.status, pg.kind())
		}
		key := state.LinkToken(state.LinkID{Profile: c.profile, Link: c.link})
		before, err := e.store.Token(ctx, key)
		must(t, err)
		cred, err := e.svc.Calendar(ctx, cal, l)
		must(t, err)
		e.svc.Invalidate(ctx, cred)
		fresh, err := e.svc.Calendar(ctx, cal, l)
		must(t, err)
		after, err := e.store.Token(ctx, key)
		must(t, err)
		if fresh.Token == cred.Token || after.AccessToken != fresh.Token {
			t.Errorf("%s: no new access token stored after a refresh", c.profile)
		}
		if rotated := after.RefreshToken != before.RefreshToken; rotated != c.rotates || after.RefreshToken == "" {
			t.Errorf("%s: refresh token rotated %t, want %t", c.profile, rotated, c.rotates)
		}
		// The stored refresh token is the one that works after a restart, once
		// the access token has expired.
		e.clk.Advance(2 * time.Hour)
		next, err := e.newService().Calendar(ctx, cal, l)
		if err != nil || next.Token == fresh.Token {
			t.Errorf("%s: a restarted service did not refresh with the stored token: %v", c.profile, err)
		}
	}
}
