package m365

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
)

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// The delegated flow as the host runs it, from the spec the provider gives: PKCE,
// state, code exchange, Identify through /me, a rotating refresh token, revocation.
func TestDelegatedConsent(t *testing.T) {
	e := newEnv(t, graphtest.Options{AutoConsent: true})
	spec, err := e.p.OAuth(e.ctx, sdk.OAuthRequest{Instance: "acme", Purpose: sdk.PurposeUser, LoginHint: "user2@m365.test", RedirectURL: "http://127.0.0.1:9/oauth/callback"})
	if err != nil {
		t.Fatal(err)
	}
	if spec.Grant != sdk.GrantAuthorizationCode || !spec.PKCE || !strings.HasPrefix(spec.AuthURL, e.ts.URL+"/"+e.srv.TenantID()+"/oauth2/v2.0/authorize") {
		t.Fatalf("spec %+v", spec)
	}
	cfg := oauth2.Config{ClientID: spec.ClientID, ClientSecret: spec.ClientSecret, Scopes: spec.Scopes, RedirectURL: "http://127.0.0.1:9/oauth/callback", Endpoint: oauth2.Endpoint{AuthURL: spec.AuthURL, TokenURL: spec.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	var opts []oauth2.AuthCodeOption
	for k, v := range spec.Params {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	state := base64.RawURLEncoding.EncodeToString(b)
	resp, err := noRedirect.Get(cfg.AuthCodeURL(state, append(opts, oauth2.S256ChallengeOption(verifier))...))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		t.Fatalf("redirect %s (%d)", resp.Header.Get("Location"), resp.StatusCode)
	}
	ctx := context.WithValue(e.ctx, oauth2.HTTPClient, http.DefaultClient)
	if _, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption("wrong-verifier-wrong-verifier-wrong-verifier")); err == nil {
		t.Fatal("a wrong PKCE verifier was accepted")
	}
	// The code was spent by the failed attempt: single use.
	if _, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a code was redeemed twice")
	}
	resp, _ = noRedirect.Get(cfg.AuthCodeURL(state, append(opts, oauth2.S256ChallengeOption(verifier))...))
	resp.Body.Close()
	loc, _ = url.Parse(resp.Header.Get("Location"))
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token with offline_access")
	}
	acct, err := e.p.Identify(e.ctx, sdk.Target{Instance: "acme"}, sdk.TokenInfo{AccessToken: tok.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	if acct.Email != "user2@m365.test" || acct.ID == "" || acct.IsAdmin {
		t.Fatalf("identified %+v", acct)
	}
	// The token reaches its own mailbox and no other.
	mine := sdk.Target{Instance: "acme", Account: acct.ID, Credential: sdk.Credential{Type: "bearer", Token: tok.AccessToken}}
	if _, err := e.p.ListChanges(e.ctx, mine, sdk.ChangesRequest{Window: e.window()}); err != nil {
		t.Fatal(err)
	}
	other := mine
	other.Account = "user1@m365.test"
	_, err = e.p.ListChanges(e.ctx, other, sdk.ChangesRequest{Window: e.window()})
	mustErrIs(t, err, sdk.ErrPermissionDenied)
	// Refresh rotates the refresh token; a revoked grant gives invalid_grant.
	src := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken})
	fresh, err := src.Token()
	if err != nil || fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %v (rotated: %v)", err, fresh != nil && fresh.RefreshToken != tok.RefreshToken)
	}
	if err := e.srv.RevokeUser("user2@m365.test"); err != nil {
		t.Fatal(err)
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if err == nil || !errorsAs(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("after revocation: %v", err)
	}
	// An expired access token is ErrUnauthenticated.
	e.srv.ExpireAccessTokens()
	_, err = e.p.ListChanges(e.ctx, mine, sdk.ChangesRequest{Window: e.window()})
	mustErrIs(t, err, sdk.ErrUnauthenticated)
}

// Application access: admin consent once, then client credentials for every mailbox;
// an access policy fences it.
func TestApplicationConsent(t *testing.T) {
	e := newEnv(t, graphtest.Options{AutoConsent: true})
	if err := e.p.Configure(e.ctx, "app", map[string]string{"endpoint": e.ts.URL, "tenant_id": e.srv.TenantID(), "client_id": graphtest.DefaultClientID, "client_secret": graphtest.DefaultClientSecret, "auth": "application"}); err != nil {
		t.Fatal(err)
	}
	spec, err := e.p.OAuth(e.ctx, sdk.OAuthRequest{Instance: "app", Purpose: sdk.PurposeAdmin, RedirectURL: "http://127.0.0.1:9/oauth/callback"})
	if err != nil || spec.Grant != sdk.GrantAdminConsent || !strings.HasSuffix(spec.AuthURL, "/v2.0/adminconsent") {
		t.Fatalf("spec %+v %v", spec, err)
	}
	cc := clientcredentials.Config{ClientID: spec.ClientID, ClientSecret: spec.ClientSecret, TokenURL: spec.TokenURL, Scopes: spec.Scopes, AuthStyle: oauth2.AuthStyleInParams}
	ctx := context.WithValue(e.ctx, oauth2.HTTPClient, http.DefaultClient)
	// Before consent the token carries no roles: Graph says 403.
	early, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.p.ListChanges(e.ctx, sdk.Target{Instance: "app", Account: "user1@m365.test", Credential: sdk.Credential{Type: "bearer", Token: early.AccessToken}}, sdk.ChangesRequest{Window: e.window()})
	mustErrIs(t, err, sdk.ErrPermissionDenied)

	q := url.Values{"client_id": {spec.ClientID}, "redirect_uri": {"http://127.0.0.1:9/oauth/callback"}, "state": {"s1"}, "scope": {strings.Join(spec.Scopes, " ")}}
	resp, err := noRedirect.Get(spec.AuthURL + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("admin_consent") != "True" || loc.Query().Get("tenant") != e.srv.TenantID() || loc.Query().Get("state") != "s1" {
		t.Fatalf("admin consent redirect %s", loc)
	}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "" {
		t.Error("client credentials gave a refresh token")
	}
	acct, err := e.p.Identify(e.ctx, sdk.Target{Instance: "app"}, sdk.TokenInfo{AccessToken: tok.AccessToken})
	if err != nil || !acct.IsAdmin || acct.ID != e.srv.TenantID() {
		t.Fatalf("identify %+v %v", acct, err)
	}
	tg := sdk.Target{Instance: "app", Account: "user3@m365.test", Credential: sdk.Credential{Type: "bearer", Token: tok.AccessToken}}
	if _, err := e.p.ListChanges(e.ctx, tg, sdk.ChangesRequest{Window: e.window()}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetAccessPolicy(graphtest.DefaultClientID, "user1@m365.test"); err != nil {
		t.Fatal(err)
	}
	_, err = e.p.LookupAccount(e.ctx, tg, sdk.AccountUser, "user3@m365.test")
	mustErrIs(t, err, sdk.ErrPermissionDenied)
	if !strings.Contains(err.Error(), "access policy") {
		t.Errorf("unclear error: %v", err)
	}
}

func TestLookupAccount(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	if _, err := e.srv.AddUser(graphtest.User{UserPrincipalName: "onprem@m365.test", NoMailbox: true}); err != nil {
		t.Fatal(err)
	}
	tg := e.target("")
	u, err := e.p.LookupAccount(e.ctx, tg, sdk.AccountUser, "USER2@m365.test")
	if err != nil || u.Email != "user2@m365.test" || u.ID == "" || u.Kind != sdk.AccountUser {
		t.Fatalf("user: %+v %v", u, err)
	}
	r, err := e.p.LookupAccount(e.ctx, tg, sdk.AccountResource, "Meeting room 2")
	if err != nil || r.Email != "room2@m365.test" || r.Name != "Meeting room 2" || r.Kind != sdk.AccountResource {
		t.Fatalf("room: %+v %v", r, err)
	}
	_, err = e.p.LookupAccount(e.ctx, tg, sdk.AccountUser, "onprem@m365.test")
	mustErrIs(t, err, sdk.ErrNotFound)
	if !strings.Contains(err.Error(), "Exchange Online mailbox") {
		t.Errorf("unclear error: %v", err)
	}
	_, err = e.p.LookupAccount(e.ctx, tg, sdk.AccountUser, "nobody@m365.test")
	mustErrIs(t, err, sdk.ErrNotFound)
	// The ids LookupAccount gives work as targets.
	if _, err := e.p.ListChanges(e.ctx, e.target(u.ID), sdk.ChangesRequest{Window: e.window()}); err != nil {
		t.Fatal(err)
	}
}

func TestConfigure(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	for _, bad := range []map[string]string{
		{"endpoint": "ftp://x"},
		{"endpoint": "http://host/path"},
		{"auth": "sometimes"},
		{"auth": "application"},
		{"auth": "application", "tenant_id": "common"},
	} {
		if err := p.Configure(ctx, "x", bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if err := p.Configure(ctx, "x", map[string]string{"tenant_id": "contoso.onmicrosoft.com", "client_id": "c", "unknown": "ignored"}); err != nil {
		t.Fatal(err)
	}
	spec, err := p.OAuth(ctx, sdk.OAuthRequest{Instance: "x", Purpose: sdk.PurposeUser})
	if err != nil || spec.AuthURL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize" {
		t.Fatalf("%+v %v", spec, err)
	}
	_, err = p.OAuth(ctx, sdk.OAuthRequest{Instance: "nope"})
	mustErrIs(t, err, sdk.ErrInvalidArgument)
	_, err = p.Get(ctx, sdk.Target{Instance: "x", Account: "a"}, "id")
	mustErrIs(t, err, sdk.ErrUnauthenticated)
	info, _ := p.Info(ctx)
	if info.Name != "m365" || !info.Capabilities.IncrementalChanges || info.Capabilities.Licenses {
		t.Errorf("info %+v", info)
	}
	_, err = p.Licenses(ctx, sdk.Target{})
	mustErrIs(t, err, sdk.ErrUnsupported)
}
