package wire

import (
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	oslo, _ := time.LoadLocation("Europe/Oslo")
	cases := []struct {
		in         string
		want       time.Time
		withOffset bool
		bad        bool
	}{
		{"2024-05-02T09:00:00", time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC), false, false},
		{"2024-05-02T07:00:00Z", time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC), true, false},
		{"2024-05-02T07:00:00.000Z", time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC), true, false},
		{"2018-12-24T07:34:45-05:00", time.Date(2018, 12, 24, 12, 34, 45, 0, time.UTC), true, false},
		{"2024-05-02", time.Date(2024, 5, 1, 22, 0, 0, 0, time.UTC), false, false},
		{"2024-05-02T09:00:00.5", time.Date(2024, 5, 2, 7, 0, 0, 5e8, time.UTC), false, false},
		{ZeroDate, time.Time{}, false, false},
		{"0001-01-01T00:00:00.000Z", time.Time{}, true, false},
		{"", time.Time{}, false, false},
		{"yesterday", time.Time{}, false, true},
	}
	for _, c := range cases {
		got, off, err := ParseDate(c.in, oslo)
		if c.bad {
			if err == nil {
				t.Errorf("%q: no error", c.in)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) || off != c.withOffset {
			t.Errorf("%q = %v, %v, %v; want %v, %v", c.in, got, off, err, c.want, c.withOffset)
		}
	}
	at := time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC)
	if s := FormatDate(at, oslo, false); s != "2024-05-02T09:00:00" {
		t.Errorf("FormatDate local = %s", s)
	}
	if s := FormatDate(at, time.UTC, true); s != "2024-05-02T07:00:00+00:00" {
		t.Errorf("FormatDate offset = %s", s)
	}
}

func TestTimeSpan(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"00:15:00", 15 * time.Minute, false},
		{"1.02:00:00", 26 * time.Hour, false},
		{"-00:05:00", -5 * time.Minute, false},
		{"PT15M", 15 * time.Minute, false},
		{"P0D", 0, false},
		{"P1DT2H30M", 26*time.Hour + 30*time.Minute, false},
		{"", 0, false},
		{"15", 0, true},
		{"PT", 0, false},
		{"P1Y", 0, true},
	}
	for _, c := range cases {
		got, err := ParseTimeSpan(c.in)
		if (err != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("%q = %v, %v", c.in, got, err)
		}
	}
	for _, d := range []time.Duration{0, 15 * time.Minute, 26 * time.Hour, -5 * time.Minute} {
		back, err := ParseTimeSpan(FormatTimeSpan(d))
		if err != nil || back != d {
			t.Errorf("round trip %v: %v %v", d, back, err)
		}
	}
}

func TestWeekdays(t *testing.T) {
	days, err := ParseWeekdays("Monday, Wednesday")
	if err != nil || len(days) != 2 || days[0] != time.Monday || days[1] != time.Wednesday {
		t.Errorf("parse = %v %v", days, err)
	}
	if s := FormatWeekdays([]time.Weekday{time.Sunday, time.Monday}); s != "Monday, Sunday" {
		t.Errorf("format = %s", s)
	}
	if days, _ := ParseWeekdays("65"); len(days) != 2 || days[0] != time.Monday || days[1] != time.Sunday {
		t.Errorf("numeric flags = %v", days)
	}
	if _, err := ParseWeekdays("Funday"); err == nil {
		t.Error("Funday accepted")
	}
}
