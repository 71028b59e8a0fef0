package bench

import (
	"slices"
	"testing"
	"time"
)

// Two people, each linked in both profiles: their diaries are shared by two
// links each.
func testLayout() layout {
	return layout{accounts: []account{
		{Profile: profileM365, Link: "user1", Associate: 3, Calendar: sideM365, Mailbox: "user1@m365.test"},
		{Profile: profileM365, Link: "user2", Associate: 4, Calendar: sideM365, Mailbox: "user2@m365.test"},
		{Profile: profileGoogle, Link: "user1", Associate: 3, Calendar: sideGoogle, Mailbox: "user1@google.test"},
		{Profile: profileGoogle, Link: "user2", Associate: 4, Calendar: sideGoogle, Mailbox: "user2@google.test"},
	}}
}

func TestExpected(t *testing.T) {
	l := testLayout()
	before := &contents{seeded: map[string]multiset{
		"superoffice/3": {"a": 1, "b": 2}, "m365/user1@m365.test": {"c": 1}, "google/user1@google.test": {"d": 1},
		"superoffice/4": {}, "m365/user2@m365.test": {"e": 1}, "google/user2@google.test": {},
	}}
	want := l.expected(before)
	cases := map[string]multiset{
		// A diary keeps its own and gains every linked calendar's.
		"superoffice/3": {"a": 1, "b": 2, "c": 1, "d": 1},
		// A calendar keeps its own and gains its diary's (not the other calendar's).
		"m365/user1@m365.test":     {"a": 1, "b": 2, "c": 1},
		"google/user1@google.test": {"a": 1, "b": 2, "d": 1},
		"superoffice/4":            {"e": 1},
		"m365/user2@m365.test":     {"e": 1},
		"google/user2@google.test": {},
	}
	for p, w := range cases {
		got := want[p]
		for k := range got {
			if got[k] == 0 {
				delete(got, k)
			}
		}
		if len(got) != len(w) {
			t.Errorf("%s: %v, want %v", p, got, w)
			continue
		}
		for k, n := range w {
			if got[k] != n {
				t.Errorf("%s: %v, want %v", p, got, w)
			}
		}
	}
}

func TestCompare(t *testing.T) {
	slot := time.Date(2030, 1, 2, 1, 0, 0, 0, time.UTC)
	bench := func(title string, at time.Time) occurrence {
		return occurrence{ID: title, Title: title, Start: at, End: at.Add(slotLength)}
	}
	key := bench("", slot).key()
	item := func(title string, deleted bool, places ...string) *benchItem {
		return &benchItem{slot: slot, title: title, deleted: deleted, places: places}
	}
	so, m365, google := "superoffice/3", "m365/user1@m365.test", "google/user1@google.test"
	want := map[string]multiset{so: {"k1": 2}, m365: {"k1": 1}}
	cases := []struct {
		name                    string
		seeded                  map[string]multiset
		benchAt                 map[string][]occurrence
		items                   []*benchItem
		skip                    map[string]map[string]bool
		dups, missing, lost, cm int64
	}{
		{"all in place", map[string]multiset{so: {"k1": 2}, m365: {"k1": 1}}, nil, nil, nil, 0, 0, 0, 3},
		{"a seeded duplicate and a lost one", map[string]multiset{so: {"k1": 3}, m365: {}}, nil, nil, nil, 1, 1, 0, 3},
		{"a meeting left out", map[string]multiset{so: {"k1": 5}, m365: {}}, nil, nil,
			map[string]map[string]bool{so: {"k1": true}, m365: {"k1": true}}, 0, 0, 0, 0},
		{"an edited item everywhere", nil, map[string][]occurrence{so: {bench("bench x (edit)", slot)}, m365: {bench("bench x (edit)", slot)}},
			[]*benchItem{item("bench x (edit)", false, so, m365)}, nil, 0, 3, 0, 5},
		{"an edit lost on one side", nil, map[string][]occurrence{so: {bench("bench x (edit)", slot)}, m365: {bench("bench x", slot)}},
			[]*benchItem{item("bench x (edit)", false, so, m365)}, nil, 0, 3, 1, 5},
		{"a deleted item back", nil, map[string][]occurrence{so: {bench("bench x", slot)}},
			[]*benchItem{item("bench x", true, so, m365)}, nil, 0, 3, 1, 5},
		{"two copies", nil, map[string][]occurrence{so: {bench("bench x", slot), bench("bench x", slot)}, m365: {bench("bench x", slot)}},
			[]*benchItem{item("bench x", false, so, m365)}, nil, 1, 3, 0, 5},
		{"copied where it does not belong", nil, map[string][]occurrence{so: {bench("bench x", slot)}, m365: {bench("bench x", slot)}, google: {bench("bench x", slot)}},
			[]*benchItem{item("bench x", false, so, m365)}, nil, 1, 3, 0, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			after := &contents{seeded: c.seeded, names: map[string]map[string][]string{}, bench: map[string]map[string][]occurrence{}}
			for p, occs := range c.benchAt {
				after.bench[p] = map[string][]occurrence{key: occs}
			}
			v := compare(want, c.skip, c.items, after)
			if v.Duplicates != c.dups || v.Missing != c.missing || v.LostEdits != c.lost || v.Compared != c.cm {
				t.Errorf("duplicates %d missing %d lost %d compared %d, want %d %d %d %d (%q)",
					v.Duplicates, v.Missing, v.LostEdits, v.Compared, c.dups, c.missing, c.lost, c.cm, v.Examples)
			}
		})
	}
}

// A meeting at a time in any place of a diary's group is left out on every
// place of the group, and only there.
func TestMeetingKeys(t *testing.T) {
	l := testLayout()
	before := &contents{meetings: map[string]map[string]bool{"superoffice/3": {"m": true}}}
	after := &contents{meetings: map[string]map[string]bool{"google/user2@google.test": {"n": true}}}
	skip := l.meetingKeys(before, after)
	for _, p := range []string{"superoffice/3", "m365/user1@m365.test", "google/user1@google.test"} {
		if !skip[p]["m"] || skip[p]["n"] {
			t.Errorf("%s: %v", p, skip[p])
		}
	}
	for _, p := range []string{"superoffice/4", "m365/user2@m365.test", "google/user2@google.test"} {
		if skip[p]["m"] || !skip[p]["n"] {
			t.Errorf("%s: %v", p, skip[p])
		}
	}
}

func TestPlacesFor(t *testing.T) {
	c := &changer{layout: testLayout()}
	a := testLayout().accounts[0]
	if got := c.placesFor(a, sideSuperOffice); !slices.Equal(got, []string{"superoffice/3", "m365/user1@m365.test", "google/user1@google.test"}) {
		t.Errorf("from the diary: %v", got)
	}
	if got := c.placesFor(a, sideM365); !slices.Equal(got, []string{"m365/user1@m365.test", "superoffice/3"}) {
		t.Errorf("from the calendar: %v", got)
	}
}

// Slots never repeat and stay at night, away from the seeded items.
func TestSlots(t *testing.T) {
	s := &slots{base: time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)}
	seen := map[time.Time]bool{}
	for range 500 {
		at := s.next()
		if seen[at] {
			t.Fatalf("slot %v given twice", at)
		}
		seen[at] = true
		if h := at.Hour(); h < 1 || h >= 6 || !at.After(s.base) {
			t.Fatalf("slot %v is not at night after the start", at)
		}
	}
}

func TestShows(t *testing.T) {
	slot := time.Date(2030, 1, 2, 1, 0, 0, 0, time.UTC)
	it := &benchItem{slot: slot, title: "bench r #1 (edit)"}
	at := func(title string, start time.Time) occurrence {
		return occurrence{ID: "id-" + title, Title: title, Start: start, End: start.Add(slotLength)}
	}
	c := &changer{}
	cases := []struct {
		op     string
		occs   []occurrence
		wantID string
		want   bool
	}{
		{"edit", []occurrence{at("bench r #1", slot)}, "", false},
		{"edit", []occurrence{at("bench r #1 (edit)", slot)}, "id-bench r #1 (edit)", true},
		{"edit", []occurrence{at("bench r #1 (edit)", slot.Add(time.Minute))}, "", false},
		{"edit", []occurrence{at("Lunch", slot)}, "", false},
		{"delete", []occurrence{at("bench r #1", slot)}, "", false},
		{"delete", []occurrence{at("Lunch", slot)}, "", true},
		{"delete", nil, "", true},
	}
	for i, tc := range cases {
		id, ok := c.shows(it, tc.occs, tc.op)
		if id != tc.wantID || ok != tc.want {
			t.Errorf("case %d (%s): %q %v, want %q %v", i, tc.op, id, ok, tc.wantID, tc.want)
		}
	}
}
