package sotest_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/superoffice/internal/wire"
	"synchronizer/plugins/superoffice/sotest"
)

func (f *fixture) ticket(signed string) (wire.SystemUserResponse, string) {
	f.t.Helper()
	b, _ := json.Marshal(wire.SystemUserRequest{SignedSystemToken: signed, ApplicationToken: f.so.ClientSecret(),
		ContextIdentifier: "Cust7", ReturnTokenType: "JWT"})
	a := f.call(f.srv.URL+"/Login/api/PartnerSystemUser/Authenticate", "POST", string(b))
	var r wire.SystemUserResponse
	a.json(f.t, &r)
	if !r.IsSuccessful {
		return r, ""
	}
	parts := strings.Split(r.Token, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(raw, &claims)
	tk, _ := claims["http://schemes.superoffice.net/identity/ticket"].(string)
	if claims["iss"] != "SuperOffice AS" {
		f.t.Errorf("issuer = %v", claims["iss"])
	}
	return r, tk
}

func TestSystemUserTickets(t *testing.T) {
	f := newFixture(t, nil)
	now := f.clk.Now()
	for _, c := range []struct {
		name, signed, msg string
	}{
		{"stale timestamp", f.so.SignSystemToken(f.so.SystemToken(), now.Add(-10*time.Minute)), "Invalid timestamp"},
		{"other token", f.so.SignSystemToken("Other-123", now), "revoked"},
		{"bad signature", f.so.SystemToken() + "." + now.Format("200601021504") + ".AAAA", "Invalid signature"},
		{"malformed", "nodots", "Malformed"},
	} {
		r, _ := f.ticket(c.signed)
		if r.IsSuccessful || r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, c.msg) {
			t.Errorf("%s: %+v", c.name, r)
		}
	}
	_, tk := f.ticket(f.so.SignSystemToken(f.so.SystemToken(), now))
	if !strings.HasPrefix(tk, "7T:") {
		t.Fatalf("ticket = %q", tk)
	}
	api := f.so.APIURL(f.srv.URL) + "/v1/User/currentPrincipal"
	withTicket := func() int {
		return f.call(api, "GET", "", "Authorization", "SOTicket "+tk, "SO-AppToken", f.so.ClientSecret()).status
	}
	if s := f.call(api, "GET", "", "Authorization", "SOTicket "+tk).status; s != 401 {
		t.Errorf("ticket without SO-AppToken: %d", s)
	}
	var p wire.SoPrincipalCarrier
	f.call(api, "GET", "", "Authorization", "SOTicket "+tk, "SO-AppToken", f.so.ClientSecret()).json(t, &p)
	if p.UserType != "SystemAssociate" {
		t.Errorf("principal = %+v", p)
	}
	// Sliding expiry: used every five hours it lives on; six idle hours end it.
	for i := 0; i < 3; i++ {
		f.clk.Add(5 * time.Hour)
		if s := withTicket(); s != 200 {
			t.Fatalf("after %d uses: %d", i, s)
		}
	}
	f.clk.Add(6*time.Hour + time.Minute)
	if s := withTicket(); s != 401 {
		t.Errorf("idle ticket: %d", s)
	}
	f.so.RevokeConsent()
	if r, _ := f.ticket(f.so.SignSystemToken(f.so.SystemToken(), f.clk.Now())); r.IsSuccessful {
		t.Error("revoked consent still yields tickets")
	}
}

func TestOpenIDConnect(t *testing.T) {
	f := newFixture(t, nil)
	redirect := "http://127.0.0.1:9/cb"
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authorize := func(extra url.Values) url.Values {
		q := url.Values{"client_id": {"synchronizer"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"s1"}, "acr_values": {"tenant:Cust7"}}
		for k, v := range extra {
			q[k] = v
		}
		resp, err := client.PostForm(f.srv.URL+"/login/common/oauth/authorize", url.Values(mergeForm(q, url.Values{"username": {"USER1"}, "approve": {"yes"}})))
		if err != nil {
			t.Fatal(err)
		}
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc.Query()
	}
	// Without auto-consent the GET shows a sign-in page.
	resp, err := client.Get(f.srv.URL + "/login/common/oauth/authorize?client_id=synchronizer&response_type=code&scope=openid&redirect_uri=" + url.QueryEscape(redirect))
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("sign-in page: %v %v", resp, err)
	}
	if q := authorize(url.Values{"scope": {"openid profile"}}); q.Get("error") != "invalid_scope" {
		t.Errorf("extra scope: %v", q)
	}
	if q := authorize(url.Values{"acr_values": {"tenant:Cust8"}}); q.Get("error") != "access_denied" {
		t.Errorf("other tenant: %v", q)
	}
	token := func(form url.Values) (int, map[string]any) {
		form.Set("client_id", "synchronizer")
		form.Set("client_secret", f.so.ClientSecret())
		a := f.call(f.srv.URL+"/login/common/oauth/tokens?"+form.Encode(), "POST", "")
		var m map[string]any
		_ = json.Unmarshal(a.body, &m)
		return a.status, m
	}
	// PKCE plain is the default method.
	q := authorize(url.Values{"code_challenge": {"plain-verifier-1234567890"}})
	if q.Get("state") != "s1" || q.Get("code") == "" {
		t.Fatalf("redirect = %v", q)
	}
	if s, m := token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect}, "code_verifier": {"wrong"}}); s != 400 || m["error"] != "invalid_grant" {
		t.Errorf("wrong verifier: %d %v", s, m)
	}
	q = authorize(url.Values{"code_challenge": {"plain-verifier-1234567890"}})
	s, m := token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect}, "code_verifier": {"plain-verifier-1234567890"}})
	if s != 200 || !strings.HasPrefix(m["access_token"].(string), "8A:Cust7.") || m["expires_in"].(float64) != 3600 {
		t.Fatalf("tokens: %d %v", s, m)
	}
	claims := jwtClaims(t, m["id_token"].(string))
	const pre = "http://schemes.superoffice.net/identity/"
	if claims[pre+"ctx"] != "Cust7" || claims[pre+"system_token"] != f.so.SystemToken() || claims[pre+"is_administrator"] != "True" ||
		claims[pre+"associateid"] == nil || claims["aud"] != "synchronizer" {
		t.Errorf("id_token claims = %v", claims)
	}
	if s, m := token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect}, "code_verifier": {"plain-verifier-1234567890"}}); s != 400 || m["error"] != "invalid_grant" {
		t.Errorf("code reuse: %d %v", s, m)
	}
	refresh := m["refresh_token"].(string)
	if s, m := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}); s != 200 || m["refresh_token"] != nil || m["id_token"] == nil {
		t.Errorf("refresh: %d %v", s, m)
	}
	if s, m := token(url.Values{"grant_type": {"client_credentials"}}); s != 400 || m["error"] != "unsupported_grant_type" {
		t.Errorf("client_credentials: %d %v", s, m)
	}
	// S256, and codes expire after ten minutes.
	sum := sha256.Sum256([]byte("v-0123456789012345678901234567890123456789"))
	q = authorize(url.Values{"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}})
	f.clk.Add(11 * time.Minute)
	if s, _ := token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect}, "code_verifier": {"v-0123456789012345678901234567890123456789"}}); s != 400 {
		t.Errorf("expired code: %d", s)
	}
	f.so.RevokeConsent()
	if s, m := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}); s != 400 || m["error"] != "invalid_grant" {
		t.Errorf("refresh after revoke: %d %v", s, m)
	}
}

func TestAutoConsentFollowsLoginHint(t *testing.T) {
	f := newFixture(t, func(o *sotest.Options) { o.AutoConsent = true })
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(f.srv.URL + "/login/common/oauth/authorize?client_id=synchronizer&response_type=code&scope=openid&login_hint=user2%40so.test&redirect_uri=" +
		url.QueryEscape("http://127.0.0.1:9/cb"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("auto consent: %v %v", resp, err)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("code") == "" {
		t.Errorf("no code: %s", loc)
	}
}

// TestAutoConsentWithoutHintIsTheAdmin: a scripted tenant setup names nobody, so
// the auto-approving sign-in answers as the first administrator, whose consent
// carries the system_token the system-user flow needs.
func TestAutoConsentWithoutHintIsTheAdmin(t *testing.T) {
	f := newFixture(t, func(o *sotest.Options) { o.AutoConsent = true })
	redirect := "http://127.0.0.1:9/cb"
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(f.srv.URL + "/login/common/oauth/authorize?client_id=synchronizer&response_type=code&scope=openid&redirect_uri=" + url.QueryEscape(redirect))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("auto consent: %v %v", resp, err)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {redirect},
		"client_id": {"synchronizer"}, "client_secret": {f.so.ClientSecret()}}
	a := f.call(f.srv.URL+"/login/common/oauth/tokens?"+form.Encode(), "POST", "")
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil || a.status != 200 {
		t.Fatalf("tokens: %d %s", a.status, a.body)
	}
	claims := jwtClaims(t, m["id_token"].(string))
	if claims["http://schemes.superoffice.net/identity/is_administrator"] != "True" && claims["http://schemes.superoffice.net/identity/is_administrator"] != true {
		t.Errorf("signed in as a non-administrator: %v", claims)
	}
	if claims["http://schemes.superoffice.net/identity/system_token"] == nil {
		t.Errorf("no system_token in the administrator's id_token: %v", claims)
	}
}

func mergeForm(a, b url.Values) url.Values {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
