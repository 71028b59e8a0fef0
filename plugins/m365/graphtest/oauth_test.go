package graphtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func tokenCall(t *testing.T, ts string, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(ts+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestSignInPage(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	s.RegisterApp(App{ClientID: "strict", ClientSecret: "pw", RedirectURIs: []string{"https://sync.example.com/oauth/callback"}, Name: "Strict"})
	q := url.Values{"client_id": {"strict"}, "response_type": {"code"}, "redirect_uri": {"https://sync.example.com/oauth/callback"}, "scope": {"offline_access Calendars.ReadWrite"}, "state": {"st"}, "code_challenge": {challenge("verifier-verifier-verifier-verifier-verifier")}, "code_challenge_method": {"S256"}, "login_hint": {"user3@m365.test"}}
	resp, err := noFollow.Get(ts.URL + "/organizations/oauth2/v2.0/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `value="user3@m365.test"`) || !strings.Contains(string(page), `id="approve"`) {
		t.Fatalf("sign-in page %d: %s", resp.StatusCode, page)
	}
	// The page's form, approved.
	form := url.Values{}
	for k, v := range q {
		form[k] = v
	}
	form.Set("login", "user3@m365.test")
	form.Set("action", "approve")
	resp, err = noFollow.PostForm(ts.URL+"/organizations/oauth2/v2.0/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if resp.StatusCode != 302 || loc.Host != "sync.example.com" || code == "" || loc.Query().Get("state") != "st" {
		t.Fatalf("approve: %d %s", resp.StatusCode, loc)
	}
	// Denied.
	form.Set("action", "deny")
	resp, _ = noFollow.PostForm(ts.URL+"/organizations/oauth2/v2.0/authorize", form)
	resp.Body.Close()
	if l, _ := url.Parse(resp.Header.Get("Location")); l.Query().Get("error") != "access_denied" {
		t.Fatalf("deny: %s", l)
	}
	// Problems with the client or redirect URI stay on the page.
	for _, bad := range []url.Values{{"client_id": {"nobody"}}, {"redirect_uri": {"https://evil.example.com/cb"}}} {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		for k, v := range bad {
			qq[k] = v
		}
		resp, _ := noFollow.Get(ts.URL + "/common/oauth2/v2.0/authorize?" + qq.Encode())
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
			t.Errorf("%v: %d %s", bad, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// Redeem: the wrong secret, then right, then again.
	redeem := url.Values{"grant_type": {"authorization_code"}, "client_id": {"strict"}, "client_secret": {"wrong"}, "code": {code}, "redirect_uri": {"https://sync.example.com/oauth/callback"}, "code_verifier": {"verifier-verifier-verifier-verifier-verifier"}}
	st, out := tokenCall(t, ts.URL, "organizations", redeem)
	if st != 401 || out["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", st, out)
	}
	for _, k := range []string{"error_description", "error_codes", "timestamp", "trace_id", "correlation_id"} {
		if out[k] == nil {
			t.Errorf("token error lacks %s", k)
		}
	}
	redeem.Set("client_secret", "pw")
	st, out = tokenCall(t, ts.URL, "organizations", redeem)
	if st != 200 || out["refresh_token"] == nil || out["token_type"] != "Bearer" || out["expires_in"] != float64(3599) || out["id_token"] != nil {
		t.Fatalf("redeem: %d %v", st, out)
	}
	if st, out = tokenCall(t, ts.URL, "organizations", redeem); st != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("second redemption: %d %v", st, out)
	}
}

func TestTokenEndpoint(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{AutoConsent: true})
	code := func(scope string) string {
		q := url.Values{"client_id": {DefaultClientID}, "response_type": {"code"}, "redirect_uri": {"http://127.0.0.1/cb"}, "scope": {scope}, "login_hint": {"user1@m365.test"}, "code_challenge": {challenge("v")}, "code_challenge_method": {"S256"}}
		resp, err := noFollow.Get(ts.URL + "/common/oauth2/v2.0/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		l, _ := url.Parse(resp.Header.Get("Location"))
		return l.Query().Get("code")
	}
	base := url.Values{"grant_type": {"authorization_code"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "redirect_uri": {"http://127.0.0.1/cb"}, "code_verifier": {"v"}}
	// No offline_access, no refresh token; openid gives an id_token.
	f := url.Values{}
	for k, v := range base {
		f[k] = v
	}
	f.Set("code", code("openid profile Calendars.Read"))
	st, out := tokenCall(t, ts.URL, "common", f)
	if st != 200 || out["refresh_token"] != nil || out["id_token"] == nil || !strings.Contains(out["scope"].(string), "Calendars.Read") {
		t.Fatalf("%d %v", st, out)
	}
	// The token reads but does not write.
	a := newAPI(t, ts, out["access_token"].(string))
	a.must(200, "GET", "/v1.0/me/calendar/events", nil)
	a.must(403, "POST", "/v1.0/me/calendar/events", timedEvent("x", testStart, 3600e9, "UTC"))
	// PKCE: a wrong verifier is invalid_grant.
	f.Set("code", code("offline_access Calendars.ReadWrite"))
	f.Set("code_verifier", "not-it")
	if st, out = tokenCall(t, ts.URL, "common", f); st != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %v", st, out)
	}
	// Client credentials need a tenant and .default.
	cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "scope": {"https://graph.microsoft.com/.default"}}
	if st, _ = tokenCall(t, ts.URL, "common", cc); st != 400 {
		t.Fatalf("client credentials on common: %d", st)
	}
	cc.Set("scope", "Calendars.Read")
	if st, out = tokenCall(t, ts.URL, s.TenantID(), cc); st != 400 || out["error"] != "invalid_scope" {
		t.Fatalf("bad scope: %d %v", st, out)
	}
	cc.Set("scope", "https://graph.microsoft.com/.default")
	if err := s.GrantAdminConsent(DefaultClientID); err != nil {
		t.Fatal(err)
	}
	st, out = tokenCall(t, ts.URL, s.Domain(), cc)
	if st != 200 || out["refresh_token"] != nil || out["scope"] != nil {
		t.Fatalf("client credentials: %d %v", st, out)
	}
	// Its claims carry roles.
	parts := strings.Split(out["access_token"].(string), ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(raw, &claims)
	if roles, _ := claims["roles"].([]any); len(roles) == 0 || claims["tid"] != s.TenantID() {
		t.Fatalf("claims %v", claims)
	}
	// Admin consent by someone who is not an admin is refused.
	q := url.Values{"client_id": {DefaultClientID}, "redirect_uri": {"http://127.0.0.1/cb"}, "state": {"x"}, "login_hint": {"user2@m365.test"}}
	resp, _ := noFollow.Get(ts.URL + "/" + s.TenantID() + "/adminconsent?" + q.Encode())
	resp.Body.Close()
	if l, _ := url.Parse(resp.Header.Get("Location")); l.Query().Get("error") != "access_denied" {
		t.Fatalf("non-admin consent: %s", l)
	}
}
