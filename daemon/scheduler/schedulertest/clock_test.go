package schedulertest

import (
	"testing"
	"time"
)

func fired(c <-chan time.Time) (time.Time, bool) {
	select {
	case at := <-c:
		return at, true
	default:
		return time.Time{}, false
	}
}

func TestClockFiresOnlyWhenAdvanced(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		after   time.Duration
		stop    bool
		advance []time.Duration
		want    bool // fired after the last advance
		wantAt  time.Time
	}{
		{"due now fires at once", 0, false, nil, true, t0},
		{"negative fires at once", -time.Second, false, nil, true, t0},
		{"not reached", time.Hour, false, []time.Duration{59 * time.Minute}, false, time.Time{}},
		{"reached exactly", time.Hour, false, []time.Duration{time.Hour}, true, t0.Add(time.Hour)},
		{"passed in two steps", time.Hour, false, []time.Duration{40 * time.Minute, 40 * time.Minute}, true, t0.Add(80 * time.Minute)},
		{"stopped never fires", time.Hour, true, []time.Duration{2 * time.Hour}, false, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock(t0)
			tm := c.NewTimer(tc.after)
			if tc.stop && !tm.Stop() {
				t.Fatal("Stop reported false")
			}
			for _, d := range tc.advance {
				c.Advance(d)
			}
			at, ok := fired(tm.C())
			if ok != tc.want || !at.Equal(tc.wantAt) {
				t.Fatalf("fired = %v at %v, want %v at %v", ok, at, tc.want, tc.wantAt)
			}
			var total time.Duration
			for _, d := range tc.advance {
				total += d
			}
			if got := c.Now(); !got.Equal(t0.Add(total)) {
				t.Fatalf("Now = %v, want %v", got, t0.Add(total))
			}
			// A timer fires once: a further advance sends nothing more.
			c.Advance(24 * time.Hour)
			if _, again := fired(tm.C()); again && (ok || tc.stop || tc.after <= 0) {
				t.Fatal("the timer fired twice, or after Stop")
			}
		})
	}
}
