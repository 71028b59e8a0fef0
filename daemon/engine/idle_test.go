package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/engine/enginetest"
	"synchronizer/plugins/sdk"
)

// restamped gives every change round a new cursor, as Graph's delta links do,
// whether or not anything changed.
type restamped struct {
	engine.Endpoint
	round int
}

func (e *restamped) ListChanges(ctx context.Context, req sdk.ChangesRequest) (sdk.Changes, error) {
	req.Cursor, _, _ = strings.Cut(req.Cursor, "#")
	ch, err := e.Endpoint.ListChanges(ctx, req)
	if err == nil && ch.Cursor != "" {
		e.round++
		ch.Cursor = fmt.Sprintf("%s#%d", ch.Cursor, e.round)
	}
	return ch, err
}

type countingStore struct {
	engine.Store
	commits int
}

func (s *countingStore) Commit(ctx context.Context, link string, b engine.Batch) error {
	s.commits++
	return s.Store.Commit(ctx, link, b)
}

// An idle run writes nothing to the store, even when the services hand out a
// new cursor every round: the stored one is kept for up to an hour. A change
// made meanwhile is still found once, from the older cursor.
func TestIdleRunsKeepTheirCursor(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	for i := range 6 {
		h.SO.Put(enginetest.Single(fmt.Sprintf("so %d", i), enginetest.T0.Add(time.Duration(i+1)*time.Hour)))
		h.Cal.Put(enginetest.Single(fmt.Sprintf("cal %d", i), enginetest.T0.Add(time.Duration(i+1)*time.Hour+30*time.Minute)))
	}
	h.Link.SuperOffice, h.Link.Calendar = &restamped{Endpoint: h.Link.SuperOffice}, &restamped{Endpoint: h.Link.Calendar}
	st := &countingStore{Store: h.Store}
	h.Cfg.Store = st
	h.Rebuild()
	h.Settle()
	cursor := func(s engine.Side) engine.CursorState {
		c, ok, err := h.Store.Cursor(context.Background(), h.Link.Key, s)
		if err != nil || !ok {
			t.Fatalf("%s cursor: %v %v", s, ok, err)
		}
		return c
	}
	before := [2]engine.CursorState{cursor(engine.SuperOffice), cursor(engine.Calendar)}

	st.commits = 0
	for range 5 {
		h.Clock.Advance(5 * time.Minute)
		if res := h.Run(); len(res.Done) != 0 || len(res.Plan) != 0 {
			t.Fatalf("idle run planned %v", res.Plan)
		}
	}
	if st.commits != 0 {
		t.Fatalf("5 idle runs made %d commits, want none", st.commits)
	}
	if c := cursor(engine.Calendar); c != before[1] {
		t.Fatalf("calendar cursor moved on idle runs: %+v, was %+v", c, before[1])
	}

	// A change after the idle runs is seen from the kept cursor, once.
	h.Edit(engine.Calendar, "cal 2", enginetest.Retitle("cal 2 edited"))
	res := h.Run()
	if n := enginetest.CountOps(res, engine.SuperOffice, engine.OpUpdate); n != 1 {
		t.Fatalf("the edit made %d updates on superoffice, want 1 (done %v)", n, res.Done)
	}
	if !h.Has(engine.SuperOffice, "cal 2 edited") {
		t.Fatal("the edit did not reach superoffice")
	}
	if res := h.Run(); len(res.Done) != 0 {
		t.Fatalf("the edit was carried twice: %v", res.Done)
	}

	// An hour after it was stored, an idle run stores the newer cursor.
	h.Clock.Advance(50 * time.Minute)
	h.Run()
	st.commits = 0
	h.Clock.Advance(15 * time.Minute)
	h.Run()
	if st.commits != 1 {
		t.Fatalf("%d commits after an hour of idle runs, want 1 (the newer cursors)", st.commits)
	}
	h.RequireSame()
}
