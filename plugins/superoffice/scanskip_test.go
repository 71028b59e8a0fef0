package superoffice

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// TestScanBounds: within the bounds taken for a window, every row keeps the
// verdict sdk.Window.Contains gives it and its freshness; just past a bound, a
// row changes its verdict (the bounds are tight). Randomized: the seed is printed.
func TestScanBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t, "SUPEROFFICE_TEST_SEED"), 3))
	t0 := time.Date(2025, 3, 20, 9, 0, 0, 0, time.UTC)
	at := func() time.Time { return t0.Add(time.Duration(rng.IntN(200)-100) * time.Hour) }
	for round := 0; round < 300; round++ {
		type rowT struct {
			start, end time.Time
			ts         int64
		}
		var rows []rowT
		for n := rng.IntN(12); n > 0; n-- {
			s := at()
			e := s
			switch rng.IntN(3) {
			case 0: // no length
			case 1:
				e = s.Add(time.Duration(rng.IntN(48)) * time.Hour)
			default:
				e = s.Add(-time.Hour) // read as its start
			}
			rows = append(rows, rowT{s, e, t0.Unix() + int64(rng.IntN(20)-10)})
		}
		w := sdk.Window{Start: at().Add(time.Duration(rng.IntN(3)) * time.Nanosecond), End: at().Add(300 * time.Hour)}
		cut := t0.Unix() + int64(rng.IntN(20)-10)
		b := openBounds()
		for _, r := range rows {
			b.window(windowOf(w.Start, w.End), r.start, r.end)
			b.fresh(cut, r.ts)
		}
		b = boundsOf(b.list())
		if !b.within(windowOf(w.Start, w.End), cut) {
			t.Fatalf("round %d: the bounds exclude the window they were taken for", round)
		}
		same := func(w2 sdk.Window, cut2 int64) bool {
			for _, r := range rows {
				if w.Contains(r.start, r.end) != w2.Contains(r.start, r.end) || (r.ts >= cut) != (r.ts >= cut2) {
					return false
				}
			}
			return true
		}
		for try := 0; try < 40; try++ {
			w2 := sdk.Window{Start: w.Start.Add(time.Duration(rng.IntN(60)-30) * time.Hour), End: w.End.Add(time.Duration(rng.IntN(60)-30) * time.Hour)}
			switch rng.IntN(4) { // exactly on a bound, or a nanosecond off it
			case 0:
				if b.StartLo > -1<<62 {
					w2.Start = time.Unix(0, b.StartLo+int64(rng.IntN(3)-1))
				}
			case 1:
				if b.EndHi < 1<<62 {
					w2.End = time.Unix(0, b.EndHi+int64(rng.IntN(3)-1))
				}
			}
			cut2 := cut + int64(rng.IntN(12)-6)
			if got, want := b.within(windowOf(w2.Start, w2.End), cut2), same(w2, cut2); got != want {
				t.Fatalf("round %d: window %v, cut %d: within = %v, but the rows' verdicts same = %v (taken at %v, %d; bounds %+v)",
					round, w2, cut2, got, want, w, cut, b)
			}
		}
	}
	if b := boundsOf([]int64{1, 2}); b.within(windowOf(t0, t0.Add(time.Hour)), 0) {
		t.Error("bounds that are not six numbers allow a window")
	}
}

// A page whose digest is the one to skip is not read; any other is.
func TestScanPageSkipsASeenAnswer(t *testing.T) {
	body := []byte(`{"value":[{"appointmentId":7,"date":"2025-03-20T09:00:00","endDate":"2025-03-20T10:00:00"}]}`)
	var rows []scanRow
	p := scanPage{loc: time.UTC, rows: &rows}
	if err := p.decodeJSON(body); err != nil || len(rows) != 1 || p.same {
		t.Fatalf("first read: %v, %d rows, same %v", err, len(rows), p.same)
	}
	seen := p.digest
	rows = nil
	p = scanPage{loc: time.UTC, rows: &rows, skip: seen}
	if err := p.decodeJSON(body); err != nil || len(rows) != 0 || !p.same {
		t.Fatalf("the same answer: %v, %d rows, same %v", err, len(rows), p.same)
	}
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip("no zone database")
	}
	for name, c := range map[string]struct {
		loc  *time.Location
		body string
	}{
		"another answer":         {time.UTC, `{"value":[{"appointmentId":7,"date":"2025-03-20T09:00:00","endDate":"2025-03-20T10:00:01"}]}`},
		"the same in a new zone": {oslo, string(body)},
	} {
		rows = nil
		p = scanPage{loc: c.loc, rows: &rows, skip: seen}
		if err := p.decodeJSON([]byte(c.body)); err != nil || len(rows) != 1 || p.same {
			t.Errorf("%s: %v, %d rows, same %v", name, err, len(rows), p.same)
		}
	}
}

func TestSnapshotIDs(t *testing.T) {
	var c snapshotIDs
	if c.get(1, []byte("s1")) != nil {
		t.Fatal("an empty memory answered")
	}
	c.put(1, []byte("s1"), []int{3, 5})
	c.put(2, []byte("s2"), []int{})
	if got := c.get(1, []byte("s1")); !slices.Equal(got, []int{3, 5}) {
		t.Errorf("diary 1 = %v", got)
	}
	if got := c.get(2, []byte("s2")); got == nil || len(got) != 0 {
		t.Errorf("an empty snapshot = %v, want empty but kept", got)
	}
	if c.get(1, []byte("other")) != nil || c.get(1, nil) != nil || c.get(3, []byte("s1")) != nil {
		t.Error("ids of another snapshot or diary answered")
	}
	c.put(1, []byte("s3"), []int{7})
	if c.get(1, []byte("s1")) != nil || !slices.Equal(c.get(1, []byte("s3")), []int{7}) {
		t.Error("a diary's newer snapshot did not replace the older")
	}
	for i := 0; i < maxSnapshotIDs+3; i++ {
		c.put(100+i, []byte("x"), []int{i})
	}
	if len(c.m) > maxSnapshotIDs {
		t.Errorf("%d diaries remembered, more than %d", len(c.m), maxSnapshotIDs)
	}
}
