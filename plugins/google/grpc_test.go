package google

import (
	"context"
	"slices"
	"testing"
	"time"

	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/providertest"
	"synchronizer/plugins/sdk"
)

// The provider behind the real gRPC boundary (go-plugin's in-process connection):
// events, cursors, typed errors and request records all cross it.
func TestOverGRPC(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{MaxRetries: -1})
	host := providertest.OverPlugin(t, e.p)
	log := &sdk.RequestLog{}
	ctx := sdk.WithRecorder(context.Background(), log)
	info, err := host.Info(ctx)
	if err != nil || info.Name != Name || !info.Capabilities.IncrementalChanges {
		t.Fatalf("info: %v %+v", err, info)
	}
	if err := host.Configure(ctx, "gw", map[string]string{"endpoint": e.ts.URL, "client_id": "cid", "client_secret": "s"}); err != nil {
		t.Fatal(err)
	}
	tg := e.target(gcaltest.UserEmail(1))
	in := single("over gRPC", t0.Add(time.Hour), time.Hour)
	in.CorrelationID = "g1"
	in.Attendees = []sdk.Attendee{{Email: "x@example.com", Type: sdk.AttendeeOptional}}
	one, err := host.Create(ctx, tg, in)
	if err != nil {
		t.Fatal(err)
	}
	m := single("series", t0.Add(24*time.Hour), time.Hour)
	m.Kind, m.CorrelationID = sdk.KindMaster, "g2"
	m.Recurrence = []string{"RRULE:FREQ=DAILY;COUNT=3", "EXDATE:" + t0.Add(48*time.Hour).Format("20060102T150405Z")}
	master, err := host.Create(ctx, tg, m)
	if err != nil {
		t.Fatal(err)
	}
	var evs []sdk.Event
	cur := ""
	for {
		ch, err := host.ListChanges(ctx, tg, sdk.ChangesRequest{Cursor: cur, Window: e.window()})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ch.Events...)
		cur = ch.Cursor
		if !ch.More {
			break
		}
	}
	got := map[string]sdk.Event{}
	for _, ev := range evs {
		got[ev.ID] = ev
	}
	if got[one.ID].CorrelationID != "g1" || len(got[one.ID].Attendees) != 1 || !slices.Equal(got[master.ID].Recurrence, master.Recurrence) {
		t.Fatalf("listed over gRPC: %+v", evs)
	}
	if len(log.Records()) == 0 {
		t.Error("no request records came back to the host")
	}
	e.srv.ExpireSyncTokens()
	_, err = host.ListChanges(ctx, tg, sdk.ChangesRequest{Cursor: cur, Window: e.window()})
	mustErrIs(t, err, sdk.ErrFullSyncRequired)
	_, err = host.Get(ctx, tg, one.ID+"x")
	mustErrIs(t, err, sdk.ErrNotFound)
	_, err = host.Update(ctx, tg, sdk.Event{ID: one.ID, Version: `"1"`, Title: "stale", Start: one.Start, End: one.End})
	mustErrIs(t, err, sdk.ErrPreconditionFailed)
	e.faults(gcaltest.Faults{Throttle: 1, RetryAfter: 30})
	_, err = host.Get(ctx, tg, one.ID)
	if d, ok := sdk.RetryAfter(err); !ok || d != 30*time.Second {
		t.Fatalf("throttle over gRPC: %v (%v %v)", err, d, ok)
	}
}
