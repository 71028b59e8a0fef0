package google

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	gcal "google.golang.org/api/calendar/v3"

	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/sdk"
)

func TestCreateGetUpdateDelete(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	u := gcaltest.UserEmail(1)
	tg := e.target(u)
	ctx := context.Background()
	in := single("Lunch", t0.Add(26*time.Hour), 90*time.Minute)
	in.CorrelationID = "corr-1"
	in.Description = "Bring the contract"
	in.Location = "Canteen"
	in.Privacy = sdk.PrivacyPrivate
	in.ShowAs = sdk.ShowFree
	in.HasReminder, in.ReminderMinutes = true, 15
	created, err := e.p.Create(ctx, tg, in)
	if err != nil {
		t.Fatal(err)
	}
	if created.ID != idFor("gw", u, "corr-1") || created.Version == "" || created.CorrelationID != "corr-1" {
		t.Fatalf("created: %+v", created)
	}
	got, err := e.p.Get(ctx, tg, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	for name, ok := range map[string]bool{
		"title":    got.Title == "Lunch",
		"times":    got.Start.Equal(in.Start) && got.End.Equal(in.End) && got.TimeZone == "Europe/Oslo",
		"desc":     got.Description == in.Description && got.DescriptionHTML == "",
		"location": got.Location == "Canteen",
		"private":  got.Privacy == sdk.PrivacyPrivate,
		"free":     got.ShowAs == sdk.ShowFree,
		"reminder": got.HasReminder && got.ReminderMinutes == 15,
		"version":  got.Version == created.Version,
	} {
		if !ok {
			t.Errorf("%s did not round-trip: %+v", name, got)
		}
	}
	// Update with the current version, then with the stale one.
	upd := got
	upd.Title, upd.Description, upd.HasReminder = "Lunch moved", "", false
	upd.Start, upd.End = upd.Start.Add(time.Hour), upd.End.Add(time.Hour)
	after, err := e.p.Update(ctx, tg, upd)
	if err != nil {
		t.Fatal(err)
	}
	if after.Title != "Lunch moved" || after.Description != "" || after.HasReminder || after.Version == got.Version ||
		after.CorrelationID != "corr-1" {
		t.Fatalf("updated: %+v", after)
	}
	_, err = e.p.Update(ctx, tg, upd) // upd still carries the old version
	mustErrIs(t, err, sdk.ErrPreconditionFailed)
	err = e.p.Delete(ctx, tg, after.ID, got.Version)
	mustErrIs(t, err, sdk.ErrPreconditionFailed)
	found, err := e.p.FindByCorrelation(ctx, tg, "corr-1")
	if err != nil || len(found) != 1 || found[0].ID != created.ID {
		t.Fatalf("find: %v %+v", err, found)
	}
	if err := e.p.Delete(ctx, tg, after.ID, after.Version); err != nil {
		t.Fatal(err)
	}
	_, err = e.p.Get(ctx, tg, after.ID)
	mustErrIs(t, err, sdk.ErrNotFound)
	if err := e.p.Delete(ctx, tg, after.ID, ""); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if err := e.p.Delete(ctx, tg, "neverexisted1", ""); err != nil {
		t.Fatalf("delete of a missing item: %v", err)
	}
	found, err = e.p.FindByCorrelation(ctx, tg, "corr-1")
	if err != nil || len(found) != 0 {
		t.Fatalf("find after delete: %v %d", err, len(found))
	}
	if st := e.stats(); st.MailsSent != 0 {
		t.Fatalf("the provider's writes would have mailed %d times", st.MailsSent)
	}
}

// A create repeated after a lost answer finds its first attempt instead of
// duplicating; after that item was deleted, a create makes a new one.
func TestCreateIsIdempotent(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	u := gcaltest.UserEmail(1)
	tg := e.target(u)
	ctx := context.Background()
	in := single("Once", t0.Add(24*time.Hour), time.Hour)
	in.CorrelationID = "corr-once"
	// The first answer is cut in half: the insert happened, the client saw garbage.
	e.faults(gcaltest.Faults{TruncateNext: 1})
	first, err := e.p.Create(ctx, tg, in)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.p.Create(ctx, tg, in)
	if err != nil || second.ID != first.ID {
		t.Fatalf("second create: %v %s vs %s", err, second.ID, first.ID)
	}
	if ids := e.srv.EventIDs(u); len(ids) != 1 {
		t.Fatalf("calendar holds %d items", len(ids))
	}
	if err := e.p.Delete(ctx, tg, first.ID, ""); err != nil {
		t.Fatal(err)
	}
	third, err := e.p.Create(ctx, tg, in)
	if err != nil || third.ID == first.ID {
		t.Fatalf("create after delete: %v %s", err, third.ID)
	}
	if ids := e.srv.EventIDs(u); len(ids) != 1 {
		t.Fatalf("calendar holds %d items", len(ids))
	}
}

func TestSeriesWritesRoundTrip(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	u := gcaltest.UserEmail(1)
	tg := e.target(u)
	ctx := context.Background()
	start := time.Date(2024, 4, 2, 7, 0, 0, 0, time.UTC) // 09:00 Oslo, summer time
	m := sdk.Event{Kind: sdk.KindMaster, Title: "Review", Start: start, End: start.Add(time.Hour), TimeZone: "Europe/Oslo",
		CorrelationID: "s-1", Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE:20240409T070000Z"}}
	before := e.stats().RequestsTotal
	master, err := e.p.Create(ctx, tg, m)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.stats().RequestsTotal - before; n != 1 {
		t.Errorf("creating a series cost %d requests, want 1 (a new series has no cancelled occurrences to read)", n)
	}
	if !slices.Equal(master.Recurrence, m.Recurrence) {
		t.Fatalf("recurrence %q", master.Recurrence)
	}
	if read, err := e.p.Get(ctx, tg, master.ID); err != nil || !slices.Equal(read.Recurrence, master.Recurrence) ||
		read.Version != master.Version || read.Kind != master.Kind || !read.Start.Equal(master.Start) {
		t.Fatalf("created %+v, read back %+v (%v)", master, read, err)
	}
	// Cancel one more occurrence through Google: the master reports two EXDATEs.
	g := e.google()
	if err := g.Events.Delete(u, master.ID+"_20240416T070000Z").Do(); err != nil {
		t.Fatal(err)
	}
	got, err := e.p.Get(ctx, tg, master.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE:20240409T070000Z", "EXDATE:20240416T070000Z"}
	if !slices.Equal(got.Recurrence, want) {
		t.Fatalf("after a cancelled occurrence: %q", got.Recurrence)
	}
	// The other side restores the 16th and cancels the 23rd.
	got.Recurrence = []string{"RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE:20240409T070000Z,20240423T070000Z"}
	upd, err := e.p.Update(ctx, tg, got)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE:20240409T070000Z", "EXDATE:20240423T070000Z"}
	if !slices.Equal(upd.Recurrence, want) {
		t.Fatalf("after update: %q", upd.Recurrence)
	}
	inst, err := g.Events.Instances(u, master.ID).Do()
	if err != nil {
		t.Fatal(err)
	}
	var starts []string
	for _, it := range inst.Items {
		starts = append(starts, it.Id[len(master.ID)+1:])
	}
	if !slices.Equal(starts, []string{"20240402T070000Z", "20240416T070000Z", "20240430T070000Z"}) {
		t.Fatalf("occurrences %v", starts)
	}
	// What Update returned is what the next read lists: no echo.
	r := e.round(tg, "", e.window())
	if listed := r.events[master.ID]; !slices.Equal(listed.Recurrence, upd.Recurrence) || listed.Version != upd.Version {
		t.Fatalf("listed %q %s, updated %q %s", listed.Recurrence, listed.Version, upd.Recurrence, upd.Version)
	}
	// An exception written through the provider, then found by correlation.
	orig := time.Date(2024, 4, 30, 7, 0, 0, 0, time.UTC)
	exc, err := e.p.Create(ctx, tg, sdk.Event{Kind: sdk.KindException, SeriesID: master.ID, OriginalStart: orig, CorrelationID: "s-1-x",
		Title: "Review (moved)", Start: orig.Add(3 * time.Hour), End: orig.Add(4 * time.Hour), TimeZone: "Europe/Oslo"})
	if err != nil {
		t.Fatal(err)
	}
	found, err := e.p.FindByCorrelation(ctx, tg, "s-1-x")
	if err != nil || len(found) != 1 || found[0].ID != exc.ID || found[0].Kind != sdk.KindException {
		t.Fatalf("find exception: %v %+v", err, found)
	}
	// An occurrence the rule does not have.
	_, err = e.p.Create(ctx, tg, sdk.Event{Kind: sdk.KindException, SeriesID: master.ID, OriginalStart: orig.Add(time.Hour),
		Start: orig, End: orig.Add(time.Hour), TimeZone: "UTC"})
	mustErrIs(t, err, sdk.ErrNotFound)
	// Deleting the exception cancels that occurrence.
	if err := e.p.Delete(ctx, tg, exc.ID, ""); err != nil {
		t.Fatal(err)
	}
	got, err = e.p.Get(ctx, tg, master.ID)
	if err != nil || !slices.Contains(got.Recurrence, "EXDATE:20240430T070000Z") {
		t.Fatalf("exception delete: %v %q", err, got.Recurrence)
	}
}

func TestAllDaySeriesAndHTMLDescription(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	u := gcaltest.UserEmail(1)
	tg := e.target(u)
	ctx := context.Background()
	day := time.Date(2024, 3, 29, 0, 0, 0, 0, time.UTC)
	m, err := e.p.Create(ctx, tg, sdk.Event{Kind: sdk.KindMaster, AllDay: true, Title: "Birthday", Start: day, End: day.AddDate(0, 0, 1),
		CorrelationID: "ad-1", Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=4", "EXDATE;VALUE=DATE:20240330"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.google().Events.Delete(u, m.ID+"_20240331").Do(); err != nil {
		t.Fatal(err)
	}
	got, err := e.p.Get(ctx, tg, m.ID)
	want := []string{"RRULE:FREQ=DAILY;COUNT=4", "EXDATE;VALUE=DATE:20240330", "EXDATE;VALUE=DATE:20240331"}
	if err != nil || !got.AllDay || !slices.Equal(got.Recurrence, want) {
		t.Fatalf("all-day series: %v %+v", err, got)
	}
	// Google's web UI writes HTML descriptions.
	ev, err := e.google().Events.Insert(u, &gcal.Event{Summary: "Notes", Description: "<b>Agenda</b><br>1. Budget &amp; plan",
		Start: &gcal.EventDateTime{DateTime: "2024-03-27T10:00:00+01:00"}, End: &gcal.EventDateTime{DateTime: "2024-03-27T11:00:00+01:00"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	mapped, err := e.p.Get(ctx, tg, ev.Id)
	if err != nil || mapped.Description != "Agenda\n1. Budget & plan" || mapped.DescriptionHTML == "" || mapped.TimeZone != "" {
		t.Fatalf("html description: %v %q %q", err, mapped.Description, mapped.DescriptionHTML)
	}
}

func TestMeetingsAndResourceCalendars(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	u := gcaltest.UserEmail(1)
	tg := e.target(u)
	ctx := context.Background()
	in := single("Planning", t0.Add(30*time.Hour), time.Hour)
	in.CorrelationID = "meet-1"
	in.Attendees = []sdk.Attendee{{Email: gcaltest.UserEmail(2), Type: sdk.AttendeeRequired},
		{Email: gcaltest.ResourceEmail(1), Type: sdk.AttendeeResource}, {Email: "guest@example.com", Type: sdk.AttendeeOptional}}
	meet, err := e.p.Create(ctx, tg, in)
	if err != nil {
		t.Fatal(err)
	}
	if st := e.stats(); st.MailsSent != 0 {
		t.Fatalf("creating a meeting would have mailed %d invitations", st.MailsSent)
	}
	if meet.MeetingKey != meet.ID || !meet.IsOrganizer || meet.Response != sdk.ResponseOrganizer || len(meet.Attendees) != 3 {
		t.Fatalf("organizer's view: %+v", meet)
	}
	// The room's calendar, read with the admin connection, holds the same meeting.
	room := e.adminTarget(gcaltest.ResourceEmail(1))
	r := e.round(room, "", e.window())
	rc, ok := r.events[meet.ID]
	if !ok || rc.IsOrganizer || rc.MeetingKey != meet.ID || rc.Response != sdk.ResponseAccepted || rc.Organizer.Email != u {
		t.Fatalf("room's copy: %+v", rc)
	}
	for _, a := range rc.Attendees {
		if a.Email == gcaltest.ResourceEmail(1) && (a.Type != sdk.AttendeeResource || a.AccountID != a.Email) {
			t.Fatalf("room attendee %+v", a)
		}
		if a.Email == "guest@example.com" && a.AccountID != "" {
			t.Fatalf("external guest has an account id: %+v", a)
		}
	}
	// The attendee's view.
	other := e.round(e.target(gcaltest.UserEmail(2)), "", e.window())
	if oc := other.events[meet.ID]; oc.IsOrganizer || oc.Response != sdk.ResponseNone || oc.CorrelationID != "" {
		t.Fatalf("attendee's copy: %+v", oc)
	}
	// A user's token does not reach the room's calendar.
	_, err = e.p.ListChanges(ctx, sdk.Target{Instance: "gw", Account: gcaltest.ResourceEmail(1), Credential: tg.Credential},
		sdk.ChangesRequest{Window: e.window()})
	mustErrIs(t, err, sdk.ErrNotFound)
}

func TestBadInputFromTheService(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   *gcal.Event
	}{
		{"no start", &gcal.Event{Id: "x1", End: &gcal.EventDateTime{Date: "2024-01-02"}}},
		{"bad date", &gcal.Event{Id: "x2", Start: &gcal.EventDateTime{Date: "2024-13-01"}, End: &gcal.EventDateTime{Date: "2024-01-02"}}},
		{"bad dateTime", &gcal.Event{Id: "x3", Start: &gcal.EventDateTime{DateTime: "tomorrow"}, End: &gcal.EventDateTime{DateTime: "later"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := toEvent(nil, tc.ev, "a@b", nil)
			mustErrIs(t, err, sdk.ErrInvalidArgument)
		})
	}
	// A rule Google holds but we cannot parse is kept as it is, not dropped.
	ev, err := toEvent(nil, &gcal.Event{Id: "x4", Recurrence: []string{"RRULE:FREQ=WEEKLY;X-NAME=1"},
		Start: &gcal.EventDateTime{DateTime: "2024-01-01T09:00:00Z"}, End: &gcal.EventDateTime{DateTime: "2024-01-01T10:00:00Z"}}, "a@b", nil)
	if err != nil || ev.Kind != sdk.KindMaster || len(ev.Recurrence) != 1 {
		t.Fatalf("odd rule: %v %+v", err, ev)
	}
	if _, err := fromEvent(nil, sdk.Event{Kind: sdk.KindMaster, Start: t0, End: t0.Add(time.Hour), Recurrence: []string{"RRULE:FREQ=NEVER"}}, false); err == nil {
		t.Fatal("a broken rule was written")
	}
	if _, err := fromEvent(nil, sdk.Event{Start: t0, End: t0.Add(-time.Hour)}, false); err == nil {
		t.Fatal("an event ending before it starts was written")
	}
}

// On an attendee's copy of someone else's meeting only the owner's answer is
// written, and nobody is mailed.
func TestAnswerOnAnInvitation(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	ctx := context.Background()
	org, guest := gcaltest.UserEmail(1), gcaltest.UserEmail(2)
	in := single("Planning", t0.Add(30*time.Hour), time.Hour)
	in.IsOrganizer = true
	in.Attendees = []sdk.Attendee{{Email: guest, Type: sdk.AttendeeRequired}}
	meet, err := e.p.Create(ctx, e.target(org), in)
	if err != nil {
		t.Fatal(err)
	}
	gt := e.target(guest)
	cp, err := e.p.Get(ctx, gt, meet.ID)
	if err != nil || cp.IsOrganizer || cp.Response != sdk.ResponseNone {
		t.Fatalf("guest's copy: %v %+v", err, cp)
	}
	for _, tc := range []struct {
		want sdk.Response
		got  sdk.Response
	}{
		{sdk.ResponseDeclined, sdk.ResponseDeclined},
		{sdk.ResponseNone, sdk.ResponseDeclined}, // "none" is not an answer
		{sdk.ResponseAccepted, sdk.ResponseAccepted},
	} {
		edit := cp
		edit.Title = "hijacked" // content of the organizer's meeting is not the guest's to change
		edit.Response = tc.want
		out, err := e.p.Update(ctx, gt, edit)
		if err != nil {
			t.Fatalf("answer %s: %v", tc.want, err)
		}
		if out.Response != tc.got || out.Title != "Planning" {
			t.Fatalf("answer %s: copy %q answered %s, want %s", tc.want, out.Title, out.Response, tc.got)
		}
		o, err := e.p.Get(ctx, e.target(org), meet.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range o.Attendees {
			if a.Email == guest && a.Response != tc.got {
				t.Fatalf("organizer sees %s, want %s", a.Response, tc.got)
			}
		}
		cp = out
	}
	// A stale version is refused.
	stale := cp
	stale.Version, stale.Response = `"old"`, sdk.ResponseDeclined
	if _, err := e.p.Update(ctx, gt, stale); !errors.Is(err, sdk.ErrPreconditionFailed) {
		t.Fatalf("stale answer: %v", err)
	}
	if st := e.stats(); st.MailsSent != 0 {
		t.Fatalf("answers mailed %d", st.MailsSent)
	}
}

// A copy of someone else's meeting is written without attendees: nobody is invited
// by it.
func TestCopyOfAnotherOrganizersMeetingHasNoAttendees(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	ctx := context.Background()
	in := single("Their meeting", t0.Add(30*time.Hour), time.Hour)
	in.Organizer = sdk.Attendee{Email: "boss@elsewhere.example"}
	in.Attendees = []sdk.Attendee{{Email: gcaltest.UserEmail(1)}, {Email: gcaltest.UserEmail(2)}}
	out, err := e.p.Create(ctx, e.target(gcaltest.UserEmail(1)), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Attendees) != 0 || out.MeetingKey != "" {
		t.Fatalf("copy written with attendees: %+v", out.Attendees)
	}
	r := e.round(e.target(gcaltest.UserEmail(2)), "", e.window())
	if len(r.events) != 0 {
		t.Fatalf("user2 got %d events from a copy", len(r.events))
	}
}

// The organizer's update keeps the answers the attendees gave in Google.
func TestOrganizersUpdateKeepsAnswers(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	ctx := context.Background()
	org, guest := gcaltest.UserEmail(1), gcaltest.UserEmail(2)
	in := single("Planning", t0.Add(30*time.Hour), time.Hour)
	in.IsOrganizer = true
	in.Attendees = []sdk.Attendee{{Email: guest, Type: sdk.AttendeeRequired}}
	meet, err := e.p.Create(ctx, e.target(org), in)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := e.p.Get(ctx, e.target(guest), meet.ID)
	if err != nil {
		t.Fatal(err)
	}
	cp.Response = sdk.ResponseAccepted
	if _, err := e.p.Update(ctx, e.target(guest), cp); err != nil {
		t.Fatal(err)
	}
	cur, err := e.p.Get(ctx, e.target(org), meet.ID)
	if err != nil {
		t.Fatal(err)
	}
	moved := cur
	moved.Start, moved.End = cur.Start.Add(time.Hour), cur.End.Add(time.Hour)
	moved.Attendees = []sdk.Attendee{{Email: guest, Type: sdk.AttendeeRequired, Response: sdk.ResponseNone},
		{Email: gcaltest.ResourceEmail(1), Type: sdk.AttendeeResource, Response: sdk.ResponseNone}}
	out, err := e.p.Update(ctx, e.target(org), moved)
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]sdk.Response{}
	for _, a := range out.Attendees {
		answers[a.Email] = a.Response
	}
	if answers[guest] != sdk.ResponseAccepted {
		t.Errorf("the guest's answer after the organizer's update: %s", answers[guest])
	}
	if _, ok := answers[gcaltest.ResourceEmail(1)]; !ok {
		t.Errorf("the added room is missing: %+v", out.Attendees)
	}
	if st := e.stats(); st.MailsSent != 0 {
		t.Fatalf("mailed %d", st.MailsSent)
	}
}
