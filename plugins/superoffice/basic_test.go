package superoffice_test

import (
	"errors"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

func TestCreateGetListRoundTrip(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	start := e.clk.Now().Add(48 * time.Hour).Truncate(time.Hour)
	in := sdk.Event{Title: "Budget review", Description: "Budget review\nwith finance", Location: "Room 4",
		Start: start, End: start.Add(90 * time.Minute), ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPrivate,
		HasReminder: true, ReminderMinutes: 15, Category: "Phone call", CorrelationID: "corr-1"}
	created, err := e.p.Create(e.ctx(), tg, in)
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Version == "" || created.CorrelationID != "corr-1" {
		t.Fatalf("created = %+v", created)
	}
	got, err := e.p.Get(e.ctx(), tg, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"title", got.Title, in.Title}, {"description", got.Description, in.Description}, {"location", got.Location, in.Location},
		{"start", got.Start, in.Start}, {"end", got.End, in.End}, {"privacy", got.Privacy, in.Privacy},
		{"reminder", got.ReminderMinutes, 15}, {"category", got.Category, "Phone call"}, {"zone", got.TimeZone, "Europe/Oslo"},
		{"correlation", got.CorrelationID, "corr-1"}, {"version", got.Version, created.Version}, {"kind", got.Kind, sdk.KindSingle},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	evs, _, _, full := e.listAll(tg, "", 0)
	if !full {
		t.Error("first round not Full")
	}
	listed, ok := evs[created.ID]
	if !ok {
		t.Fatalf("created event not listed: %v", evs)
	}
	if listed.Title != got.Title || !listed.Start.Equal(got.Start) || listed.Version != got.Version || listed.CorrelationID != "corr-1" {
		t.Errorf("listed %+v\nget    %+v", listed, got)
	}
	if n := e.so.MailsSent(); n != 0 {
		t.Errorf("mails sent = %d", n)
	}
}

func TestIncrementalRounds(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	if err := e.so.SeedEvents("USER1", 50, 7); err != nil {
		t.Fatal(err)
	}
	evs, _, cur, _ := e.listAll(tg, "", 0)
	if len(evs) == 0 {
		t.Fatal("nothing listed")
	}
	before := e.requests()
	evs2, removed, cur2, full := e.listAll(tg, cur, 0)
	if len(evs2) != 0 || len(removed) != 0 || full {
		t.Fatalf("no-change round listed %d events, removed %v, full %v", len(evs2), removed, full)
	}
	if n := e.requests() - before; n != 1 {
		t.Errorf("no-change round made %d requests, want 1", n)
	}

	// An edit and a delete made in SuperOffice.
	var victim, edited string
	for id, ev := range evs {
		if ev.Kind != sdk.KindSingle || ev.MeetingKey != "" {
			continue
		}
		if victim == "" {
			victim = id
		} else if edited == "" {
			edited = id
		}
	}
	e.clk.Add(2 * time.Second)
	if r := e.raw("DELETE", "/v1/Appointment/"+victim, ""); r.StatusCode != 204 {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	cur3 := cur2
	ev := evs[edited]
	ev.Title = "Changed in SuperOffice"
	if _, err := e.p.Update(e.ctx(), e.admin(e.user1), ev); err != nil {
		t.Fatal(err)
	}
	evs3, removed3, _, _ := e.listAll(tg, cur3, 0)
	if len(evs3) != 1 || evs3[edited].Title != "Changed in SuperOffice" {
		t.Errorf("changed round = %v", evs3)
	}
	if len(removed3) != 1 || removed3[0] != victim {
		t.Errorf("removed = %v, want [%s]", removed3, victim)
	}
	if _, err := e.p.Get(e.ctx(), tg, victim); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Get deleted = %v, want ErrNotFound", err)
	}
}
