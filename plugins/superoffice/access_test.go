package superoffice_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice"
	"synchronizer/plugins/superoffice/sotest"
)

func TestTenantMovesMidRun(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	e.so.SeedEvents("USER1", 20, 2)
	_, _, cur, _ := e.listAll(tg, "", 0)
	e.so.MoveTenant()
	evs, removed, _, _ := e.listAll(tg, cur, 0)
	if len(evs) != 0 || len(removed) != 0 {
		t.Errorf("round after the move: %d events, removed %v", len(evs), removed)
	}
	if n := e.so.Stats().Requests["421 wrong host"]; n != 1 {
		t.Errorf("421 answers = %d, want 1", n)
	}
	start := e.clk.Now().Add(time.Hour)
	if _, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "After move", Start: start, End: start.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

func TestTicketExpiresMidRun(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	_, _, cur, _ := e.listAll(tg, "", 0)
	e.so.ExpireTickets()
	if _, _, _, _ = e.listAll(tg, cur, 0); e.so.Stats().Requests["POST /Login/api/PartnerSystemUser/Authenticate"] != 2 {
		t.Errorf("ticket not renewed once: %v", e.so.Stats().Requests)
	}
	// A ticket unused for more than five hours is renewed before use.
	e.clk.Add(5*time.Hour + time.Minute)
	if _, _, _, _ = e.listAll(tg, "", 0); e.so.Stats().Requests["POST /Login/api/PartnerSystemUser/Authenticate"] != 3 {
		t.Errorf("stale ticket not renewed: %v", e.so.Stats().Requests)
	}
}

func TestRevokedConsentIsReported(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	_, _, _, _ = e.listAll(tg, "", 0)
	e.so.RevokeConsent()
	_, err := e.p.ListChanges(e.ctx(), tg, sdk.ChangesRequest{Window: e.window()})
	if !errors.Is(err, sdk.ErrConsentRevoked) {
		t.Fatalf("err = %v, want ErrConsentRevoked", err)
	}
	if strings.Contains(err.Error(), e.so.SystemToken()) || strings.Contains(err.Error(), "7T:") {
		t.Errorf("error leaks a secret: %v", err)
	}
}

func TestWrongPartnerKeyIsRefused(t *testing.T) {
	e := newEnv(t, withSettings("partner_key", string(pemOf(testKeys.signing))))
	_, err := e.p.ListChanges(e.ctx(), e.target(e.user1), sdk.ChangesRequest{Window: e.window()})
	if !errors.Is(err, sdk.ErrConsentRevoked) || !strings.Contains(err.Error(), "Invalid signature") {
		t.Fatalf("err = %v", err)
	}
}

func TestFaultsMapToContractErrors(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	start := e.clk.Now().Add(time.Hour)
	ev, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "x", Start: start, End: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		fault func()
		check func(error) bool
	}{
		{"429 with Retry-After", func() { e.so.FailNext(429, 1, "7") }, func(err error) bool {
			d, ok := sdk.RetryAfter(err)
			return ok && d == 7*time.Second
		}},
		{"503 without Retry-After", func() { e.so.FailNext(503, 1, "") }, func(err error) bool {
			d, ok := sdk.RetryAfter(err)
			return ok && d == 0
		}},
		{"500 on every try", func() { e.so.FailNext(500, 4, "") }, func(err error) bool {
			_, ok := sdk.RetryAfter(err)
			return err != nil && !ok && strings.Contains(err.Error(), "500")
		}},
		{"truncated JSON", func() { e.so.TruncateNext(1) }, func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "decode answer")
		}},
		{"421 twice", func() { e.so.FailNext(421, 2, "") }, func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "421")
		}},
		{"401 on a ticket, once", func() { e.so.FailNext(401, 1, "") }, func(err error) bool { return err == nil }},
		{"401 on a ticket, twice", func() { e.so.FailNext(401, 2, "") }, func(err error) bool { return errors.Is(err, sdk.ErrUnauthenticated) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fault()
			_, err := e.p.Get(e.ctx(), tg, ev.ID)
			if !c.check(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
	bad := e.admin(e.user1)
	bad.Credential.Token = "8A:Cust42.nope"
	if _, err := e.p.Get(e.ctx(), bad, ev.ID); !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Errorf("bad bearer: %v", err)
	}
}

func TestExpiredCursors(t *testing.T) {
	e := newEnv(t, withSettings("tenant_state_ttl", "0s"))
	tg := e.target(e.user1)
	_, _, cur, _ := e.listAll(tg, "", 0)
	e.so.ExpireCursors()
	_, err := e.p.ListChanges(e.ctx(), tg, sdk.ChangesRequest{Cursor: cur, Window: e.window()})
	if !errors.Is(err, sdk.ErrFullSyncRequired) {
		t.Fatalf("after expire_cursors: %v", err)
	}
	_, _, cur, full := e.listAll(tg, "", 0)
	if !full {
		t.Error("fresh round not full")
	}
	e.clk.Add(25 * time.Hour)
	if _, err := e.p.ListChanges(e.ctx(), tg, sdk.ChangesRequest{Cursor: cur, Window: e.window()}); !errors.Is(err, sdk.ErrFullSyncRequired) {
		t.Errorf("day-old cursor: %v", err)
	}
	for _, bad := range []string{"garbage", "eyJ2IjoyfQ", cur[:len(cur)/2]} {
		if _, err := e.p.ListChanges(e.ctx(), tg, sdk.ChangesRequest{Cursor: bad, Window: e.window()}); !errors.Is(err, sdk.ErrFullSyncRequired) {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
	if _, err := e.p.ListChanges(e.ctx(), e.target(e.user2), sdk.ChangesRequest{Cursor: cur, Window: e.window()}); !errors.Is(err, sdk.ErrFullSyncRequired) {
		t.Errorf("another diary's cursor: %v", err)
	}
}

func TestTenantInMaintenanceIsThrottled(t *testing.T) {
	e := newEnv(t, withSettings("tenant_state_ttl", "0s"))
	if err := e.so.SetTenantState("OfflineMaintenance"); err != nil {
		t.Fatal(err)
	}
	_, err := e.p.ListChanges(e.ctx(), e.target(e.user1), sdk.ChangesRequest{Window: e.window()})
	if d, ok := sdk.RetryAfter(err); !ok || d <= 0 {
		t.Errorf("maintenance: %v", err)
	}
	_ = e.so.SetTenantState("Suspended")
	if _, err := e.p.ListChanges(e.ctx(), e.target(e.user1), sdk.ChangesRequest{Window: e.window()}); !errors.Is(err, sdk.ErrPermissionDenied) {
		t.Errorf("suspended: %v", err)
	}
}

func TestPagedRound(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	e.so.SeedEvents("USER1", 80, 4)
	one, _, _, _ := e.listAll(tg, "", 0)
	e2 := superoffice.New(nil)
	e2.SetClock(e.clk.Now)
	paged := map[string]sdk.Event{}
	cursor := ""
	pages := 0
	for {
		ch, err := e.p.ListChanges(e.ctx(), tg, sdk.ChangesRequest{Cursor: cursor, Window: e.window(), PageSize: 7})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, ev := range ch.Events {
			paged[ev.ID] = ev
		}
		cursor = ch.Cursor
		if !ch.More {
			break
		}
	}
	if pages < 5 || len(paged) != len(one) {
		t.Errorf("%d pages with %d events; one page had %d", pages, len(paged), len(one))
	}
	for id, ev := range one {
		if paged[id].Version != ev.Version || paged[id].Title != ev.Title {
			t.Errorf("event %s differs between paged and unpaged rounds", id)
		}
	}
}

func TestPreconditions(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	start := e.clk.Now().Add(time.Hour)
	ev, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "v1", Start: start, End: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	stale := ev
	e.clk.Add(3 * time.Second)
	ev.Title = "v2"
	ev2, err := e.p.Update(e.ctx(), tg, ev)
	if err != nil {
		t.Fatal(err)
	}
	if ev2.Version == stale.Version {
		t.Fatal("version did not change")
	}
	stale.Title = "lost"
	if _, err := e.p.Update(e.ctx(), tg, stale); !errors.Is(err, sdk.ErrPreconditionFailed) {
		t.Errorf("stale update: %v", err)
	}
	if err := e.p.Delete(e.ctx(), tg, ev.ID, stale.Version); !errors.Is(err, sdk.ErrPreconditionFailed) {
		t.Errorf("stale delete: %v", err)
	}
	if err := e.p.Delete(e.ctx(), tg, ev.ID, ev2.Version); err != nil {
		t.Errorf("delete: %v", err)
	}
	if err := e.p.Delete(e.ctx(), tg, ev.ID, ev2.Version); err != nil {
		t.Errorf("delete again: %v", err)
	}
}

func TestCorrelationSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	start := e.clk.Now().Add(time.Hour)
	single, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "one", Start: start, End: start.Add(time.Hour), CorrelationID: "c-single"})
	if err != nil {
		t.Fatal(err)
	}
	series, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "many", Start: start.Add(24 * time.Hour), End: start.Add(25 * time.Hour),
		Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=3"}, CorrelationID: "c-series"})
	if err != nil {
		t.Fatal(err)
	}
	e.so.SeedEvents("USER1", 20, 9)
	// A new process: nothing cached.
	p := superoffice.New(nil)
	p.SetClock(e.clk.Now)
	if err := p.Configure(context.Background(), "acme", map[string]string{"endpoint": e.srv.URL, "context_id": "Cust42",
		"client_id": "synchronizer", "client_secret": "synchronizer-secret", "partner_key": string(e.so.PartnerKeyPEM())}); err != nil {
		t.Fatal(err)
	}
	e.p = p
	evs, _, _, _ := e.listAll(tg, "", 0)
	if evs[single.ID].CorrelationID != "c-single" || evs[series.ID].CorrelationID != "c-series" {
		t.Errorf("listing lost correlation ids: %q %q", evs[single.ID].CorrelationID, evs[series.ID].CorrelationID)
	}
	for corr, id := range map[string]string{"c-single": single.ID, "c-series": series.ID} {
		got, err := p.FindByCorrelation(e.ctx(), tg, corr)
		if err != nil || len(got) != 1 || got[0].ID != id {
			t.Errorf("FindByCorrelation(%s) = %v, %v", corr, got, err)
		}
		if got, _ := p.FindByCorrelation(e.ctx(), e.target(e.user2), corr); len(got) != 0 {
			t.Errorf("another diary finds %s: %v", corr, got)
		}
	}
	if got, err := p.FindByCorrelation(e.ctx(), tg, "c-none"); err != nil || len(got) != 0 {
		t.Errorf("unknown correlation = %v, %v", got, err)
	}
}

func TestLicensesFollowTheTenant(t *testing.T) {
	e := newEnv(t)
	l, err := e.p.Licenses(e.ctx(), e.target(e.user1))
	if err != nil || l.UserLicenses != 10 || l.InUse != 2 {
		t.Fatalf("licences = %+v, %v", l, err)
	}
	e.so.SetLicenses(3)
	if l, err := e.p.Licenses(e.ctx(), e.target(e.user1)); err != nil || l.UserLicenses != 3 {
		t.Errorf("after change = %+v, %v", l, err)
	}
	resp, err := http.Post(e.srv.URL+"/_emulator/licenses", "application/json", strings.NewReader(`{"user":55}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("route: %v %v", resp, err)
	}
	if l, err := e.p.Licenses(e.ctx(), e.target(e.user1)); err != nil || l.UserLicenses != 55 {
		t.Errorf("after route = %+v, %v", l, err)
	}
}

func TestLookupAccount(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	cases := []struct {
		kind    sdk.AccountKind
		key     string
		want    int
		wantErr error
	}{
		{sdk.AccountUser, "USER2", e.user2, nil},
		{sdk.AccountUser, "user2", e.user2, nil},
		{sdk.AccountUser, strconv.Itoa(e.user1), e.user1, nil},
		{sdk.AccountUser, "user1@so.test", e.user1, nil},
		{sdk.AccountResource, "ROOM1", e.room1, nil},
		{sdk.AccountResource, "room1", e.room1, nil},
		{sdk.AccountResource, strconv.Itoa(e.room1), e.room1, nil},
		{sdk.AccountUser, "ROOM1", 0, sdk.ErrNotFound},
		{sdk.AccountResource, "USER1", 0, sdk.ErrNotFound},
		{sdk.AccountUser, "NOBODY", 0, sdk.ErrNotFound},
		{sdk.AccountUser, "1", 0, sdk.ErrNotFound}, // the system user is neither
	}
	for _, c := range cases {
		a, err := e.p.LookupAccount(e.ctx(), tg, c.kind, c.key)
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("%s %q: err %v, want %v", c.kind, c.key, err, c.wantErr)
			}
			continue
		}
		if err != nil || a.ID != strconv.Itoa(c.want) || a.Kind != c.kind {
			t.Errorf("%s %q = %+v, %v", c.kind, c.key, a, err)
		}
	}
}

// The whole consent flow of an administrator with the emulator's auto-consent:
// authorize with PKCE, exchange the code, identify, then use the system token.
func TestAdminConsentAndIdentify(t *testing.T) {
	e := newEnv(t, func(o *sotest.Options, _ map[string]string) { o.AutoConsent = true })
	spec, err := e.p.OAuth(e.ctx(), sdk.OAuthRequest{Instance: "acme", Purpose: sdk.PurposeAdmin, LoginHint: "USER1"})
	if err != nil {
		t.Fatal(err)
	}
	if spec.Grant != sdk.GrantAuthorizationCode || !spec.PKCE || spec.Params["acr_values"] != "tenant:Cust42" {
		t.Fatalf("spec = %+v", spec)
	}
	verifier := "verifier-0123456789-0123456789-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {spec.ClientID}, "redirect_uri": {"http://127.0.0.1:1/oauth/callback"}, "response_type": {"code"},
		"scope": {strings.Join(spec.Scopes, " ")}, "state": {"st"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}}
	for k, v := range spec.Params {
		q.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(spec.AuthURL + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" || loc.Query().Get("state") != "st" {
		t.Fatalf("redirect = %s", loc)
	}
	resp, err = http.PostForm(spec.TokenURL, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {"http://127.0.0.1:1/oauth/callback"}, "client_id": {spec.ClientID}, "client_secret": {spec.ClientSecret},
		"code_verifier": {verifier}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	if err := decodeJSON(resp, &tok); err != nil || tok.IDToken == "" {
		t.Fatalf("token answer: %v %+v", err, tok)
	}
	acct, err := e.p.Identify(e.ctx(), sdk.Target{Instance: "acme"}, sdk.TokenInfo{AccessToken: tok.AccessToken, IDToken: tok.IDToken})
	if err != nil {
		t.Fatal(err)
	}
	if acct.ID != strconv.Itoa(e.user1) || !acct.IsAdmin || acct.Email != "user1@so.test" || acct.Extra["system_token"] == "" {
		t.Fatalf("account = %+v", acct)
	}
	// The bearer token reads the user's diary; the system token every diary.
	if _, err := e.p.ListChanges(e.ctx(), sdk.Target{Instance: "acme", Account: acct.ID,
		Credential: sdk.Credential{Type: "bearer", Token: tok.AccessToken}}, sdk.ChangesRequest{Window: e.window()}); err != nil {
		t.Errorf("bearer: %v", err)
	}
	if _, err := e.p.ListChanges(e.ctx(), sdk.Target{Instance: "acme", Account: strconv.Itoa(e.user2),
		Credential: sdk.Credential{Type: "system_token", Token: acct.Extra["system_token"]}}, sdk.ChangesRequest{Window: e.window()}); err != nil {
		t.Errorf("system token: %v", err)
	}
}

func TestOnsiteBasicAuth(t *testing.T) {
	e := newEnv(t, onsite())
	spec, err := e.p.OAuth(e.ctx(), sdk.OAuthRequest{Instance: "acme", Purpose: sdk.PurposeUser})
	if err != nil || spec.Grant != sdk.GrantNone {
		t.Fatalf("onsite OAuth = %+v, %v", spec, err)
	}
	tg := sdk.Target{Instance: "acme", Account: strconv.Itoa(e.user2)}
	start := e.clk.Now().Add(time.Hour)
	ev, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "onsite", Start: start, End: start.Add(time.Hour), CorrelationID: "o-1"})
	if err != nil {
		t.Fatal(err)
	}
	evs, _, _, _ := e.listAll(tg, "", 0)
	if evs[ev.ID].Title != "onsite" {
		t.Errorf("onsite listing = %v", evs)
	}
	if l, err := e.p.Licenses(e.ctx(), tg); err != nil || l.UserLicenses != 10 {
		t.Errorf("onsite licences = %+v, %v", l, err)
	}
}

func TestConfigureRejectsBadSettings(t *testing.T) {
	p := superoffice.New(nil)
	for _, s := range []map[string]string{
		{},
		{"context_id": "Cust1", "environment": "mars"},
		{"context_id": "Cust1", "endpoint": "ftp://x"},
		{"base_url": "not a url"},
		{"context_id": "Cust1", "partner_key": "-----BEGIN NOTHING-----"},
		{"context_id": "Cust1", "cursor_max_age": "soon"},
	} {
		err := p.Configure(context.Background(), "x", s)
		if !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("Configure(%v) = %v", s, err)
		}
		if v := s["partner_key"]; v != "" && err != nil && strings.Contains(err.Error(), v) {
			t.Errorf("error repeats the key: %v", err)
		}
	}
}
