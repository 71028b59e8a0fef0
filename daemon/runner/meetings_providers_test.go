package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"testing"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/engine"
	"synchronizer/daemon/runner"
	"synchronizer/daemon/scheduler"
	"synchronizer/daemon/state"
	"synchronizer/plugins/google"
	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/m365"
	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice"
	"synchronizer/plugins/superoffice/sotest"
)

// stillClock keeps the scheduler from running links by itself: the test runs
// them.
type stillClock struct{}

func (stillClock) Now() time.Time                         { return time.Now() }
func (stillClock) NewTimer(time.Duration) scheduler.Timer { return stillTimer{} }

type stillTimer struct{}

func (stillTimer) C() <-chan time.Time { return nil }
func (stillTimer) Stop() bool          { return true }

// meetingWorld is one SuperOffice tenant and one calendar system, emulated in
// process, and a runner over the real providers: profile "p" links Alice, Bob
// and Room 1; Carol is a SuperOffice user without a link.
type meetingWorld struct {
	t     *testing.T
	kind  string // config.ProviderM365 or config.ProviderGoogle
	so    *sotest.Server
	graph *graphtest.Server
	gws   *gcaltest.Server
	dir   string
	soURL string
	calTS string

	assoc   map[string]int    // SuperOffice associate ids
	mailbox map[string]string // calendar accounts

	sop   *superoffice.Provider
	calp  sdk.Provider
	store *engine.MemStore
	r     *runner.Runner
}

var meetingPeople = []string{"alice", "bob", "room"}

func newMeetingWorld(t *testing.T, kind string) *meetingWorld {
	t.Helper()
	w := &meetingWorld{t: t, kind: kind, dir: t.TempDir(), assoc: map[string]int{}, mailbox: map[string]string{}}
	w.so = sotest.New(sotest.Options{})
	soTS := httptest.NewServer(w.so)
	t.Cleanup(func() { soTS.Close(); w.so.Close() })
	w.soURL = soTS.URL
	for _, who := range []string{"alice", "bob", "carol"} {
		id, err := w.so.AddUser(sotest.User{Login: strings.ToUpper(who), FullName: strings.ToUpper(who[:1]) + who[1:], Email: who + "@crm.example"})
		if err != nil {
			t.Fatal(err)
		}
		w.assoc[who] = id
	}
	id, err := w.so.AddResource("ROOM1", true)
	if err != nil {
		t.Fatal(err)
	}
	w.assoc["room"] = id

	switch kind {
	case config.ProviderM365:
		w.graph = graphtest.New(graphtest.Options{RateLimit: -1, ConcurrencyLimit: -1})
		if err := w.graph.Populate(3, 1); err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(w.graph)
		t.Cleanup(func() { ts.Close(); w.graph.Close() })
		w.calTS = ts.URL
		for i, who := range []string{"alice", "bob", "carol"} {
			w.mailbox[who] = fmt.Sprintf("user%d@%s", i+1, graphtest.DefaultDomain)
		}
		w.mailbox["room"] = "room1@" + graphtest.DefaultDomain
	case config.ProviderGoogle:
		w.gws = gcaltest.New(gcaltest.Options{ClientID: "gclient", ClientSecret: "gsecret", QuotaPerUser: -1, QuotaPerProject: -1})
		for i, who := range []string{"alice", "bob", "carol"} {
			w.mailbox[who] = gcaltest.UserEmail(i + 1)
			if err := w.gws.AddUser(gcaltest.User{Email: w.mailbox[who], Name: who}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.gws.AddUser(gcaltest.User{Email: "admin@" + gcaltest.Domain, Name: "Admin", Admin: true}); err != nil {
			t.Fatal(err)
		}
		w.mailbox["room"] = gcaltest.ResourceEmail(1)
		if err := w.gws.AddResource(gcaltest.Resource{Email: w.mailbox["room"], Name: "Room 1"}); err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(w.gws)
		t.Cleanup(func() { ts.Close(); w.gws.Close() })
		w.calTS = ts.URL
	default:
		t.Fatalf("unknown calendar system %q", kind)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "partner.pem"), w.so.PartnerKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.DiscardHandler)
	w.sop = superoffice.New(log)
	switch kind {
	case config.ProviderM365:
		w.calp = m365.New(log)
	default:
		w.calp = google.New(log)
	}
	w.store = engine.NewMemStore()
	r, err := runner.New(runner.Options{
		Plugins: func(name string) (sdk.Provider, error) {
			switch name {
			case config.ProviderSuperOffice:
				return w.sop, nil
			case kind:
				return w.calp, nil
			}
			return nil, fmt.Errorf("no plugin %s: %w", name, sdk.ErrUnsupported)
		},
		Store: state.NewMemory(nil), SyncStore: w.store, Credentials: w, Logger: log,
		Clock: stillClock{}, NoPush: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.r = r
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Close(ctx)
	})
	w.apply(true)
	return w
}

// Credentials: the emulators' administrators act for everyone.
func (w *meetingWorld) SuperOffice(context.Context, *config.SuperOffice) (sdk.Credential, error) {
	return sdk.Credential{Type: "bearer", Token: w.so.AdminToken()}, nil
}

func (w *meetingWorld) Calendar(context.Context, *config.Calendar, *config.Link) (sdk.Credential, error) {
	if w.graph != nil {
		return sdk.Credential{Type: "bearer", Token: w.graph.AdminToken()}, nil
	}
	return sdk.Credential{Type: "bearer", Token: w.gws.AdminToken()}, nil
}

func (w *meetingWorld) Invalidate(context.Context, sdk.Credential) {}

// apply hands the runner the configuration, with profile "p" or without it.
func (w *meetingWorld) apply(withProfile bool) {
	w.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "data_dir = %q\nencryption { key_file = %q }\n", filepath.Join(w.dir, "data"), filepath.Join(w.dir, "key"))
	fmt.Fprintf(&b, "superoffice \"acme\" {\n  context_id = %q\n  environment = \"online\"\n  client_id = %q\n  client_secret = %q\n  partner_key_file = %q\n  endpoint = %q\n  resources = true\n  user_licenses = 10\n}\n",
		w.so.ContextID(), w.so.ClientID(), w.so.ClientSecret(), filepath.Join(w.dir, "partner.pem"), w.soURL)
	switch w.kind {
	case config.ProviderM365:
		s := w.graph.Settings(w.calTS, false)
		fmt.Fprintf(&b, "calendar \"m365\" \"cal\" {\n  tenant_id = %q\n  client_id = %q\n  client_secret = %q\n  auth = %q\n  endpoint = %q\n}\n",
			s["tenant_id"], s["client_id"], s["client_secret"], s["auth"], s["endpoint"])
	default:
		fmt.Fprintf(&b, "calendar \"google\" \"cal\" {\n  client_id = \"gclient\"\n  client_secret = \"gsecret\"\n  endpoint = %q\n  admin = %q\n}\n",
			w.calTS, "admin@"+gcaltest.Domain)
	}
	if withProfile {
		b.WriteString("profile \"p\" {\n  superoffice = \"acme\"\n  calendar = \"cal\"\n  interval = \"1h\"\n")
		fmt.Fprintf(&b, "  user \"alice\" {\n    associate = \"ALICE\"\n    mailbox = %q\n  }\n", w.mailbox["alice"])
		fmt.Fprintf(&b, "  user \"bob\" {\n    associate = \"BOB\"\n    mailbox = %q\n  }\n", w.mailbox["bob"])
		fmt.Fprintf(&b, "  resource \"room\" {\n    resource = \"ROOM1\"\n    mailbox = %q\n  }\n", w.mailbox["room"])
		b.WriteString("}\n")
	}
	path := filepath.Join(w.dir, "c.hcl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		w.t.Fatal(err)
	}
	cfg, res := config.Load(path, config.Options{})
	if cfg == nil {
		w.t.Fatalf("config: %s\n%s", res.Error(), b.String())
	}
	var ids []state.LinkID
	for _, l := range cfg.Links() {
		ids = append(ids, state.LinkID{Profile: l.Profile, Link: l.Name})
	}
	if err := w.r.Apply(context.Background(), cfg, ids); err != nil {
		w.t.Fatalf("apply: %v", err)
	}
}

// mails is what the services would have mailed so far.
func (w *meetingWorld) mails() int {
	n := w.so.MailsSent()
	if w.graph != nil {
		return n + w.graph.Stats().MailsSent
	}
	return n + int(w.gws.Stats().MailsSent)
}

// settle runs every link, round after round, until a round writes nothing and
// no copy waits for its meeting.
func (w *meetingWorld) settle() {
	w.t.Helper()
	for round := 1; round <= 10; round++ {
		busy := 0
		var last []string
		for _, who := range meetingPeople {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			rs, err := w.r.RunNow(ctx, "p", who, engine.RunOptions{})
			cancel()
			if err != nil || rs[0].Err != nil {
				w.t.Fatalf("round %d, run of %s: %v %v", round, who, err, rs)
			}
			res := rs[0].Result
			if len(res.ItemErrors) > 0 {
				w.t.Errorf("round %d, run of %s: item errors %v", round, who, res.ItemErrors)
			}
			busy += len(res.Done) + res.Waiting
			if len(res.Done) > 0 || res.Waiting > 0 {
				last = append(last, fmt.Sprintf("%s: done %v waiting %d notes %v", who, res.Done, res.Waiting, res.Notes))
			}
		}
		if busy == 0 {
			return
		}
		if round == 10 {
			w.t.Fatalf("the links do not settle:\n%s", strings.Join(last, "\n"))
		}
	}
}

func (w *meetingWorld) soTarget(who string) sdk.Target {
	return sdk.Target{Instance: "acme", Account: strconv.Itoa(w.assoc[who]), Credential: sdk.Credential{Type: "bearer", Token: w.so.AdminToken()}}
}

func (w *meetingWorld) calTarget(who string) sdk.Target {
	c, _ := w.Calendar(context.Background(), nil, nil)
	return sdk.Target{Instance: "cal", Account: w.mailbox[who], Credential: c}
}

// copies lists the live items titled title in who's diary or calendar.
func (w *meetingWorld) copies(side engine.Side, who, title string) []sdk.Event {
	w.t.Helper()
	p, tg := sdk.Provider(w.sop), w.soTarget(who)
	if side == engine.Calendar {
		p, tg = w.calp, w.calTarget(who)
	}
	win := engine.DefaultPolicy().Window(time.Now())
	var out []sdk.Event
	cursor := ""
	for page := 0; ; page++ {
		if page > 100 {
			w.t.Fatal("the listing does not end")
		}
		ch, err := p.ListChanges(context.Background(), tg, sdk.ChangesRequest{Cursor: cursor, Window: win})
		if err != nil {
			w.t.Fatalf("list %s of %s: %v", side, who, err)
		}
		for _, ev := range ch.Events {
			if !ev.Cancelled && strings.TrimSpace(ev.Title) == title {
				out = append(out, ev)
			}
		}
		cursor = ch.Cursor
		if !ch.More {
			return out
		}
	}
}

// post sends one request to the calendar system's API as a user's client would:
// Alice books a meeting in Outlook or Google Calendar, which invites everyone.
func (w *meetingWorld) calBook(title string, start time.Time, attendees []string, room string) {
	w.t.Helper()
	var path, tok string
	var body map[string]any
	switch w.kind {
	case config.ProviderM365:
		path, tok = "/v1.0/users/"+url.PathEscape(w.mailbox["alice"])+"/events", w.graph.AdminToken()
		var atts []any
		for _, a := range attendees {
			atts = append(atts, map[string]any{"type": "required", "emailAddress": map[string]string{"address": a}})
		}
		atts = append(atts, map[string]any{"type": "resource", "emailAddress": map[string]string{"address": room}})
		body = map[string]any{"subject": title, "attendees": atts,
			"start": map[string]string{"dateTime": start.UTC().Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
			"end":   map[string]string{"dateTime": start.Add(time.Hour).UTC().Format("2006-01-02T15:04:05"), "timeZone": "UTC"}}
	default:
		var err error
		if tok, err = w.gws.TokenFor(w.mailbox["alice"]); err != nil {
			w.t.Fatal(err)
		}
		path = "/calendar/v3/calendars/" + url.PathEscape(w.mailbox["alice"]) + "/events?sendUpdates=all"
		var atts []any
		for _, a := range attendees {
			atts = append(atts, map[string]any{"email": a})
		}
		atts = append(atts, map[string]any{"email": room, "resource": true})
		body = map[string]any{"summary": title, "attendees": atts,
			"start": map[string]string{"dateTime": start.UTC().Format(time.RFC3339), "timeZone": "UTC"},
			"end":   map[string]string{"dateTime": start.Add(time.Hour).UTC().Format(time.RFC3339), "timeZone": "UTC"}}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		w.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, w.calTS+path, bytes.NewReader(raw))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		w.t.Fatalf("book in the calendar: %d %s", resp.StatusCode, answer)
	}
}

// A meeting Alice books with Bob, Carol (no link) and Room 1, in SuperOffice or
// in the calendar, reaches each linked person and the room exactly once on
// each side through the runner, as one meeting (in SuperOffice, Bob's and the
// room's rows belong to Alice's), without a mail from the sync. Carol's
// SuperOffice row is left alone. Removing the profile from the configuration
// drops its meeting registry.
func TestRunnerSyncsAMeetingOncePerParticipant(t *testing.T) {
	for _, kind := range []string{config.ProviderM365, config.ProviderGoogle} {
		for _, origin := range engine.Sides() {
			t.Run(kind+"/from "+string(origin), func(t *testing.T) {
				t.Parallel()
				w := newMeetingWorld(t, kind)
				start := time.Now().UTC().Truncate(time.Hour).Add(72 * time.Hour)
				const title = "Kickoff"
				if origin == engine.SuperOffice {
					_, err := w.sop.Create(context.Background(), w.soTarget("alice"), sdk.Event{Title: title, Start: start, End: start.Add(time.Hour), TimeZone: "Europe/Oslo",
						Attendees: []sdk.Attendee{
							{AccountID: strconv.Itoa(w.assoc["bob"]), Type: sdk.AttendeeRequired},
							{AccountID: strconv.Itoa(w.assoc["carol"]), Type: sdk.AttendeeRequired},
							{AccountID: strconv.Itoa(w.assoc["room"]), Type: sdk.AttendeeResource},
						}})
					if err != nil {
						t.Fatalf("book the meeting: %v", err)
					}
				} else {
					w.calBook(title, start, []string{w.mailbox["bob"], w.mailbox["carol"]}, w.mailbox["room"])
				}
				mails := w.mails()
				w.settle()
				if n := w.mails() - mails; n != 0 {
					t.Errorf("the sync made the services send %d mails", n)
				}
				for _, side := range engine.Sides() {
					key := ""
					for _, who := range meetingPeople {
						got := w.copies(side, who, title)
						if len(got) != 1 {
							t.Errorf("%s's %s holds %d copies of the meeting, want 1: %+v", who, side, len(got), got)
							continue
						}
						ev := got[0]
						if !ev.Start.Equal(start) || !ev.End.Equal(start.Add(time.Hour)) {
							t.Errorf("%s's %s copy is at %s-%s, want %s", who, side, ev.Start, ev.End, start)
						}
						if side != engine.SuperOffice {
							continue
						}
						if who == "alice" {
							key = ev.MeetingKey
						} else if ev.MeetingKey == "" || ev.MeetingKey != key {
							t.Errorf("%s's row has meeting key %q, want Alice's %q: a meeting of its own, not a row of hers", who, ev.MeetingKey, key)
						}
					}
				}
				for _, ev := range w.copies(engine.SuperOffice, "carol", title) {
					if ev.CorrelationID != "" {
						t.Errorf("a link wrote Carol's row %s", ev.ID)
					}
				}
				if n := w.store.MemMeetings.Len("p"); n != 1 {
					t.Errorf("the registry of profile p holds %d meetings, want 1", n)
				}

				// Nothing is left to do, and a reload changes nothing.
				w.apply(true)
				w.settle()

				w.apply(false)
				if n := w.store.MemMeetings.Len("p"); n != 0 {
					t.Errorf("after the profile was removed its registry holds %d meetings", n)
				}
			})
		}
	}
}
