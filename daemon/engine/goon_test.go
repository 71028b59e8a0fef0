package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/engine/enginetest"
	"synchronizer/plugins/sdk"
)

var errFlaky = errors.New("HTTP 500: internal server error")

// flakyCreate fails the creates whose numbers (1-based) are in fail with err,
// before anything is written.
type flakyCreate struct {
	engine.Endpoint
	fail    map[int]bool
	err     error
	creates int
}

func (e *flakyCreate) Create(ctx context.Context, ev sdk.Event) (sdk.Event, error) {
	e.creates++
	if e.fail[e.creates] {
		return sdk.Event{}, e.err
	}
	return e.Endpoint.Create(ctx, ev)
}

// A write that fails for a passing reason costs that item only: the run
// carries out its other writes, fails at the end with the first error, and the
// next run writes what is left — nothing twice. Failures that say the run cannot
// go on (throttling past its budget, refused credentials, too many failures)
// stop it at once.
func TestFailedWriteDoesNotStopTheRun(t *testing.T) {
	const n = 20
	cases := []struct {
		name string
		fail []int
		err  error
		// wantDone is how many creates the first run carries out.
		wantDone int
	}{
		{"one server error", []int{3}, errFlaky, n - 1},
		{"three server errors", []int{1, 7, 20}, errFlaky, n - 3},
		{"refused credentials stop the run", []int{3}, fmt.Errorf("create: %w", sdk.ErrUnauthenticated), 2},
		{"throttling stops the run", []int{3}, &sdk.ThrottledError{RetryAfter: time.Hour}, 2},
		{"a service that keeps failing stops the run", []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, errFlaky, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := enginetest.NewHarness(t, engine.Policy{})
			for i := range n {
				h.Calendar(engine.Calendar).Put(enginetest.Single(fmt.Sprintf("item %d", i), enginetest.T0.Add(time.Duration(i+1)*24*time.Hour)))
			}
			fl := &flakyCreate{Endpoint: h.Link.SuperOffice, fail: map[int]bool{}, err: tc.err}
			for _, k := range tc.fail {
				fl.fail[k] = true
			}
			h.Link.SuperOffice = fl
			h.Rebuild()

			h.Clock.Advance(time.Minute)
			_, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{})
			if !errors.Is(err, tc.err) {
				t.Fatalf("first run: err = %v, want %v", err, tc.err)
			}
			if got := h.Calendar(engine.SuperOffice).Len(); got != tc.wantDone {
				t.Fatalf("first run wrote %d items, want %d", got, tc.wantDone)
			}
			fl.fail = nil
			h.Settle()
			if got := h.Calendar(engine.SuperOffice).Len(); got != n {
				t.Errorf("superoffice holds %d items after the retries, want %d", got, n)
			}
			h.RequireSame()
			h.RequireTagged()
		})
	}
}
