package m365

import (
	"context"
	"slices"
	"testing"
	"time"

	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/providertest"
	"synchronizer/plugins/sdk"
)

// The provider behind the real gRPC boundary (go-plugin's in-process connection):
// events, cursors, typed errors and request records all cross it.
func TestOverGRPC(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	host := providertest.OverPlugin(t, e.p)
	log := &sdk.RequestLog{}
	ctx := sdk.WithRecorder(context.Background(), log)
	if err := host.Configure(ctx, "acme", map[string]string{"endpoint": e.ts.URL, "tenant_id": e.srv.TenantID(), "client_id": graphtest.DefaultClientID}); err != nil {
		t.Fatal(err)
	}
	tg := e.target("user1@m365.test")
	single, err := host.Create(ctx, tg, sdk.Event{Kind: sdk.KindSingle, CorrelationID: "g1", Title: "over gRPC", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour), TimeZone: "Europe/Berlin", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic,
		Attendees: []sdk.Attendee{{Email: "x@example.com", Type: sdk.AttendeeOptional, Response: sdk.ResponseTentative}}})
	if err != nil {
		t.Fatal(err)
	}
	master, err := host.Create(ctx, tg, sdk.Event{Kind: sdk.KindMaster, CorrelationID: "g2", Title: "series", Start: t0.Add(24 * time.Hour), End: t0.Add(25 * time.Hour), TimeZone: "Europe/Berlin", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic,
		Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=3", "EXDATE:" + t0.Add(48*time.Hour).Format("20060102T150405Z")}})
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
	got := byID(evs)
	if got[single.ID].CorrelationID != "g1" || len(got[single.ID].Attendees) != 1 || !slices.Equal(got[master.ID].Recurrence, master.Recurrence) {
		t.Fatalf("listed over gRPC: %+v", evs)
	}
	if len(log.Records()) == 0 {
		t.Error("no request records came back to the host")
	}
	e.srv.ExpireCursors()
	_, err = host.ListChanges(ctx, tg, sdk.ChangesRequest{Cursor: cur, Window: e.window()})
	mustErrIs(t, err, sdk.ErrFullSyncRequired)
	_, err = host.Get(ctx, tg, single.ID+"x")
	mustErrIs(t, err, sdk.ErrNotFound)
	postFaults(t, e, `{"throttle":1,"retry_after":30}`)
	_, err = host.Get(ctx, tg, single.ID)
	if d, ok := sdk.RetryAfter(err); !ok || d != 30*time.Second {
		t.Fatalf("throttle over gRPC: %v (%v %v)", err, d, ok)
	}
}
