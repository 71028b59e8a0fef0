package google

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/sdk"
)

// consent runs the host's side of the OAuth flow against the emulator: the browser
// step (auto-consent as login_hint) and the code exchange with PKCE.
func (e *env) consent(purpose sdk.OAuthPurpose, hint string) sdk.TokenInfo {
	e.t.Helper()
	spec, err := e.p.OAuth(context.Background(), sdk.OAuthRequest{Instance: "gw", Purpose: purpose, LoginHint: hint,
		RedirectURL: "http://127.0.0.1:1/oauth/callback"})
	if err != nil {
		e.t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: spec.ClientID, ClientSecret: spec.ClientSecret, Scopes: spec.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: spec.AuthURL, TokenURL: spec.TokenURL}, RedirectURL: "http://127.0.0.1:1/oauth/callback"}
	verifier := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	for k, v := range spec.Params {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(conf.AuthCodeURL("state-1", opts...))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" {
		e.t.Fatalf("no code: %s", loc)
	}
	tok, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatal(err)
	}
	info := sdk.TokenInfo{AccessToken: tok.AccessToken, Expiry: tok.Expiry, Extra: map[string]string{}}
	if v, ok := tok.Extra("id_token").(string); ok {
		info.IDToken = v
	}
	if v, ok := tok.Extra("scope").(string); ok {
		info.Scope = v
	}
	if v, ok := tok.Extra("refresh_token_expires_in").(float64); ok {
		info.Extra["refresh_token_expires_in"] = strconv.FormatFloat(v, 'f', 0, 64)
	}
	if tok.RefreshToken == "" {
		e.t.Fatal("no refresh token from an offline consent")
	}
	return info
}

func TestOAuthSpec(t *testing.T) {
	e := newEnv(t, gcaltest.Options{AutoConsent: true}, Options{})
	spec, err := e.p.OAuth(context.Background(), sdk.OAuthRequest{Instance: "gw", Purpose: sdk.PurposeUser, LoginHint: "x@y"})
	if err != nil {
		t.Fatal(err)
	}
	if spec.Grant != sdk.GrantAuthorizationCode || !spec.PKCE || spec.AuthURL != e.ts.URL+"/o/oauth2/v2/auth" ||
		spec.TokenURL != e.ts.URL+"/token" || spec.Params["access_type"] != "offline" || spec.Params["prompt"] != "consent" ||
		spec.Params["login_hint"] != "x@y" || !slices.Contains(spec.Scopes, ScopeEvents) || slices.Contains(spec.Scopes, ScopeResources) {
		t.Fatalf("user spec: %+v", spec)
	}
	admin, err := e.p.OAuth(context.Background(), sdk.OAuthRequest{Instance: "gw", Purpose: sdk.PurposeAdmin})
	if err != nil || !slices.Contains(admin.Scopes, ScopeResources) {
		t.Fatalf("admin spec: %v %+v", err, admin)
	}
	// The real hosts when no endpoint is set; missing client settings are explained.
	p := New(nil)
	if err := p.Configure(context.Background(), "real", map[string]string{"client_id": "a", "client_secret": "b"}); err != nil {
		t.Fatal(err)
	}
	real, _ := p.OAuth(context.Background(), sdk.OAuthRequest{Instance: "real", Purpose: sdk.PurposeUser})
	if real.AuthURL != "https://accounts.google.com/o/oauth2/v2/auth" || real.TokenURL != "https://oauth2.googleapis.com/token" {
		t.Fatalf("real hosts: %+v", real)
	}
	_ = p.Configure(context.Background(), "bare", map[string]string{})
	_, err = p.OAuth(context.Background(), sdk.OAuthRequest{Instance: "bare", Purpose: sdk.PurposeUser})
	mustErrIs(t, err, sdk.ErrInvalidArgument)
	for _, bad := range []string{"ftp://x", "http://host/path", "not a url", "http://"} {
		if err := p.Configure(context.Background(), "x", map[string]string{"endpoint": bad}); err == nil {
			t.Errorf("endpoint %q accepted", bad)
		}
	}
}

func TestIdentifyUsersAndAdmins(t *testing.T) {
	e := newEnv(t, gcaltest.Options{AutoConsent: true}, Options{})
	tok := e.consent(sdk.PurposeUser, gcaltest.UserEmail(1))
	acct, err := e.p.Identify(context.Background(), sdk.Target{Instance: "gw"}, tok)
	if err != nil || acct.ID != gcaltest.UserEmail(1) || acct.Name != "User One" || acct.IsAdmin {
		t.Fatalf("user: %v %+v", err, acct)
	}
	// The admin consent: the same account may manage resource calendars.
	tok = e.consent(sdk.PurposeAdmin, "admin@google.test")
	acct, err = e.p.Identify(context.Background(), sdk.Target{Instance: "gw"}, tok)
	if err != nil || acct.ID != "admin@google.test" || !acct.IsAdmin {
		t.Fatalf("admin: %v %+v", err, acct)
	}
	// A non-admin going through the admin consent is not an admin.
	tok = e.consent(sdk.PurposeAdmin, gcaltest.UserEmail(2))
	acct, err = e.p.Identify(context.Background(), sdk.Target{Instance: "gw"}, tok)
	if err != nil || acct.IsAdmin {
		t.Fatalf("non-admin: %v %+v", err, acct)
	}
	// Without an id_token the userinfo endpoint names the account.
	tok.IDToken = ""
	acct, err = e.p.Identify(context.Background(), sdk.Target{Instance: "gw"}, tok)
	if err != nil || acct.ID != gcaltest.UserEmail(2) {
		t.Fatalf("userinfo: %v %+v", err, acct)
	}
	// A consent whose calendar box was unticked.
	tok.Scope = "openid email"
	_, err = e.p.Identify(context.Background(), sdk.Target{Instance: "gw"}, tok)
	mustErrIs(t, err, sdk.ErrPermissionDenied)
}

func TestTestingModeIsWarned(t *testing.T) {
	e := newEnv(t, gcaltest.Options{AutoConsent: true, TestingMode: true}, Options{})
	tok := e.consent(sdk.PurposeUser, gcaltest.UserEmail(1))
	if _, err := e.p.Identify(context.Background(), sdk.Target{Instance: "gw"}, tok); err != nil {
		t.Fatal(err)
	}
	logs := e.logText()
	if !strings.Contains(logs, "Testing") || !strings.Contains(logs, "level=WARN") {
		t.Fatalf("no warning about Testing status in:\n%s", logs)
	}
	if strings.Contains(logs, tok.AccessToken) {
		t.Fatal("a token reached the log")
	}
}

func TestLookupAccount(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	ctx := context.Background()
	adminT := e.adminTarget("")
	for _, key := range []string{gcaltest.ResourceEmail(2), "Room 2", "ROOM2@RESOURCE.GOOGLE.TEST"} {
		acct, err := e.p.LookupAccount(ctx, adminT, sdk.AccountResource, key)
		if err != nil || acct.ID != gcaltest.ResourceEmail(2) || acct.Kind != sdk.AccountResource || acct.Name != "Room 2" {
			t.Fatalf("resource %q: %v %+v", key, err, acct)
		}
	}
	_, err := e.p.LookupAccount(ctx, adminT, sdk.AccountResource, "Room 9")
	mustErrIs(t, err, sdk.ErrNotFound)
	// Users: the admin connection finds them in the directory.
	acct, err := e.p.LookupAccount(ctx, adminT, sdk.AccountUser, gcaltest.UserEmail(2))
	if err != nil || acct.ID != gcaltest.UserEmail(2) || acct.Name != "User Two" {
		t.Fatalf("user via directory: %v %+v", err, acct)
	}
	// A user's own token finds their own calendar.
	acct, err = e.p.LookupAccount(ctx, e.target(gcaltest.UserEmail(1)), sdk.AccountUser, gcaltest.UserEmail(1))
	if err != nil || acct.ID != gcaltest.UserEmail(1) {
		t.Fatalf("own calendar: %v %+v", err, acct)
	}
	_, err = e.p.LookupAccount(ctx, adminT, sdk.AccountUser, "ghost@google.test")
	mustErrIs(t, err, sdk.ErrNotFound)
	_, err = e.p.LookupAccount(ctx, adminT, sdk.AccountUser, "JANE")
	mustErrIs(t, err, sdk.ErrInvalidArgument)
	_, err = e.p.Licenses(ctx, adminT)
	mustErrIs(t, err, sdk.ErrUnsupported)
}

func TestServiceAccountWithDomainWideDelegation(t *testing.T) {
	e := newEnv(t, gcaltest.Options{Now: time.Now}, Options{})
	key, err := e.srv.NewServiceAccount("sync", ScopeEvents, ScopeResources, ScopeUsers)
	if err != nil {
		t.Fatal(err)
	}
	// The JWT library signs with the wall clock; the emulator must agree.
	e.mu.Lock()
	e.now = time.Now()
	e.mu.Unlock()
	ctx := context.Background()
	if err := e.p.Configure(ctx, "sa", map[string]string{"endpoint": e.ts.URL, "service_account_json": string(key), "admin": "admin@google.test"}); err != nil {
		t.Fatal(err)
	}
	spec, err := e.p.OAuth(ctx, sdk.OAuthRequest{Instance: "sa", Purpose: sdk.PurposeUser})
	if err != nil || spec.Grant != sdk.GrantNone {
		t.Fatalf("spec: %v %+v", err, spec)
	}
	user := sdk.Target{Instance: "sa", Account: gcaltest.UserEmail(1)}
	in := single("By delegation", e.clock().Add(time.Hour), time.Hour)
	in.CorrelationID = "sa-1"
	created, err := e.p.Create(ctx, user, in)
	if err != nil {
		t.Fatal(err)
	}
	if ev, ok := e.srv.Event(gcaltest.UserEmail(1), created.ID); !ok || ev.Summary != "By delegation" {
		t.Fatal("not written to the user's calendar")
	}
	// Resource calendars are reached as the admin.
	room := sdk.Target{Instance: "sa", Account: gcaltest.ResourceEmail(1)}
	if _, err := e.tryRound(ctx, room, "", e.window()); err != nil {
		t.Fatal(err)
	}
	acct, err := e.p.Identify(ctx, sdk.Target{Instance: "sa"}, sdk.TokenInfo{})
	if err != nil || !acct.IsAdmin || acct.ID != "admin@google.test" {
		t.Fatalf("identify: %v %+v", err, acct)
	}
	// Tokens are cached: a second call does not mint a new one.
	before := e.stats().Requests["POST /token"]
	if _, err := e.p.Get(ctx, user, created.ID); err != nil {
		t.Fatal(err)
	}
	if after := e.stats().Requests["POST /token"]; after != before {
		t.Fatalf("token minted again (%d -> %d)", before, after)
	}
	// A revoked token is replaced once by itself.
	e.srv.ExpireAccessTokens()
	if _, err := e.p.Get(ctx, user, created.ID); err != nil {
		t.Fatalf("after token expiry: %v", err)
	}
	// An unknown user: the grant is refused and the error says what to do.
	_, err = e.p.Get(ctx, sdk.Target{Instance: "sa", Account: "ghost@google.test"}, created.ID)
	mustErrIs(t, err, sdk.ErrPermissionDenied)
	// Delegation without the scope.
	narrow, _ := e.srv.NewServiceAccount("narrow", ScopeResources)
	_ = e.p.Configure(ctx, "narrow", map[string]string{"endpoint": e.ts.URL, "service_account_json": string(narrow), "admin": "admin@google.test"})
	_, err = e.p.Get(ctx, sdk.Target{Instance: "narrow", Account: gcaltest.UserEmail(1)}, created.ID)
	if !strings.Contains(errString(err), "Domain-wide delegation") {
		t.Fatalf("missing delegation: %v", err)
	}
	for _, bad := range []string{"{", `{"type":"authorized_user"}`, `{"type":"service_account","client_email":"a@b","private_key":"nope"}`} {
		if err := e.p.Configure(ctx, "bad", map[string]string{"service_account_json": bad}); err == nil {
			t.Errorf("key %q accepted", bad)
		} else if strings.Contains(err.Error(), "nope") {
			t.Errorf("error echoes the key: %v", err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
