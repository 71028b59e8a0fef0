package superoffice_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// settle runs rounds until one reports nothing and returns its cursor.
func (e *env) settle(tg sdk.Target, cur string) string {
	e.t.Helper()
	for i := 0; i < 5; i++ {
		evs, removed, next, _ := e.listAll(tg, cur, 0)
		cur = next
		if len(evs) == 0 && len(removed) == 0 {
			return cur
		}
		e.clk.Add(10 * time.Second) // past the fresh margin
	}
	e.t.Fatal("the rounds do not settle")
	return ""
}

// Rounds without changes keep their cursor and cost one request, and what the
// answer of such a round cannot show by itself is still reported: a row the
// moving window leaves (its answer unchanged), an edit, a deletion.
func TestUnchangedRounds(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	if err := e.so.SeedEvents("USER1", 30, 5); err != nil {
		t.Fatal(err)
	}
	// A row that ends an hour after the window's start: the window leaves it
	// in 61 minutes, while the scan (its filter widened by a day) still answers it.
	edgeStart := e.window().Start.Add(-2 * time.Hour)
	edge, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "At the edge", Start: edgeStart, End: edgeStart.Add(3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	mid := e.clk.Now().Add(72 * time.Hour).Truncate(time.Hour)
	kept, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "Kept", Start: mid, End: mid.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	evs, _, cur, _ := e.listAll(tg, "", 0)
	if _, ok := evs[edge.ID]; !ok {
		t.Fatalf("the row at the edge is not listed")
	}
	e.clk.Add(10 * time.Second)
	cur = e.settle(tg, cur)

	for i := 0; i < 3; i++ {
		e.clk.Add(time.Minute)
		before := e.requests()
		evs, removed, next, full := e.listAll(tg, cur, 0)
		if len(evs) != 0 || len(removed) != 0 || full {
			t.Fatalf("a round without changes: %d events, removed %v, full %v", len(evs), removed, full)
		}
		if n := e.requests() - before; n != 1 {
			t.Errorf("a round without changes made %d requests, want 1", n)
		}
		if next != cur {
			t.Errorf("a round without changes gave a new cursor")
		}
	}

	// The window moves past the edge row.
	e.clk.Add(60 * time.Minute)
	evs, removed, cur, _ := e.listAll(tg, cur, 0)
	if len(evs) != 0 || !slices.Equal(removed, []string{edge.ID}) {
		t.Errorf("after the window left a row: %d events, removed %v, want [%s]", len(evs), removed, edge.ID)
	}
	cur = e.settle(tg, cur)

	// An edit by the diary's owner.
	e.clk.Add(time.Minute)
	e.asPerson("USER1", "PUT", "/v1/Appointment/"+kept.ID, fmt.Sprintf(
		`{"AppointmentId":%s,"Associate":{"AssociateId":%d},"Title":"Renamed","StartDate":"%s","EndDate":"%s"}`,
		kept.ID, e.user1, mid.Format("2006-01-02T15:04:05"), mid.Add(time.Hour).Format("2006-01-02T15:04:05")))
	e.clk.Add(10 * time.Second)
	evs, _, cur, _ = e.listAll(tg, cur, 0)
	if got, ok := evs[kept.ID]; !ok || got.Title != "Renamed" || len(evs) != 1 {
		t.Errorf("after an edit: %v", evs)
	}
	cur = e.settle(tg, cur)

	// A deletion.
	e.clk.Add(time.Minute)
	e.asPerson("USER1", "DELETE", "/v1/Appointment/"+kept.ID, "")
	if _, removed, _, _ = e.listAll(tg, cur, 0); !slices.Equal(removed, []string{kept.ID}) {
		t.Errorf("after a deletion: removed %v, want [%s]", removed, kept.ID)
	}
}

// The rows a round finds changed are read by their ids, in one request, not
// through a read of every row of their time span.
func TestChangedRowsAreReadByID(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	if err := e.so.SeedEvents("USER1", 60, 9); err != nil {
		t.Fatal(err)
	}
	evs, _, cur, _ := e.listAll(tg, "", 0)
	e.clk.Add(10 * time.Second)
	cur = e.settle(tg, cur)
	var edited []string
	for id, ev := range evs {
		if ev.Kind == sdk.KindSingle && ev.MeetingKey == "" && !ev.AllDay && len(edited) < 3 {
			edited = append(edited, id)
			e.asPerson("USER1", "PUT", "/v1/Appointment/"+id, fmt.Sprintf(
				`{"AppointmentId":%s,"Associate":{"AssociateId":%d},"Title":"Renamed %s","StartDate":"%s","EndDate":"%s"}`,
				id, e.user1, id, ev.Start.In(e.so.Location()).Format("2006-01-02T15:04:05"), ev.End.In(e.so.Location()).Format("2006-01-02T15:04:05")))
		}
	}
	if len(edited) < 3 {
		t.Fatalf("only %d plain rows seeded", len(edited))
	}
	e.clk.Add(10 * time.Second)
	before := e.so.Stats().Requests
	got, _, _, _ := e.listAll(tg, cur, 0)
	after := e.so.Stats().Requests
	for _, id := range edited {
		if got[id].Title != "Renamed "+id {
			t.Errorf("%s: %+v", id, got[id])
		}
	}
	if len(got) != len(edited) {
		t.Errorf("%d rows reported, want %d", len(got), len(edited))
	}
	list, diary := "POST /api/v1/Agents/Appointment/GetAppointmentList", "POST /api/v1/Agents/Appointment/GetAssociateDiary"
	if n := after[list] - before[list]; n != 1 {
		t.Errorf("%d GetAppointmentList requests, want 1 (routes %v)", n, after)
	}
	if n := after[diary] - before[diary]; n != 0 {
		t.Errorf("%d GetAssociateDiary requests, want 0", n)
	}
}
