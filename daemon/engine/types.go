package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"synchronizer/plugins/sdk"
)

// Side names one side of a link.
type Side string

const (
	SuperOffice Side = "superoffice"
	Calendar    Side = "calendar"
)

// sides lists both sides in a fixed order.
var sides = [2]Side{SuperOffice, Calendar}

// Sides returns both sides: superoffice, calendar.
func Sides() [2]Side { return sides }

// Other returns the opposite side.
func (s Side) Other() Side {
	if s == SuperOffice {
		return Calendar
	}
	return SuperOffice
}

// Valid reports whether s is one of the two sides.
func (s Side) Valid() bool { return s == SuperOffice || s == Calendar }

// Direction is the label a write toward s carries in metrics (to_calendar,
// to_superoffice).
func (s Side) Direction() string { return "to_" + string(s) }

func (s Side) index() int {
	if s == SuperOffice {
		return 0
	}
	return 1
}

// letter is the one-byte prefix of correlation ids derived from this side's items.
func (s Side) letter() byte {
	if s == SuperOffice {
		return 's'
	}
	return 'c'
}

// Direction is the profile's `direction` setting.
type Direction string

const (
	TwoWay        Direction = "two-way"
	ToCalendar    Direction = "to-calendar"
	ToSuperOffice Direction = "to-superoffice"
)

// ConflictPolicy is the profile's `conflict` setting: who wins when both sides
// changed the same item since the last run.
type ConflictPolicy string

const (
	ConflictNewest      ConflictPolicy = "newest"
	ConflictSuperOffice ConflictPolicy = "superoffice"
	ConflictCalendar    ConflictPolicy = "calendar"
)

// PrivatePolicy is the profile's `private` setting for private SuperOffice
// appointments.
type PrivatePolicy string

const (
	// PrivateSync copies private appointments as they are (marked private).
	PrivateSync PrivatePolicy = "sync"
	// PrivateBusy writes a private placeholder titled "Busy" with no details; edits
	// of the placeholder are not copied back.
	PrivateBusy PrivatePolicy = "busy"
	// PrivateSkip leaves private appointments out of the calendar.
	PrivateSkip PrivatePolicy = "skip"
)

// BusyTitle is the title of the placeholder PrivateBusy writes.
const BusyTitle = "Busy"

// Policy is a link's sync settings, taken from its profile.
type Policy struct {
	Direction Direction
	Conflict  ConflictPolicy
	Private   PrivatePolicy
	// Past and Future span the window around now.
	Past, Future time.Duration
}

// DefaultPolicy is what an unset policy means.
func DefaultPolicy() Policy {
	return Policy{Direction: TwoWay, Conflict: ConflictNewest, Private: PrivateBusy, Past: 30 * 24 * time.Hour, Future: 365 * 24 * time.Hour}
}

// withDefaults fills empty fields.
func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.Direction == "" {
		p.Direction = d.Direction
	}
	if p.Conflict == "" {
		p.Conflict = d.Conflict
	}
	if p.Private == "" {
		p.Private = d.Private
	}
	if p.Past == 0 && p.Future == 0 {
		p.Past, p.Future = d.Past, d.Future
	}
	return p
}

// Validate reports a policy value the engine does not know.
func (p Policy) Validate() error {
	switch p.Direction {
	case "", TwoWay, ToCalendar, ToSuperOffice:
	default:
		return fmt.Errorf("direction %q: want two-way, to-calendar or to-superoffice", p.Direction)
	}
	switch p.Conflict {
	case "", ConflictNewest, ConflictSuperOffice, ConflictCalendar:
	default:
		return fmt.Errorf("conflict %q: want newest, superoffice or calendar", p.Conflict)
	}
	switch p.Private {
	case "", PrivateSync, PrivateBusy, PrivateSkip:
	default:
		return fmt.Errorf("private %q: want sync, busy or skip", p.Private)
	}
	if p.Past < 0 || p.Future < 0 {
		return fmt.Errorf("window past %s, future %s: durations must not be negative", p.Past, p.Future)
	}
	return nil
}

// Window is the span a run looks at.
func (p Policy) Window(now time.Time) sdk.Window {
	return sdk.Window{Start: now.Add(-p.Past), End: now.Add(p.Future)}
}

// fingerprint identifies the settings a cursor was taken under. When it changes
// (window widened or narrowed, direction or privacy changed) the next run reads both
// sides in full, so items that now count are seen at once.
func (p Policy) fingerprint() string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%d|%d", p.Direction, p.Private, p.Past, p.Future))
	return hex.EncodeToString(h[:8])
}

// allows reports whether the direction lets changes flow from one side to the other.
func (p Policy) allows(from Side) bool {
	switch p.Direction {
	case ToCalendar:
		return from == SuperOffice
	case ToSuperOffice:
		return from == Calendar
	}
	return true
}
