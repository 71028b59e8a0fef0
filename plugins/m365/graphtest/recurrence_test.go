package graphtest

import (
	"slices"
	"testing"
	"time"
)

// Each pattern and range type against dates worked out by hand.
func TestRecurrenceExpansion(t *testing.T) {
	d := func(s string) time.Time {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			panic(err)
		}
		return t
	}
	tests := []struct {
		name string
		rec  recurrence
		want []string
	}{
		{"daily every 2, numbered", recurrence{typ: "daily", interval: 2, rangeType: "numbered", count: 4, startDate: d("2026-01-30")}, []string{"2026-01-30", "2026-02-01", "2026-02-03", "2026-02-05"}},
		{"weekly Mon+Fri, end date", recurrence{typ: "weekly", interval: 1, days: []time.Weekday{time.Monday, time.Friday}, firstDay: time.Sunday, rangeType: "endDate", startDate: d("2026-03-04"), endDate: d("2026-03-16")}, []string{"2026-03-06", "2026-03-09", "2026-03-13", "2026-03-16"}},
		{"every 2nd week Sun+Mon, Sunday weeks", recurrence{typ: "weekly", interval: 2, days: []time.Weekday{time.Sunday, time.Monday}, firstDay: time.Sunday, rangeType: "numbered", count: 4, startDate: d("2026-03-02")}, []string{"2026-03-02", "2026-03-15", "2026-03-16", "2026-03-29"}},
		{"every 2nd week Sun+Mon, Monday weeks", recurrence{typ: "weekly", interval: 2, days: []time.Weekday{time.Sunday, time.Monday}, firstDay: time.Monday, rangeType: "numbered", count: 4, startDate: d("2026-03-02")}, []string{"2026-03-02", "2026-03-08", "2026-03-16", "2026-03-22"}},
		{"day 31 of each month", recurrence{typ: "absoluteMonthly", interval: 1, dayOfMonth: 31, rangeType: "numbered", count: 4, startDate: d("2026-01-01")}, []string{"2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"}},
		{"last Friday every 2 months", recurrence{typ: "relativeMonthly", interval: 2, days: []time.Weekday{time.Friday}, index: "last", rangeType: "endDate", startDate: d("2026-01-01"), endDate: d("2026-07-31")}, []string{"2026-01-30", "2026-03-27", "2026-05-29", "2026-07-31"}},
		{"first weekday of the month", recurrence{typ: "relativeMonthly", interval: 1, days: []time.Weekday{1, 2, 3, 4, 5}, index: "first", rangeType: "numbered", count: 3, startDate: d("2026-02-01")}, []string{"2026-02-02", "2026-03-02", "2026-04-01"}},
		{"Feb 29 yearly", recurrence{typ: "absoluteYearly", interval: 1, month: 2, dayOfMonth: 29, rangeType: "numbered", count: 3, startDate: d("2027-01-01")}, []string{"2027-02-28", "2028-02-29", "2029-02-28"}},
		{"second Sunday of May, no end", recurrence{typ: "relativeYearly", interval: 1, month: 5, days: []time.Weekday{time.Sunday}, index: "second", rangeType: "noEnd", startDate: d("2026-01-01")}, []string{"2026-05-10", "2027-05-09", "2028-05-14"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			tc.rec.dates(func(day time.Time) bool {
				got = append(got, day.Format("2006-01-02"))
				return len(got) < len(tc.want)+2
			})
			if tc.rec.rangeType == "noEnd" && len(got) > len(tc.want) {
				got = got[:len(tc.want)]
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// Occurrences become exceptions when changed, keep their id, stay between their
// neighbours, and vanish without a trace when deleted.
func TestOccurrencesAndExceptions(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	a := newAPI(t, ts, s.AdminToken())
	ev := timedEvent("Daily", time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC), 30*time.Minute, "W. Europe Standard Time")
	ev["recurrence"] = map[string]any{"pattern": map[string]any{"type": "daily", "interval": 1}, "range": map[string]any{"type": "numbered", "numberOfOccurrences": 5, "startDate": "2026-03-16"}}
	m := a.must(201, "POST", "/v1.0/users/user1@m365.test/events", ev)
	mid, mck := str(m.body, "id"), str(m.body, "changeKey")
	list := func() []map[string]any {
		return values(a.must(200, "GET", "/v1.0/users/user1@m365.test/events/"+mid+"/instances?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z", nil))
	}
	inst := list()
	if len(inst) != 5 || str(inst[0], "type") != "occurrence" || str(inst[0], "seriesMasterId") != mid || str(inst[0], "originalStart") != "2026-03-16T08:00:00Z" {
		t.Fatalf("instances: %v", inst)
	}
	if str(inst[0], "iCalUId") == str(inst[1], "iCalUId") {
		t.Error("occurrences share an iCalUId (they differ on v1.0)")
	}
	occ := str(inst[1], "id")
	x := a.must(200, "PATCH", "/v1.0/users/user1@m365.test/events/"+occ, map[string]any{"subject": "Moved", "start": map[string]string{"dateTime": "2026-03-17T15:00:00", "timeZone": "UTC"}, "end": map[string]string{"dateTime": "2026-03-17T15:30:00", "timeZone": "UTC"}})
	if str(x.body, "id") != occ || str(x.body, "type") != "exception" || str(x.body, "originalStart") != "2026-03-17T08:00:00Z" {
		t.Fatalf("exception: %s", x.raw)
	}
	if ck := str(a.must(200, "GET", "/v1.0/users/user1@m365.test/events/"+mid, nil).body, "changeKey"); ck == mck {
		t.Error("the master's changeKey did not change with its exception")
	}
	// Moving it onto the next occurrence's day is refused.
	bad := a.do("PATCH", "/v1.0/users/user1@m365.test/events/"+occ, map[string]any{"start": map[string]string{"dateTime": "2026-03-18T15:00:00", "timeZone": "UTC"}, "end": map[string]string{"dateTime": "2026-03-18T15:30:00", "timeZone": "UTC"}})
	if bad.status != 400 || errCode(bad) != "ErrorOccurrenceCrossingBoundary" {
		t.Fatalf("crossing: %d %s", bad.status, bad.raw)
	}
	a.must(204, "DELETE", "/v1.0/users/user1@m365.test/events/"+str(inst[2], "id"), nil)
	inst = list()
	if len(inst) != 4 || str(inst[1], "type") != "exception" || str(inst[1], "subject") != "Moved" {
		t.Fatalf("after delete: %v", inst)
	}
	a.must(404, "GET", "/v1.0/users/user1@m365.test/events/"+str(list()[0], "id")[:10]+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", nil)
	// /events lists the master only; calendarView expands.
	if n := len(values(a.must(200, "GET", "/v1.0/users/user1@m365.test/events", nil))); n != 1 {
		t.Fatalf("/events lists %d items", n)
	}
	view := values(a.must(200, "GET", "/v1.0/users/user1@m365.test/calendarView?startDateTime=2026-03-16T00:00:00Z&endDateTime=2026-03-22T00:00:00Z", nil))
	if len(view) != 4 {
		t.Fatalf("calendarView gives %d", len(view))
	}
	// A new pattern drops the exceptions and deletions.
	a.must(200, "PATCH", "/v1.0/users/user1@m365.test/events/"+mid, map[string]any{"recurrence": map[string]any{"pattern": map[string]any{"type": "daily", "interval": 1}, "range": map[string]any{"type": "numbered", "numberOfOccurrences": 6, "startDate": "2026-03-16"}}})
	inst = list()
	if len(inst) != 6 || str(inst[1], "type") != "occurrence" {
		t.Fatalf("after a new pattern: %d %v", len(inst), inst)
	}
}

// Occurrences keep their wall-clock time across DST in the recurrence zone.
func TestRecurrenceDST(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	a := newAPI(t, ts, s.AdminToken())
	ev := timedEvent("Weekly", time.Date(2026, 3, 23, 9, 0, 0, 0, time.UTC), time.Hour, "W. Europe Standard Time")
	ev["recurrence"] = map[string]any{"pattern": map[string]any{"type": "weekly", "interval": 1, "daysOfWeek": []string{"monday"}}, "range": map[string]any{"type": "numbered", "numberOfOccurrences": 2, "startDate": "2026-03-23"}}
	mid := str(a.must(201, "POST", "/v1.0/users/user1@m365.test/events", ev).body, "id")
	inst := values(a.must(200, "GET", "/v1.0/users/user1@m365.test/events/"+mid+"/instances?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-30T00:00:00Z", nil, "Prefer", `outlook.timezone="Europe/Berlin"`))
	if len(inst) != 2 || str(inst[0], "start", "dateTime") != "2026-03-23T09:00:00.0000000" || str(inst[1], "start", "dateTime") != "2026-03-30T09:00:00.0000000" {
		t.Fatalf("%v", inst)
	}
}
