package m365

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
)

// instanceStarts lists the starts Graph's calendarView gives for a series.
func (e *env) instanceStarts(account, masterID string, from, to time.Time) []time.Time {
	e.t.Helper()
	var got []time.Time
	path := "/users/" + account + "/events/" + masterID + "/instances?startDateTime=" + graphTime(from) + "&endDateTime=" + graphTime(to) + "&$top=1000"
	for pages := 0; path != "" && pages < 20; pages++ {
		st, out := e.graphDo("GET", path, nil)
		if st != 200 {
			e.t.Fatalf("instances: %d %v", st, out)
		}
		for _, v := range out["value"].([]any) {
			m := v.(map[string]any)
			s, err := parseDTZ(&gDTZ{DateTime: m["start"].(map[string]any)["dateTime"].(string), TimeZone: "UTC"})
			if err != nil {
				e.t.Fatal(err)
			}
			got = append(got, s)
		}
		path = ""
		if next, ok := out["@odata.nextLink"].(string); ok {
			path = next[len(e.ts.URL+"/v1.0"):]
		}
	}
	return got
}

// Six patterns times three ranges: the emulator's expansion (its own implementation
// of Graph's patterns) and the RRULE the provider reports (expanded by rrule-go) give
// the same occurrences, and the series reads back exactly as written.
func TestSeriesPatternsAgree(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	loc := berlin(t)
	start := time.Date(2026, 3, 17, 9, 0, 0, 0, loc) // third Tuesday of March
	patterns := []string{
		"FREQ=DAILY;INTERVAL=2",
		"FREQ=WEEKLY;BYDAY=TU,FR",
		"FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,TU;WKST=SU",
		"FREQ=MONTHLY;BYMONTHDAY=17",
		"FREQ=MONTHLY;BYDAY=3TU",
		"FREQ=MONTHLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
		"FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=17",
		"FREQ=YEARLY;BYMONTH=3;BYDAY=3TU",
	}
	ranges := []string{"", ";COUNT=7", ";UNTIL=20270101T000000Z"}
	from, to := start.AddDate(0, 0, -1), start.AddDate(4, 0, 0)
	w := sdk.Window{Start: from, End: to}
	for i, p := range patterns {
		for j, r := range ranges {
			rule := "RRULE:" + p + r
			t.Run(rule, func(t *testing.T) {
				want := sdk.Event{Kind: sdk.KindMaster, CorrelationID: fmt.Sprintf("s-%d-%d", i, j), Title: rule, Start: start.UTC(), End: start.Add(time.Hour).UTC(), TimeZone: "Europe/Berlin", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic, Recurrence: []string{rule}}
				got, err := e.p.Create(e.ctx, tg, want)
				if err != nil {
					t.Fatal(err)
				}
				graphStarts := e.instanceStarts("user1@m365.test", got.ID, from, to)
				ruleStarts, err := expand(rule, start, from, to)
				if err != nil {
					t.Fatal(err)
				}
				for k := range ruleStarts {
					ruleStarts[k] = ruleStarts[k].UTC()
				}
				if diff := cmp.Diff(ruleStarts, graphStarts); diff != "" || len(graphStarts) == 0 {
					t.Fatalf("Graph and the RRULE disagree (-rrule +graph):\n%s", diff)
				}
				c, err := e.p.connect(tg)
				if err != nil {
					t.Fatal(err)
				}
				found, _, _, err := c.readSeries(e.ctx, []string{got.ID}, w)
				if err != nil || len(found) != 1 {
					t.Fatalf("readSeries: %v %d", err, len(found))
				}
				evs, in, err := found[0].events(w)
				if err != nil || !in {
					t.Fatalf("events: %v in=%v", err, in)
				}
				// A start the pattern does not produce moves to the first occurrence.
				want.Start, want.End = ruleStarts[0], ruleStarts[0].Add(time.Hour)
				if diff := cmp.Diff(want, evs[0], synced, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("series read back (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// A Europe/Berlin series keeps 09:00 local across the end of March; one in
// America/New_York keeps it across the start of November.
func TestSeriesAcrossDST(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	tests := []struct {
		zone  string
		start time.Time // local 09:00
		want  []int     // UTC hours of the four occurrences
	}{
		{"Europe/Berlin", time.Date(2026, 3, 17, 8, 0, 0, 0, time.UTC), []int{8, 8, 7, 7}},
		{"America/New_York", time.Date(2026, 10, 20, 13, 0, 0, 0, time.UTC), []int{13, 13, 14, 14}},
	}
	for _, tc := range tests {
		t.Run(tc.zone, func(t *testing.T) {
			ev := sdk.Event{Kind: sdk.KindMaster, Title: "DST " + tc.zone, Start: tc.start, End: tc.start.Add(time.Hour), TimeZone: tc.zone, ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic,
				Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=4"}}
			m, err := e.p.Create(e.ctx, tg, ev)
			if err != nil {
				t.Fatal(err)
			}
			starts := e.instanceStarts("user1@m365.test", m.ID, tc.start.Add(-time.Hour), tc.start.AddDate(0, 1, 0))
			var hours []int
			for _, s := range starts {
				hours = append(hours, s.Hour())
			}
			if !slices.Equal(hours, tc.want) {
				t.Fatalf("UTC hours %v, want %v (starts %v)", hours, tc.want, starts)
			}
			// Cancel the first occurrence after the switch and move the last one.
			after := starts[2]
			upd := m
			upd.Recurrence = []string{"RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE:" + after.Format("20060102T150405Z")}
			if _, err := e.p.Update(e.ctx, tg, upd); err != nil {
				t.Fatal(err)
			}
			x := sdk.Event{Kind: sdk.KindException, SeriesID: m.ID, OriginalStart: starts[3], CorrelationID: "x-" + tc.zone, Title: "Moved", Start: starts[3].Add(2 * time.Hour), End: starts[3].Add(3 * time.Hour), TimeZone: tc.zone, ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic}
			if _, err := e.p.Create(e.ctx, tg, x); err != nil {
				t.Fatal(err)
			}
			w := sdk.Window{Start: tc.start.AddDate(0, 0, -7), End: tc.start.AddDate(0, 2, 0)}
			evs, _, _, _ := e.round(tg, "", w, 0)
			var master, exc *sdk.Event
			for i := range evs {
				switch {
				case evs[i].ID == m.ID:
					master = &evs[i]
				case evs[i].Kind == sdk.KindException && evs[i].SeriesID == m.ID:
					exc = &evs[i]
				}
			}
			if master == nil || exc == nil {
				t.Fatalf("missing master or exception in %+v", evs)
			}
			wantRec := []string{"RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE:" + after.Format("20060102T150405Z")}
			if !slices.Equal(master.Recurrence, wantRec) {
				t.Errorf("recurrence %v, want %v", master.Recurrence, wantRec)
			}
			if !exc.OriginalStart.Equal(starts[3]) || exc.Title != "Moved" || exc.CorrelationID != "x-"+tc.zone || !exc.Start.Equal(starts[3].Add(2*time.Hour)) {
				t.Errorf("exception %+v", *exc)
			}
		})
	}
}

// All-day series: dates, EXDATE;VALUE=DATE, and exceptions by date.
func TestAllDaySeries(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	day := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	ev := sdk.Event{Kind: sdk.KindMaster, CorrelationID: "ad", Title: "Holiday", Start: day, End: day.AddDate(0, 0, 1), AllDay: true, ShowAs: sdk.ShowFree, Privacy: sdk.PrivacyPublic,
		Recurrence: []string{"RRULE:FREQ=DAILY;UNTIL=20260325", "EXDATE;VALUE=DATE:20260322"}}
	m, err := e.p.Create(e.ctx, tg, ev)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, m, synced, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	x := sdk.Event{Kind: sdk.KindException, SeriesID: m.ID, OriginalStart: day.AddDate(0, 0, 3), Title: "Longer", Start: day.AddDate(0, 0, 3), End: day.AddDate(0, 0, 4), AllDay: true, ShowAs: sdk.ShowFree, Privacy: sdk.PrivacyPublic}
	got, err := e.p.Create(e.ctx, tg, x)
	if err != nil {
		t.Fatal(err)
	}
	if !got.OriginalStart.Equal(x.OriginalStart) || got.Title != "Longer" || got.CorrelationID != "" {
		t.Errorf("exception %+v", got)
	}
	st, out := e.graphDo("GET", "/users/user1@m365.test/calendarView?startDateTime=2026-03-19T00:00:00Z&endDateTime=2026-03-30T00:00:00Z", nil, "Prefer", `outlook.timezone="Tokyo Standard Time"`)
	if st != 200 {
		t.Fatal(out)
	}
	// All-day items float: midnight in whatever zone is asked for.
	for _, v := range out["value"].([]any) {
		s := v.(map[string]any)["start"].(map[string]any)
		if s["timeZone"] != "Tokyo Standard Time" || s["dateTime"].(string)[11:] != "00:00:00.0000000" {
			t.Errorf("all-day start %v", s)
		}
	}
}

// A cancelled occurrence that the window has slid past stays in the master's
// EXDATEs: a shrinking list would read as "un-cancelled" on the other side.
func TestExdatesBeforeTheWindowStay(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	start := t0.AddDate(0, 0, -42) // a Monday six weeks ago
	m := e.create(tg, sdk.Event{Kind: sdk.KindMaster, Title: "weekly", TimeZone: "UTC", Start: start, Recurrence: []string{"RRULE:FREQ=WEEKLY;BYDAY=MO"}})
	old := start.AddDate(0, 0, 7)
	m.Recurrence = []string{"RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE:" + old.Format("20060102T150405Z")}
	if _, err := e.p.Update(e.ctx, tg, m); err != nil {
		t.Fatal(err)
	}
	evs, _, _, _ := e.round(tg, "", e.window(), 0)
	if len(evs) != 1 || !slices.Equal(evs[0].Recurrence, m.Recurrence) {
		t.Fatalf("got %+v, want recurrence %v", evs, m.Recurrence)
	}
}
