package m365_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"synchronizer/plugins/m365"
	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/providertest"
	"synchronizer/plugins/sdk"
)

// The conformance suite over gRPC against the Graph emulator, each check on a
// fresh mailbox reached with a token that may act on every mailbox.
func TestConformance(t *testing.T) {
	srv := graphtest.New(graphtest.Options{Seed: 1})
	garbage := &garbageSwitch{next: srv}
	ts := httptest.NewServer(garbage)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	colleague, err := srv.AddUser(graphtest.User{UserPrincipalName: "colleague", DisplayName: "Col League"})
	if err != nil {
		t.Fatal(err)
	}
	room, err := srv.AddResource(graphtest.Room{Email: "room1", DisplayName: "Room 1"})
	if err != nil {
		t.Fatal(err)
	}
	impl := m365.New(nil)
	graph := &graphUser{base: ts.URL + "/v1.0", token: srv.AdminToken(), client: ts.Client(), p: impl}

	var (
		mu sync.Mutex
		n  int
	)
	newTarget := func(t *testing.T) sdk.Target {
		mu.Lock()
		n++
		upn := fmt.Sprintf("conf%d", n)
		mu.Unlock()
		u, err := srv.AddUser(graphtest.User{UserPrincipalName: upn, DisplayName: "Conformance " + upn})
		if err != nil {
			t.Fatal(err)
		}
		return sdk.Target{Instance: "acme", Account: u.ID, Credential: sdk.Credential{Type: "bearer", Token: srv.AdminToken()}}
	}
	faults := func(t *testing.T, body string) {
		t.Helper()
		resp, err := ts.Client().Post(ts.URL+"/_emulator/faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("set faults %s: %s", body, resp.Status)
		}
	}

	providertest.Run(t, providertest.Harness{
		Provider:  providertest.OverGRPC(t, impl),
		Instance:  "acme",
		Settings:  srv.Settings(ts.URL, false),
		NewTarget: newTarget,
		Attendees: []sdk.Attendee{
			{Email: colleague.Mail, Name: colleague.DisplayName, Type: sdk.AttendeeRequired, Response: sdk.ResponseNone},
			{Email: room.Email, Name: room.DisplayName, Type: sdk.AttendeeResource, Response: sdk.ResponseNone},
		},
		// The provider reads bodies as Graph's text rendering (Prefer:
		// outlook.body-content-type="text"): the diary it syncs with keeps plain
		// text, so an HTML body comes back as its text only.
		Expect: func(ev sdk.Event) sdk.Event {
			ev.DescriptionHTML = ""
			return ev
		},
		Category:      "Customer meeting",
		OutOfBand:     graph,
		ExpireCursors: func(*testing.T) { srv.ExpireCursors() },
		// Graph's Retry-After is longer than the provider waits by itself, so the
		// provider hands the wait to the host.
		Throttle: func(t *testing.T, _ sdk.Target) (time.Duration, func()) {
			faults(t, `{"throttle":1,"retry_after":30}`)
			return 30 * time.Second, func() { faults(t, `{}`) }
		},
		BadCredential: func(_ *testing.T, tg sdk.Target) sdk.Target {
			tg.Credential.Token = "eyJ.refused.token"
			return tg
		},
		BreakResponses: func(t *testing.T, _ sdk.Target, kind providertest.BadResponse) func() {
			switch kind {
			case providertest.Truncated:
				// More than the provider's re-reads of a cut-off answer.
				faults(t, `{"truncate_next":1000}`)
				return func() { faults(t, `{}`) }
			default:
				garbage.on.Store(true)
				return func() { garbage.on.Store(false) }
			}
		},
		MakesHTTPRequests: true,
	})
	if st := srv.Stats(); st.MailsSent != 0 {
		t.Errorf("the suite's writes made Exchange send %d mails: %v", st.MailsSent, st.Mails)
	}
}

// garbageSwitch answers every Graph request 200 with a body that is not JSON
// while on is set (an HTML error page from a proxy, say).
type garbageSwitch struct {
	on   atomic.Bool
	next http.Handler
}

func (g *garbageSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.on.Load() && strings.HasPrefix(r.URL.Path, "/v1.0/") {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
		return
	}
	g.next.ServeHTTP(w, r)
}

// graphUser edits a mailbox the way a person's Outlook does: Graph REST on the
// item, outside the provider. Its answers are read back through the provider.
type graphUser struct {
	base   string
	token  string
	client *http.Client
	p      *m365.Provider
}

func (u *graphUser) Put(t *testing.T, tg sdk.Target, ev sdk.Event) sdk.Event {
	t.Helper()
	body := map[string]any{
		"subject":     ev.Title,
		"body":        map[string]string{"contentType": "text", "content": ev.Description},
		"location":    map[string]string{"displayName": ev.Location},
		"isAllDay":    ev.AllDay,
		"showAs":      map[sdk.ShowAs]string{sdk.ShowFree: "free", sdk.ShowTentative: "tentative", sdk.ShowOOF: "oof"}[ev.ShowAs],
		"sensitivity": "normal",
		"start":       graphTime(ev.Start, ev.AllDay),
		"end":         graphTime(ev.End, ev.AllDay),
	}
	if body["showAs"] == "" {
		body["showAs"] = "busy"
	}
	if ev.Privacy == sdk.PrivacyPrivate {
		body["sensitivity"] = "private"
	}
	body["isReminderOn"] = ev.HasReminder
	if ev.HasReminder {
		body["reminderMinutesBeforeStart"] = ev.ReminderMinutes
	}
	method, path, want := http.MethodPost, "/users/"+url.PathEscape(tg.Account)+"/events", http.StatusCreated
	if ev.ID != "" {
		method, path, want = http.MethodPatch, "/users/"+url.PathEscape(tg.Account)+"/events/"+url.PathEscape(ev.ID), http.StatusOK
	}
	var saved struct {
		ID string `json:"id"`
	}
	u.call(t, method, path, body, want, &saved)
	got, err := u.p.Get(context.Background(), tg, saved.ID)
	if err != nil {
		t.Fatalf("read back %s: %v", saved.ID, err)
	}
	return got
}

func (u *graphUser) Remove(t *testing.T, tg sdk.Target, id string) {
	t.Helper()
	u.call(t, http.MethodDelete, "/users/"+url.PathEscape(tg.Account)+"/events/"+url.PathEscape(id), nil, http.StatusNoContent, nil)
}

func (u *graphUser) call(t *testing.T, method, path string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+u.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", `IdType="ImmutableId"`)
	resp, err := u.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// graphTime is a dateTimeTimeZone in UTC; all-day items are midnight to midnight.
func graphTime(x time.Time, allDay bool) map[string]string {
	if allDay {
		return map[string]string{"dateTime": x.UTC().Format("2006-01-02") + "T00:00:00", "timeZone": "UTC"}
	}
	return map[string]string{"dateTime": x.UTC().Format("2006-01-02T15:04:05"), "timeZone": "UTC"}
}

// A window that slid by less than a second since the last round (the host takes
// it from its clock each round) needs no slice of its own: Graph takes whole
// seconds and refuses an empty calendarView.
func TestWindowSlidLessThanASecond(t *testing.T) {
	srv := graphtest.New(graphtest.Options{Seed: 1})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	u, err := srv.AddUser(graphtest.User{UserPrincipalName: "slide"})
	if err != nil {
		t.Fatal(err)
	}
	p := m365.New(nil)
	ctx := context.Background()
	if err := p.Configure(ctx, "acme", srv.Settings(ts.URL, false)); err != nil {
		t.Fatal(err)
	}
	tg := sdk.Target{Instance: "acme", Account: u.ID, Credential: sdk.Credential{Type: "bearer", Token: srv.AdminToken()}}
	base := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	ev, err := p.Create(ctx, tg, sdk.Event{Kind: sdk.KindSingle, Title: "Stays", Start: base.Add(48 * time.Hour),
		End: base.Add(49 * time.Hour), TimeZone: "UTC", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		first, now time.Duration // offsets of the two rounds' windows from base
	}{
		{"whole seconds", 0, 0},
		{"fractions, same second", 100 * time.Millisecond, 900 * time.Millisecond},
		{"fractions, next second", 900 * time.Millisecond, 1100 * time.Millisecond},
		{"nanoseconds", 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			round := func(cursor string, off time.Duration) (sdk.Changes, string) {
				t.Helper()
				w := sdk.Window{Start: base.Add(off).AddDate(0, 0, -30), End: base.Add(off).AddDate(0, 0, 400)}
				var all sdk.Changes
				for range 100 {
					ch, err := p.ListChanges(ctx, tg, sdk.ChangesRequest{Cursor: cursor, Window: w})
					if err != nil {
						t.Fatalf("ListChanges over the window at +%s: %v", off, err)
					}
					all.Events = append(all.Events, ch.Events...)
					all.Removed = append(all.Removed, ch.Removed...)
					cursor = ch.Cursor
					if !ch.More {
						return all, cursor
					}
				}
				t.Fatal("the round did not end")
				return all, ""
			}
			full, cur := round("", tc.first)
			if len(full.Events) != 1 || full.Events[0].ID != ev.ID {
				t.Fatalf("the full round listed %d events, want %s", len(full.Events), ev.ID)
			}
			inc, _ := round(cur, tc.now)
			if len(inc.Events)+len(inc.Removed) != 0 {
				t.Errorf("nothing changed, yet the round reported %d events and removed %v", len(inc.Events), inc.Removed)
			}
		})
	}
}
