package enginetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/plugins/sdk"
)

// StoreConformance checks an engine.Store: pairs found by every key, keys that
// move with an update, atomic batches, copies in and out, links kept apart, and
// DropLink.
func StoreConformance(t *testing.T, newStore func() engine.Store) {
	ctx := context.Background()
	at := time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC)
	pair := func(id, so, cal string) engine.Pair {
		return engine.Pair{
			ID: id, Kind: "single", Origin: engine.SuperOffice,
			SO:     engine.Ref{ID: so, Version: "v1", Hash: "h-" + so, Start: at, End: at.Add(time.Hour), Extras: map[string]string{"k": "v"}},
			Cal:    engine.Ref{ID: cal, Version: "e1", Hash: "h-" + cal, Start: at, End: at.Add(time.Hour)},
			Writes: []time.Time{at},
		}
	}
	mustFind := func(t *testing.T, s engine.Store, link string, side engine.Side, id, want string) {
		t.Helper()
		p, ok, err := s.PairBySide(ctx, link, side, id)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case want == "" && ok:
			t.Fatalf("%s %s still finds pair %s", side, id, p.ID)
		case want != "" && (!ok || p.ID != want):
			t.Fatalf("%s %s finds %q (%v), want %s", side, id, p.ID, ok, want)
		}
	}

	t.Run("keys", func(t *testing.T) {
		s := newStore()
		if err := s.Commit(ctx, "p/a", engine.Batch{PutPairs: []engine.Pair{pair("s1", "so1", "cal1"), pair("s2", "so2", "")}}); err != nil {
			t.Fatal(err)
		}
		mustFind(t, s, "p/a", engine.SuperOffice, "so1", "s1")
		mustFind(t, s, "p/a", engine.Calendar, "cal1", "s1")
		mustFind(t, s, "p/a", engine.SuperOffice, "so2", "s2")
		mustFind(t, s, "p/a", engine.Calendar, "", "")
		if p, ok, err := s.PairByCorrelation(ctx, "p/a", "s2"); err != nil || !ok || p.SO.ID != "so2" {
			t.Fatalf("by correlation: %+v %v %v", p, ok, err)
		}
		// An update moves the keys: the old ids no longer find the pair.
		moved := pair("s1", "so9", "cal9")
		if err := s.Commit(ctx, "p/a", engine.Batch{PutPairs: []engine.Pair{moved}}); err != nil {
			t.Fatal(err)
		}
		mustFind(t, s, "p/a", engine.SuperOffice, "so1", "")
		mustFind(t, s, "p/a", engine.Calendar, "cal1", "")
		mustFind(t, s, "p/a", engine.Calendar, "cal9", "s1")
		// Delete and re-put in one batch.
		if err := s.Commit(ctx, "p/a", engine.Batch{DeletePairs: []string{"s2", "s1"}, PutPairs: []engine.Pair{pair("s1", "so5", "cal5")}}); err != nil {
			t.Fatal(err)
		}
		mustFind(t, s, "p/a", engine.SuperOffice, "so2", "")
		mustFind(t, s, "p/a", engine.SuperOffice, "so9", "")
		mustFind(t, s, "p/a", engine.SuperOffice, "so5", "s1")
		ps, err := s.Pairs(ctx, "p/a")
		if err != nil || len(ps) != 1 {
			t.Fatalf("pairs = %v, %v", ps, err)
		}
		got := ps[0]
		want := pair("s1", "so5", "cal5")
		if got.SO.Extras["k"] != "v" || !got.SO.Start.Equal(want.SO.Start) || len(got.Writes) != 1 || got.Cal.Hash != want.Cal.Hash {
			t.Fatalf("pair read back as %+v", got)
		}
	})

	t.Run("copies", func(t *testing.T) {
		s := newStore()
		p := pair("s1", "so1", "cal1")
		if err := s.Commit(ctx, "p/a", engine.Batch{PutPairs: []engine.Pair{p}}); err != nil {
			t.Fatal(err)
		}
		p.SO.Extras["k"] = "changed"
		p.Writes[0] = time.Time{}
		got, _, _ := s.PairByCorrelation(ctx, "p/a", "s1")
		if got.SO.Extras["k"] != "v" || got.Writes[0].IsZero() {
			t.Fatal("the store shares memory with its caller")
		}
		got.SO.Extras["k"] = "mine"
		again, _, _ := s.PairByCorrelation(ctx, "p/a", "s1")
		if again.SO.Extras["k"] != "v" {
			t.Fatal("a returned pair shares memory with the store")
		}
	})

	t.Run("intents and cursors", func(t *testing.T) {
		s := newStore()
		in := engine.Intent{ID: "s1", Op: engine.OpCreate, Side: engine.Calendar, Pair: pair("s1", "so1", ""), Started: at}
		if err := s.Commit(ctx, "p/a", engine.Batch{PutIntents: []engine.Intent{in},
			Cursors: map[engine.Side]engine.CursorState{engine.Calendar: {Token: "t1", Fingerprint: "f", FullAt: at}}}); err != nil {
			t.Fatal(err)
		}
		ins, err := s.Intents(ctx, "p/a")
		if err != nil || len(ins) != 1 || ins[0].Pair.SO.ID != "so1" || ins[0].Side != engine.Calendar {
			t.Fatalf("intents = %+v, %v", ins, err)
		}
		c, ok, err := s.Cursor(ctx, "p/a", engine.Calendar)
		if err != nil || !ok || c.Token != "t1" || !c.FullAt.Equal(at) {
			t.Fatalf("cursor = %+v %v %v", c, ok, err)
		}
		if _, ok, _ := s.Cursor(ctx, "p/a", engine.SuperOffice); ok {
			t.Fatal("a cursor nobody stored")
		}
		// The pair and the intent's removal land together.
		if err := s.Commit(ctx, "p/a", engine.Batch{PutPairs: []engine.Pair{pair("s1", "so1", "cal1")}, DeleteIntents: []string{"s1"}}); err != nil {
			t.Fatal(err)
		}
		if ins, _ := s.Intents(ctx, "p/a"); len(ins) != 0 {
			t.Fatalf("intent left: %+v", ins)
		}
	})

	t.Run("links apart and dropped", func(t *testing.T) {
		s := newStore()
		for i, link := range []string{"p/a", "p/b"} {
			if err := s.Commit(ctx, link, engine.Batch{PutPairs: []engine.Pair{pair("s1", fmt.Sprint("so", i), "cal1")},
				Cursors: map[engine.Side]engine.CursorState{engine.SuperOffice: {Token: link}}}); err != nil {
				t.Fatal(err)
			}
		}
		mustFind(t, s, "p/a", engine.SuperOffice, "so0", "s1")
		mustFind(t, s, "p/a", engine.SuperOffice, "so1", "")
		if err := s.DropLink(ctx, "p/a"); err != nil {
			t.Fatal(err)
		}
		if ps, _ := s.Pairs(ctx, "p/a"); len(ps) != 0 {
			t.Fatalf("dropped link still has %d pairs", len(ps))
		}
		if _, ok, _ := s.Cursor(ctx, "p/a", engine.SuperOffice); ok {
			t.Fatal("dropped link still has a cursor")
		}
		if c, ok, _ := s.Cursor(ctx, "p/b", engine.SuperOffice); !ok || c.Token != "p/b" {
			t.Fatal("the other link lost its cursor")
		}
		mustFind(t, s, "p/b", engine.SuperOffice, "so1", "s1")
	})

	t.Run("bad batch changes nothing", func(t *testing.T) {
		s := newStore()
		if err := s.Commit(ctx, "p/a", engine.Batch{PutPairs: []engine.Pair{pair("s1", "so1", "cal1")}}); err != nil {
			t.Fatal(err)
		}
		err := s.Commit(ctx, "p/a", engine.Batch{DeletePairs: []string{"s1"}, PutPairs: []engine.Pair{{ID: ""}}})
		if err == nil {
			t.Fatal("a pair without id was accepted")
		}
		mustFind(t, s, "p/a", engine.SuperOffice, "so1", "s1")
	})
}

// MeetingStoreConformance checks an engine.MeetingStore: meetings found by
// either key, keys that move with a put, deletes, profiles kept apart, and copies
// in and out.
func MeetingStoreConformance(t *testing.T, newStore func() engine.MeetingStore) {
	ctx := context.Background()
	find := func(t *testing.T, s engine.MeetingStore, profile string, side engine.Side, key, want string) engine.Meeting {
		t.Helper()
		m, ok, err := s.MeetingByKey(ctx, profile, side, key)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case want == "" && ok:
			t.Fatalf("%s %q still finds meeting %s", side, key, m.ID)
		case want != "" && (!ok || m.ID != want):
			t.Fatalf("%s %q finds %q (%v), want %s", side, key, m.ID, ok, want)
		}
		return m
	}
	s := newStore()
	m1 := engine.Meeting{ID: engine.MeetingID(engine.SuperOffice, "12"), SO: "12", Cal: "uid-1", Origin: engine.SuperOffice,
		Owner: "p/alice", Answers: map[string]sdk.Response{"calendar/p/bob": sdk.ResponseAccepted}, Listed: []engine.Side{engine.Calendar}}
	if err := s.PutMeeting(ctx, "p", m1); err != nil {
		t.Fatal(err)
	}
	got := find(t, s, "p", engine.SuperOffice, "12", m1.ID)
	if got.Owner != "p/alice" || got.Answers["calendar/p/bob"] != sdk.ResponseAccepted || len(got.Listed) != 1 {
		t.Fatalf("read back %+v", got)
	}
	got.Answers["calendar/p/bob"] = sdk.ResponseDeclined // a copy: the store keeps its own
	find(t, s, "p", engine.Calendar, "uid-1", m1.ID)
	if again := find(t, s, "p", engine.Calendar, "uid-1", m1.ID); again.Answers["calendar/p/bob"] != sdk.ResponseAccepted {
		t.Fatal("a caller's change reached the stored meeting")
	}
	find(t, s, "q", engine.SuperOffice, "12", "") // another profile
	find(t, s, "p", engine.Calendar, "12", "")    // the other side's key
	find(t, s, "p", engine.SuperOffice, "", "")   // no key
	m1.Cal = "uid-2"                              // the calendar's meeting made anew
	if err := s.PutMeeting(ctx, "p", m1); err != nil {
		t.Fatal(err)
	}
	find(t, s, "p", engine.Calendar, "uid-1", "")
	find(t, s, "p", engine.Calendar, "uid-2", m1.ID)
	m2 := engine.Meeting{ID: engine.MeetingID(engine.Calendar, "uid-3"), SO: "13", Cal: "uid-3", Origin: engine.Calendar, Owner: "p/bob"}
	if err := s.PutMeeting(ctx, "p", m2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMeeting(ctx, "p", m1.ID); err != nil {
		t.Fatal(err)
	}
	find(t, s, "p", engine.SuperOffice, "12", "")
	find(t, s, "p", engine.Calendar, "uid-2", "")
	find(t, s, "p", engine.SuperOffice, "13", m2.ID)
	if err := s.DeleteMeeting(ctx, "p", m1.ID); err != nil {
		t.Fatalf("deleting a deleted meeting: %v", err)
	}
	if err := s.DeleteMeeting(ctx, "nobody", "m-x"); err != nil {
		t.Fatalf("deleting in an unknown profile: %v", err)
	}
}
