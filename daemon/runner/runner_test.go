package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/state"
	"synchronizer/plugins/sdk"
)

var jane = link{"jane", "JANE", "jane@acme.example"}
var bob = link{"bob", "BOB", "bob@acme.example"}

// A link goes through its states: waiting for consent, active, consent lost,
// active again, the mass-delete guard's error and its lifting.
func TestLinkStateTransitions(t *testing.T) {
	h := newHarness(t, jane)
	soCal := h.so.Calendar("acme", "JANE")
	calCal := h.cal.Calendar("mem", "jane@acme.example")
	seed(soCal, 12, "diary")

	// No consent yet: pending_activation with an activation URL, no failure.
	h.creds.set(func(f *fakeCreds) { f.calErr["jane"] = fmt.Errorf("link p/jane: %w", ErrNoConsent) })
	if _, err := h.run("jane", engine.RunOptions{}); err != nil {
		t.Fatalf("a link waiting for consent is not a failed run: %v", err)
	}
	row := h.row("jane")
	if row.State != state.PendingActivation || !strings.HasPrefix(row.ActivationURL, "https://sync.example/activate/p-jane") || !strings.Contains(row.LastError, "jane@acme.example") {
		t.Fatalf("row = %+v", row)
	}
	h.run("jane", engine.RunOptions{})
	if e, n := h.acts.counts("jane"); e != 2 || n != 0 {
		t.Fatalf("ensure %d, needs consent %d", e, n)
	}
	if calCal.Len() != 0 {
		t.Fatal("a link without consent wrote to the calendar")
	}

	// Consent given: the run copies the diary and the link is active.
	h.creds.set(func(f *fakeCreds) { delete(f.calErr, "jane") })
	res, err := h.run("jane", engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	row = h.row("jane")
	if row.State != state.Active || row.Items != 12 || row.LastSync.IsZero() || row.LastError != "" || row.ActivationURL != "" {
		t.Fatalf("after consent row = %+v", row)
	}
	if calCal.Len() != 12 || len(res.Done) != 12 {
		t.Fatalf("calendar holds %d, done %d", calCal.Len(), len(res.Done))
	}

	// The grant dies: needs_consent, the "consent lost" notice once.
	h.creds.set(func(f *fakeCreds) { f.calErr["jane"] = fmt.Errorf("refresh: %w", sdk.ErrConsentRevoked) })
	h.run("jane", engine.RunOptions{})
	h.run("jane", engine.RunOptions{})
	row = h.row("jane")
	if row.State != state.NeedsConsent || row.ActivationURL == "" || row.Items != 12 {
		t.Fatalf("revoked row = %+v", row)
	}
	if e, n := h.acts.counts("jane"); n != 1 || e != 3 {
		t.Fatalf("ensure %d, needs consent %d; want 3 and 1", e, n)
	}
	h.creds.set(func(f *fakeCreds) { delete(f.calErr, "jane") })
	if _, err := h.run("jane", engine.RunOptions{}); err != nil || h.row("jane").State != state.Active {
		t.Fatalf("back to active: %v %+v", err, h.row("jane"))
	}

	// The diary is emptied at once: the guard stops the link, nothing is deleted.
	for _, ev := range soCal.Events() {
		soCal.Remove(ev.ID)
	}
	_, err = h.run("jane", engine.RunOptions{})
	if !errors.Is(err, engine.ErrMassDelete) {
		t.Fatalf("err = %v", err)
	}
	row = h.row("jane")
	if row.State != state.Error || !strings.Contains(row.LastError, "synchronizer sync p jane -force-delete") || row.Items != 12 {
		t.Fatalf("guard row = %+v", row)
	}
	if calCal.Len() != 12 {
		t.Fatalf("the guard let %d deletes through", 12-calCal.Len())
	}
	if _, err := h.run("jane", engine.RunOptions{ForceDelete: true}); err != nil {
		t.Fatal(err)
	}
	if row = h.row("jane"); row.State != state.Active || row.Items != 0 || calCal.Len() != 0 {
		t.Fatalf("after -force-delete: row %+v, calendar %d", row, calCal.Len())
	}
}

// Failures that are not the person's consent put the link in error with a
// reason that says what to do.
func TestLinkErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(h *harness)
		want  string
	}{
		{"tenant not connected", func(h *harness) {
			h.creds.set(func(f *fakeCreds) { f.soErr = fmt.Errorf("tenant acme: %w", ErrNoConsent) })
		}, "synchronizer connect acme"},
		{"tenant consent revoked", func(h *harness) {
			h.creds.set(func(f *fakeCreds) { f.soErr = fmt.Errorf("tenant acme: %w", sdk.ErrConsentRevoked) })
		}, "runs `synchronizer connect acme` again"},
		{"associate unknown", func(h *harness) {
			h.so.SetHook(func(_ context.Context, op string, _ sdk.Target, phase string) error {
				if op == "LookupAccount" && phase == "before" {
					return fmt.Errorf("associate: %w", sdk.ErrNotFound)
				}
				return nil
			})
		}, `SuperOffice tenant acme has no associate "JANE"`},
		{"mailbox unknown", func(h *harness) {
			h.cal.SetHook(func(_ context.Context, op string, _ sdk.Target, phase string) error {
				if op == "LookupAccount" && phase == "before" {
					return fmt.Errorf("mailbox: %w", sdk.ErrNotFound)
				}
				return nil
			})
		}, `has no mailbox "jane@acme.example": check the link's mailbox (`},
		{"plugin will not start", func(h *harness) {
			h.mu.Lock()
			h.plugErr["memory"] = errors.New("plugin memory: exec: permission denied")
			h.mu.Unlock()
			h.apply(hcl("30d", "365d", jane)) // settings are handed over again
		}, "permission denied"},
		{"calendar fails", func(h *harness) {
			h.cal.SetHook(func(_ context.Context, op string, _ sdk.Target, phase string) error {
				if op == "ListChanges" {
					return errors.New("connection refused")
				}
				return nil
			})
		}, "connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, jane)
			c.setup(h)
			if _, err := h.run("jane", engine.RunOptions{}); err == nil {
				t.Fatal("the run did not fail")
			}
			row := h.row("jane")
			if row.State != state.Error || !strings.Contains(row.LastError, c.want) {
				t.Fatalf("row = %+v, want error with %q", row, c.want)
			}
			if got := testutil.ToFloat64(h.metrics.SyncRuns.WithLabelValues("p", "error")); got != 1 {
				t.Errorf("error runs = %v", got)
			}
		})
	}
}

// A refused credential is invalidated and the call made again once.
func TestUnauthenticatedRetriesOnce(t *testing.T) {
	h := newHarness(t, jane)
	h.so.RequireToken("*", "good")
	h.cal.RequireToken("*", "good")
	seed(h.so.Calendar("acme", "JANE"), 3, "diary")
	h.creds.set(func(f *fakeCreds) { f.stale = 1 })
	if _, err := h.run("jane", engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if h.creds.invalidated != 1 || h.cal.Calendar("mem", "jane@acme.example").Len() != 3 {
		t.Fatalf("invalidated %d times, calendar %d", h.creds.invalidated, h.cal.Calendar("mem", "jane@acme.example").Len())
	}
	// A credential refused twice fails the run instead of looping.
	h.creds.set(func(f *fakeCreds) { f.token = "wrong" })
	if _, err := h.run("jane", engine.RunOptions{}); !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Fatalf("err = %v", err)
	}
}

// A link whose calendar hangs does not hold up another link.
func TestSlowLinkDoesNotDelayAnother(t *testing.T) {
	h := newHarness(t, jane, bob)
	seed(h.so.Calendar("acme", "BOB"), 2, "bob")
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h.cal.SetHook(func(ctx context.Context, op string, tg sdk.Target, phase string) error {
		if tg.Account == "jane@acme.example" && op == "ListChanges" && phase == "before" {
			select {
			case entered <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.run("jane", engine.RunOptions{})
	}()
	<-entered
	start := time.Now()
	if _, err := h.run("bob", engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("bob waited %v for jane", took)
	}
	if h.row("bob").State != state.Active || h.cal.Calendar("mem", "bob@acme.example").Len() != 2 {
		t.Fatalf("bob = %+v", h.row("bob"))
	}
	close(release)
	wg.Wait()
	if h.row("jane").State != state.Active {
		t.Fatalf("jane = %+v", h.row("jane"))
	}
}

// Reloads that add and remove links, narrow and widen the window and re-point
// a link never duplicate or delete anything.
func TestReloadNeverDuplicates(t *testing.T) {
	h := newHarness(t, jane, bob)
	janeSO, bobSO := h.so.Calendar("acme", "JANE"), h.so.Calendar("acme", "BOB")
	seed(janeSO, 10, "jane")
	seed(bobSO, 5, "bob")
	// Far-future items leave the window when it narrows.
	far := time.Now().UTC().Add(200 * 24 * time.Hour).Truncate(time.Hour)
	janeSO.Put(sdk.Event{Title: "far", Start: far, End: far.Add(time.Hour)})
	h.run("jane", engine.RunOptions{})
	h.run("bob", engine.RunOptions{})
	janeCal := h.cal.Calendar("mem", "jane@acme.example")
	if janeCal.Len() != 11 {
		t.Fatalf("jane's calendar %d", janeCal.Len())
	}

	carol := link{"carol", "CAROL", "carol@acme.example"}
	seed(h.so.Calendar("acme", "CAROL"), 4, "carol")
	h.apply(hcl("30d", "30d", jane, carol)) // bob removed, carol added, window narrowed
	if st := h.r.Status(); len(st) != 2 || st[0].Link != "carol" || st[1].Link != "jane" {
		t.Fatalf("scheduled after reload: %+v", st)
	}
	if _, err := h.r.RunNow(context.Background(), "p", "bob", engine.RunOptions{}); err == nil {
		t.Fatal("a removed link still runs")
	}
	janeSO.Put(sdk.Event{Title: "new inside", Start: far.Add(-190 * 24 * time.Hour), End: far.Add(-190*24*time.Hour + time.Hour)})
	for range 2 {
		for _, l := range []string{"jane", "carol"} {
			if _, err := h.run(l, engine.RunOptions{}); err != nil {
				t.Fatalf("%s: %v", l, err)
			}
		}
	}
	if janeCal.Len() != 12 || janeSO.Len() != 12 || h.cal.Calendar("mem", "carol@acme.example").Len() != 4 {
		t.Fatalf("after narrowing: jane %d/%d carol %d", janeSO.Len(), janeCal.Len(), h.cal.Calendar("mem", "carol@acme.example").Len())
	}

	// Widening again and bringing bob back: still no duplicate, bob continues.
	h.apply(hcl("30d", "365d", jane, bob, carol))
	for range 2 {
		for _, l := range []string{"jane", "bob", "carol"} {
			if _, err := h.run(l, engine.RunOptions{}); err != nil {
				t.Fatalf("%s: %v", l, err)
			}
		}
	}
	for _, c := range []struct {
		acct, mbox string
		n          int
	}{{"JANE", "jane@acme.example", 12}, {"BOB", "bob@acme.example", 5}, {"CAROL", "carol@acme.example", 4}} {
		so, cal := h.so.Calendar("acme", c.acct), h.cal.Calendar("mem", c.mbox)
		if so.Len() != c.n || cal.Len() != c.n {
			t.Errorf("%s: superoffice %d, calendar %d, want %d each", c.acct, so.Len(), cal.Len(), c.n)
		}
		assertNoDuplicates(t, c.mbox, cal.Events())
	}
	if h.row("jane").Items != 12 || h.row("bob").Items != 5 {
		t.Fatalf("items jane %d bob %d", h.row("jane").Items, h.row("bob").Items)
	}

	// Jane's mailbox is corrected: the new mailbox gets the diary, the old one
	// keeps its items, nothing in the diary is deleted.
	h.apply(hcl("30d", "365d", link{"jane", "JANE", "jane.doe@acme.example"}, bob, carol))
	if _, err := h.run("jane", engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := h.cal.Calendar("mem", "jane.doe@acme.example").Len(); n != 12 || janeSO.Len() != 12 || janeCal.Len() != 12 {
		t.Fatalf("re-pointed: new mailbox %d, diary %d, old mailbox %d", n, janeSO.Len(), janeCal.Len())
	}
}

func assertNoDuplicates(t *testing.T, where string, evs []sdk.Event) {
	t.Helper()
	seen := map[string]bool{}
	for _, ev := range evs {
		k := ev.Title + "@" + ev.Start.UTC().String()
		if seen[k] {
			t.Errorf("%s: duplicate %q", where, k)
		}
		seen[k] = true
		if ev.CorrelationID != "" && seen["corr:"+ev.CorrelationID] {
			t.Errorf("%s: correlation id %s twice", where, ev.CorrelationID)
		}
		seen["corr:"+ev.CorrelationID] = ev.CorrelationID != ""
	}
}

// Runs feed the metrics: runs by result, items by direction and op, last success.
func TestMetricsMove(t *testing.T) {
	h := newHarness(t, jane)
	seed(h.so.Calendar("acme", "JANE"), 7, "diary")
	seed(h.cal.Calendar("mem", "jane@acme.example"), 3, "cal")
	if _, err := h.run("jane", engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	m := h.metrics
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"runs ok", testutil.ToFloat64(m.SyncRuns.WithLabelValues("p", "ok")), 1},
		{"to_calendar create", testutil.ToFloat64(m.ItemsSynced.WithLabelValues("p", "to_calendar", "create")), 7},
		{"to_superoffice create", testutil.ToFloat64(m.ItemsSynced.WithLabelValues("p", "to_superoffice", "create")), 3},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if last := testutil.ToFloat64(m.LastSuccess.WithLabelValues("p")); time.Since(time.Unix(int64(last), 0)) > time.Minute {
		t.Errorf("last success %v", last)
	}
	// A dry run is not a run.
	h.run("jane", engine.RunOptions{DryRun: true})
	if got := testutil.ToFloat64(m.SyncRuns.WithLabelValues("p", "ok")); got != 1 {
		t.Errorf("runs after a dry run = %v", got)
	}
	// A conflict is counted by its winner (newest: the later edit).
	so := h.so.Calendar("acme", "JANE").Events()[0]
	var calCopy sdk.Event
	for _, ev := range h.cal.Calendar("mem", "jane@acme.example").Events() {
		if ev.Title == so.Title {
			calCopy = ev
		}
	}
	so.Title += " (diary edit)"
	h.so.Calendar("acme", "JANE").Put(so)
	time.Sleep(10 * time.Millisecond)
	calCopy.Title += " (calendar edit)"
	h.cal.Calendar("mem", "jane@acme.example").Put(calCopy)
	if _, err := h.run("jane", engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.Conflicts.WithLabelValues("p", "calendar")); got != 1 {
		t.Errorf("conflicts won by the calendar = %v", got)
	}
}

// Every plugin instance gets its block's settings, again after a reload that
// changes them; Ready follows.
func TestPluginsConfiguredAndReady(t *testing.T) {
	h := newHarness(t, jane)
	if err := h.r.Ready(context.Background()); err != nil {
		t.Fatalf("ready: %v", err)
	}
	_, want, _ := h.cfg.PluginSettings("mem")
	if got := h.cal.Settings("mem"); got["client_id"] != "calclient" || len(got) != len(want) {
		t.Fatalf("calendar settings = %v", got)
	}
	if got := h.so.Settings("acme"); got["context_id"] != "Cust1" {
		t.Fatalf("superoffice settings = %v", got)
	}
	h.apply(strings.Replace(hcl("30d", "365d", jane), `client_id = "calclient"`, `client_id = "other"`, 1))
	if got := h.cal.Settings("mem"); got["client_id"] != "other" {
		t.Fatalf("settings after reload = %v", got)
	}
	// A plugin that refuses its settings makes the daemon not ready, and says why.
	h.cal.SetHook(func(_ context.Context, op string, _ sdk.Target, phase string) error {
		if op == "Configure" && phase == "before" {
			return fmt.Errorf("client_id: %w", sdk.ErrInvalidArgument)
		}
		return nil
	})
	h.apply(strings.Replace(hcl("30d", "365d", jane), `client_id = "calclient"`, `client_id = "third"`, 1))
	if err := h.r.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot take the settings of mem") {
		t.Fatalf("ready = %v", err)
	}
}

func TestLicenseSource(t *testing.T) {
	h := newHarness(t, jane)
	h.so.SetLicenses("acme", sdk.Licenses{UserLicenses: 42})
	n, err := h.r.UserLicenses(context.Background(), h.cfg.Tenant("acme"))
	if err != nil || n != 42 {
		t.Fatalf("licences = %d, %v", n, err)
	}
	h.creds.set(func(f *fakeCreds) { f.soErr = ErrNoConsent })
	if _, err := h.r.UserLicenses(context.Background(), h.cfg.Tenant("acme")); err == nil || !strings.Contains(err.Error(), "synchronizer connect acme") {
		t.Fatalf("without a connection: %v", err)
	}
}

// post calls a sync route and decodes the answer.
func (h *harness) post(path, body string) (int, map[string]any) {
	h.t.Helper()
	resp, err := http.Post(h.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		h.t.Fatalf("%s: not JSON: %s", path, b)
	}
	return resp.StatusCode, m
}

func TestSyncRoutes(t *testing.T) {
	h := newHarness(t, jane, bob, link{"carl", "CARL", "carl@acme.example"})
	seed(h.so.Calendar("acme", "JANE"), 3, "diary")
	seed(h.cal.Calendar("mem", "jane@acme.example"), 2, "cal")
	h.overlay[state.LinkID{Profile: "p", Link: "carl"}] = state.Unlicensed
	h.apply(hcl("30d", "365d", jane, bob, link{"carl", "CARL", "carl@acme.example"}))
	h.creds.set(func(f *fakeCreds) { f.calErr["bob"] = ErrNoConsent })

	cases := []struct {
		name, path, body string
		code             int
		want             []string
	}{
		{"unknown profile", "/v1/profiles/nope/sync", "", 404, []string{`no profile \"nope\"`}},
		{"unknown link", "/v1/profiles/p/links/nope/sync", "", 404, []string{`profile p has no link \"nope\"`}},
		{"bad query", "/v1/profiles/p/links/jane/sync?dry_run=maybe", "", 400, []string{"dry_run"}},
		{"unknown query", "/v1/profiles/p/links/jane/sync?force=1", "", 400, []string{"unknown query parameter"}},
		{"bad body", "/v1/profiles/p/links/jane/sync", `{"dry_run":"yes"}`, 400, []string{"not the expected JSON"}},
		{"unknown body field", "/v1/profiles/p/links/jane/sync", `{"dryrun":true}`, 400, []string{"not the expected JSON"}},
		{"unlicensed link", "/v1/profiles/p/links/carl/sync", "", 409, []string{`"state": "unlicensed"`, "over the cap"}},
		{"link waiting for consent", "/v1/profiles/p/links/bob/sync", "", 409, []string{`"state": "pending_activation"`, `"activation_url": "https://sync.example/activate/p-bob`}},
		{"dry run", "/v1/profiles/p/links/jane/sync?dry_run=true", "", 200, []string{`"dry_run": true`, `create on calendar \"diary 0\"`, `create on superoffice \"cal 1\"`, `"to_calendar": {`, `"create": 3`}},
		{"dry run in the body", "/v1/profiles/p/links/jane/sync", `{"dry_run": true}`, 200, []string{`"dry_run": true`, `"create": 2`}},
	}
	for _, c := range cases {
		code, body := h.post(c.path, c.body)
		text, _ := json.MarshalIndent(body, "", "  ")
		if code != c.code {
			t.Errorf("%s: HTTP %d, want %d: %s", c.name, code, c.code, text)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(string(text), w) {
				t.Errorf("%s: answer lacks %s:\n%s", c.name, w, text)
			}
		}
	}
	if n := h.cal.Calendar("mem", "jane@acme.example").Len(); n != 2 {
		t.Fatalf("a dry run wrote: calendar holds %d", n)
	}

	// The profile runs every link that can; the others say why not.
	code, body := h.post("/v1/profiles/p/sync", "")
	if code != 200 || body["ok"] != true {
		t.Fatalf("profile sync: %d %v", code, body)
	}
	links := body["links"].([]any)
	if len(links) != 3 {
		t.Fatalf("links = %v", links)
	}
	got := map[string]map[string]any{}
	for _, l := range links {
		m := l.(map[string]any)
		got[m["link"].(string)] = m
	}
	if got["jane"]["ran"] != true || got["jane"]["state"] != "active" || got["bob"]["ran"] != false || got["carl"]["state"] != "unlicensed" {
		t.Fatalf("links = %v", links)
	}
	if links[0].(map[string]any)["link"] != "jane" || links[2].(map[string]any)["link"] != "carl" {
		t.Fatalf("links not in declaration order: %v", links)
	}
	changes := got["jane"]["changes"].(map[string]any)
	if changes["to_calendar"].(map[string]any)["create"] != 3.0 || changes["to_superoffice"].(map[string]any)["create"] != 2.0 {
		t.Fatalf("changes = %v", changes)
	}
	acts := got["jane"]["actions"].(map[string]any)
	if len(acts["calendar"].([]any)) != 3 || len(acts["superoffice"].([]any)) != 2 {
		t.Fatalf("actions = %v", acts)
	}

	// A failing link makes the answer not ok.
	h.cal.SetHook(func(_ context.Context, op string, _ sdk.Target, _ string) error {
		if op == "ListChanges" {
			return errors.New("calendar down")
		}
		return nil
	})
	code, body = h.post("/v1/profiles/p/links/jane/sync", "")
	if code != 200 || body["ok"] != false || !strings.Contains(fmt.Sprint(body["links"]), "calendar down") {
		t.Fatalf("failing link: %d %v", code, body)
	}
}
