package superoffice

import (
	"slices"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

func TestCreatedLog(t *testing.T) {
	t0 := time.Date(2025, 3, 20, 9, 0, 0, 0, time.UTC)
	win := sdk.Window{Start: t0.AddDate(0, 0, -1), End: t0.AddDate(0, 1, 0)}
	in, out := t0.Add(time.Hour), t0.AddDate(0, 2, 0)
	var l createdLog
	l.add(1, 10, t0, in, in.Add(time.Hour))
	l.add(1, 11, t0.Add(time.Minute), out, out.Add(time.Hour)) // outside the window
	l.add(1, 12, t0.Add(2*time.Minute), in, in.Add(time.Hour))
	l.add(2, 20, t0.Add(3*time.Minute), in, in.Add(time.Hour))
	present := func(ids ...int) func(int) bool { return func(id int) bool { return slices.Contains(ids, id) } }

	if got := l.vanished(1, t0.Add(5*time.Minute), win, present(12)); !slices.Equal(got, []int{10}) {
		t.Errorf("vanished = %v, want [10] (11 is outside the window, 12 present, 20 another diary)", got)
	}
	if got := l.vanished(2, t0.Add(5*time.Minute), win, present()); !slices.Equal(got, []int{20}) {
		t.Errorf("vanished of diary 2 = %v", got)
	}
	// After the TTL only what is younger stays.
	if got := l.vanished(1, t0.Add(createdTTL+90*time.Second), win, present()); !slices.Equal(got, []int{12}) {
		t.Errorf("after the TTL: %v, want [12]", got)
	}
	if l.n != 2 {
		t.Errorf("entries = %d, want 2", l.n)
	}

	// Over the cap the oldest go first.
	var c createdLog
	for i := range maxCreatedRows + 1 {
		c.add(i%7, i, t0.Add(time.Duration(i)*time.Millisecond), in, in.Add(time.Hour))
	}
	if c.n > maxCreatedRows || c.n < maxCreatedRows*8/10 {
		t.Errorf("after the cap: %d entries", c.n)
	}
	newest := c.vanished(maxCreatedRows%7, t0, win, present())
	if !slices.Contains(newest, maxCreatedRows) || slices.Contains(newest, 0) {
		t.Errorf("the cap dropped the newest or kept the oldest")
	}
}
