package superoffice_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// asPerson performs a request against the tenant API as the diary's owner, as
// when they edit their own diary.
func (e *env) asPerson(login, method, path, body string) *http.Response {
	e.t.Helper()
	tok, err := e.so.TokenFor(login)
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest(method, e.so.APIURL(e.srv.URL)+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("SO-TimeZone", "UTC")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		e.t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
	return resp
}

// A row we created after a round's scan, and that its owner deleted before the
// next round, is still reported removed: it never was in a snapshot, but the
// host has it paired.
func TestCreatedThenDeletedBeforeNextRound(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	_, _, cur, _ := e.listAll(tg, "", 0)
	start := time.Date(2025, 4, 2, 9, 0, 0, 0, time.UTC)
	ev, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "Copy", Start: start, End: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Add(2 * time.Second)
	e.asPerson("USER1", "DELETE", "/v1/Appointment/"+ev.ID, "")
	e.clk.Add(2 * time.Second)
	_, removed, cur, _ := e.listAll(tg, cur, 0)
	if !slices.Contains(removed, ev.ID) {
		t.Errorf("removed = %v, want %s among them", removed, ev.ID)
	}
	if _, removed, _, _ = e.listAll(tg, cur, 0); len(removed) != 0 {
		t.Errorf("reported removed again: %v", removed)
	}
}

// An edit its owner makes in the same second as the round that saw the row last
// is reported by a later round: timestamps have whole seconds.
func TestEditInTheSecondOfTheScan(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	_, _, cur, _ := e.listAll(tg, "", 0)
	start := time.Date(2025, 4, 2, 9, 0, 0, 0, time.UTC)
	ev, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "Copy", Start: start, End: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	evs, _, cur, _ := e.listAll(tg, cur, 0) // the echo of our create
	if _, ok := evs[ev.ID]; !ok {
		t.Fatalf("the new row is not reported: %v", evs)
	}
	// The clock has not moved: the owner's edit has the same timestamp. A round
	// within the fresh margin does not look again; the first one after does.
	e.asPerson("USER1", "PUT", "/v1/Appointment/"+ev.ID, fmt.Sprintf(
		`{"AppointmentId":%s,"Associate":{"AssociateId":%d},"Title":"Renamed","StartDate":"2025-04-02T09:00:00","EndDate":"2025-04-02T10:00:00"}`, ev.ID, e.user1))
	e.clk.Add(2 * time.Second)
	evs, _, cur, _ = e.listAll(tg, cur, 0)
	if len(evs) != 0 {
		t.Errorf("a round within the margin read %v", evs)
	}
	e.clk.Add(10 * time.Second)
	evs, _, cur, _ = e.listAll(tg, cur, 0)
	if got, ok := evs[ev.ID]; !ok || got.Title != "Renamed" {
		t.Errorf("after an edit in the same second: %v", evs)
	}
	if evs, _, _, _ = e.listAll(tg, cur, 0); len(evs) != 0 {
		t.Errorf("the row is read again and again: %v", evs)
	}
}
