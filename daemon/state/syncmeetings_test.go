package state

import (
	"context"
	"testing"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/engine/enginetest"
)

func TestSyncStoreMeetingConformance(t *testing.T) {
	enginetest.MeetingStoreConformance(t, func() engine.MeetingStore {
		b := openTest(t, t.TempDir(), testCipher(t, 1))
		t.Cleanup(func() { b.Close() })
		return b.SyncStore()
	})
}

// The registry outlives the process, and a file from before it reads as empty.
func TestSyncStoreMeetingsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := openTest(t, dir, testCipher(t, 1))
	s := b.SyncStore()
	if _, ok, err := s.MeetingByKey(ctx, "p", engine.SuperOffice, "12"); err != nil || ok {
		t.Fatalf("fresh file: %v %v", ok, err)
	}
	m := engine.Meeting{ID: engine.MeetingID(engine.SuperOffice, "12"), SO: "12", Cal: "uid", Origin: engine.SuperOffice, Owner: "p/a"}
	if err := s.PutMeeting(ctx, "p", m); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openTest(t, dir, testCipher(t, 1))
	defer b.Close()
	got, ok, err := b.SyncStore().MeetingByKey(ctx, "p", engine.Calendar, "uid")
	if err != nil || !ok || got.ID != m.ID || got.Owner != "p/a" {
		t.Fatalf("after reopen: %+v %v %v", got, ok, err)
	}
	if err := b.SyncStore().DropMeetings(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.SyncStore().MeetingByKey(ctx, "p", engine.Calendar, "uid"); ok {
		t.Fatal("dropped registry still answers")
	}
}
