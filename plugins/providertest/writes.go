package providertest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

func isNotFound(err error) bool { return errors.Is(err, sdk.ErrNotFound) }

// precondition checks that versions guard Update and Delete.
func (s *suite) precondition(t *testing.T) {
	tg := s.target(t)
	ctx := s.ctx(t)
	p := s.h.Provider
	v1 := s.create(t, tg, s.simple(t, "Version 1", 2))
	up := v1
	up.Title = "Version 2"
	v2, err := p.Update(ctx, tg, up)
	if err != nil {
		t.Fatalf("Update with the current version: %v", err)
	}
	if v2.Version == v1.Version {
		t.Fatalf("Update kept the version %q", v2.Version)
	}
	// Let a service whose versions are timestamps see a later second.
	time.Sleep(10 * time.Millisecond)
	stale := v2
	stale.Version = v1.Version
	stale.Title = "Lost update"
	_, err = p.Update(ctx, tg, stale)
	mustBe(t, "Update with a stale version", err, sdk.ErrPreconditionFailed)
	if got := s.get(t, tg, v1.ID); got.Title != s.h.Expect(up).Title {
		t.Errorf("a refused Update changed the item: title %q", got.Title)
	}
	mustBe(t, "Delete with a stale version", p.Delete(ctx, tg, v1.ID, v1.Version), sdk.ErrPreconditionFailed)
	s.get(t, tg, v1.ID) // still there
	if err := p.Delete(ctx, tg, v1.ID, v2.Version); err != nil {
		t.Fatalf("Delete with the current version: %v", err)
	}
	if _, err := p.Get(ctx, tg, v1.ID); !isNotFound(err) {
		t.Errorf("Get after Delete: %v, want sdk.ErrNotFound", err)
	}
	// An unconditional update of a user's later edit wins (no version given).
	w := s.create(t, tg, s.simple(t, "Unconditional", 3))
	w.Version, w.Title = "", "Unconditional 2"
	if _, err := p.Update(ctx, tg, w); err != nil {
		t.Errorf("Update without a version: %v", err)
	}
}

// notFound checks reads and deletes of items that are gone.
func (s *suite) notFound(t *testing.T) {
	tg := s.target(t)
	ctx := s.ctx(t)
	ev := s.create(t, tg, s.simple(t, "Short-lived", 2))
	if err := s.h.Provider.Delete(ctx, tg, ev.ID, ""); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.h.Provider.Get(ctx, tg, ev.ID); !isNotFound(err) {
		t.Errorf("Get of a deleted item: %v, want sdk.ErrNotFound", err)
	}
	if err := s.h.Provider.Delete(ctx, tg, ev.ID, ""); err != nil {
		t.Errorf("deleting an item that is gone: %v, want success", err)
	}
	up := ev
	up.Version = ""
	if _, err := s.h.Provider.Update(ctx, tg, up); !isNotFound(err) {
		t.Errorf("Update of a deleted item: %v, want sdk.ErrNotFound", err)
	}
}

// correlation checks that the correlation id is stamped and found again, also
// after a user edits the item.
func (s *suite) correlation(t *testing.T) {
	tg := s.target(t)
	ctx := s.ctx(t)
	sent := s.simple(t, "Tagged", 2)
	ev := s.create(t, tg, sent)
	s.create(t, tg, s.simple(t, "Other", 2))
	find := func(what, corr string, want ...string) {
		t.Helper()
		got, err := s.h.Provider.FindByCorrelation(ctx, tg, corr)
		if err != nil {
			t.Fatalf("FindByCorrelation %s: %v", what, err)
		}
		if ids := idsOf(got); strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Fatalf("FindByCorrelation %s = %v, want %v", what, ids, want)
		}
		for _, g := range got {
			if g.CorrelationID != corr {
				t.Errorf("found %s carries correlation id %q", g.ID, g.CorrelationID)
			}
		}
	}
	find("after Create", sent.CorrelationID, ev.ID)
	find("of an unknown id", s.corr(t))
	edited := ev
	edited.Title = "Tagged, renamed by the user"
	s.put(t, tg, edited)
	find("after a user's edit", sent.CorrelationID, ev.ID)
	other := s.target(t)
	if other.Account != tg.Account || other.Calendar != tg.Calendar {
		got, err := s.h.Provider.FindByCorrelation(ctx, other, sent.CorrelationID)
		if err != nil || len(got) != 0 {
			t.Errorf("FindByCorrelation in another calendar = %v, %v; want nothing", idsOf(got), err)
		}
	}
}

// throttled checks that a throttled service gives a typed error with its hint.
func (s *suite) throttled(t *testing.T) {
	if s.h.Throttle == nil {
		t.Skip("the Harness cannot throttle the service")
	}
	tg := s.target(t)
	ev := s.create(t, tg, s.simple(t, "Throttled", 2))
	want, restore := s.h.Throttle(t, tg)
	calls := map[string]func() error{
		"Get": func() error { _, err := s.h.Provider.Get(s.ctx(t), tg, ev.ID); return err },
		"ListChanges": func() error {
			_, err := s.h.Provider.ListChanges(s.ctx(t), tg, sdk.ChangesRequest{Window: s.window()})
			return err
		},
	}
	for _, name := range sortedKeys(calls) {
		err := calls[name]()
		d, ok := sdk.RetryAfter(err)
		if !ok || !errors.Is(err, sdk.ErrThrottled) {
			t.Errorf("%s while throttled: %v, want sdk.ErrThrottled", name, err)
		} else if d != want {
			t.Errorf("%s while throttled: retry after %s, the service said %s", name, d, want)
		}
	}
	restore()
	s.get(t, tg, ev.ID)
}

// unauthenticated checks that a refused token is reported as such.
func (s *suite) unauthenticated(t *testing.T) {
	if s.h.BadCredential == nil {
		t.Skip("the Harness has no bad credential")
	}
	tg := s.target(t)
	ev := s.create(t, tg, s.simple(t, "Private", 2))
	bad := s.h.BadCredential(t, tg)
	_, err := s.h.Provider.Get(s.ctx(t), bad, ev.ID)
	mustBe(t, "Get with a refused token", err, sdk.ErrUnauthenticated)
	_, err = s.h.Provider.ListChanges(s.ctx(t), bad, sdk.ChangesRequest{Window: s.window()})
	mustBe(t, "ListChanges with a refused token", err, sdk.ErrUnauthenticated)
	s.get(t, tg, ev.ID) // the good token still works
}

// badResponses checks that broken answers are clean errors: never a panic, never
// "not found", never an empty calendar.
func (s *suite) badResponses(t *testing.T) {
	if s.h.BreakResponses == nil {
		t.Skip("the Harness cannot break the service's responses")
	}
	for _, kind := range []BadResponse{Garbage, Truncated} {
		s.run(t, string(kind), func(t *testing.T) {
			tg := s.target(t)
			ev := s.create(t, tg, s.simple(t, "Kept safe", 2))
			r := s.readRound(t, tg, "", 0)
			restore := s.h.BreakResponses(t, tg, kind)
			check := func(what string, err error) {
				t.Helper()
				switch {
				case err == nil:
					t.Errorf("%s with a %s answer succeeded", what, kind)
				case isNotFound(err):
					t.Errorf("%s with a %s answer says not found: %v", what, kind, err)
				case strings.Contains(err.Error(), "panicked"):
					t.Errorf("%s with a %s answer panicked: %v", what, kind, err)
				}
			}
			_, err := s.h.Provider.Get(s.ctx(t), tg, ev.ID)
			check("Get", err)
			_, err = s.h.Provider.ListChanges(s.ctx(t), tg, sdk.ChangesRequest{Window: s.window()})
			check("a full ListChanges", err)
			_, err = s.h.Provider.ListChanges(s.ctx(t), tg, sdk.ChangesRequest{Cursor: r.cursor, Window: s.window()})
			check("an incremental ListChanges", err)
			restore()
			s.get(t, tg, ev.ID)
		})
	}
}
