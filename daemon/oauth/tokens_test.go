package oauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/mail"
	"synchronizer/daemon/oauth"
	"synchronizer/daemon/runner"
	"synchronizer/daemon/state"
	"synchronizer/plugins/memory"
	"synchronizer/plugins/sdk"
)

// tokenEndpoint is an OAuth token endpoint whose answers a test decides.
type tokenEndpoint struct {
	srv      *httptest.Server
	requests atomic.Int32
	mu       sync.Mutex
	mode     string // "ok", "ok-no-rotate", "invalid_grant", "500"
	delay    time.Duration
	seq      int
	forms    []map[string]string
}

func newTokenEndpoint(t *testing.T) *tokenEndpoint {
	te := &tokenEndpoint{mode: "ok"}
	te.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		te.requests.Add(1)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", 400)
			return
		}
		te.mu.Lock()
		mode, delay := te.mode, te.delay
		te.seq++
		n := te.seq
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		te.forms = append(te.forms, form)
		te.mu.Unlock()
		if delay > 0 {
			time.Sleep(delay)
		}
		w.Header().Set("Content-Type", "application/json")
		switch mode {
		case "invalid_grant":
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`)
		case "500":
			w.WriteHeader(500)
			fmt.Fprint(w, `{"error":"server_error"}`)
		default:
			resp := map[string]any{"access_token": fmt.Sprintf("at-%d", n), "token_type": "Bearer", "expires_in": 3600, "scope": "calendar"}
			if mode == "ok" {
				resp["refresh_token"] = fmt.Sprintf("rt-%d", n)
			}
			json.NewEncoder(w).Encode(resp)
		}
	}))
	t.Cleanup(te.srv.Close)
	return te
}

func (te *tokenEndpoint) set(mode string) {
	te.mu.Lock()
	te.mode = mode
	te.mu.Unlock()
}

func (te *tokenEndpoint) lastForm() map[string]string {
	te.mu.Lock()
	defer te.mu.Unlock()
	if len(te.forms) == 0 {
		return nil
	}
	return te.forms[len(te.forms)-1]
}

// flakyStore fails PutToken while failPuts is set.
type flakyStore struct {
	*state.Memory
	failPuts atomic.Bool
}

func (f *flakyStore) PutToken(ctx context.Context, key state.TokenKey, tok state.Token) error {
	if f.failPuts.Load() {
		return errors.New("disk full")
	}
	return f.Memory.PutToken(ctx, key, tok)
}

// tokenEnv is a Service with one consented link on the memory provider, whose
// token endpoint is a tokenEndpoint.
type tokenEnv struct {
	t     *testing.T
	clk   *clock
	te    *tokenEndpoint
	store *flakyStore
	cfg   *config.Config
	cal   *config.Calendar
	prof  *config.Profile
	link  *config.Link
	id    state.LinkID
	prov  sdk.Provider
	mails *recordingMailer
	logs  *logBuffer
}

// recordingMailer counts the mails the service sends.
type recordingMailer struct {
	mu        sync.Mutex
	activated []string
	expired   []string
	digests   []mail.Digest
}

func (m *recordingMailer) Activation(_ context.Context, a mail.Activation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.activated = append(m.activated, a.URL)
	return nil
}

func (m *recordingMailer) ExpiredCredentials(_ context.Context, a mail.Activation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expired = append(m.expired, a.URL)
	return nil
}

func (m *recordingMailer) Digest(_ context.Context, d mail.Digest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.digests = append(m.digests, d)
	return nil
}

func (m *recordingMailer) counts() (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.activated), len(m.expired)
}

func newTokenEnv(t *testing.T) *tokenEnv {
	te := newTokenEndpoint(t)
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	cal := &config.Calendar{Provider: "memory", Name: "mem", ClientID: "cid", ClientSecret: "client-secret-1f9",
		Settings: map[string]string{"auth_url": te.srv.URL + "/auth", "token_url": te.srv.URL + "/token", "scopes": "calendar"}}
	link := &config.Link{Profile: "p", Name: "jane", Kind: config.KindUser, Associate: "JANE", Mailbox: "jane@example.test"}
	prof := &config.Profile{Name: "p", Calendar: "mem", Language: "en", Direction: "two-way", Links: []*config.Link{link}}
	env := &tokenEnv{t: t, clk: clk, te: te, cal: cal, prof: prof, link: link, id: state.LinkID{Profile: "p", Link: "jane"},
		prov: memory.New(), mails: &recordingMailer{}, logs: &logBuffer{},
		store: &flakyStore{Memory: state.NewMemory(clk.Now)},
		cfg:   &config.Config{HTTP: config.HTTP{PublicURL: "https://sync.example.test"}, Calendars: []*config.Calendar{cal}, Profiles: []*config.Profile{prof}}}
	must(t, env.store.PutToken(context.Background(), state.LinkToken(env.id), state.Token{
		AccessToken: "at-0", RefreshToken: "rt-0", TokenType: "Bearer", Expiry: clk.Now().Add(-time.Minute), Account: "jane@example.test"}))
	_, err := env.store.UpdateLink(context.Background(), env.id, func(l *state.Link) error { l.State = state.Active; return nil })
	must(t, err)
	return env
}

func (e *tokenEnv) service() *oauth.Service {
	svc, err := oauth.New(oauth.Options{
		Config: func() *config.Config { return e.cfg }, Store: e.store, Mailer: e.mails,
		Providers: oauth.ProvidersFunc(func(context.Context, string) (sdk.Provider, error) { return e.prov, nil }),
		Now:       e.clk.Now, Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	must(e.t, err)
	return svc
}

func (e *tokenEnv) stored() state.Token {
	tok, err := e.store.Token(context.Background(), state.LinkToken(e.id))
	must(e.t, err)
	return tok
}

func TestRefreshPersistsRotatedTokens(t *testing.T) {
	e := newTokenEnv(t)
	svc := e.service()
	ctx := context.Background()
	cred, err := svc.Calendar(ctx, e.cal, e.link)
	must(t, err)
	if cred != (sdk.Credential{Type: "bearer", Token: "at-1"}) || e.te.requests.Load() != 1 {
		t.Fatalf("credential %+v after %d requests", cred, e.te.requests.Load())
	}
	form := e.te.lastForm()
	if form["grant_type"] != "refresh_token" || form["refresh_token"] != "rt-0" || form["client_id"] != "cid" {
		t.Errorf("refresh request %v", form)
	}
	tok := e.stored()
	if tok.AccessToken != "at-1" || tok.RefreshToken != "rt-1" || !tok.Expiry.After(e.clk.Now()) || tok.Account != "jane@example.test" {
		t.Errorf("stored after refresh: %+v", tok)
	}
	// A valid token is reused, by this service and by the next one (a restart).
	if _, err := svc.Calendar(ctx, e.cal, e.link); err != nil || e.te.requests.Load() != 1 {
		t.Errorf("second call: %v, %d requests", err, e.te.requests.Load())
	}
	if cred, err := e.service().Calendar(ctx, e.cal, e.link); err != nil || cred.Token != "at-1" || e.te.requests.Load() != 1 {
		t.Errorf("after a restart: %v %q, %d requests", err, cred.Token, e.te.requests.Load())
	}
	// Near its expiry the token is refreshed; a response without a refresh token
	// keeps the one we have.
	e.te.set("ok-no-rotate")
	e.clk.Advance(59 * time.Minute)
	cred, err = svc.Calendar(ctx, e.cal, e.link)
	must(t, err)
	if cred.Token != "at-2" || e.stored().RefreshToken != "rt-1" {
		t.Errorf("after the second refresh: %q, refresh token %q", cred.Token, e.stored().RefreshToken)
	}
}

func TestRefreshIsSingleFlight(t *testing.T) {
	e := newTokenEnv(t)
	e.te.delay = 50 * time.Millisecond
	svc := e.service()
	var wg sync.WaitGroup
	got := make([]string, 16)
	errs := make([]error, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cred, err := svc.Calendar(context.Background(), e.cal, e.link)
			got[i], errs[i] = cred.Token, err
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != "at-1" {
			t.Errorf("caller %d: %q %v", i, got[i], errs[i])
		}
	}
	if n := e.te.requests.Load(); n != 1 {
		t.Errorf("%d token requests for 16 concurrent callers, want 1", n)
	}
}

func TestRevokedGrantStopsAsking(t *testing.T) {
	e := newTokenEnv(t)
	e.te.set("invalid_grant")
	svc := e.service()
	ctx := context.Background()
	_, err := svc.Calendar(ctx, e.cal, e.link)
	if !errors.Is(err, sdk.ErrConsentRevoked) {
		t.Fatalf("refresh with a revoked grant: %v", err)
	}
	if strings.Contains(err.Error(), "rt-0") || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("error text: %v", err)
	}
	for range 5 {
		if _, err := svc.Calendar(ctx, e.cal, e.link); !errors.Is(err, sdk.ErrConsentRevoked) {
			t.Fatalf("later call: %v", err)
		}
	}
	if n := e.te.requests.Load(); n != 1 {
		t.Errorf("%d token requests after a revoked grant, want 1", n)
	}
	// The runner reports the loss: one mail, a new activation, needs_consent.
	u1, err := svc.NeedsConsent(ctx, e.prof, e.link)
	must(t, err)
	u2, err := svc.NeedsConsent(ctx, e.prof, e.link)
	must(t, err)
	if _, expired := e.mails.counts(); expired != 1 || u1 != u2 || !strings.HasPrefix(u1, "https://sync.example.test/activate/") {
		t.Errorf("%d expired-credentials mails, URLs %s and %s", expired, u1, u2)
	}
	row, err := e.store.Link(ctx, e.id)
	must(t, err)
	if row.State != state.NeedsConsent || row.ActivationURL != u1 {
		t.Errorf("link row %+v", row)
	}
	// A restart neither mails again nor asks the token endpoint.
	svc2 := e.service()
	if _, err := svc2.Calendar(ctx, e.cal, e.link); !errors.Is(err, sdk.ErrConsentRevoked) {
		t.Errorf("after a restart: %v", err)
	}
	if u3, err := svc2.NeedsConsent(ctx, e.prof, e.link); err != nil || u3 != u1 {
		t.Errorf("NeedsConsent after a restart: %s %v", u3, err)
	}
	if _, expired := e.mails.counts(); expired != 1 || e.te.requests.Load() != 1 {
		t.Errorf("after a restart: %d mails, %d token requests", expired, e.te.requests.Load())
	}
}

func TestTransientRefreshFailureBacksOff(t *testing.T) {
	e := newTokenEnv(t)
	e.te.set("500")
	svc := e.service()
	ctx := context.Background()
	_, err := svc.Calendar(ctx, e.cal, e.link)
	if err == nil || errors.Is(err, sdk.ErrConsentRevoked) || errors.Is(err, runner.ErrNoConsent) {
		t.Fatalf("a 500 from the token endpoint: %v", err)
	}
	if _, err := svc.Calendar(ctx, e.cal, e.link); err == nil || e.te.requests.Load() != 1 {
		t.Errorf("within the backoff: %v, %d requests", err, e.te.requests.Load())
	}
	e.te.set("ok")
	e.clk.Advance(3 * time.Second)
	cred, err := svc.Calendar(ctx, e.cal, e.link)
	if err != nil || cred.Token == "" || e.te.requests.Load() != 2 {
		t.Errorf("after the backoff: %v, %d requests", err, e.te.requests.Load())
	}
}

func TestInvalidateForcesRefresh(t *testing.T) {
	e := newTokenEnv(t)
	svc := e.service()
	ctx := context.Background()
	cred, err := svc.Calendar(ctx, e.cal, e.link)
	must(t, err)
	svc.Invalidate(ctx, sdk.Credential{Type: "bearer", Token: "someone-elses"})
	if again, _ := svc.Calendar(ctx, e.cal, e.link); again != cred {
		t.Errorf("invalidating another token changed ours")
	}
	svc.Invalidate(ctx, cred)
	again, err := svc.Calendar(ctx, e.cal, e.link)
	must(t, err)
	if again == cred || e.te.requests.Load() != 2 {
		t.Errorf("after Invalidate: %q (was %q), %d requests", again.Token, cred.Token, e.te.requests.Load())
	}
}

func TestRotatedTokenSurvivesAStoreFailure(t *testing.T) {
	e := newTokenEnv(t)
	svc := e.service()
	ctx := context.Background()
	e.store.failPuts.Store(true)
	cred, err := svc.Calendar(ctx, e.cal, e.link)
	if err != nil || cred.Token != "at-1" {
		t.Fatalf("refresh while the store fails: %q %v", cred.Token, err)
	}
	if e.stored().RefreshToken != "rt-0" {
		t.Fatal("the store failed, yet the token changed")
	}
	e.store.failPuts.Store(false)
	if _, err := svc.Calendar(ctx, e.cal, e.link); err != nil {
		t.Fatal(err)
	}
	if tok := e.stored(); tok.RefreshToken != "rt-1" || tok.AccessToken != "at-1" || e.te.requests.Load() != 1 {
		t.Errorf("the rotated token was not written once the store worked: %+v, %d requests", tok, e.te.requests.Load())
	}
}

func TestNoConsentYet(t *testing.T) {
	e := newTokenEnv(t)
	must(t, e.store.DeleteToken(context.Background(), state.LinkToken(e.id)))
	if _, err := e.service().Calendar(context.Background(), e.cal, e.link); !errors.Is(err, runner.ErrNoConsent) {
		t.Errorf("no token stored: %v, want ErrNoConsent", err)
	}
}
