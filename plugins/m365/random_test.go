package m365

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/m365/internal/wintz"
)

// seedFor returns the seed of a randomized test: $M365_TEST_SEED to replay a failure,
// else a fresh one. It is logged either way.
func seedFor(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("M365_TEST_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("M365_TEST_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("seed %d (replay with M365_TEST_SEED=%d)", seed, seed)
	return seed
}

// Random patterns, ranges, zones and starts: the emulator's own expansion of Graph's
// pattern and rrule-go's expansion of the RRULE the provider derives from it agree,
// and the RRULE maps back to the same pattern.
func TestRandomPatternsAgree(t *testing.T) {
	seed := seedFor(t)
	rng := rand.New(rand.NewPCG(seed, 17))
	e := newEnv(t, graphtest.Options{RateLimit: -1})
	zones := []string{"W. Europe Standard Time", "Eastern Standard Time", "UTC", "Tokyo Standard Time", "AUS Eastern Standard Time", "Europe/London"}
	types := []string{"daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"}
	for i := 0; i < 150; i++ {
		zone := zones[rng.IntN(len(zones))]
		loc, _, _ := wintz.Resolve(zone)
		day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(700))
		start := time.Date(day.Year(), day.Month(), day.Day(), rng.IntN(24), 15*rng.IntN(4), 0, 0, loc)
		typ := types[rng.IntN(len(types))]
		p := gPattern{Type: typ, Interval: 1 + rng.IntN(3), FirstDayOfWeek: graphDays[rng.IntN(7)]}
		switch typ {
		case "weekly", "relativeMonthly", "relativeYearly":
			for d := 0; d < 7; d++ {
				if rng.IntN(3) == 0 {
					p.DaysOfWeek = append(p.DaysOfWeek, graphDays[d])
				}
			}
			if len(p.DaysOfWeek) == 0 {
				p.DaysOfWeek = []string{graphDays[start.Weekday()]}
			}
		}
		if typ == "relativeMonthly" || typ == "relativeYearly" {
			p.Index = []string{"first", "second", "third", "fourth", "last"}[rng.IntN(5)]
		}
		if typ == "absoluteMonthly" || typ == "absoluteYearly" {
			p.DayOfMonth = 1 + rng.IntN(28) // 29-31 differ by design (Outlook clamps, RRULE skips)
		}
		if typ == "absoluteYearly" || typ == "relativeYearly" {
			p.Month = 1 + rng.IntN(12)
			p.Interval = 1
		}
		r := gRange{Type: []string{"noEnd", "numbered", "endDate"}[rng.IntN(3)], StartDate: start.Format("2006-01-02"), RecurrenceTimeZone: zone}
		switch r.Type {
		case "numbered":
			r.NumberOfOccurrences = 1 + rng.IntN(30)
		case "endDate":
			r.EndDate = start.AddDate(0, 0, 1+rng.IntN(900)).Format("2006-01-02")
		}
		rec := &gRecurrence{Pattern: p, Range: r}
		body := map[string]any{
			"subject":    "random",
			"start":      map[string]string{"dateTime": start.Format("2006-01-02T15:04:05"), "timeZone": zone},
			"end":        map[string]string{"dateTime": start.Add(45 * time.Minute).Format("2006-01-02T15:04:05"), "timeZone": zone},
			"recurrence": rec,
		}
		st, out := e.graphDo("POST", "/users/user1@m365.test/calendar/events", body)
		if st == 400 && strings.Contains(fmt.Sprint(out), "no occurrence in its range") {
			continue // an empty range, refused like Outlook refuses it
		}
		if st != 201 {
			t.Fatalf("case %d (seed %d): create %+v: %d %v", i, seed, rec, st, out)
		}
		id := out["id"].(string)
		from, to := start.AddDate(0, 0, -1), start.AddDate(3, 0, 0)
		graph := e.instanceStarts("user1@m365.test", id, from, to)
		g, err := e.p.connect(e.target("user1@m365.test"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := g.getItem(e.ctx, id, "read")
		if err != nil {
			t.Fatal(err)
		}
		rule, err := ruleOf(m)
		if err != nil {
			t.Fatalf("case %d (seed %d): %v", i, seed, err)
		}
		want, err := expand(rule.line, rule.dtstart, from, to)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want {
			want[k] = want[k].UTC()
		}
		if !slices.EqualFunc(want, graph, time.Time.Equal) {
			k := 0
			for k < len(want) && k < len(graph) && want[k].Equal(graph[k]) {
				k++
			}
			at := func(ts []time.Time) string {
				if k < len(ts) {
					return ts[k].String()
				}
				return "(none)"
			}
			t.Fatalf("case %d (seed %d): %+v from %s: RRULE %s: %d vs %d occurrences, first difference at %d: rrule %s, graph %s", i, seed, *rec, start, rule.line, len(want), len(graph), k, at(want), at(graph))
		}
		// The master starts at the first occurrence; the range keeps its own start date.
		rs, _ := time.Parse("2006-01-02", m.Recurrence.Range.StartDate)
		from0 := time.Date(rs.Year(), rs.Month(), rs.Day(), rule.dtstart.Hour(), rule.dtstart.Minute(), 0, 0, rule.dtstart.Location())
		back, err := fromRRule(rule.line, from0, from0.Location(), false, zone)
		if err != nil || !sameRecurrence(back, m.Recurrence) {
			t.Fatalf("case %d (seed %d): %s maps back to %+v (%v), want %+v", i, seed, rule.line, back, err, m.Recurrence)
		}
		e.graphDo("DELETE", "/users/user1@m365.test/events/"+id, nil)
	}
}
