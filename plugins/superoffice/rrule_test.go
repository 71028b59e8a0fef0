package superoffice

import (
	"slices"
	"testing"
	"time"
)

func TestRuleToPatternAndBack(t *testing.T) {
	oslo, _ := time.LoadLocation("Europe/Oslo")
	start := time.Date(2025, 3, 17, 9, 0, 0, 0, oslo) // a Monday, the third of the month
	cases := []struct {
		rule    string
		pattern string
		back    string // "" when it maps back unchanged
		ok      bool
	}{
		{"FREQ=DAILY", "Daily", "", true},
		{"FREQ=DAILY;INTERVAL=3", "Daily", "", true},
		{"FREQ=WEEKLY", "Weekly", "FREQ=WEEKLY;BYDAY=MO", true},
		{"FREQ=WEEKLY;INTERVAL=2;BYDAY=WE,MO", "Weekly", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE", true},
		{"FREQ=MONTHLY;BYMONTHDAY=17", "Monthly", "", true},
		{"FREQ=MONTHLY", "Monthly", "FREQ=MONTHLY;BYMONTHDAY=17", true},
		{"FREQ=MONTHLY;BYDAY=3MO", "Monthly", "", true},
		{"FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1", "Monthly", "FREQ=MONTHLY;BYDAY=-1MO", true},
		{"FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=17", "Yearly", "", true},
		{"FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=17", "", "", false},
		{"FREQ=DAILY;BYHOUR=9,17", "", "", false},
		{"FREQ=MONTHLY;BYMONTHDAY=1,15", "", "", false},
		{"FREQ=HOURLY", "", "", false},
		{"FREQ=WEEKLY;WKST=SU;INTERVAL=2", "", "", false},
	}
	for _, c := range cases {
		r, err := parseRule(c.rule, oslo)
		if err != nil {
			t.Errorf("%s: %v", c.rule, err)
			continue
		}
		info, ok := r.toPattern(start)
		if ok != c.ok {
			t.Errorf("%s: ok = %v", c.rule, ok)
			continue
		}
		if !ok {
			continue
		}
		if info.Pattern != c.pattern {
			t.Errorf("%s: pattern %s, want %s", c.rule, info.Pattern, c.pattern)
		}
		back, ok := patternRule(&info, start)
		want := c.back
		if want == "" {
			want = c.rule
		}
		if !ok || back != want {
			t.Errorf("%s: back = %q, want %q", c.rule, back, want)
		}
	}
	for _, bad := range []string{"", "INTERVAL=2", "FREQ=DAILY;COUNT=0", "FREQ=DAILY;COUNT=2;UNTIL=20250101T000000Z", "FREQ=WEEKLY;BYDAY=XX"} {
		if _, err := parseRule(bad, oslo); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestExpandKeepsWallClockAcrossDST(t *testing.T) {
	oslo, _ := time.LoadLocation("Europe/Oslo")
	start := time.Date(2025, 10, 20, 9, 0, 0, 0, oslo) // DST ends 26 October
	got, err := expand("FREQ=WEEKLY;BYDAY=MO;COUNT=3", start, start.AddDate(1, 0, 0), 10)
	if err != nil {
		t.Fatal(err)
	}
	var utc []string
	for _, g := range got {
		utc = append(utc, g.UTC().Format("01-02T15:04"))
	}
	if want := []string{"10-20T07:00", "10-27T08:00", "11-03T08:00"}; !slices.Equal(utc, want) {
		t.Errorf("occurrences = %v, want %v", utc, want)
	}
}

func TestRecurrenceLines(t *testing.T) {
	oslo, _ := time.LoadLocation("Europe/Oslo")
	rr, ex, rd, err := recurrenceLines([]string{"RRULE:FREQ=DAILY;COUNT=5", "EXDATE:20250101T080000Z,20250102T080000Z",
		"EXDATE;TZID=Europe/Oslo:20250103T090000", "EXDATE;VALUE=DATE:20250104", "RDATE:20250110T080000Z"}, oslo)
	if err != nil || rr != "FREQ=DAILY;COUNT=5" || len(ex) != 4 || len(rd) != 1 {
		t.Fatalf("= %q %v %v %v", rr, ex, rd, err)
	}
	if !ex[2].Equal(time.Date(2025, 1, 3, 8, 0, 0, 0, time.UTC)) || !ex[3].Equal(time.Date(2025, 1, 4, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("exdates = %v", ex)
	}
	for _, bad := range [][]string{{"RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY"}, {"EXRULE:FREQ=DAILY"}, {"nonsense"}, {"EXDATE:notadate"}} {
		if _, _, _, err := recurrenceLines(bad, oslo); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestAllDayDates(t *testing.T) {
	oslo, _ := time.LoadLocation("Europe/Oslo")
	d := func(y int, m time.Month, day, h, min int) time.Time { return time.Date(y, m, day, h, min, 0, 0, oslo) }
	utc := func(day int) time.Time { return time.Date(2025, 3, day, 0, 0, 0, 0, time.UTC) }
	cases := []struct {
		start, end         time.Time
		wantStart, wantEnd time.Time
	}{
		{d(2025, 3, 30, 0, 0), d(2025, 3, 30, 23, 59), utc(30), utc(31)}, // 23:59 form, DST day
		{d(2025, 3, 30, 0, 0), d(2025, 3, 31, 0, 0), utc(30), utc(31)},   // next-midnight form
		{d(2025, 3, 29, 0, 0), d(2025, 3, 31, 23, 59), utc(29), time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)},
		{d(2025, 3, 29, 0, 0), d(2025, 3, 29, 0, 0), utc(29), utc(30)}, // zero length
	}
	for _, c := range cases {
		s, e := allDayDates(c.start, c.end, oslo)
		if !s.Equal(c.wantStart) || !e.Equal(c.wantEnd) {
			t.Errorf("%s..%s = %s..%s", c.start, c.end, s, e)
		}
	}
}
