package bench

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A place is one diary or calendar: "superoffice/3", "m365/user1@m365.test".
func soPlace(associate int) string { return sideSuperOffice + "/" + strconv.Itoa(associate) }
func calPlace(a account) string    { return a.Calendar + "/" + a.Mailbox }
func placeOf(a account, side string) string {
	if side == sideSuperOffice {
		return soPlace(a.Associate)
	}
	return calPlace(a)
}

// multiset counts occurrences by key.
type multiset map[string]int

// contents is what a listing of every place found: the seeded items as
// multisets, and the benchmark's own items by place and slot.
type contents struct {
	seeded map[string]multiset
	// names are the seeded occurrences' titles and ids by place and key, to
	// name what differs.
	names map[string]map[string][]string
	bench map[string]map[string][]occurrence // place -> slot key -> occurrences
	// meetings are the keys of items with participants, by place.
	meetings map[string]map[string]bool
}

// layout knows which places exist and which links share a diary.
type layout struct {
	accounts []account
}

// places lists every diary and calendar once, diaries first.
func (l layout) places() []string {
	seen := map[string]bool{}
	var so, cal []string
	for _, a := range l.accounts {
		if p := soPlace(a.Associate); !seen[p] {
			seen[p] = true
			so = append(so, p)
		}
		if p := calPlace(a); !seen[p] {
			seen[p] = true
			cal = append(cal, p)
		}
	}
	return append(so, cal...)
}

// readPlaces lists every place over [from, to) with up to workers requests at
// once.
func readPlaces(ctx context.Context, s *sides, l layout, from, to time.Time, workers int) (*contents, error) {
	byPlace := map[string]account{}
	sideOf := map[string]string{}
	for _, a := range l.accounts {
		if _, ok := byPlace[soPlace(a.Associate)]; !ok {
			byPlace[soPlace(a.Associate)], sideOf[soPlace(a.Associate)] = a, sideSuperOffice
		}
		byPlace[calPlace(a)], sideOf[calPlace(a)] = a, a.Calendar
	}
	places := l.places()
	out := &contents{seeded: map[string]multiset{}, names: map[string]map[string][]string{}, meetings: map[string]map[string]bool{},
		bench: map[string]map[string][]occurrence{}}
	var mu sync.Mutex
	var firstErr error
	work := make(chan string)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				occs, err := s.list(ctx, byPlace[p], sideOf[p], from, to)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				ms, names, bench, meets := multiset{}, map[string][]string{}, map[string][]occurrence{}, map[string]bool{}
				for _, o := range occs {
					if isBenchTitle(o.Title) {
						bench[o.key()] = append(bench[o.key()], o)
						continue
					}
					// Only occurrences that start inside the range: an item that
					// straddles its edge is in or out of the sync window depending
					// on the second it was looked at.
					if o.AllDay {
						if o.Day0 < from.UTC().Format(time.DateOnly) || o.Day0 >= to.UTC().Format(time.DateOnly) {
							continue
						}
					} else if o.Start.Before(from) || !o.Start.Before(to) {
						continue
					}
					ms[o.key()]++
					if o.Meeting {
						meets[o.key()] = true
					}
					names[o.key()] = append(names[o.key()], fmt.Sprintf("%q (%s)", o.Title, o.ID))
				}
				out.seeded[p], out.names[p], out.bench[p], out.meetings[p] = ms, names, bench, meets
				mu.Unlock()
			}
		}()
	}
	for _, p := range places {
		if ctx.Err() != nil {
			break
		}
		work <- p
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, ctx.Err()
}

// expected is what every place should hold once the links have synced, from
// what the places held before the daemon started: a calendar keeps its own items
// and gains its diary's; a diary keeps its own and gains those of every calendar
// linked to it. Items a link wrote into a diary are that link's: the diary's
// other links leave them alone.
//
// Meetings are left out, on every side of every diary and calendar that holds
// one at that time before or after: their copies follow the participants (one
// row per participant in SuperOffice, the organizer's event distributed by
// Google, per-link copies in Microsoft 365), which this count does not model.
func (l layout) expected(before *contents) map[string]multiset {
	out := map[string]multiset{}
	add := func(dst string, src multiset) {
		if out[dst] == nil {
			out[dst] = multiset{}
		}
		for k, n := range src {
			out[dst][k] += n
		}
	}
	for _, p := range l.places() {
		add(p, before.seeded[p])
	}
	for _, a := range l.accounts {
		add(calPlace(a), before.seeded[soPlace(a.Associate)])
		add(soPlace(a.Associate), before.seeded[calPlace(a)])
	}
	return out
}

// meetingKeys are the keys left out of the comparison, by place: a key where
// any place of a diary's group (the diary and every calendar linked to it)
// holds a meeting, before or after, is left out on all of them.
func (l layout) meetingKeys(sets ...*contents) map[string]map[string]bool {
	group := map[string][]string{} // diary -> its places
	for _, a := range l.accounts {
		d := soPlace(a.Associate)
		if !slices.Contains(group[d], d) {
			group[d] = append(group[d], d)
		}
		if !slices.Contains(group[d], calPlace(a)) {
			group[d] = append(group[d], calPlace(a))
		}
	}
	out := map[string]map[string]bool{}
	for _, places := range group {
		keys := map[string]bool{}
		for _, c := range sets {
			for _, p := range places {
				for k := range c.meetings[p] {
					keys[k] = true
				}
			}
		}
		for _, p := range places {
			if out[p] == nil {
				out[p] = map[string]bool{}
			}
			for k := range keys {
				out[p][k] = true
			}
		}
	}
	return out
}

// verdict is the outcome of a comparison.
type verdict struct {
	Compared, Duplicates, Missing, LostEdits int64
	// Meetings counts the items left out as meetings.
	Meetings int64
	// Examples name a few of the differences found, for the report.
	Examples []string
}

func (v *verdict) example(format string, args ...any) {
	if len(v.Examples) < 20 {
		v.Examples = append(v.Examples, fmt.Sprintf(format, args...))
	}
}

// compare checks the places after the run against what they should hold: the
// seeded items by multiset, and every item the benchmark wrote by its last
// state.
func compare(want map[string]multiset, skip map[string]map[string]bool, items []*benchItem, after *contents) verdict {
	var v verdict
	places := make([]string, 0, len(want))
	for p := range want {
		places = append(places, p)
	}
	sort.Strings(places)
	for _, p := range places {
		got := after.seeded[p]
		keys := map[string]bool{}
		for k := range want[p] {
			keys[k] = true
		}
		for k := range got {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			w, g := want[p][k], got[k]
			if skip[p][k] {
				v.Meetings += int64(max(w, g))
				continue
			}
			v.Compared += int64(w)
			switch {
			case g > w:
				v.Duplicates += int64(g - w)
				v.example("%s: %d items at %s, want %d: %s", p, g, k, w, strings.Join(after.names[p][k], ", "))
			case g < w:
				v.Missing += int64(w - g)
				v.example("%s: %d items at %s, want %d: %s", p, g, k, w, strings.Join(after.names[p][k], ", "))
			}
		}
	}
	expectedAt := map[string]map[string]bool{} // place -> slot key -> an item belongs there
	for _, it := range items {
		key := it.key()
		for _, p := range it.places {
			if expectedAt[p] == nil {
				expectedAt[p] = map[string]bool{}
			}
			expectedAt[p][key] = true
			occs := after.bench[p][key]
			v.Compared++
			switch {
			case it.deleted && len(occs) > 0:
				v.LostEdits += int64(len(occs))
				v.example("%s: %q was deleted but is still there", p, it.title)
			case it.deleted:
			case len(occs) == 0:
				v.LostEdits++
				v.example("%s: %q is missing", p, it.title)
			default:
				if len(occs) > 1 {
					v.Duplicates += int64(len(occs) - 1)
					v.example("%s: %d copies of %q", p, len(occs), it.title)
				}
				found := false
				for _, o := range occs {
					found = found || o.Title == it.title
				}
				if !found {
					v.LostEdits++
					v.example("%s: %q shows as %q", p, it.title, occs[0].Title)
				}
			}
		}
	}
	// The benchmark's items where none belongs: copied where they should not be.
	for p, slots := range after.bench {
		for key, occs := range slots {
			if !expectedAt[p][key] {
				v.Duplicates += int64(len(occs))
				v.example("%s: %q should not be there", p, occs[0].Title)
			}
		}
	}
	return v
}
