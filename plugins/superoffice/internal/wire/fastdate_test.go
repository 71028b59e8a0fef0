package wire

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// referenceParse is ParseDate through the layouts alone (what it did before the
// fixed-width reading).
func referenceParse(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() <= 1 {
				return time.Time{}, nil
			}
			return t, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			if t.Year() <= 1 {
				return time.Time{}, nil
			}
			return t, nil
		}
	}
	if s == "" {
		return time.Time{}, nil
	}
	return time.Time{}, errBad
}

var errBad = errorString("bad")

type errorString string

func (e errorString) Error() string { return string(e) }

// TestFastDatesAgreeWithLayouts: ParseDate, ParseInstant and AppendDate give what
// the time package's layouts give, for valid dates and for near misses (out of
// range fields, wrong separators, odd offsets). Randomized: the seed is printed.
func TestFastDatesAgreeWithLayouts(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip("no zone database")
	}
	fixed := []string{"2024-05-02T09:00:00", "2024-02-29T23:59:59", "2023-02-29T10:00:00", "2024-04-31T10:00:00",
		"2024-13-01T10:00:00", "2024-00-10T10:00:00", "2024-05-02T24:00:00", "2024-05-02T23:60:00", "2024-05-02T23:00:60",
		"0001-01-01T00:00:00", "0000-02-29T00:00:00", "0001-01-01T00:00:00+01:00", "0002-01-01T00:30:00+01:00",
		"2024-05-02T09:00:00Z", "2024-05-02T09:00:00+02:00", "2024-05-02T09:00:00-05:30", "2024-05-02T09:00:00+24:00",
		"2024-05-02T09:00:00+02:60", "2024-05-02T09:00:00+0200", "2024-05-02 09:00:00", "2024-05-02T09:00:0a",
		"2024-05-02t09:00:00", "2025-03-30T02:30:00", "2025-10-26T02:30:00", " 2024-05-02T09:00:00", "2024-05-02T09:00:00 ",
		"2024-05-02T09:00:00.5", "2024-05-02", "", "9999-12-31T23:59:59+14:00", "2024-05-02T09:00:00z"}
	for i := 0; i < 3000; i++ {
		b := []byte(fixed[rng.IntN(len(fixed))])
		if len(b) > 0 && rng.IntN(2) == 0 {
			b[rng.IntN(len(b))] = "0123456789:-+TZ "[rng.IntN(16)]
		}
		fixed = append(fixed, string(b))
	}
	for _, s := range fixed {
		for _, loc := range []*time.Location{time.UTC, oslo} {
			want, wantErr := referenceParse(s, loc)
			got, _, err := ParseDate(s, loc)
			if (err != nil) != (wantErr != nil) || !got.Equal(want) || (err == nil && got.Location().String() != want.Location().String()) {
				t.Errorf("ParseDate(%q, %s) = %v, %v; want %v, %v", s, loc, got, err, want, wantErr)
			}
			inst, err := ParseInstant([]byte(s), loc)
			if (err != nil) != (wantErr != nil) || !inst.Equal(want) {
				t.Errorf("ParseInstant(%q, %s) = %v, %v; want %v, %v", s, loc, inst, err, want, wantErr)
			}
		}
	}
	for i := 0; i < 2000; i++ {
		at := time.Unix(rng.Int64N(1<<36)-1<<35, 0)
		if i == 0 {
			at = time.Time{}
		}
		for _, loc := range []*time.Location{time.UTC, oslo, time.FixedZone("", -(5*3600 + 30*60))} {
			for _, off := range []bool{false, true} {
				want := ZeroDate
				if !at.IsZero() {
					layout := localLayout
					if off {
						layout = "2006-01-02T15:04:05-07:00"
					}
					want = at.In(loc).Format(layout)
				}
				if got := FormatDate(at, loc, off); got != want {
					t.Errorf("FormatDate(%v, %s, %v) = %s, want %s", at, loc, off, got, want)
				}
			}
		}
	}
}

func BenchmarkParseInstant(b *testing.B) {
	in := []byte("2025-03-20T09:00:00+00:00")
	for b.Loop() {
		if _, err := ParseInstant(in, time.UTC); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormatDate(b *testing.B) {
	at := time.Date(2025, 3, 20, 9, 0, 0, 0, time.UTC)
	buf := make([]byte, 0, 32)
	for b.Loop() {
		buf = AppendDate(buf[:0], at, time.UTC, true)
	}
}
