package superoffice_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

var oslo = func() *time.Location {
	l, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		panic(err)
	}
	return l
}()

// A weekly 09:00 series in Europe/Oslo across the spring DST change keeps its
// wall clock: 08:00Z in winter, 07:00Z in summer, with no spurious exceptions.
func TestSeriesAcrossDST(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	start := time.Date(2025, 3, 17, 9, 0, 0, 0, oslo) // Monday; DST starts 30 March
	master, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "Stand-up", Start: start, End: start.Add(30 * time.Minute),
		TimeZone: "Europe/Oslo", Recurrence: []string{"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4"}, CorrelationID: "s-1"})
	if err != nil {
		t.Fatal(err)
	}
	if master.Kind != sdk.KindMaster || !slices.Equal(master.Recurrence, []string{"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4"}) {
		t.Fatalf("master = %+v", master)
	}
	if !master.Start.Equal(start) || master.CorrelationID != "s-1" {
		t.Errorf("master start %s corr %q", master.Start, master.CorrelationID)
	}
	// The rows themselves: 08:00Z, 08:00Z, 07:00Z, 07:00Z.
	resp := e.raw("GET", fmt.Sprintf("/v1/Appointment?$select=date&$filter=associateId%%20associateIsOneOf%%20(%d)&$orderBy=date&$output=Logical", e.user1), "")
	var body struct {
		Value []map[string]any `json:"value"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range body.Value {
		got = append(got, v["date"].(string))
	}
	want := []string{"2025-03-17T09:00:00", "2025-03-24T09:00:00", "2025-03-31T09:00:00", "2025-04-07T09:00:00"}
	if !slices.Equal(got, want) {
		t.Errorf("stored local starts = %v, want %v", got, want)
	}
	evs, _, _, _ := e.listAll(tg, "", 0)
	if len(evs) != 1 {
		t.Fatalf("listing = %v", evs)
	}
	// Cancel the first summer-time occurrence through the master.
	e.clk.Add(time.Second)
	master.Recurrence = []string{"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4", "EXDATE:20250331T070000Z"}
	upd, err := e.p.Update(e.ctx(), tg, master)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(upd.Recurrence, master.Recurrence) {
		t.Errorf("after cancelling: %v, want %v", upd.Recurrence, master.Recurrence)
	}
}

// All-day items that start, end or span a DST day keep their days, in both the
// spring (23-hour) and autumn (25-hour) changes.
func TestAllDayOnDSTDay(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	for _, dst := range []time.Time{time.Date(2025, 3, 30, 0, 0, 0, 0, time.UTC), time.Date(2025, 10, 26, 0, 0, 0, 0, time.UTC)} {
		for from := -2; from <= 0; from++ {
			for span := 1; span <= 3; span++ {
				day := dst.AddDate(0, 0, from)
				end := day.AddDate(0, 0, span)
				ev, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "Offsite", AllDay: true, Start: day, End: end})
				if err != nil {
					t.Fatal(err)
				}
				got, err := e.p.Get(e.ctx(), tg, ev.ID)
				if err != nil {
					t.Fatal(err)
				}
				for what, x := range map[string]sdk.Event{"create": ev, "read back": got} {
					if !x.AllDay || !x.Start.Equal(day) || !x.End.Equal(end) {
						t.Errorf("%s %s..%s: %s %v %s..%s", what, day.Format(time.DateOnly), end.Format(time.DateOnly),
							what, x.AllDay, x.Start.Format(time.DateOnly), x.End.Format(time.DateOnly))
					}
				}
			}
		}
	}
}

// The seeded series has one moved and one cancelled occurrence.
func TestSeriesFoldsMovedAndCancelled(t *testing.T) {
	e := newEnv(t)
	if err := e.so.SeedEvents("USER1", 10, 1); err != nil {
		t.Fatal(err)
	}
	evs, _, _, _ := e.listAll(e.target(e.user1), "", 0)
	var masters, exceptions []sdk.Event
	for _, ev := range evs {
		switch ev.Kind {
		case sdk.KindMaster:
			masters = append(masters, ev)
		case sdk.KindException:
			exceptions = append(exceptions, ev)
		}
	}
	if len(masters) != 1 || len(exceptions) != 1 {
		t.Fatalf("masters %d exceptions %d: %v", len(masters), len(exceptions), evs)
	}
	m, x := masters[0], exceptions[0]
	if len(m.Recurrence) != 2 || !strings.HasPrefix(m.Recurrence[0], "RRULE:FREQ=WEEKLY;BYDAY=") || !strings.HasPrefix(m.Recurrence[1], "EXDATE:") {
		t.Errorf("master recurrence = %v", m.Recurrence)
	}
	if x.SeriesID != m.ID || !x.OriginalStart.Equal(m.Start.AddDate(0, 0, 14)) {
		t.Errorf("exception %s of %s, original %s (master starts %s)", x.ID, x.SeriesID, x.OriginalStart, m.Start)
	}
	if !x.Start.Equal(x.OriginalStart.AddDate(0, 0, 1).Add(-time.Hour)) {
		t.Errorf("exception starts %s, original %s", x.Start, x.OriginalStart)
	}
	got, err := e.p.Get(e.ctx(), e.target(e.user1), x.ID)
	if err != nil || got.Kind != sdk.KindException || !got.OriginalStart.Equal(x.OriginalStart) {
		t.Errorf("Get exception = %+v, %v", got, err)
	}
}

// An edit "this and following" in SuperOffice splits the series: the old one ends
// before the edited occurrence, a new one starts there.
func TestSeriesEditedThisAndFollowing(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	start := time.Date(2025, 4, 1, 10, 0, 0, 0, oslo)
	m, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "Sync", Start: start, End: start.Add(time.Hour),
		Recurrence: []string{"RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=6"}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, cur, _ := e.listAll(tg, "", 0)
	// Find the fourth occurrence's row and move it and the following ones an hour later.
	resp := e.raw("GET", fmt.Sprintf("/v1/Appointment?$select=appointmentId&$filter=associateId%%20associateIsOneOf%%20(%d)&$orderBy=date&$output=Logical", e.user1), "")
	var body struct {
		Value []map[string]any `json:"value"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &body)
	fourth := int(body.Value[3]["appointmentId"].(float64))
	e.clk.Add(time.Second)
	save := fmt.Sprintf(`{"appointmentEntity":{"appointmentId":%d,"associate":{"associateId":%d},"description":"Sync","startDate":"2025-04-22T11:00:00","endDate":"2025-04-22T12:00:00","recurrence":{"isRecurrence":true,"pattern":"Weekly","weekPattern":{"weekdays":"Tuesday","cycle":1},"startDate":"2025-04-22T00:00:00","recurrenceEndType":"Counter","recurrenceCounter":3}},"updateMode":"ThisAndForward","sendEmailToParticipants":false}`, fourth, e.user1)
	if r := e.raw("POST", "/v1/Agents/Appointment/Save", save); r.StatusCode != 200 {
		b, _ := io.ReadAll(r.Body)
		t.Fatalf("save this and following: %d %s", r.StatusCode, b)
	}
	evs, _, _, _ := e.listAll(tg, cur, 0)
	var old, fresh *sdk.Event
	for id, ev := range evs {
		ev := ev
		if ev.Kind != sdk.KindMaster {
			t.Errorf("unexpected %s %s", ev.Kind, id)
			continue
		}
		if id == m.ID {
			old = &ev
		} else {
			fresh = &ev
		}
	}
	if old == nil || fresh == nil {
		t.Fatalf("after the split: %v", evs)
	}
	if !slices.Equal(old.Recurrence, []string{"RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL=20250421T080000Z"}) {
		t.Errorf("old series = %v", old.Recurrence)
	}
	if !slices.Equal(fresh.Recurrence, []string{"RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=3"}) || !fresh.Start.Equal(time.Date(2025, 4, 22, 11, 0, 0, 0, oslo)) {
		t.Errorf("new series = %v from %s", fresh.Recurrence, fresh.Start)
	}
}

// A rule without an end is cut at the horizon, reads back without an end, and
// is extended as time passes without changing the master.
func TestOpenEndedSeriesHorizon(t *testing.T) {
	e := newEnv(t, withSettings("series_horizon", "120d", "cursor_max_age", "1h"))
	tg := e.target(e.user1)
	start := time.Date(2025, 3, 21, 8, 0, 0, 0, oslo)
	m, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "Open", Start: start, End: start.Add(time.Hour),
		Recurrence: []string{"RRULE:FREQ=WEEKLY;BYDAY=FR"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Recurrence, []string{"RRULE:FREQ=WEEKLY;BYDAY=FR"}) {
		t.Fatalf("open-ended master = %v", m.Recurrence)
	}
	rows := func() int { return e.so.Stats().Appointments }
	before := rows()
	if before < 15 || before > 19 {
		t.Errorf("%d rows for 120 days of Fridays", before)
	}
	e.clk.Add(90 * 24 * time.Hour)
	evs, _, _, _ := e.listAll(tg, "", 0)
	got := evs[m.ID]
	if !slices.Equal(got.Recurrence, m.Recurrence) || !got.Start.Equal(m.Start) || got.Title != m.Title {
		t.Errorf("after extension master = %+v", got)
	}
	if after := rows(); after <= before {
		t.Errorf("series not extended: %d rows, before %d", after, before)
	}
}

// Editing a series from its master: content goes to every occurrence while an
// exception keeps its own; a new end extends the series; a new time regenerates it.
func TestUpdateSeriesFromMaster(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	start := time.Date(2025, 4, 2, 14, 0, 0, 0, oslo)
	m, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "Review", Start: start, End: start.Add(time.Hour),
		Recurrence: []string{"RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=6"}, CorrelationID: "ser"})
	if err != nil {
		t.Fatal(err)
	}
	orig := start.AddDate(0, 0, 14)
	x, err := e.p.Create(e.ctx(), tg, sdk.Event{SeriesID: m.ID, OriginalStart: orig, Title: "Review (moved)",
		Start: orig.AddDate(0, 0, 1), End: orig.AddDate(0, 0, 1).Add(time.Hour), CorrelationID: "ex"})
	if err != nil {
		t.Fatal(err)
	}
	if x.Kind != sdk.KindException || !x.OriginalStart.Equal(orig) || x.SeriesID != m.ID || x.CorrelationID != "ex" {
		t.Fatalf("exception = %+v", x)
	}
	_, _, cur, _ := e.listAll(tg, "", 0)

	e.clk.Add(time.Second)
	m.Title, m.Location = "Review v2", "Room 9"
	m2, err := e.p.Update(e.ctx(), tg, m)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Title != "Review v2" || m2.Location != "Room 9" || len(m2.Recurrence) != 1 {
		t.Errorf("master after content edit = %+v", m2)
	}
	evs, _, cur2, _ := e.listAll(tg, cur, 0)
	if len(evs) != 2 || evs[x.ID].Title != "Review (moved)" || !evs[x.ID].Start.Equal(x.Start) {
		t.Errorf("after content edit: %v", evs)
	}

	e.clk.Add(time.Second)
	m2.Recurrence = []string{"RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=8"}
	m3, err := e.p.Update(e.ctx(), tg, m2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m3.Recurrence, m2.Recurrence) {
		t.Errorf("master after new end = %v", m3.Recurrence)
	}
	if got, err := e.p.Get(e.ctx(), tg, x.ID); err != nil || got.Title != "Review (moved)" {
		t.Errorf("exception after new end = %+v, %v", got, err)
	}

	e.clk.Add(time.Second)
	m3.Start, m3.End = m3.Start.Add(time.Hour), m3.End.Add(time.Hour)
	m4, err := e.p.Update(e.ctx(), tg, m3)
	if err != nil {
		t.Fatal(err)
	}
	if m4.ID != m.ID || !m4.Start.Equal(start.Add(time.Hour)) || len(m4.Recurrence) != 1 || m4.CorrelationID != "ser" {
		t.Errorf("master after new time = %+v", m4)
	}
	evs, removed, _, _ := e.listAll(tg, cur2, 0)
	if len(evs) != 1 || !slices.Contains(removed, x.ID) {
		t.Errorf("after new time: events %v removed %v", evs, removed)
	}
	if n := e.so.MailsSent(); n != 0 {
		t.Errorf("mails = %d", n)
	}
	if err := e.p.Delete(e.ctx(), tg, m.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Get(e.ctx(), tg, m.ID); err == nil {
		t.Error("deleted series still there")
	}
	if e.so.Stats().Appointments != 0 {
		t.Errorf("%d rows left", e.so.Stats().Appointments)
	}
}

// A series whose cancelled occurrence cannot be cancelled is not left behind,
// marked, to be taken later for the complete copy: the create fails and
// removes it, and the next attempt makes it whole.
func TestSeriesCreateFailingItsCancellationLeavesNothing(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	var failed atomic.Bool
	fail := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Agents/Appointment/Delete") && !failed.Swap(true) {
			http.Error(w, `{"Error":"injected"}`, http.StatusInternalServerError)
			return true
		}
		return false
	}
	e.intercept.Store(&fail)
	start := time.Date(2025, 4, 1, 10, 0, 0, 0, oslo)
	ev := sdk.Event{Title: "Sync", Start: start, End: start.Add(time.Hour), CorrelationID: "c-series",
		Recurrence: []string{"RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=4", "EXDATE:20250408T080000Z"}}
	if _, err := e.p.Create(e.ctx(), tg, ev); err == nil {
		t.Fatal("the create succeeded although its cancellation failed")
	}
	if found, err := e.p.FindByCorrelation(e.ctx(), tg, "c-series"); err != nil || len(found) != 0 {
		t.Fatalf("after the failed create, found by correlation: %v, %v", found, err)
	}
	if evs, _, _, _ := e.listAll(tg, "", 0); len(evs) != 0 {
		t.Fatalf("after the failed create the diary holds %v", evs)
	}
	got, err := e.p.Create(e.ctx(), tg, ev)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Recurrence, ev.Recurrence) {
		t.Errorf("made again: %v, want %v", got.Recurrence, ev.Recurrence)
	}
}
