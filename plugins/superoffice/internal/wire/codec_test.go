package wire

import (
	"encoding/json"
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

// The flexible types read strings without escapes directly; what they read is
// what encoding/json reads, escapes or not.
func TestFlexTypesReadLikeEncodingJSON(t *testing.T) {
	for _, raw := range []string{`"plain"`, `""`, `"é😀"`, `"a\"b"`, `"line\nbreak"`, `"\u00e9"`, "\"bad \xff\"", `12`, `"12"`, `-7`, `1.5`, `1e3`, `null`, `"x"`} {
		var want, got struct {
			S FlexString `json:"s"`
		}
		var plain struct {
			S any `json:"s"`
		}
		body := `{"s":` + raw + `}`
		if err := json.Unmarshal([]byte(body), &plain); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if s, ok := plain.S.(string); ok {
			want.S = FlexString(s)
		} else if err := json.Unmarshal([]byte(body), &want); err != nil {
			continue
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || got.S != want.S {
			t.Errorf("FlexString %s = %q, %v; want %q", raw, got.S, err, want.S)
		}
		var fi struct {
			N FlexInt `json:"s"`
		}
		err := json.Unmarshal([]byte(body), &fi)
		switch raw {
		case `12`, `"12"`:
			if err != nil || fi.N != 12 {
				t.Errorf("FlexInt %s = %d, %v", raw, fi.N, err)
			}
		case `-7`:
			if err != nil || fi.N != -7 {
				t.Errorf("FlexInt %s = %d, %v", raw, fi.N, err)
			}
		case `1.5`:
			if err != nil || fi.N != 1 {
				t.Errorf("FlexInt %s = %d, %v", raw, fi.N, err)
			}
		case `1e3`:
			if err != nil || fi.N != 1000 {
				t.Errorf("FlexInt %s = %d, %v", raw, fi.N, err)
			}
		case `null`, `""`:
			if err != nil || fi.N != 0 {
				t.Errorf("FlexInt %s = %d, %v", raw, fi.N, err)
			}
		default:
			if err == nil {
				t.Errorf("FlexInt %s = %d, want an error", raw, fi.N)
			}
		}
	}
}
