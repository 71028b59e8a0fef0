package superoffice_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"synchronizer/plugins/providertest"
	"synchronizer/plugins/sdk"
)

// The contract as the host sees it, across gRPC: errors keep their meaning,
// request records travel back, cursors and versions survive the trip.
func TestAcrossThePluginBoundary(t *testing.T) {
	e := newEnv(t)
	p := providertest.OverPlugin(t, e.p)
	log := &sdk.RequestLog{}
	ctx := sdk.WithRecorder(context.Background(), log)
	info, err := p.Info(ctx)
	if err != nil || info.Name != "superoffice" || !info.Capabilities.Licenses || !info.Capabilities.Recurrence {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	tg := e.target(e.user1)
	if err := e.so.SeedEvents("USER1", 30, 5); err != nil {
		t.Fatal(err)
	}
	w := e.window()
	ch, err := p.ListChanges(ctx, tg, sdk.ChangesRequest{Window: w})
	if err != nil || !ch.Full || len(ch.Events) == 0 {
		t.Fatalf("full round: %d events, %v", len(ch.Events), err)
	}
	if len(log.Records()) == 0 {
		t.Error("no request records came back")
	}
	start := e.clk.Now().Add(time.Hour)
	ev, err := p.Create(ctx, tg, sdk.Event{Title: "boundary", Start: start, End: start.Add(time.Hour), CorrelationID: "g-1"})
	if err != nil {
		t.Fatal(err)
	}
	next, err := p.ListChanges(ctx, tg, sdk.ChangesRequest{Cursor: ch.Cursor, Window: w})
	if err != nil || len(next.Events) != 1 || next.Events[0].ID != ev.ID || next.Events[0].CorrelationID != "g-1" {
		t.Fatalf("incremental round: %+v, %v", next.Events, err)
	}
	stale := ev
	e.clk.Add(2 * time.Second)
	ev.Title = "boundary 2"
	if _, err := p.Update(ctx, tg, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Update(ctx, tg, stale); !errors.Is(err, sdk.ErrPreconditionFailed) {
		t.Errorf("stale update: %v", err)
	}
	e.so.FailNext(429, 1, "9")
	if _, err := p.Get(ctx, tg, ev.ID); !errors.Is(err, sdk.ErrThrottled) {
		t.Errorf("throttle: %v", err)
	} else if d, _ := sdk.RetryAfter(err); d != 9*time.Second {
		t.Errorf("retry after %v", d)
	}
	if _, err := p.ListChanges(ctx, tg, sdk.ChangesRequest{Cursor: "junk", Window: w}); !errors.Is(err, sdk.ErrFullSyncRequired) {
		t.Errorf("bad cursor: %v", err)
	}
	if err := p.Delete(ctx, tg, ev.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(ctx, tg, ev.ID); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("deleted: %v", err)
	}
	l, err := p.Licenses(ctx, tg)
	if err != nil || l.UserLicenses != 10 {
		t.Errorf("licences %+v %v", l, err)
	}
}
