package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeFlow answers the consent routes from fixed values and records calls.
type fakeFlow struct {
	mu       sync.Mutex
	page     ConsentPage
	start    ConsentStart
	done     ConsentDone
	err      error
	hints    []string
	bindings []string
}

func (f *fakeFlow) ActivationPage(_ context.Context, token string) (ConsentPage, error) {
	return f.page, f.err
}
func (f *fakeFlow) StartActivation(_ context.Context, token, hint string) (ConsentStart, error) {
	f.mu.Lock()
	f.hints = append(f.hints, hint)
	f.mu.Unlock()
	return f.start, f.err
}
func (f *fakeFlow) SetupPage(_ context.Context, name string) (ConsentPage, error) {
	return f.page, f.err
}
func (f *fakeFlow) StartSetup(_ context.Context, name, hint string) (ConsentStart, error) {
	return f.start, f.err
}
func (f *fakeFlow) Finish(_ context.Context, q url.Values, binding string) (ConsentDone, error) {
	f.mu.Lock()
	f.bindings = append(f.bindings, binding)
	f.mu.Unlock()
	return f.done, f.err
}

func consentServer(t *testing.T, f ConsentFlow) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewConsentHandler(ConsentOptions{Flow: f, Logger: quiet}))
	t.Cleanup(srv.Close)
	return srv
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestConsentSecurityHeaders(t *testing.T) {
	t.Parallel()
	srv := consentServer(t, &fakeFlow{page: ConsentPage{Purpose: PurposeUser, System: "Microsoft 365", Account: "jane@acme.example",
		Profile: "acme", GoURL: "https://sync.example.com/activate/tok/go", Expires: time.Date(2026, 1, 9, 10, 0, 0, 0, time.UTC)}})
	for _, path := range []string{"/activate/tok", "/nothing-here", "/oauth/callback"} {
		code, body, h := get(t, http.MethodGet, srv.URL+path)
		for k, want := range map[string]string{
			"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
			"X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		// The page's only style block is the one the CSP's hash allows.
		m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("%s (%d): no style block", path, code)
		}
		sum := sha256.Sum256([]byte(m[1]))
		if !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
			t.Errorf("%s: the CSP does not allow the page's style", path)
		}
		if strings.Contains(body, "<script") {
			t.Errorf("%s: the page has a script", path)
		}
	}
}

func TestConsentRefusesWhatNoBrowserSends(t *testing.T) {
	t.Parallel()
	f := &fakeFlow{page: ConsentPage{GoURL: "https://x.example/go"}}
	srv := consentServer(t, f)
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodPost, "/activate/tok", "", http.StatusMethodNotAllowed},
		{http.MethodPut, "/oauth/callback", "", http.StatusMethodNotAllowed},
		{http.MethodGet, "/activate/tok", "some body", http.StatusRequestEntityTooLarge},
		{http.MethodGet, "/activate/" + strings.Repeat("a", 9000), "", http.StatusRequestURITooLong},
		{http.MethodHead, "/activate/tok", "", http.StatusOK},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		if c.body == "" {
			req.Body = nil
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s with %d body bytes: %d, want %d", c.method, c.path[:min(len(c.path), 20)], len(c.body), resp.StatusCode, c.want)
		}
	}
}

func TestConsentBindsTheSignInToTheBrowser(t *testing.T) {
	t.Parallel()
	f := &fakeFlow{
		start: ConsentStart{AuthURL: "https://login.example/authorize?x=1", State: "state-123", Binding: "bind-456",
			CookiePath: "/sync/oauth/callback", Secure: true, MaxAge: 10 * time.Minute},
		done: ConsentDone{Purpose: PurposeUser, System: "Google", Account: "jane@acme.example"},
	}
	srv := consentServer(t, f)
	resp, err := noRedirect().Get(srv.URL + "/activate/tok/go?login_hint=boss@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != f.start.AuthURL {
		t.Fatalf("button: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if f.hints[0] != "boss@acme.example" {
		t.Errorf("login_hint passed on as %q", f.hints[0])
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == BindingCookie("state-123") {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != "bind-456" || !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteLaxMode ||
		cookie.Path != "/sync/oauth/callback" || cookie.MaxAge != 600 {
		t.Fatalf("binding cookie %+v", cookie)
	}
	// Back from the provider, with and without the cookie.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/oauth/callback?state=state-123&code=c", nil)
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	req.AddCookie(&http.Cookie{Name: BindingCookie("other-state"), Value: "not-this-one"})
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("callback: %d", resp.StatusCode)
	}
	if _, _, _ = get(t, http.MethodGet, srv.URL+"/oauth/callback?state=state-123&code=c"); !reflect.DeepEqual(f.bindings, []string{"bind-456", ""}) {
		t.Errorf("bindings handed to Finish: %q", f.bindings)
	}
	cleared := false
	for _, c := range resp.Cookies() {
		cleared = cleared || (c.Name == cookie.Name && c.MaxAge < 0)
	}
	if !cleared {
		t.Error("the callback did not clear the binding cookie")
	}
}

func TestConsentErrorPages(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		page   string
		text   []string
		absent []string
	}{
		{&ConsentError{Kind: ErrConsentUnknown}, 404, "error-unknown", []string{"This link is not valid"}, nil},
		{&ConsentError{Kind: ErrConsentExpired, Language: "sv"}, 410, "error-expired", []string{"Den här länken har gått ut", `lang="sv"`}, nil},
		{&ConsentError{Kind: ErrConsentUsed, Language: "da"}, 410, "error-used", []string{"allerede brugt"}, nil},
		{&ConsentError{Kind: ErrConsentDenied, Retry: "https://sync.example.com/activate/tok"}, 403, "error-denied",
			[]string{"Access was not granted", `href="https://sync.example.com/activate/tok"`}, nil},
		{&ConsentError{Kind: ErrConsentWrongAccount, Account: "bob@acme.example", Expected: "jane@acme.example", Language: "nl"}, 403, "error-wrong_account",
			[]string{"bob@acme.example", "jane@acme.example", "Meld u af bij bob@acme.example"}, nil},
		{&ConsentError{Kind: ErrConsentNotAdmin, Account: "bob@acme.example", Language: "no"}, 403, "error-not_admin", []string{"bob@acme.example har ikke lov"}, nil},
		{&ConsentError{Kind: ErrConsentState}, 400, "error-state", []string{"same browser"}, nil},
		{&ConsentError{Kind: ErrConsentProvider, Detail: `server_error: <b>down</b>`}, 502, "error-provider",
			[]string{"server_error: &lt;b&gt;down&lt;/b&gt;"}, []string{"<b>down</b>"}},
		{&ConsentError{Kind: ErrConsentTokenExchange, Err: errors.New("secret-cause-123")}, 502, "error-token_exchange", nil, []string{"secret-cause-123"}},
		{&ConsentError{Kind: ErrConsentSetupClosed, Name: "acme"}, 404, "error-setup_closed", []string{"<code>synchronizer connect acme</code>"}, nil},
		{&ConsentError{Kind: ErrConsentNotNeeded}, 409, "error-not_needed", []string{"No sign-in is needed"}, nil},
		{&ConsentError{Kind: ErrConsentUnavailable, Language: "de"}, 503, "error-unavailable", []string{"Es wurde nichts geändert"}, nil},
		{&ConsentError{Kind: ErrConsentDenied, Retry: "javascript:alert(1)"}, 403, "error-denied", nil, []string{"javascript:"}},
		{errors.New("store exploded: token=abc"), 500, "error-internal", []string{"Something went wrong"}, []string{"exploded", "abc"}},
		{&ConsentError{Kind: ConsentErrorKind(99)}, 500, "error-internal", nil, nil},
	}
	for _, c := range cases {
		srv := consentServer(t, &fakeFlow{err: c.err})
		code, body, _ := get(t, http.MethodGet, srv.URL+"/activate/tok")
		if code != c.status || !strings.Contains(body, `data-page="`+c.page+`"`) {
			t.Errorf("%v: %d, want %d %s\n%s", c.err, code, c.status, c.page, body)
			continue
		}
		if !strings.Contains(body, `role="alert"`) {
			t.Errorf("%v: the error is not announced as an alert", c.err)
		}
		for _, w := range c.text {
			if !strings.Contains(body, w) {
				t.Errorf("%v: page lacks %q", c.err, w)
			}
		}
		for _, w := range c.absent {
			if strings.Contains(body, w) {
				t.Errorf("%v: page shows %q", c.err, w)
			}
		}
	}
}

func TestConsentPagesRender(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 1, 9, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		page ConsentPage
		want []string
	}{
		{ConsentPage{Purpose: PurposeUser, System: "Microsoft 365", Account: "jane@acme.example", Profile: "acme-365",
			GoURL: "https://sync.example.com/activate/t/go", Expires: exp},
			[]string{"Connect your calendar", "jane@acme.example", "Sign in with Microsoft 365", `href="https://sync.example.com/activate/t/go"`,
				"9 January 2026 at 10:00 (UTC)", "profile acme-365", `lang="en"`}},
		{ConsentPage{Language: "de", Purpose: PurposeResource, Name: "Raum 1", System: "Google", Account: "r1@resource.example",
			Manager: true, Connected: "admin@acme.example", GoURL: "https://s.example/go", Expires: exp},
			[]string{"Den Kalender von Raum 1 verbinden", "Melden Sie sich mit dem Konto admin@acme.example an", "9. Januar 2026 um 10:00"}},
		{ConsentPage{Language: "sv", Purpose: PurposeResource, Name: "Rum 1", System: "Google", Account: "r1@resource.example", Manager: true, GoURL: "https://s.example/go"},
			[]string{"som hanterar kalendern r1@resource.example"}},
		{ConsentPage{Purpose: PurposeUser, System: "Google", Account: "jane@acme.example", Reconnect: true, GoURL: "https://s.example/go"},
			[]string{"Sign in again to restart the calendar sync", "nothing is lost"}},
		{ConsentPage{Purpose: PurposeAdmin, Name: "acme", System: "SuperOffice", Connected: "old@acme.example", GoURL: "https://s.example/setup/acme/go"},
			[]string{"Grant access to SuperOffice (acme)", "administrator account of SuperOffice", "old@acme.example", `data-page="setup"`}},
		{ConsentPage{Purpose: PurposeUser, System: "Google", Account: "<x>", GoURL: "javascript:alert(1)"},
			[]string{"&lt;x&gt;"}},
	}
	for i, c := range cases {
		srv := consentServer(t, &fakeFlow{page: c.page})
		code, body, _ := get(t, http.MethodGet, srv.URL+"/setup/acme")
		if code != 200 {
			t.Fatalf("case %d: %d", i, code)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("case %d lacks %q:\n%s", i, w, body)
			}
		}
		if strings.Contains(body, "javascript:") {
			t.Errorf("case %d: a javascript: URL became a link", i)
		}
	}
	srv := consentServer(t, &fakeFlow{done: ConsentDone{Language: "nl", Purpose: PurposeUser, System: "Microsoft 365", Account: "jan@acme.example", Profile: "p"}})
	code, body, _ := get(t, http.MethodGet, srv.URL+"/oauth/callback?state=s")
	if code != 200 || !strings.Contains(body, `data-page="done"`) || !strings.Contains(body, "Uw Microsoft 365-agenda jan@acme.example is nu gekoppeld") {
		t.Errorf("success page: %d\n%s", code, body)
	}
}

// Every language says everything: a missing sentence would show an empty page.
func TestConsentCatalogsAreComplete(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"en", "no", "sv", "da", "de", "nl"} {
		c := consentLanguage(lang)
		if c.tag != lang {
			t.Errorf("%s: got the %s catalog", lang, c.tag)
		}
		v := reflect.ValueOf(*c)
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			name := v.Type().Field(i).Name
			switch f.Kind() {
			case reflect.String:
				if f.String() == "" {
					t.Errorf("%s: %s is empty", lang, name)
				}
			case reflect.Map:
				for k := range consentKindNames {
					if name == "errText" || name == "errNext" || name == "errHead" {
						s := f.MapIndex(reflect.ValueOf(k))
						if !s.IsValid() || s.String() == "" {
							t.Errorf("%s: %s[%s] is missing", lang, name, k)
						}
					}
				}
			}
		}
		// Placeholders agree with English, so no argument goes missing.
		en := reflect.ValueOf(*consentEnglish)
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).Kind() == reflect.String && placeholders(v.Field(i).String()) != placeholders(en.Field(i).String()) {
				t.Errorf("%s: %s has placeholders %q, English %q", lang, v.Type().Field(i).Name,
					placeholders(v.Field(i).String()), placeholders(en.Field(i).String()))
			}
		}
	}
	if consentLanguage("nb").tag != "no" || consentLanguage("de-AT").tag != "de" || consentLanguage("fi").tag != "en" {
		t.Error("language codes are not normalised")
	}
}

var placeholderRE = regexp.MustCompile(`%\[\d\][sd]`)

func placeholders(s string) string {
	m := placeholderRE.FindAllString(s, -1)
	set := map[string]bool{}
	for _, p := range m {
		set[p] = true
	}
	var out []string
	for _, p := range []string{"%[1]s", "%[2]s", "%[3]s", "%[4]s", "%[5]s", "%[1]d", "%[3]d"} {
		if set[p] {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

func TestConsentTimeout(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	defer close(block)
	srv := httptest.NewServer(NewConsentHandler(ConsentOptions{Flow: slowFlow{block}, Logger: quiet, Timeout: 50 * time.Millisecond}))
	defer srv.Close()
	code, body, _ := get(t, http.MethodGet, srv.URL+"/oauth/callback?state=x")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "error-unavailable") {
		t.Errorf("a callback that hangs: %d\n%s", code, body)
	}
}

type slowFlow struct{ block chan struct{} }

func (s slowFlow) ActivationPage(context.Context, string) (ConsentPage, error) {
	return ConsentPage{}, nil
}
func (s slowFlow) StartActivation(context.Context, string, string) (ConsentStart, error) {
	return ConsentStart{}, nil
}
func (s slowFlow) SetupPage(context.Context, string) (ConsentPage, error) { return ConsentPage{}, nil }
func (s slowFlow) StartSetup(context.Context, string, string) (ConsentStart, error) {
	return ConsentStart{}, nil
}
func (s slowFlow) Finish(ctx context.Context, _ url.Values, _ string) (ConsentDone, error) {
	select {
	case <-s.block:
	case <-ctx.Done():
	}
	return ConsentDone{}, ctx.Err()
}
