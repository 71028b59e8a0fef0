package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/engine/enginetest"
	"synchronizer/plugins/sdk"
)

// killSwitch stands for the daemon process: once killed, the store and both
// providers refuse every call, as if the process were gone.
type killSwitch struct {
	mu      sync.Mutex
	dead    bool
	commits int
	creates int // creates that reached a calendar
	lookups int // FindByCorrelation calls
	// killAtCommit and killAtCreate kill the process right after that commit
	// (1-based) is on file, or right after that create landed (0: never).
	killAtCommit, killAtCreate int
}

func (k *killSwitch) hook(next func(ctx context.Context, op string, t sdk.Target, phase string) error) func(ctx context.Context, op string, t sdk.Target, phase string) error {
	return func(ctx context.Context, op string, t sdk.Target, phase string) error {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.dead {
			return errKilled
		}
		if op == "FindByCorrelation" && phase == "before" {
			k.lookups++
		}
		if op == "Create" && phase == "after" {
			k.creates++
			if k.creates == k.killAtCreate {
				k.dead = true
				return errKilled
			}
		}
		return next(ctx, op, t, phase)
	}
}

func (k *killSwitch) revive() {
	k.mu.Lock()
	k.dead, k.killAtCommit, k.killAtCreate = false, 0, 0
	k.mu.Unlock()
}

type killStore struct {
	engine.Store
	k *killSwitch
}

func (s killStore) Commit(ctx context.Context, link string, b engine.Batch) error {
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	if s.k.dead {
		return errKilled
	}
	if err := s.Store.Commit(ctx, link, b); err != nil {
		return err
	}
	s.k.commits++
	if s.k.commits == s.k.killAtCommit {
		s.k.dead = true
		return errKilled
	}
	return nil
}

// initialSync is a link with n items, half of them on each side, never synced.
func initialSync(t *testing.T, n int, k *killSwitch, twoStep bool) *enginetest.Harness {
	t.Helper()
	h := enginetest.NewHarness(t, engine.Policy{Past: 30 * 24 * time.Hour, Future: 400 * 24 * time.Hour})
	for i := range n {
		c := h.SO
		if i%2 == 1 {
			c = h.Cal
		}
		c.Put(enginetest.Single(fmt.Sprintf("item %04d", i), enginetest.T0.Add(time.Duration(i)*37*time.Minute)))
	}
	h.SOP.SetHook(k.hook(func(context.Context, string, sdk.Target, string) error { return nil }))
	h.CalP.SetHook(k.hook(func(context.Context, string, sdk.Target, string) error { return nil }))
	h.Cfg.Store = killStore{Store: h.Store, k: k}
	if twoStep {
		h.Link.SuperOffice, h.Link.Calendar = enginetest.TwoStepCreate(h.Link.SuperOffice), enginetest.TwoStepCreate(h.Link.Calendar)
	}
	h.Rebuild()
	return h
}

func intents(t *testing.T, h *enginetest.Harness) int {
	t.Helper()
	in, err := h.Store.Intents(context.Background(), h.Link.Key)
	if err != nil {
		t.Fatal(err)
	}
	return len(in)
}

// The creates of an initial sync share their commits: their intents are
// written a chunk at a time and their results go with the next chunk's.
func TestCreatesShareCommits(t *testing.T) {
	const n = 200
	k := &killSwitch{}
	h := initialSync(t, n, k, false)
	res := h.Run()
	if got := len(res.Done); got != n {
		t.Fatalf("%d writes, want %d", got, n)
	}
	if h.SO.Len() != n || h.Cal.Len() != n || h.Pairs() != n || intents(t, h) != 0 {
		t.Fatalf("superoffice %d, calendar %d, pairs %d, intents %d; want %d, %d, %d, 0", h.SO.Len(), h.Cal.Len(), h.Pairs(), intents(t, h), n, n, n)
	}
	// One commit per chunk of intents (which carries the previous chunk's
	// results) and the run's last one; two per create before.
	if max := (n+31)/32 + 1; k.commits > max {
		t.Fatalf("%d commits for %d creates, want at most %d", k.commits, n, max)
	}
	h.RequireTagged()
	h.Settle()
	if h.SO.Len() != n || h.Cal.Len() != n || k.creates != n {
		t.Fatalf("after settling: superoffice %d, calendar %d, creates %d; want %d each", h.SO.Len(), h.Cal.Len(), k.creates, n)
	}
}

// A process killed while the results of its creates wait in memory for the
// next commit, or while intents written ahead have not been sent yet, leaves
// intents from which the restart records every copy that was made, makes the
// ones that were not, and duplicates nothing.
func TestKilledBeforeResultsAreRecorded(t *testing.T) {
	const n = 120
	cases := []struct {
		name                       string
		killAtCommit, killAtCreate int
		twoStep                    bool
		wantIntents                bool
	}{
		{name: "after the first chunk's intents, before any create", killAtCommit: 1, wantIntents: true},
		{name: "after 10 creates of the first chunk", killAtCreate: 10, wantIntents: true},
		{name: "after the second chunk's intents", killAtCommit: 2, wantIntents: true},
		{name: "after 45 creates, in the second chunk", killAtCreate: 45, wantIntents: true},
		{name: "last create, before the run's last commit", killAtCreate: n, wantIntents: true},
		{name: "two-step creates, after 10", killAtCreate: 10, twoStep: true, wantIntents: true},
		{name: "two-step creates, between a create and its tag", killAtCreate: 41, twoStep: true, wantIntents: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := &killSwitch{killAtCommit: tc.killAtCommit, killAtCreate: tc.killAtCreate}
			h := initialSync(t, n, k, tc.twoStep)
			if _, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{}); !errors.Is(err, errKilled) {
				t.Fatalf("the run was not killed: %v", err)
			}
			if left := intents(t, h); (left > 0) != tc.wantIntents {
				t.Fatalf("%d intents left by the killed run", left)
			}
			made := k.creates
			k.revive()
			k.lookups = 0
			h.Rebuild()
			if err := h.Eng.Recover(context.Background(), h.Link); err != nil {
				t.Fatalf("recover: %v", err)
			}
			h.Settle()
			if h.SO.Len() != n || h.Cal.Len() != n || h.Pairs() != n || intents(t, h) != 0 {
				t.Fatalf("after the restart: superoffice %d, calendar %d, pairs %d, intents %d; want %d, %d, %d, 0",
					h.SO.Len(), h.Cal.Len(), h.Pairs(), intents(t, h), n, n, n)
			}
			h.RequireTagged()
			h.RequireSame()
			// A chunk of pending creates is settled by reading the side in
			// full, not by looking each one up (at most 4 a side, twice).
			if k.lookups > 16 {
				t.Fatalf("%d lookups by correlation id to settle the pending creates", k.lookups)
			}
			// Two-step creates count both of their requests' items the same way:
			// every copy is made exactly once.
			if k.creates != n {
				t.Fatalf("%d creates in all (%d before the kill), want %d: a copy was made twice or not at all", k.creates, made, n)
			}
		})
	}
}
