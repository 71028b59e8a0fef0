package m365

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"synchronizer/plugins/m365/internal/wintz"
	"synchronizer/plugins/sdk"
)

func berlin(t testing.TB) *time.Location {
	loc, _, ok := wintz.Resolve("Europe/Berlin")
	if !ok {
		t.Fatal("no Europe/Berlin")
	}
	return loc
}

// Every pattern and range type maps to an RRULE and back to the same pattern.
func TestRecurrenceMapping(t *testing.T) {
	loc := berlin(t)
	start := time.Date(2026, 3, 17, 9, 0, 0, 0, loc) // Tuesday the 17th, third Tuesday
	tests := []struct {
		name string
		rec  gRecurrence
		want string
	}{
		{"daily numbered", gRecurrence{gPattern{Type: "daily", Interval: 1}, gRange{Type: "numbered", NumberOfOccurrences: 5}}, "RRULE:FREQ=DAILY;COUNT=5"},
		{"daily every 3 days no end", gRecurrence{gPattern{Type: "daily", Interval: 3}, gRange{Type: "noEnd"}}, "RRULE:FREQ=DAILY;INTERVAL=3"},
		{"weekly two days end date", gRecurrence{gPattern{Type: "weekly", Interval: 1, DaysOfWeek: []string{"thursday", "tuesday"}, FirstDayOfWeek: "sunday"}, gRange{Type: "endDate", EndDate: "2026-06-30"}}, "RRULE:FREQ=WEEKLY;UNTIL=20260630T070000Z;BYDAY=TU,TH"},
		{"biweekly monday start", gRecurrence{gPattern{Type: "weekly", Interval: 2, DaysOfWeek: []string{"tuesday"}, FirstDayOfWeek: "monday"}, gRange{Type: "noEnd"}}, "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;WKST=MO"},
		{"absolute monthly", gRecurrence{gPattern{Type: "absoluteMonthly", Interval: 1, DayOfMonth: 17}, gRange{Type: "numbered", NumberOfOccurrences: 12}}, "RRULE:FREQ=MONTHLY;COUNT=12;BYMONTHDAY=17"},
		{"relative monthly third tuesday", gRecurrence{gPattern{Type: "relativeMonthly", Interval: 1, DaysOfWeek: []string{"tuesday"}, Index: "third"}, gRange{Type: "noEnd"}}, "RRULE:FREQ=MONTHLY;BYDAY=3TU"},
		{"relative monthly last weekday", gRecurrence{gPattern{Type: "relativeMonthly", Interval: 2, DaysOfWeek: []string{"monday", "tuesday", "wednesday", "thursday", "friday"}, Index: "last"}, gRange{Type: "endDate", EndDate: "2027-03-31"}}, "RRULE:FREQ=MONTHLY;UNTIL=20270331T070000Z;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"},
		{"absolute yearly", gRecurrence{gPattern{Type: "absoluteYearly", Interval: 1, Month: 3, DayOfMonth: 17}, gRange{Type: "noEnd"}}, "RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=17"},
		{"relative yearly", gRecurrence{gPattern{Type: "relativeYearly", Interval: 1, Month: 3, DaysOfWeek: []string{"tuesday"}, Index: "third"}, gRange{Type: "numbered", NumberOfOccurrences: 3}}, "RRULE:FREQ=YEARLY;COUNT=3;BYMONTH=3;BYDAY=3TU"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.rec.Range.StartDate = "2026-03-17"
			got, err := toRRule(&tc.rec, start, false)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("toRRule = %s, want %s", got, tc.want)
			}
			back, err := fromRRule(got, start, loc, false, "W. Europe Standard Time")
			if err != nil {
				t.Fatal(err)
			}
			if !sameRecurrence(back, &tc.rec) {
				t.Fatalf("round trip changed the pattern:\n%s", cmp.Diff(tc.rec, *back))
			}
		})
	}
}

// RRULEs from other systems: equivalent spellings map, the rest is refused clearly.
func TestFromRRule(t *testing.T) {
	loc := berlin(t)
	start := time.Date(2026, 3, 17, 9, 0, 0, 0, loc)
	tests := []struct {
		line    string
		pattern gPattern
		rng     gRange
		refused bool
	}{
		{line: "RRULE:FREQ=MONTHLY;BYDAY=TU;BYSETPOS=3", pattern: gPattern{Type: "relativeMonthly", Interval: 1, DaysOfWeek: []string{"tuesday"}, Index: "third", FirstDayOfWeek: "monday"}, rng: gRange{Type: "noEnd"}},
		{line: "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", pattern: gPattern{Type: "weekly", Interval: 1, DaysOfWeek: []string{"monday", "tuesday", "wednesday", "thursday", "friday"}, FirstDayOfWeek: "monday"}, rng: gRange{Type: "noEnd"}},
		{line: "RRULE:FREQ=WEEKLY", pattern: gPattern{Type: "weekly", Interval: 1, DaysOfWeek: []string{"tuesday"}, FirstDayOfWeek: "monday"}, rng: gRange{Type: "noEnd"}},
		{line: "RRULE:FREQ=MONTHLY", pattern: gPattern{Type: "absoluteMonthly", Interval: 1, DayOfMonth: 17, FirstDayOfWeek: "monday"}, rng: gRange{Type: "noEnd"}},
		{line: "RRULE:FREQ=YEARLY", pattern: gPattern{Type: "absoluteYearly", Interval: 1, Month: 3, DayOfMonth: 17, FirstDayOfWeek: "monday"}, rng: gRange{Type: "noEnd"}},
		// UNTIL at midnight UTC on the last day: that day's 09:00 is after it.
		{line: "RRULE:FREQ=DAILY;UNTIL=20260320T000000Z", pattern: gPattern{Type: "daily", Interval: 1, FirstDayOfWeek: "monday"}, rng: gRange{Type: "endDate", EndDate: "2026-03-19"}},
		{line: "RRULE:FREQ=DAILY;UNTIL=20260320", pattern: gPattern{Type: "daily", Interval: 1, FirstDayOfWeek: "monday"}, rng: gRange{Type: "endDate", EndDate: "2026-03-20"}},
		{line: "RRULE:FREQ=DAILY;UNTIL=20260320T080000Z", pattern: gPattern{Type: "daily", Interval: 1, FirstDayOfWeek: "monday"}, rng: gRange{Type: "endDate", EndDate: "2026-03-20"}},
		{line: "RRULE:FREQ=HOURLY", refused: true},
		{line: "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1", refused: true},
		{line: "RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15", refused: true},
		{line: "RRULE:FREQ=MONTHLY;BYDAY=TU", refused: true},
		{line: "RRULE:FREQ=WEEKLY;BYHOUR=9,15", refused: true},
		{line: "RRULE:FREQ=DAILY;INTERVAL=2;BYDAY=MO", refused: true},
		{line: "RRULE:FREQ=MONTHLY;BYDAY=5TU", refused: true},
		{line: "RRULE:FREQ=YEARLY;BYWEEKNO=20", refused: true},
		{line: "RRULE:NONSENSE", refused: true},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			got, err := fromRRule(tc.line, start, loc, false, "W. Europe Standard Time")
			if tc.refused {
				if !errors.Is(err, sdk.ErrInvalidArgument) {
					t.Fatalf("got %+v, %v; want ErrInvalidArgument", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.rng.StartDate, tc.rng.RecurrenceTimeZone = "2026-03-17", "W. Europe Standard Time"
			if diff := cmp.Diff(gRecurrence{Pattern: tc.pattern, Range: tc.rng}, *got); diff != "" {
				t.Fatalf("fromRRule(%s) (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

func TestRecurrenceLines(t *testing.T) {
	rule, ex, err := recurrenceLines([]string{"RRULE:FREQ=DAILY", "EXDATE:20260318T080000Z,20260319T080000Z", "EXDATE;VALUE=DATE:20260320", "EXDATE;TZID=Europe/Berlin:20260321T090000"})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{
		time.Date(2026, 3, 18, 8, 0, 0, 0, time.UTC), time.Date(2026, 3, 19, 8, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 21, 8, 0, 0, 0, time.UTC),
	}
	if rule != "RRULE:FREQ=DAILY" || len(ex) != len(want) {
		t.Fatalf("got %q %v", rule, ex)
	}
	for i := range want {
		if !ex[i].Equal(want[i]) {
			t.Fatalf("exdate %d = %v, want %v", i, ex[i], want[i])
		}
	}
	for _, bad := range [][]string{{"RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY"}, {"RDATE:20260101T000000Z"}, {"EXDATE:garbage"}, {"X-FOO:1"}} {
		if _, _, err := recurrenceLines(bad); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("%q: err %v, want ErrInvalidArgument", bad, err)
		}
	}
	if got := exdateLines([]time.Time{want[1], want[0], want[0]}, false); !cmp.Equal(got, []string{"EXDATE:20260318T080000Z", "EXDATE:20260319T080000Z"}) {
		t.Errorf("exdateLines = %v", got)
	}
}
