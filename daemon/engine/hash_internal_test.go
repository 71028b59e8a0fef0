package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// hashReference is the content hash as it was first written. Stored pairs hold
// its values, so hashWith must give the same for every event.
func hashReference(ev sdk.Event, endlessCut time.Time) string {
	var b strings.Builder
	field := func(name, v string) {
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(v))
		b.WriteByte('\n')
	}
	stampRef := func(t time.Time, allDay bool) string {
		if t.IsZero() {
			return ""
		}
		if allDay {
			return t.UTC().Format("2006-01-02")
		}
		return t.UTC().Truncate(time.Second).Format("20060102T150405Z")
	}
	normTextRef := func(s string) string {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			lines[i] = strings.TrimRight(l, " \t")
		}
		return strings.TrimSpace(strings.Join(lines, "\n"))
	}
	kind := ev.Kind
	if kind == "" {
		kind = sdk.KindSingle
	}
	field("kind", string(kind))
	field("title", strings.TrimSpace(ev.Title))
	field("description", normTextRef(ev.Description))
	field("location", strings.TrimSpace(ev.Location))
	field("allday", strconv.FormatBool(ev.AllDay))
	field("start", stampRef(ev.Start, ev.AllDay))
	field("end", stampRef(ev.End, ev.AllDay))
	if kind == sdk.KindMaster && !ev.AllDay {
		field("tz", ev.TimeZone)
	}
	if kind == sdk.KindException {
		field("original", stampRef(ev.OriginalStart, ev.AllDay))
	}
	if kind == sdk.KindMaster {
		for _, l := range normRecurrence(ev.Recurrence, ev, endlessCut) {
			field("rec", l)
		}
	}
	field("cancelled", strconv.FormatBool(ev.Cancelled))
	field("showas", string(orDefault(ev.ShowAs, sdk.ShowBusy)))
	field("privacy", string(orDefault(ev.Privacy, sdk.PrivacyPublic)))
	if ev.HasReminder {
		field("reminder", strconv.Itoa(ev.ReminderMinutes))
	}
	field("category", strings.TrimSpace(ev.Category))
	if ev.Organizer.Email != "" {
		field("organizer", strings.ToLower(strings.TrimSpace(ev.Organizer.Email)))
	}
	att := make([]string, 0, len(ev.Attendees))
	for _, a := range ev.Attendees {
		att = append(att, strings.ToLower(strings.TrimSpace(a.Email))+"|"+string(orDefault(a.Type, sdk.AttendeeRequired)))
	}
	slices.Sort(att)
	for _, a := range slices.Compact(att) {
		field("attendee", a)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}

// shapeReference is shapeOf as it was first written (intents on file hold its
// values).
func shapeReference(ev sdk.Event) string {
	kind := orSingle(ev.Kind)
	st := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		if ev.AllDay {
			return t.UTC().Format("2006-01-02")
		}
		return t.UTC().Truncate(time.Second).Format("20060102T150405Z")
	}
	parts := []string{string(kind), strings.TrimSpace(ev.Title), strconv.FormatBool(ev.AllDay), st(ev.Start), st(ev.End)}
	if kind == sdk.KindException {
		parts = append(parts, st(ev.OriginalStart))
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:16])
}

func TestHashUnchanged(t *testing.T) {
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 6, 7, 30, 15, 500, oslo)
	day := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	cases := []sdk.Event{
		{},
		{Title: "Plain", Start: at, End: at.Add(time.Hour)},
		{Title: "  Trim me \t", Description: "line one  \r\nline two\t\r\n\r\n  ", Location: " room ", Start: at, End: at.Add(time.Hour)},
		{Title: `quote " and \ backslash`, Description: "tab\tinside\nand a bell \a and \x00 nul", Start: at, End: at},
		{Title: "Unicode æøå 日本 \u00a0", Description: "no-break space at the end \u00a0\nnext", Start: at},
		{Title: "Invalid \xff UTF-8", Description: "\r only\rlines\r", Start: at},
		{Kind: sdk.KindSingle, AllDay: true, Title: "All day", Start: day, End: day.Add(48 * time.Hour)},
		{Kind: sdk.KindMaster, Title: "Series", Start: at, End: at.Add(time.Hour), TimeZone: "Europe/Oslo",
			Recurrence: []string{"RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20241231T230000Z", "EXDATE:20240513T053015Z,20240520T053015Z", "RDATE:20240601T080000Z"}},
		{Kind: sdk.KindMaster, AllDay: true, Title: "All-day series", Start: day, End: day.Add(24 * time.Hour), Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=5", "EXDATE;VALUE=DATE:20240508"}},
		{Kind: sdk.KindMaster, Title: "Endless", Start: at, End: at.Add(time.Hour), Recurrence: []string{"RRULE:FREQ=DAILY;UNTIL=20300101T000000Z"}},
		{Kind: sdk.KindException, Title: "Moved", Start: at.Add(2 * time.Hour), End: at.Add(3 * time.Hour), OriginalStart: at},
		{Title: "Meeting", Start: at, End: at.Add(time.Hour), HasReminder: true, ReminderMinutes: 15, Category: " Sales ", ShowAs: sdk.ShowTentative, Privacy: sdk.PrivacyPrivate, Cancelled: true,
			Organizer: sdk.Attendee{Email: " Boss@Example.com "},
			Attendees: []sdk.Attendee{{Email: "b@example.com"}, {Email: "A@example.com", Type: sdk.AttendeeOptional}, {Email: "b@example.com"}, {Email: "room@example.com", Type: sdk.AttendeeResource}}},
		{Title: "Negative reminder", Start: at, HasReminder: true, ReminderMinutes: -5},
	}
	cut := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for i, ev := range cases {
		for _, c := range []time.Time{{}, cut} {
			if got, want := hashWith(ev, c), hashReference(ev, c); got != want {
				t.Errorf("case %d (%q, cut %v): hash %s, want %s", i, ev.Title, !c.IsZero(), got, want)
			}
		}
		if got, want := shapeOf(ev), shapeReference(ev); got != want {
			t.Errorf("case %d (%q): shape %s, want %s", i, ev.Title, got, want)
		}
	}

	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("HASH_SEED"); v != "" {
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("HASH_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (replay with HASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	pieces := []string{"", " ", "\t", "\r\n", "\n", "\r", "a", "Ø", "\"", "\\", "\x01", "\xfe", "word ", " word", "\u00a0", "\u2028"}
	text := func() string {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	for range 2000 {
		ev := cases[rng.IntN(len(cases))]
		ev.Title, ev.Description, ev.Location, ev.Category = text(), text(), text(), text()
		ev.AllDay = rng.IntN(4) == 0
		ev.HasReminder, ev.ReminderMinutes = rng.IntN(2) == 0, rng.IntN(3000)-10
		ev.Start = at.Add(time.Duration(rng.Int64N(int64(400 * 24 * time.Hour))))
		ev.End = ev.Start.Add(time.Duration(rng.Int64N(int64(48 * time.Hour))))
		if rng.IntN(5) == 0 {
			ev.End = time.Time{}
		}
		for _, c := range []time.Time{{}, cut} {
			if got, want := hashWith(ev, c), hashReference(ev, c); got != want {
				t.Fatalf("event %+v (cut %v): hash %s, want %s", ev, !c.IsZero(), got, want)
			}
		}
		if got, want := shapeOf(ev), shapeReference(ev); got != want {
			t.Fatalf("event %+v: shape %s, want %s", ev, got, want)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	at := time.Date(2024, 5, 6, 7, 30, 0, 0, time.UTC)
	ev := sdk.Event{Title: "Customer meeting about the quarterly plan", Description: "Agenda, notes and follow-ups.\nSecond line.",
		Location: "Meeting room 4", Start: at, End: at.Add(time.Hour), TimeZone: "Europe/Oslo", HasReminder: true, ReminderMinutes: 15}
	b.ReportAllocs()
	for b.Loop() {
		Hash(ev)
	}
}
