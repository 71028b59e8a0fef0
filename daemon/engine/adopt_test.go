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

var errKilled = errors.New("process killed")

// process is the life of one simulated daemon process: once killed, every
// provider call and store write fails until the next start.
type process struct {
	mu   sync.Mutex
	dead bool
}

func (p *process) kill() { p.mu.Lock(); p.dead = true; p.mu.Unlock() }

func (p *process) start() { p.mu.Lock(); p.dead = false; p.mu.Unlock() }

func (p *process) alive() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return errKilled
	}
	return nil
}

// twoStepCreate is a provider whose create is two requests, as SuperOffice's
// is: the item, then its correlation id (here an update). killAfter makes the
// process die between the two requests of that create (1-based).
type twoStepCreate struct {
	engine.Endpoint
	proc      *process
	killAfter int
	creates   int
	// typed: the provider gives every new item a category of its own, as
	// SuperOffice gives every appointment a type, so the copy does not hash as
	// what was sent.
	typed bool
	// lose: instead of the process dying, the answer of the first request is
	// lost (a timeout after the service stored the item).
	lose bool
}

var errTimeout = errors.New("timeout awaiting the answer")

func (e *twoStepCreate) Create(ctx context.Context, ev sdk.Event) (sdk.Event, error) {
	if err := e.proc.alive(); err != nil {
		return sdk.Event{}, err
	}
	corr := ev.CorrelationID
	ev.CorrelationID = ""
	if e.typed && ev.Category == "" {
		ev.Category = "Meeting"
	}
	got, err := e.Endpoint.Create(ctx, ev)
	if err != nil {
		return got, err
	}
	e.creates++
	if e.creates == e.killAfter {
		if e.lose {
			return sdk.Event{}, errTimeout
		}
		e.proc.kill()
		return sdk.Event{}, errKilled
	}
	got.CorrelationID = corr
	return e.Endpoint.Update(ctx, got)
}

func (e *twoStepCreate) ListChanges(ctx context.Context, req sdk.ChangesRequest) (sdk.Changes, error) {
	if err := e.proc.alive(); err != nil {
		return sdk.Changes{}, err
	}
	return e.Endpoint.ListChanges(ctx, req)
}

func (e *twoStepCreate) Get(ctx context.Context, id string) (sdk.Event, error) {
	if err := e.proc.alive(); err != nil {
		return sdk.Event{}, err
	}
	return e.Endpoint.Get(ctx, id)
}

func (e *twoStepCreate) Update(ctx context.Context, ev sdk.Event) (sdk.Event, error) {
	if err := e.proc.alive(); err != nil {
		return sdk.Event{}, err
	}
	return e.Endpoint.Update(ctx, ev)
}

func (e *twoStepCreate) Delete(ctx context.Context, id, version string) error {
	if err := e.proc.alive(); err != nil {
		return err
	}
	return e.Endpoint.Delete(ctx, id, version)
}

func (e *twoStepCreate) FindByCorrelation(ctx context.Context, corr string) ([]sdk.Event, error) {
	if err := e.proc.alive(); err != nil {
		return nil, err
	}
	return e.Endpoint.FindByCorrelation(ctx, corr)
}

// mortalStore fails every write of a dead process.
type mortalStore struct {
	engine.Store
	proc *process
}

func (s mortalStore) Commit(ctx context.Context, link string, b engine.Batch) error {
	if err := s.proc.alive(); err != nil {
		return err
	}
	return s.Store.Commit(ctx, link, b)
}

// A process killed between a create and the request that tags the new item
// leaves an untagged copy. The next run adopts it instead of creating another,
// and writes the correlation id on it: each side ends with one copy of every
// item, all tagged, whichever side took the creates and whatever happened to
// the original before the restart.
func TestKillBetweenCreateAndTag(t *testing.T) {
	const n = 5
	cases := []struct {
		name string
		// target is the side whose create takes two steps.
		target engine.Side
		// killAfter is the create the process dies in.
		killAfter int
		typed     bool
		lose      bool
		// meanwhile is done to the original of the interrupted create before the
		// restart; it returns the title the copy must end with ("" = no copy).
		meanwhile func(h *enginetest.Harness, s engine.Side, title string) string
	}{
		{"into superoffice, first create", engine.SuperOffice, 1, false, false, nil},
		{"into superoffice, last create", engine.SuperOffice, n, false, false, nil},
		{"into the calendar", engine.Calendar, 3, false, false, nil},
		{"the copy stored with a type of its own", engine.SuperOffice, 3, true, false, nil},
		{"the answer of the first request lost", engine.SuperOffice, 2, true, true, nil},
		{"original edited before the restart", engine.SuperOffice, 2, true, false, func(h *enginetest.Harness, s engine.Side, title string) string {
			h.Clock.Advance(time.Minute)
			h.Edit(s, title, enginetest.Retitle(title+" edited"))
			return title + " edited"
		}},
		{"original deleted before the restart", engine.Calendar, 4, false, false, func(h *enginetest.Harness, s engine.Side, title string) string {
			h.Remove(s, title)
			return ""
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := enginetest.NewHarness(t, engine.Policy{})
			source := tc.target.Other()
			for i := range n {
				h.Calendar(source).Put(enginetest.Single(fmt.Sprintf("item %d", i), enginetest.T0.Add(time.Duration(i+1)*24*time.Hour)))
			}
			proc := &process{}
			ts := &twoStepCreate{Endpoint: h.Link.SuperOffice, proc: proc, killAfter: tc.killAfter, typed: tc.typed, lose: tc.lose}
			if tc.target == engine.Calendar {
				ts.Endpoint = h.Link.Calendar
				h.Link.Calendar = ts
			} else {
				h.Link.SuperOffice = ts
			}
			h.Cfg.Store = mortalStore{Store: h.Store, proc: proc}
			h.Rebuild()

			h.Clock.Advance(time.Minute)
			want := errKilled
			if tc.lose {
				want = errTimeout
			}
			if _, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{}); !errors.Is(err, want) {
				t.Fatalf("the run did not fail with %v: %v", want, err)
			}
			target := h.Calendar(tc.target)
			if got := target.Len(); got != tc.killAfter && !tc.lose {
				// (After a lost answer the run goes on with its other writes.)
				t.Fatalf("%s holds %d items after the kill, want %d", tc.target, got, tc.killAfter)
			}
			var orphan sdk.Event
			for _, ev := range target.Events() {
				if ev.CorrelationID == "" {
					orphan = ev
				}
			}
			if orphan.ID == "" {
				t.Fatalf("no untagged item on %s after the kill", tc.target)
			}
			title := orphan.Title
			if tc.meanwhile != nil {
				title = tc.meanwhile(h, source, orphan.Title)
			}

			// Start again (or, after a lost answer, go on): settle what was left,
			// then sync until quiet.
			h.Clock.Advance(time.Minute)
			if !tc.lose {
				proc.start()
				h.Rebuild()
				if err := h.Eng.Recover(context.Background(), h.Link); err != nil {
					t.Fatalf("recover: %v", err)
				}
			}
			h.Settle()

			wantN := n
			if title == "" {
				wantN = n - 1
			}
			if h.SO.Len() != wantN || h.Cal.Len() != wantN || h.Pairs() != wantN {
				t.Fatalf("superoffice %d, calendar %d, pairs %d; want %d each\nsuperoffice: %s\ncalendar: %s",
					h.SO.Len(), h.Cal.Len(), h.Pairs(), wantN, enginetest.Titles(h.SO), enginetest.Titles(h.Cal))
			}
			if !tc.typed {
				h.RequireSame()
			}
			h.RequireTagged()
			cur, ok := target.Event(orphan.ID)
			switch {
			case title == "" && ok:
				t.Errorf("the untagged copy of a deleted original is still there: %+v", cur)
			case title != "" && !ok:
				t.Errorf("the untagged copy was not adopted (a new one was made)")
			case title != "" && (cur.Title != title || cur.CorrelationID == ""):
				t.Errorf("adopted copy = %q tagged %q, want %q with a correlation id", cur.Title, cur.CorrelationID, title)
			}
			if res := h.Run(); len(res.Plan) != 0 {
				t.Errorf("a quiet run plans %v", res.Plan)
			}
		})
	}
}
