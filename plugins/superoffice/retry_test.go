package superoffice_test

import (
	"errors"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// A request throttled with a short Retry-After, or a read that failed with a
// server error, is sent again inside the call; a write that failed with a server
// error is not (it may have happened), and a long Retry-After goes up to the
// engine.
func TestRetriesInsideACall(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	start := e.clk.Now().Add(time.Hour)
	ev, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "x", Start: start, End: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	get := func() error { _, err := e.p.Get(e.ctx(), tg, ev.ID); return err }
	create := func() error {
		_, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "y", Start: start, End: start.Add(time.Hour)})
		return err
	}
	cases := []struct {
		name      string
		status, n int
		after     string
		call      func() error
		wantErr   bool
		throttled bool
	}{
		{"429 with a short Retry-After", 429, 1, "1", get, false, false},
		{"503 with a short Retry-After on a write", 503, 1, "1", create, false, false},
		{"429 with a long Retry-After", 429, 1, "30", get, true, true},
		{"429 without Retry-After", 429, 1, "", get, true, true},
		{"500 on a read, once", 500, 1, "", get, false, false},
		{"502 on a read, three times", 502, 3, "", get, false, false},
		{"500 on a read, on every try", 500, 4, "", get, true, false},
		{"500 on a write", 500, 1, "", create, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Cleanup(e.so.ClearFaults)
			e.so.FailNext(c.status, c.n, c.after)
			before := e.so.Stats().Total
			err := c.call()
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, c.wantErr)
			}
			if got := errors.Is(err, sdk.ErrThrottled); got != c.throttled {
				t.Errorf("throttled = %v (%v), want %v", got, err, c.throttled)
			}
			sent := e.so.Stats().Total - before
			if c.wantErr && !c.throttled && sent != c.n {
				t.Errorf("%d requests for %d faults, want one per fault", sent, c.n)
			}
			if !c.wantErr && sent <= c.n {
				t.Errorf("%d requests for %d faults: the call was not repeated", sent, c.n)
			}
		})
	}
}
