package google_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gcal "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"synchronizer/plugins/google"
	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/providertest"
	"synchronizer/plugins/sdk"
)

// The conformance suite over gRPC against the Google Calendar emulator, each
// check on a fresh user's primary calendar with that user's own token.
func TestConformance(t *testing.T) {
	srv := gcaltest.New(gcaltest.Options{Seed: 1})
	garbage := &garbageSwitch{next: srv}
	ts := httptest.NewServer(garbage)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	colleague := "colleague@" + gcaltest.Domain
	if err := srv.AddUser(gcaltest.User{Email: colleague, Name: "Col League"}); err != nil {
		t.Fatal(err)
	}
	room := gcaltest.ResourceEmail(1)
	if err := srv.AddResource(gcaltest.Resource{Email: room, Name: "Room 1"}); err != nil {
		t.Fatal(err)
	}
	// Retries do not wait: the suite's faults last until it lifts them.
	impl := google.NewWithOptions(google.Options{Seed: 1, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	user := &calendarUser{p: impl, svc: googleClient(t, ts.URL, srv.AdminToken())}

	var (
		mu    sync.Mutex
		n     int
		owner sdk.Attendee // of the latest target
	)
	newTarget := func(t *testing.T) sdk.Target {
		mu.Lock()
		n++
		email := fmt.Sprintf("conf%d@%s", n, gcaltest.Domain)
		owner = sdk.Attendee{Email: email, Name: fmt.Sprintf("Conformance %d", n), Type: sdk.AttendeeRequired,
			Response: sdk.ResponseOrganizer, AccountID: email}
		name := owner.Name
		mu.Unlock()
		if err := srv.AddUser(gcaltest.User{Email: email, Name: name}); err != nil {
			t.Fatal(err)
		}
		tok, err := srv.TokenFor(email)
		if err != nil {
			t.Fatal(err)
		}
		return sdk.Target{Instance: "gw", Account: email, Credential: sdk.Credential{Type: "bearer", Token: tok}}
	}

	providertest.Run(t, providertest.Harness{
		Provider:  providertest.OverGRPC(t, impl),
		Instance:  "gw",
		Settings:  map[string]string{"endpoint": ts.URL, "client_id": "cid", "client_secret": "secret"},
		NewTarget: newTarget,
		Attendees: []sdk.Attendee{
			{Email: colleague, Name: "Col League", Type: sdk.AttendeeRequired, Response: sdk.ResponseNone},
			{Email: room, Name: "Room 1", Type: sdk.AttendeeResource, Response: sdk.ResponseAccepted},
		},
		// What Google keeps: busy or free only (tentative is an attendee's answer,
		// and an out-of-office event is a kind of its own that declines meetings),
		// and meetings with the calendar's owner as organizer, the Workspace's own
		// accounts known by their addresses.
		Expect: func(ev sdk.Event) sdk.Event {
			if ev.ShowAs != sdk.ShowFree {
				ev.ShowAs = sdk.ShowBusy
			}
			if len(ev.Attendees) > 0 {
				mu.Lock()
				ev.Organizer = owner
				mu.Unlock()
				ev.Response = sdk.ResponseOrganizer
				as := make([]sdk.Attendee, len(ev.Attendees))
				for i, a := range ev.Attendees {
					if strings.HasSuffix(a.Email, "."+gcaltest.Domain) || strings.HasSuffix(a.Email, "@"+gcaltest.Domain) {
						a.AccountID = a.Email
					}
					as[i] = a
				}
				ev.Attendees = as
			}
			return ev
		},
		OutOfBand:     user,
		ExpireCursors: func(*testing.T) { srv.ExpireSyncTokens() },
		// A Retry-After longer than the provider's longest wait goes to the host.
		Throttle: func(*testing.T, sdk.Target) (time.Duration, func()) {
			srv.SetFaults(gcaltest.Faults{Throttle: 1, ThrottleStatus: http.StatusTooManyRequests, RetryAfter: 60})
			return 60 * time.Second, func() { srv.SetFaults(gcaltest.Faults{}) }
		},
		BadCredential: func(_ *testing.T, tg sdk.Target) sdk.Target {
			tg.Credential.Token = "ya29.refused"
			return tg
		},
		BreakResponses: func(_ *testing.T, _ sdk.Target, kind providertest.BadResponse) func() {
			switch kind {
			case providertest.Truncated:
				// More than the provider retries a failed read.
				srv.SetFaults(gcaltest.Faults{TruncateNext: 1000})
				return func() { srv.SetFaults(gcaltest.Faults{}) }
			default:
				garbage.on.Store(true)
				return func() { garbage.on.Store(false) }
			}
		},
		MakesHTTPRequests: true,
	})
	if st := srv.Stats(); st.MailsSent != 0 {
		t.Errorf("the suite's writes made Google send %d mails", st.MailsSent)
	}
}

// garbageSwitch answers every Calendar API request 200 with a body that is not
// JSON while on is set (an HTML error page from a proxy, say).
type garbageSwitch struct {
	on   atomic.Bool
	next http.Handler
}

func (g *garbageSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.on.Load() && (strings.HasPrefix(r.URL.Path, "/calendar/") || strings.HasPrefix(r.URL.Path, "/batch/")) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
		return
	}
	g.next.ServeHTTP(w, r)
}

func googleClient(t *testing.T, base, token string) *gcal.Service {
	t.Helper()
	svc, err := gcal.NewService(context.Background(), option.WithEndpoint(base+"/calendar/v3/"),
		option.WithHTTPClient(&http.Client{Transport: bearer{token: token}}))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// calendarUser edits a calendar the way a person in Google Calendar does:
// Google's own client on the event, outside the provider. Its answers are read
// back through the provider.
type calendarUser struct {
	p   *google.Provider
	svc *gcal.Service
}

func (u *calendarUser) Put(t *testing.T, tg sdk.Target, ev sdk.Event) sdk.Event {
	t.Helper()
	g := &gcal.Event{
		Summary: ev.Title, Description: ev.Description, Location: ev.Location,
		Transparency: "opaque", Visibility: "default",
		Reminders: &gcal.EventReminders{UseDefault: false, ForceSendFields: []string{"UseDefault"}},
	}
	if ev.ShowAs == sdk.ShowFree {
		g.Transparency = "transparent"
	}
	if ev.Privacy == sdk.PrivacyPrivate {
		g.Visibility = "private"
	}
	if ev.HasReminder {
		g.Reminders.Overrides = []*gcal.EventReminder{{Method: "popup", Minutes: int64(ev.ReminderMinutes)}}
	}
	if ev.AllDay {
		g.Start = &gcal.EventDateTime{Date: ev.Start.UTC().Format(time.DateOnly)}
		g.End = &gcal.EventDateTime{Date: ev.End.UTC().Format(time.DateOnly)}
	} else {
		zone := ev.TimeZone
		if zone == "" {
			zone = "UTC"
		}
		g.Start = &gcal.EventDateTime{DateTime: ev.Start.Format(time.RFC3339), TimeZone: zone}
		g.End = &gcal.EventDateTime{DateTime: ev.End.Format(time.RFC3339), TimeZone: zone}
	}
	var saved *gcal.Event
	var err error
	if ev.ID == "" {
		saved, err = u.svc.Events.Insert(tg.Account, g).SendUpdates("none").Do()
	} else {
		saved, err = u.svc.Events.Patch(tg.Account, ev.ID, g).SendUpdates("none").Do()
	}
	if err != nil {
		t.Fatalf("a user's write of %q: %v", ev.Title, err)
	}
	got, err := u.p.Get(context.Background(), tg, saved.Id)
	if err != nil {
		t.Fatalf("read back %s: %v", saved.Id, err)
	}
	return got
}

func (u *calendarUser) Remove(t *testing.T, tg sdk.Target, id string) {
	t.Helper()
	if err := u.svc.Events.Delete(tg.Account, id).SendUpdates("none").Do(); err != nil {
		t.Fatalf("a user's delete of %s: %v", id, err)
	}
}

// An update of an item the user deleted is "not found" and leaves it deleted,
// whether Google refuses the write as invalid (a deleted event, which it keeps as
// a cancelled item) or as deleted (a cancelled occurrence).
func TestUpdateOfDeletedItem(t *testing.T) {
	srv := gcaltest.New(gcaltest.Options{Seed: 1})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	email := gcaltest.UserEmail(1)
	if err := srv.AddUser(gcaltest.User{Email: email}); err != nil {
		t.Fatal(err)
	}
	tok, err := srv.TokenFor(email)
	if err != nil {
		t.Fatal(err)
	}
	p := google.NewWithOptions(google.Options{Seed: 1, MaxRetries: -1})
	ctx := context.Background()
	if err := p.Configure(ctx, "gw", map[string]string{"endpoint": ts.URL, "client_id": "cid", "client_secret": "secret"}); err != nil {
		t.Fatal(err)
	}
	tg := sdk.Target{Instance: "gw", Account: email, Credential: sdk.Credential{Type: "bearer", Token: tok}}
	start := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
	single, err := p.Create(ctx, tg, sdk.Event{Kind: sdk.KindSingle, CorrelationID: "c-single", Title: "Single",
		Start: start, End: start.Add(time.Hour), TimeZone: "UTC", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic})
	if err != nil {
		t.Fatal(err)
	}
	master, err := p.Create(ctx, tg, sdk.Event{Kind: sdk.KindMaster, CorrelationID: "c-series", Title: "Series",
		Start: start, End: start.Add(time.Hour), TimeZone: "UTC", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic,
		Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=5"}})
	if err != nil {
		t.Fatal(err)
	}
	exc, err := p.Create(ctx, tg, sdk.Event{Kind: sdk.KindException, SeriesID: master.ID, OriginalStart: start.Add(24 * time.Hour),
		Title: "Moved", Start: start.Add(25 * time.Hour), End: start.Add(26 * time.Hour), TimeZone: "UTC",
		ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []sdk.Event{single, exc} {
		t.Run(ev.Title, func(t *testing.T) {
			if err := p.Delete(ctx, tg, ev.ID, ""); err != nil {
				t.Fatal(err)
			}
			up := ev
			up.Version, up.Title = "", "Brought back?"
			if _, err := p.Update(ctx, tg, up); !errors.Is(err, sdk.ErrNotFound) {
				t.Errorf("Update of the deleted %s: %v, want sdk.ErrNotFound", ev.ID, err)
			}
			if got, ok := srv.Event(email, ev.ID); ok && got.Status != "cancelled" {
				t.Errorf("the update brought %s back: status %q, title %q", ev.ID, got.Status, got.Summary)
			}
		})
	}
}
