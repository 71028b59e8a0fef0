package m365

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
)

// host is what a sync engine learns from ListChanges: the latest state of every item
// reported, minus confirmed deletions.
type host struct {
	items map[string]sdk.Event
}

func (h *host) apply(t *testing.T, e *env, tg sdk.Target, evs []sdk.Event, removed []string, full bool) {
	t.Helper()
	if full {
		h.items = map[string]sdk.Event{}
	}
	for _, ev := range evs {
		h.items[ev.ID] = ev
	}
	for _, id := range removed {
		if _, err := e.p.Get(e.ctx, tg, id); errors.Is(err, sdk.ErrNotFound) {
			delete(h.items, id)
		} else if err != nil {
			t.Fatalf("confirm removal of %s: %v", id, err)
		}
	}
}

// Random edits in Outlook and through the provider, a sliding window, expired
// tokens and a flaky service: after every round the host's picture of the window
// equals a fresh full read. Steps: $M365_MODEL_STEPS (default 40); seed:
// $M365_TEST_SEED.
func TestRandomizedRounds(t *testing.T) {
	seed := seedFor(t)
	steps := 40
	if v, err := strconv.Atoi(os.Getenv("M365_MODEL_STEPS")); err == nil && v > 0 {
		steps = v
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	e := newEnv(t, graphtest.Options{RateLimit: -1, Seed: int64(seed)})
	tg := e.target("user1@m365.test")
	h := &host{items: map[string]sdk.Event{}}
	cursor := ""
	var singles, masters []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: "+format, append([]any{seed}, args...)...)
	}
	randTime := func() time.Time {
		return e.clk.Now().Add(time.Duration(rng.IntN(480)-50) * 24 * time.Hour).Truncate(time.Hour).Add(time.Duration(rng.IntN(10)) * time.Hour)
	}
	dtz := func(t time.Time) map[string]string {
		return map[string]string{"dateTime": t.UTC().Format("2006-01-02T15:04:05"), "timeZone": "UTC"}
	}
	for step := 0; step < steps; step++ {
		for n := 1 + rng.IntN(4); n > 0; n-- {
			switch op := rng.IntN(10); {
			case op < 3: // a single, from Outlook or from the other side
				st := randTime()
				if rng.IntN(2) == 0 {
					_, out := e.graphDo("POST", "/users/user1@m365.test/calendar/events", map[string]any{"subject": fmt.Sprintf("o%d", step), "start": dtz(st), "end": dtz(st.Add(time.Hour))})
					singles = append(singles, out["id"].(string))
				} else {
					ev := e.create(tg, sdk.Event{Title: fmt.Sprintf("s%d", step), CorrelationID: fmt.Sprintf("c%d-%d", step, n), Start: st, TimeZone: "Europe/Berlin"})
					singles = append(singles, ev.ID)
				}
			case op < 5 && len(singles) > 0: // an edit, sometimes moving it in or out of the window
				id := singles[rng.IntN(len(singles))]
				body := map[string]any{"subject": fmt.Sprintf("edit%d", step)}
				if rng.IntN(2) == 0 {
					st := randTime()
					body["start"], body["end"] = dtz(st), dtz(st.Add(30*time.Minute))
				}
				e.graphDo("PATCH", "/users/user1@m365.test/events/"+id, body)
			case op < 6 && len(singles) > 0: // a delete
				i := rng.IntN(len(singles))
				if rng.IntN(2) == 0 {
					e.graphDo("DELETE", "/users/user1@m365.test/events/"+singles[i], nil)
				} else if err := e.p.Delete(e.ctx, tg, singles[i], ""); err != nil {
					fail("delete: %v", err)
				}
				singles = slices.Delete(singles, i, i+1)
			case op < 7: // a series
				st := randTime()
				_, out := e.graphDo("POST", "/users/user1@m365.test/calendar/events", map[string]any{"subject": fmt.Sprintf("series%d", step), "start": dtz(st), "end": dtz(st.Add(time.Hour)),
					"recurrence": map[string]any{"pattern": map[string]any{"type": []string{"daily", "weekly"}[rng.IntN(2)], "interval": 1, "daysOfWeek": []string{graphDays[st.Weekday()]}}, "range": map[string]any{"type": "numbered", "numberOfOccurrences": 3 + rng.IntN(10), "startDate": st.Format("2006-01-02")}}})
				if id, ok := out["id"].(string); ok {
					masters = append(masters, id)
				}
			case op < 9 && len(masters) > 0: // an occurrence cancelled or changed
				m := masters[rng.IntN(len(masters))]
				inst := e.instanceIDs("user1@m365.test", m)
				if len(inst) == 0 {
					break
				}
				occ := inst[rng.IntN(len(inst))]
				switch rng.IntN(3) {
				case 0:
					e.graphDo("DELETE", "/users/user1@m365.test/events/"+occ, nil)
				case 1:
					e.graphDo("PATCH", "/users/user1@m365.test/events/"+occ, map[string]any{"subject": fmt.Sprintf("exc%d", step)})
				default: // moved: the first occurrence may go days earlier; others get refused past a neighbour
					_, cur := e.graphDo("GET", "/users/user1@m365.test/events/"+occ, nil)
					st, err := parseDTZ(&gDTZ{DateTime: cur["start"].(map[string]any)["dateTime"].(string), TimeZone: "UTC"})
					if err != nil {
						fail("%v", err)
					}
					st = st.Add(time.Duration(rng.IntN(120)-96) * time.Hour)
					e.graphDo("PATCH", "/users/user1@m365.test/events/"+occ, map[string]any{"subject": fmt.Sprintf("moved%d", step), "start": dtz(st), "end": dtz(st.Add(time.Hour))})
				}
			default:
				e.clk.Advance(time.Duration(rng.IntN(72)) * time.Hour)
			}
		}
		switch rng.IntN(20) {
		case 0:
			e.srv.ExpireCursors()
		case 1:
			postFaults(t, e, `{"replay":0.5,"empty_pages":0.3}`)
		case 2:
			postFaults(t, e, `{}`)
		}
		// The host's round (restarting from scratch when the cursor expired).
		w := e.window()
		for attempt := 0; ; attempt++ {
			evs, removed, full, next, err := e.tryRound(tg, cursor, w, 10+rng.IntN(40))
			if errors.Is(err, sdk.ErrFullSyncRequired) && attempt == 0 {
				cursor = ""
				continue
			}
			if err != nil {
				fail("step %d: %v", step, err)
			}
			h.apply(t, e, tg, evs, removed, full)
			cursor = next
			break
		}
		// Truth: a fresh full read of the window.
		truth, _, _, _ := e.round(tg, "", w, 1000)
		for _, want := range truth {
			got, ok := h.items[want.ID]
			if !ok {
				fail("step %d: the host never heard of %s %q (%s)", step, want.Kind, want.Title, want.ID)
			}
			if got.Version != want.Version || got.Title != want.Title || !got.Start.Equal(want.Start) || !slices.Equal(got.Recurrence, want.Recurrence) {
				fail("step %d: stale %s %q: host has %q %s %v, truth %q %s %v", step, want.Kind, want.ID, got.Title, got.Start, got.Recurrence, want.Title, want.Start, want.Recurrence)
			}
		}
		inTruth := byID(truth)
		for id, ev := range h.items {
			if _, ok := inTruth[id]; ok {
				continue
			}
			if ev.Kind == sdk.KindSingle && !w.Contains(ev.Start, ev.End) {
				continue // left the window: frozen
			}
			if _, err := e.p.Get(e.ctx, tg, id); errors.Is(err, sdk.ErrNotFound) {
				fail("step %d: the host still holds deleted %s %q (%s)", step, ev.Kind, ev.Title, id)
			} else if ev.Kind == sdk.KindSingle {
				fail("step %d: the host holds %q in the window at %s, but it is not there", step, ev.Title, ev.Start)
			}
		}
	}
}

// tryRound is round without failing the test, for rounds that may hit an expired token.
func (e *env) tryRound(t sdk.Target, cursor string, w sdk.Window, pageSize int) (events []sdk.Event, removed []string, full bool, next string, err error) {
	for i := 0; i < 10000; i++ {
		ch, err := e.p.ListChanges(e.ctx, t, sdk.ChangesRequest{Cursor: cursor, Window: w, PageSize: pageSize})
		if err != nil {
			return nil, nil, false, "", err
		}
		events = append(events, ch.Events...)
		removed = append(removed, ch.Removed...)
		full = full || ch.Full
		cursor = ch.Cursor
		if !ch.More {
			return events, removed, full, cursor, nil
		}
	}
	return nil, nil, false, "", fmt.Errorf("the round did not end")
}
