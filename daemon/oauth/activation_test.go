package oauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/mail"
	"synchronizer/daemon/oauth"
	"synchronizer/daemon/state"
	"synchronizer/daemon/web"
	"synchronizer/plugins/sdk"
)

// failingMailer fails the first fail activation mails.
type failingMailer struct {
	*recordingMailer
	fail int
}

func (f *failingMailer) Activation(ctx context.Context, a mail.Activation) error {
	f.mu.Lock()
	failing := f.fail > 0
	f.fail--
	f.mu.Unlock()
	if failing {
		return errors.New("smtp: 451 try again later")
	}
	return f.recordingMailer.Activation(ctx, a)
}

// activationEnv is a tokenEnv whose link has never consented.
func activationEnv(t *testing.T) *tokenEnv {
	e := newTokenEnv(t)
	ctx := context.Background()
	must(t, e.store.DeleteToken(ctx, state.LinkToken(e.id)))
	_, err := e.store.UpdateLink(ctx, e.id, func(l *state.Link) error { l.State = state.PendingActivation; return nil })
	must(t, err)
	return e
}

func TestEnsureIsIdempotentAndMailsOnce(t *testing.T) {
	e := activationEnv(t)
	svc := e.service()
	ctx := context.Background()
	u1, err := svc.Ensure(ctx, e.prof, e.link)
	must(t, err)
	u2, err := svc.Ensure(ctx, e.prof, e.link)
	must(t, err)
	if u1 != u2 || !strings.HasPrefix(u1, "https://sync.example.test/activate/") || len(secretOf(u1)) != 43 {
		t.Fatalf("Ensure gave %s then %s", u1, u2)
	}
	if a, _ := e.mails.counts(); a != 1 {
		t.Errorf("%d activation mails, want 1", a)
	}
	row, err := e.store.Link(ctx, e.id)
	must(t, err)
	if row.ActivationURL != u1 || row.State != state.PendingActivation {
		t.Errorf("link row %+v", row)
	}
	a, err := e.store.Activation(ctx, secretOf(u1), e.clk.Now())
	must(t, err)
	if a.Link != e.id || a.Purpose != "user" || !a.Expires.Equal(e.clk.Now().Add(oauth.DefaultActivationTTL)) {
		t.Errorf("stored activation %+v", a)
	}

	// The public URL moved (a reload): the same secret on the new base, no mail.
	e.cfg.HTTP.PublicURL = "https://consent.example.test/sync"
	u3, err := svc.Ensure(ctx, e.prof, e.link)
	must(t, err)
	if u3 != "https://consent.example.test/sync/activate/"+secretOf(u1) {
		t.Errorf("after the public URL moved: %s", u3)
	}
	// Expired unused: a new link, quietly.
	e.clk.Advance(oauth.DefaultActivationTTL + time.Minute)
	u4, err := svc.Ensure(ctx, e.prof, e.link)
	must(t, err)
	if u4 == u3 || secretOf(u4) == secretOf(u1) {
		t.Error("an expired activation was handed out again")
	}
	if a, _ := e.mails.counts(); a != 1 {
		t.Errorf("%d activation mails after the expiry, want still 1", a)
	}
	if _, err := e.store.Activation(ctx, secretOf(u1), e.clk.Now()); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("the old activation: %v, want it revoked", err)
	}
}

func TestIssueActivation(t *testing.T) {
	e := activationEnv(t)
	svc := e.service()
	ctx := context.Background()
	res, err := svc.IssueActivation(ctx, "p", "jane", false)
	must(t, err)
	if !res.Mailed || res.MailedTo != "jane@example.test" || res.State != "pending_activation" || res.Expires.IsZero() {
		t.Errorf("first issue: %+v", res)
	}
	again, err := svc.IssueActivation(ctx, "p", "jane", false)
	must(t, err)
	if again.URL != res.URL || again.Mailed {
		t.Errorf("second issue without resend: %+v", again)
	}
	resent, err := svc.IssueActivation(ctx, "p", "jane", true)
	must(t, err)
	if resent.URL == res.URL || !resent.Mailed {
		t.Errorf("resend: %+v", resent)
	}
	if _, err := e.store.Activation(ctx, secretOf(res.URL), e.clk.Now()); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("the replaced link still works: %v", err)
	}
	if a, _ := e.mails.counts(); a != 2 {
		t.Errorf("%d mails, want 2", a)
	}
	_, err = e.store.UpdateLink(ctx, e.id, func(l *state.Link) error { l.State = state.Active; return nil })
	must(t, err)
	if _, err := svc.IssueActivation(ctx, "p", "jane", false); !errors.Is(err, oauth.ErrActive) {
		t.Errorf("an active link without resend: %v", err)
	}
	if r, err := svc.IssueActivation(ctx, "p", "jane", true); err != nil || r.State != "active" || r.URL == "" {
		t.Errorf("an active link with resend: %+v %v", r, err)
	}
	if _, err := svc.IssueActivation(ctx, "p", "bob", false); !errors.Is(err, oauth.ErrUnknown) {
		t.Errorf("unknown link: %v", err)
	}
	// A calendar whose provider needs no sign-in has nothing to activate.
	delete(e.cal.Settings, "auth_url")
	delete(e.cal.Settings, "token_url")
	if _, err := e.service().IssueActivation(ctx, "p", "jane", true); !errors.Is(err, oauth.ErrNotNeeded) {
		t.Errorf("a provider that signs for itself: %v", err)
	}
}

func TestFailedMailIsRetried(t *testing.T) {
	e := activationEnv(t)
	ctx := context.Background()
	fm := &failingMailer{recordingMailer: e.mails, fail: 1}
	svc2, err := oauth.New(oauth.Options{Config: func() *config.Config { return e.cfg }, Store: e.store, Mailer: fm,
		Providers: oauth.ProvidersFunc(func(context.Context, string) (sdk.Provider, error) { return e.prov, nil }), Now: e.clk.Now})
	must(t, err)
	u1, err := svc2.Ensure(ctx, e.prof, e.link)
	must(t, err)
	if a, _ := e.mails.counts(); a != 0 {
		t.Fatalf("the mail was sent despite the failure")
	}
	u2, err := svc2.Ensure(ctx, e.prof, e.link)
	must(t, err)
	u3, err := svc2.Ensure(ctx, e.prof, e.link)
	must(t, err)
	if a, _ := e.mails.counts(); a != 1 || u1 != u2 || u2 != u3 {
		t.Errorf("after the retry: %d mails, URLs %s %s %s", a, u1, u2, u3)
	}
}

func TestAdminRoutes(t *testing.T) {
	e := activationEnv(t)
	svc := e.service()
	mux := http.NewServeMux()
	svc.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(path, body string) (int, string) {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		return resp.StatusCode, string(b)
	}
	code, body := post("/v1/profiles/p/links/jane/activation", "")
	var res oauth.ActivationResult
	if err := json.Unmarshal([]byte(body), &res); code != 200 || err != nil || res.URL == "" || !res.Mailed || res.Profile != "p" || res.Link != "jane" {
		t.Fatalf("issue: %d %s", code, body)
	}
	if code, body := post("/v1/profiles/p/links/jane/activation?resend=true", ""); code != 200 || strings.Contains(body, res.URL) {
		t.Errorf("resend by query: %d %s", code, body)
	}
	for _, c := range []struct {
		path, body string
		code       int
		text       string
	}{
		{"/v1/profiles/p/links/bob/activation", "", 404, "not in the configuration"},
		{"/v1/profiles/nope/links/jane/activation", `{"resend":true}`, 404, `profile \"nope\"`},
		{"/v1/profiles/p/links/jane/activation", `{"resend":`, 400, "resend"},
		{"/v1/profiles/p/links/jane/activation?resend=maybe", "", 400, "true or false"},
		{"/v1/profiles/p/links/jane/activation", strings.Repeat(" ", 5000), 413, "too large"},
		{"/v1/connections/mem/setup", "", 200, `"setup_url": "https://sync.example.test/setup/mem"`},
		{"/v1/connections/nope/setup", "", 404, "no superoffice or calendar block"},
	} {
		code, body := post(c.path, c.body)
		var eb web.ErrorBody
		json.Unmarshal([]byte(body), &eb)
		if code != c.code || !strings.Contains(body, c.text) || (code != 200 && eb.Error == "") {
			t.Errorf("POST %s: %d %s; want %d with %q", c.path, code, body, c.code, c.text)
		}
	}
	_, err := e.store.UpdateLink(context.Background(), e.id, func(l *state.Link) error { l.State = state.Active; return nil })
	must(t, err)
	if code, body := post("/v1/profiles/p/links/jane/activation", ""); code != 409 || !strings.Contains(body, "-resend") {
		t.Errorf("active link: %d %s", code, body)
	}
}

func TestDigestGoesToTheAdminAtMostTwiceADay(t *testing.T) {
	e := activationEnv(t)
	svc := e.service()
	ctx := context.Background()
	u, err := svc.Ensure(ctx, e.prof, e.link)
	must(t, err)
	status := func(context.Context) (web.Status, error) {
		return web.Status{Profiles: []web.ProfileStatus{{Name: "p", Links: []web.LinkStatus{
			{Name: "jane", Kind: "user", Mailbox: "jane@example.test", State: "needs_consent", ActivationURL: u},
			{Name: "ok", Kind: "user", Mailbox: "ok@example.test", State: "active"},
		}}}}, nil
	}
	d, err := svc.Digest(status)
	must(t, err)
	sent, err := d.Check(ctx)
	must(t, err)
	if !sent || len(e.mails.digests) != 1 || len(e.mails.digests[0].Links) != 1 || e.mails.digests[0].Links[0].Link != "jane" {
		t.Fatalf("first digest: sent %t, %+v", sent, e.mails.digests)
	}
	if e.mails.digests[0].Links[0].Since.IsZero() {
		t.Error("the digest does not say since when the link waits")
	}
	e.clk.Advance(6 * time.Hour)
	// A restart in between remembers the last digest.
	d2, err := e.service().Digest(status)
	must(t, err)
	if sent, err := d2.Check(ctx); err != nil || sent {
		t.Errorf("six hours later: sent %t, %v", sent, err)
	}
	e.clk.Advance(7 * time.Hour)
	if sent, err := d2.Check(ctx); err != nil || !sent {
		t.Errorf("thirteen hours later: sent %t, %v", sent, err)
	}
}

// Without an smtp block the activation URL is logged: that is how it reaches
// anyone (and `synchronizer activate` prints it).
func TestWithoutSMTPTheURLIsLogged(t *testing.T) {
	e := newEnv(t, envOptions{noSMTP: true})
	p, l := e.link("p365", "u1")
	u, err := e.svc.Ensure(context.Background(), p, l)
	must(t, err)
	if !strings.Contains(e.logs.String(), u) {
		t.Errorf("the activation URL is not in the log:\n%s", e.logs.String())
	}
	res, err := e.svc.IssueActivation(context.Background(), "p365", "u1", true)
	must(t, err)
	if res.Mailed || res.MailError != "" || !strings.Contains(e.logs.String(), res.URL) {
		t.Errorf("resend without smtp: %+v", res)
	}
}
