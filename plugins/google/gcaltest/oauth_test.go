package gcaltest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	gcal "google.golang.org/api/calendar/v3"
)

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// authorize runs the browser step with AutoConsent and returns the callback query.
func (f *fixture) authorize(t *testing.T, hint, challenge, prompt string) url.Values {
	t.Helper()
	q := url.Values{"client_id": {"cid"}, "redirect_uri": {"http://127.0.0.1:1/cb"}, "response_type": {"code"},
		"scope": {"openid email " + scopePrefix + "calendar.events"}, "state": {"st8"}, "access_type": {"offline"},
		"login_hint": {hint}}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	if prompt != "" {
		q.Set("prompt", prompt)
	}
	resp, err := noRedirect().Get(f.srv.URL + "/o/oauth2/v2/auth?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return loc.Query()
}

func (f *fixture) token(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(f.srv.URL+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestOAuthCodeFlowWithPKCE(t *testing.T) {
	f := newFixture(t, Options{AutoConsent: true})
	verifier := "a-very-long-verifier-string-of-at-least-43-characters-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])

	cb := f.authorize(t, UserEmail(1), challenge, "")
	if cb.Get("state") != "st8" || cb.Get("code") == "" {
		t.Fatalf("callback: %v", cb)
	}
	base := url.Values{"grant_type": {"authorization_code"}, "client_id": {"cid"}, "client_secret": {"x"},
		"redirect_uri": {"http://127.0.0.1:1/cb"}, "code": {cb.Get("code")}}
	bad := url.Values{}
	for k, v := range base {
		bad[k] = v
	}
	bad.Set("code_verifier", "wrong")
	if code, m := f.token(t, bad); code != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %v", code, m)
	}
	// The code was single-use: even the right verifier fails now.
	base.Set("code_verifier", verifier)
	if code, _ := f.token(t, base); code != 400 {
		t.Fatalf("reused code: %d", code)
	}
	cb = f.authorize(t, UserEmail(1), challenge, "")
	base.Set("code", cb.Get("code"))
	code, tok := f.token(t, base)
	if code != 200 || tok["refresh_token"] == nil || tok["id_token"] == nil || tok["expires_in"].(float64) != 3599 {
		t.Fatalf("exchange: %d %v", code, tok)
	}
	// The id_token names the account.
	parts := strings.Split(tok["id_token"].(string), ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if !strings.Contains(string(claims), `"email":"user1@google.test"`) {
		t.Fatalf("id_token claims %s", claims)
	}
	// A second consent without prompt=consent yields no new refresh token; with it, one.
	cb = f.authorize(t, UserEmail(1), challenge, "")
	base.Set("code", cb.Get("code"))
	if _, again := f.token(t, base); again["refresh_token"] != nil {
		t.Fatal("refresh token without prompt=consent")
	}
	cb = f.authorize(t, UserEmail(1), challenge, "consent")
	base.Set("code", cb.Get("code"))
	if _, again := f.token(t, base); again["refresh_token"] == nil {
		t.Fatal("no refresh token with prompt=consent")
	}
	// Refresh answers without a new refresh token.
	rt := tok["refresh_token"].(string)
	code, ref := f.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"cid"}, "client_secret": {"x"}})
	if code != 200 || ref["refresh_token"] != nil || ref["access_token"] == nil {
		t.Fatalf("refresh: %d %v", code, ref)
	}
	// The access token works and userinfo names the account.
	req, _ := http.NewRequest("GET", f.srv.URL+"/oauth2/v3/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+ref["access_token"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ui map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&ui)
	resp.Body.Close()
	if ui["email"] != UserEmail(1) {
		t.Fatalf("userinfo %v", ui)
	}
	// The user revokes access: refresh gives invalid_grant, the access token 401.
	f.s.RevokeAccount(UserEmail(1))
	code, m := f.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"cid"}})
	if code != 400 || m["error"] != "invalid_grant" || m["error_description"] != "Token has been expired or revoked." {
		t.Fatalf("revoked refresh: %d %v", code, m)
	}
	if code, _, _ := f.raw(ref["access_token"].(string), "GET", "/calendar/v3/calendars/primary/events", nil, nil); code != 401 {
		t.Fatalf("revoked access token: %d", code)
	}
	// Without AutoConsent's account the flow is denied.
	cb = f.authorize(t, "nobody@google.test", "", "")
	if cb.Get("error") != "access_denied" {
		t.Fatalf("unknown account: %v", cb)
	}
}

func TestOAuthTestingModeRefreshTokensDie(t *testing.T) {
	f := newFixture(t, Options{AutoConsent: true, TestingMode: true})
	cb := f.authorize(t, UserEmail(1), "", "")
	code, tok := f.token(t, url.Values{"grant_type": {"authorization_code"}, "client_id": {"cid"},
		"redirect_uri": {"http://127.0.0.1:1/cb"}, "code": {cb.Get("code")}})
	if code != 200 || tok["refresh_token_expires_in"] == nil {
		t.Fatalf("testing-mode exchange: %d %v", code, tok)
	}
	f.now = f.now.Add(7*24*time.Hour + time.Minute)
	code, m := f.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}, "client_id": {"cid"}})
	if code != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("after 7 days: %d %v", code, m)
	}
}

func TestConsentPageWithoutAutoConsent(t *testing.T) {
	f := newFixture(t, Options{ClientID: "cid", ClientSecret: "sec"})
	q := url.Values{"client_id": {"cid"}, "redirect_uri": {"http://127.0.0.1:1/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "login_hint": {UserEmail(2)}}
	resp, err := http.Get(f.srv.URL + "/o/oauth2/v2/auth?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte(UserEmail(2))) {
		t.Fatalf("page: %d %s", resp.StatusCode, page)
	}
	form := url.Values{"account": {UserEmail(2)}, "decision": {"approve"}}
	for k, v := range q {
		form[k] = v
	}
	resp, err = noRedirect().PostForm(f.srv.URL+"/o/oauth2/v2/auth", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("code") == "" {
		t.Fatalf("approve: %v", loc)
	}
	// A registered client must authenticate.
	code, m := f.token(t, url.Values{"grant_type": {"authorization_code"}, "client_id": {"cid"}, "client_secret": {"wrong"},
		"redirect_uri": {"http://127.0.0.1:1/cb"}, "code": {loc.Query().Get("code")}})
	if code != 401 || m["error"] != "invalid_client" {
		t.Fatalf("bad secret: %d %v", code, m)
	}
}

func TestJWTBearerGrant(t *testing.T) {
	f := newFixture(t, Options{Now: time.Now}) // the JWT library signs with the real clock
	key, err := f.s.NewServiceAccount("sync", scopePrefix+"calendar.events", scopePrefix+"admin.directory.resource.calendar.readonly")
	if err != nil {
		t.Fatal(err)
	}
	conf, err := google.JWTConfigFromJSON(key, scopePrefix+"calendar.events")
	if err != nil {
		t.Fatal(err)
	}
	conf.TokenURL = f.srv.URL + "/token"
	conf.Audience = f.srv.URL + "/token"
	try := func(sub string, scopes ...string) (*oauth2.Token, error) {
		c := *conf
		c.Subject = sub
		if len(scopes) > 0 {
			c.Scopes = scopes
		}
		return c.TokenSource(context.Background()).Token()
	}
	tok, err := try(UserEmail(1))
	if err != nil || tok.RefreshToken != "" {
		t.Fatalf("grant: %v %+v", err, tok)
	}
	if code, _, m := f.raw(tok.AccessToken, "GET", "/calendar/v3/calendars/"+url.PathEscape(UserEmail(1))+"/events", nil, nil); code != 200 {
		t.Fatalf("impersonated read: %d %v", code, m)
	}
	if _, err := try(UserEmail(1), scopePrefix+"calendar"); err == nil || !strings.Contains(err.Error(), "unauthorized_client") {
		t.Fatalf("scope outside delegation: %v", err)
	}
	if _, err := try("ghost@google.test"); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("unknown subject: %v", err)
	}
	// A key the emulator does not know.
	other := New(Options{})
	otherKey, _ := other.NewServiceAccount("sync", scopePrefix+"calendar.events")
	oc, _ := google.JWTConfigFromJSON(otherKey, scopePrefix+"calendar.events")
	oc.TokenURL, oc.Audience, oc.Subject = f.srv.URL+"/token", f.srv.URL+"/token", UserEmail(1)
	if _, err := oc.TokenSource(context.Background()).Token(); err == nil {
		t.Fatal("unknown service account accepted")
	}
}

func TestBatch(t *testing.T) {
	f := newFixture(t, Options{})
	tok := f.userToken(UserEmail(1))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	parts := []string{
		"POST /calendar/v3/calendars/primary/events?sendUpdates=none HTTP/1.1\r\nContent-Type: application/json\r\n\r\n" +
			`{"id":"batch00001","summary":"B","start":{"date":"2024-05-07"},"end":{"date":"2024-05-08"}}`,
		"GET /calendar/v3/calendars/primary/events/batch00001 HTTP/1.1\r\n\r\n",
		"GET /calendar/v3/calendars/primary/events/missing0000 HTTP/1.1\r\n\r\n",
	}
	for i, p := range parts {
		h := map[string][]string{"Content-Type": {"application/http"}, "Content-ID": {fmt.Sprintf("<item%d>", i)}}
		w, _ := mw.CreatePart(h)
		_, _ = io.WriteString(w, p)
	}
	_ = mw.Close()
	req, _ := http.NewRequest("POST", f.srv.URL+"/batch/calendar/v3", &body)
	req.Header.Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("batch: %d %v", resp.StatusCode, err)
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var codes []int
	var ids []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.Header.Get("Content-ID"))
		inner, err := http.ReadResponse(bufio.NewReader(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, inner.StatusCode)
	}
	if fmt.Sprint(codes) != "[200 200 404]" || ids[0] != "<response-item0>" {
		t.Fatalf("inner answers %v %v", codes, ids)
	}
	if st := f.s.Stats(); st.Requests["GET /calendar/v3/calendars/{calendarId}/events/{eventId}"] != 2 {
		t.Fatalf("inner calls not counted: %v", st.Requests)
	}
}

func TestWatchNotifications(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	done := make(chan struct{}, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		w.WriteHeader(200)
		done <- struct{}{}
	}))
	defer hook.Close()
	f := newFixture(t, Options{})
	tok := f.userToken(UserEmail(1))
	code, _, ch := f.raw(tok, "POST", "/calendar/v3/calendars/primary/events/watch",
		map[string]any{"id": "chan-1", "type": "web_hook", "address": hook.URL, "token": "secret-1"}, nil)
	if code != 200 || ch["resourceId"] == nil || ch["kind"] != "api#channel" {
		t.Fatalf("watch: %d %v", code, ch)
	}
	wait := func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("no notification")
		}
	}
	wait()
	svc := f.svc(tok)
	if _, err := svc.Events.Insert(UserEmail(1), timed("N", "2024-05-07T09:00:00+02:00", "2024-05-07T10:00:00+02:00")).Do(); err != nil {
		t.Fatal(err)
	}
	wait()
	mu.Lock()
	if got[0].Get("X-Goog-Resource-State") != "sync" || got[1].Get("X-Goog-Resource-State") != "exists" ||
		got[1].Get("X-Goog-Message-Number") != "2" || got[1].Get("X-Goog-Channel-Token") != "secret-1" {
		t.Fatalf("headers %v", got)
	}
	mu.Unlock()
	code, _, _ = f.raw(tok, "POST", "/calendar/v3/channels/stop", map[string]any{"id": "chan-1", "resourceId": ch["resourceId"]}, nil)
	if code != 204 {
		t.Fatalf("stop: %d", code)
	}
	if code, _, _ := f.raw(tok, "POST", "/calendar/v3/channels/stop", map[string]any{"id": "chan-1", "resourceId": ch["resourceId"]}, nil); code != 404 {
		t.Fatalf("second stop: %d", code)
	}
}

func TestTestSurface(t *testing.T) {
	f := newFixture(t, Options{})
	if err := f.s.SeedEvents(UserEmail(1), 10, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SeedEvents(UserEmail(1), 10, 1); err == nil {
		t.Fatal("seeding twice with one seed accepted")
	}
	code, _, m := f.raw("", "GET", "/_emulator/stats", nil, nil)
	if code != 200 || m["events"].(float64) != 9 { // the cancelled occurrence is not a live event
		t.Fatalf("stats: %d %v", code, m)
	}
	if code, _, _ := f.raw("", "POST", "/_emulator/faults", map[string]any{"throttle": 2}, nil); code != 400 {
		t.Fatalf("bad fraction accepted: %d", code)
	}
	if code, _, _ := f.raw("", "POST", "/_emulator/reset", map[string]any{}, nil); code != 200 {
		t.Fatal(code)
	}
	if ids := f.s.EventIDs(UserEmail(1)); len(ids) != 0 {
		t.Fatalf("reset kept %d events", len(ids))
	}
	// Accounts survive a reset; the admin token reads every calendar.
	if code, _, _ := f.raw(f.s.AdminToken(), "GET", "/calendar/v3/calendars/"+url.PathEscape(UserEmail(2))+"/events", nil, nil); code != 200 {
		t.Fatalf("admin token: %d", code)
	}
}

func BenchmarkSeed(b *testing.B) {
	for i := 0; i < b.N; i++ {
		s := New(Options{})
		if err := s.AddUser(User{Email: UserEmail(1)}); err != nil {
			b.Fatal(err)
		}
		if err := s.SeedEvents(UserEmail(1), 100000, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// Many clients at once: the emulator stays consistent (run with -race), and Close
// leaves no push goroutine behind.
func TestConcurrentUseAndClose(t *testing.T) {
	before := runtime.NumGoroutine()
	f := newFixture(t, Options{QuotaPerUser: -1})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer hook.Close()
	tok := f.userToken(UserEmail(1))
	if code, _, _ := f.raw(tok, "POST", "/calendar/v3/calendars/primary/events/watch",
		map[string]any{"id": "c", "type": "web_hook", "address": hook.URL}, nil); code != 200 {
		t.Fatal(code)
	}
	svc := f.svc(tok)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				ev, err := svc.Events.Insert(UserEmail(1), timed(fmt.Sprintf("g%d-%d", g, i), "2024-05-07T09:00:00+02:00", "2024-05-07T10:00:00+02:00")).Do()
				if err != nil {
					errs <- err
					return
				}
				if _, err := svc.Events.Patch(UserEmail(1), ev.Id, &gcal.Event{Summary: "p"}).Do(); err != nil {
					errs <- err
					return
				}
				if _, err := svc.Events.List(UserEmail(1)).Do(); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(f.s.EventIDs(UserEmail(1))); n != 80 {
		t.Fatalf("%d events, want 80", n)
	}
	f.srv.Close()
	f.s.Close()
	hook.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Fatalf("%d goroutines after Close, %d before", n, before)
	}
}
