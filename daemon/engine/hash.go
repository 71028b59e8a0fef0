package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/sdk"
)

// Hash is the content hash of ev over the synced fields, as mapped to the neutral
// model. Ids, versions, timestamps, provider extras, HTML formatting and attendees'
// answers are left out, so that a new etag with the same content, or the echo of
// our own write, hashes the same. Text is compared after trimming and line-end
// normalisation; instants in UTC to the second; all-day events by date.
func Hash(ev sdk.Event) string { return hashWith(ev, time.Time{}) }

// hashWith hashes ev; a non-zero endlessCut treats a series end at or after it as
// no end (a provider's horizon on a series that had none).
//
// What is hashed is one line per field, `name="value"\n` with the value quoted
// as strconv.Quote does; stored pairs hold these hashes, so the bytes must never
// change. They are built in one buffer (hashes are taken several times per item
// and run).
func hashWith(ev sdk.Event, endlessCut time.Time) string {
	var arr [768]byte
	b := arr[:0]
	field := func(name, v string) {
		b = append(b, name...)
		b = append(b, '=')
		b = strconv.AppendQuote(b, v)
		b = append(b, '\n')
	}
	// A stamp is digits, letters and dashes: quoted, it is only wrapped.
	stampField := func(name string, t time.Time, allDay bool) {
		b = append(b, name...)
		b = append(b, '=', '"')
		b = appendStamp(b, t, allDay)
		b = append(b, '"', '\n')
	}
	kind := ev.Kind
	if kind == "" {
		kind = sdk.KindSingle
	}
	field("kind", string(kind))
	field("title", strings.TrimSpace(ev.Title))
	field("description", normText(ev.Description))
	field("location", strings.TrimSpace(ev.Location))
	field("allday", strconv.FormatBool(ev.AllDay))
	stampField("start", ev.Start, ev.AllDay)
	stampField("end", ev.End, ev.AllDay)
	if kind == sdk.KindMaster && !ev.AllDay {
		// Instants are authoritative for single events; a series needs its zone to
		// expand across DST.
		field("tz", ev.TimeZone)
	}
	if kind == sdk.KindException {
		stampField("original", ev.OriginalStart, ev.AllDay)
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
		b = append(b, "reminder=\""...)
		b = strconv.AppendInt(b, int64(ev.ReminderMinutes), 10)
		b = append(b, '"', '\n')
	}
	field("category", strings.TrimSpace(ev.Category))
	if ev.Organizer.Email != "" {
		field("organizer", strings.ToLower(strings.TrimSpace(ev.Organizer.Email)))
	}
	if len(ev.Attendees) > 0 {
		att := make([]string, 0, len(ev.Attendees))
		for _, a := range ev.Attendees {
			att = append(att, strings.ToLower(strings.TrimSpace(a.Email))+"|"+string(orDefault(a.Type, sdk.AttendeeRequired)))
		}
		slices.Sort(att)
		for _, a := range slices.Compact(att) {
			field("attendee", a)
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// shapeOf identifies an item by what every provider stores as it was sent:
// kind, title, all-day, start and end (and the original start of an exception).
// The parts are joined by NUL bytes; intents on file hold these values.
func shapeOf(ev sdk.Event) string {
	kind := orSingle(ev.Kind)
	var arr [256]byte
	b := append(arr[:0], kind...)
	b = append(b, 0)
	b = append(b, strings.TrimSpace(ev.Title)...)
	b = append(b, 0)
	b = strconv.AppendBool(b, ev.AllDay)
	b = append(b, 0)
	b = appendStamp(b, ev.Start, ev.AllDay)
	b = append(b, 0)
	b = appendStamp(b, ev.End, ev.AllDay)
	if kind == sdk.KindException {
		b = append(b, 0)
		b = appendStamp(b, ev.OriginalStart, ev.AllDay)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func orDefault[T ~string](v, d T) T {
	if v == "" {
		return d
	}
	return v
}

func normText(s string) string {
	if !strings.ContainsRune(s, '\r') && !strings.Contains(s, " \n") && !strings.Contains(s, "\t\n") {
		return strings.TrimSpace(s) // nothing to normalise inside
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// stamp renders an instant for hashing: the date for all-day values, else UTC
// to the second.
func stamp(t time.Time, allDay bool) string {
	return string(appendStamp(nil, t, allDay))
}

func appendStamp(b []byte, t time.Time, allDay bool) []byte {
	if t.IsZero() {
		return b
	}
	if allDay {
		return t.UTC().AppendFormat(b, "2006-01-02")
	}
	return t.UTC().Truncate(time.Second).AppendFormat(b, "20060102T150405Z")
}

// isMeeting reports whether ev has participants.
func isMeeting(ev sdk.Event) bool {
	return len(ev.Attendees) > 0 || ev.Organizer.Email != ""
}
