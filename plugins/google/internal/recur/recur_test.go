package recur

import (
	"slices"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestBetween(t *testing.T) {
	oslo := mustLoc(t, "Europe/Oslo")
	start := time.Date(2024, 3, 25, 9, 0, 0, 0, oslo) // Monday before the DST change on 31 March
	cases := []struct {
		name   string
		lines  []string
		allDay bool
		start  time.Time
		from   time.Time
		to     time.Time
		want   []string // UTC instants
	}{
		{
			name:  "weekly across spring DST keeps wall clock",
			lines: []string{"RRULE:FREQ=WEEKLY;COUNT=3"},
			start: start, from: start, to: start.AddDate(0, 1, 0),
			want: []string{"2024-03-25T08:00:00Z", "2024-04-01T07:00:00Z", "2024-04-08T07:00:00Z"},
		},
		{
			name:  "EXDATE in UTC removes one occurrence",
			lines: []string{"RRULE:FREQ=WEEKLY;COUNT=3", "EXDATE:20240401T070000Z"},
			start: start, from: start, to: start.AddDate(0, 1, 0),
			want: []string{"2024-03-25T08:00:00Z", "2024-04-08T07:00:00Z"},
		},
		{
			name:  "EXDATE with TZID and a list",
			lines: []string{"RRULE:FREQ=DAILY;COUNT=4", "EXDATE;TZID=Europe/Oslo:20240326T090000,20240328T090000"},
			start: start, from: start, to: start.AddDate(0, 1, 0),
			want: []string{"2024-03-25T08:00:00Z", "2024-03-27T08:00:00Z"},
		},
		{
			name:  "floating UNTIL in the series zone is inclusive",
			lines: []string{"RRULE:FREQ=DAILY;UNTIL=20240327T090000"},
			start: start, from: start, to: start.AddDate(0, 1, 0),
			want: []string{"2024-03-25T08:00:00Z", "2024-03-26T08:00:00Z", "2024-03-27T08:00:00Z"},
		},
		{
			name:  "RDATE adds and duplicates collapse",
			lines: []string{"RRULE:FREQ=DAILY;COUNT=2", "RDATE:20240325T080000Z,20240330T080000Z"},
			start: start, from: start, to: start.AddDate(0, 1, 0),
			want: []string{"2024-03-25T08:00:00Z", "2024-03-26T08:00:00Z", "2024-03-30T08:00:00Z"},
		},
		{
			name:   "all-day weekly with date EXDATE",
			lines:  []string{"RRULE:FREQ=WEEKLY;UNTIL=20240415", "EXDATE;VALUE=DATE:20240408"},
			allDay: true,
			start:  time.Date(2024, 3, 25, 0, 0, 0, 0, time.UTC),
			from:   time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), to: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC),
			want: []string{"2024-03-25T00:00:00Z", "2024-04-01T00:00:00Z", "2024-04-15T00:00:00Z"},
		},
		{
			name:  "window cuts an endless rule",
			lines: []string{"RRULE:FREQ=WEEKLY"},
			start: start, from: time.Date(2024, 4, 10, 0, 0, 0, 0, time.UTC), to: time.Date(2024, 4, 23, 0, 0, 0, 0, time.UTC),
			want: []string{"2024-04-15T07:00:00Z", "2024-04-22T07:00:00Z"},
		},
		{
			name:  "date-only EXDATE on a timed series removes that day",
			lines: []string{"RRULE:FREQ=DAILY;COUNT=3", "EXDATE;VALUE=DATE:20240326"},
			start: start, from: start, to: start.AddDate(0, 1, 0),
			want: []string{"2024-03-25T08:00:00Z", "2024-03-27T08:00:00Z"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.lines, tc.start, oslo, tc.allDay)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range s.Between(tc.from, tc.to, 0) {
				got = append(got, o.UTC().Format(time.RFC3339))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	start := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	for _, lines := range [][]string{
		{"RRULE:FREQ=SOMETIMES"},
		{"EXDATE:20240101T090000Z"}, // nothing to exclude from
		{"DTSTART:20240101T090000Z", "RRULE:FREQ=DAILY"},
		{"RRULE"},
		{"EXDATE;TZID=Mars/Olympus:20240101T090000", "RRULE:FREQ=DAILY"},
	} {
		if _, err := Parse(lines, start, time.UTC, false); err == nil {
			t.Errorf("Parse(%q) accepted", lines)
		}
	}
}

func TestOverlapsAndContains(t *testing.T) {
	start := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	s, err := Parse([]string{"RRULE:FREQ=WEEKLY;COUNT=4"}, start, time.UTC, false)
	if err != nil {
		t.Fatal(err)
	}
	hour := time.Hour
	if !s.Overlaps(start.Add(30*time.Minute), start.Add(2*time.Hour), hour) {
		t.Error("first occurrence overlaps its own second half")
	}
	if s.Overlaps(start.Add(hour), start.AddDate(0, 0, 7), hour) {
		t.Error("nothing between the first end and the second start")
	}
	if s.Overlaps(start.AddDate(0, 0, 22), start.AddDate(1, 0, 0), hour) {
		t.Error("series ended after four weeks")
	}
	if !s.Contains(start.AddDate(0, 0, 14)) || s.Contains(start.AddDate(0, 0, 15)) {
		t.Error("Contains is wrong")
	}
}

func TestNormalize(t *testing.T) {
	oslo := mustLoc(t, "Europe/Oslo")
	got, err := Normalize([]string{
		"RRULE:FREQ=WEEKLY;BYDAY=MO",
		"EXDATE;TZID=Europe/Oslo:20240513T090000,20240506T090000",
		"EXDATE:20240506T070000Z",
	}, oslo, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE:20240506T070000Z", "EXDATE:20240513T070000Z"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	got, err = Normalize([]string{"RRULE:FREQ=DAILY", "EXDATE;VALUE=DATE:20240506"}, oslo, true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"RRULE:FREQ=DAILY", "EXDATE;VALUE=DATE:20240506"}) {
		t.Fatalf("all-day: %v", got)
	}
	if FormatExdate(time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC), false) != "EXDATE:20240506T070000Z" {
		t.Error("FormatExdate timed")
	}
}
