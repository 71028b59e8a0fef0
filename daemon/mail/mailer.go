package mail

import (
	"context"
	"time"
)

// Mailer is what the daemon calls to reach people. Every method returns once the mail
// is handed over (or logged); none retries by itself — the caller decides whether a
// failure is worth another attempt (see SendError.Temporary).
type Mailer interface {
	// Activation sends the welcome mail that asks the link's account to sign in once.
	Activation(ctx context.Context, a Activation) error
	// ExpiredCredentials tells the link's account that its sign-in stopped working and
	// hands it a fresh activation link.
	ExpiredCredentials(ctx context.Context, a Activation) error
	// Digest sends the admin the links that need attention. DigestScheduler calls it;
	// it does not rate-limit by itself.
	Digest(ctx context.Context, d Digest) error
}

// Kind tells a user link from a resource link; it changes who is asked to sign in.
type Kind string

// The kinds of link, as SPEC.md names them.
const (
	KindUser     Kind = "user"
	KindResource Kind = "resource"
)

// Direction of a profile's sync, as SPEC.md names it; it changes what the mail promises.
type Direction string

// The directions of sync.
const (
	DirectionTwoWay        Direction = "two-way"
	DirectionToCalendar    Direction = "to-calendar"
	DirectionToSuperOffice Direction = "to-superoffice"
)

// Provider names of the built-in calendar plugins; they pick the calendar system's
// display name and who signs in for a resource.
const (
	ProviderM365   = "m365"
	ProviderGoogle = "google"
)

// Activation is everything an activation or expired-credentials mail says. The daemon
// fills it from the profile, the link and the freshly issued activation token.
type Activation struct {
	Profile string // profile name, e.g. "acme-365"
	Link    string // link name inside the profile, e.g. "jane"
	Kind    Kind   // KindUser (default) or KindResource
	// Name is the person's or resource's display name ("Jane Doe", "Meeting room 1");
	// empty falls back to Link.
	Name string
	// Mailbox is the calendar account to sign in with (a user's or resource mailbox,
	// or a Google resource calendar id).
	Mailbox string
	// To receives the mail; empty means Mailbox. A Google resource calendar id cannot
	// receive mail, so the daemon may send that link's mail to an admin instead.
	To string
	// Provider is the calendar plugin name ("m365", "google", or a third-party one).
	Provider string
	// CalendarName overrides the calendar system's display name derived from Provider.
	CalendarName string
	// Direction of the profile's sync; empty means two-way.
	Direction Direction
	// URL is the activation URL with its single-use token. It goes into the mail body
	// only.
	URL string
	// Expires is when the activation URL stops working.
	Expires time.Time
	// Language is the profile's `language` (en no sv da de nl); anything else is en.
	Language string
	// Message is the profile's custom `message`, shown as its own paragraph.
	Message string
}

// displayName is the name the mail greets or names.
func (a Activation) displayName() string {
	if a.Name != "" {
		return a.Name
	}
	return a.Link
}

// recipient is the address the mail goes to.
func (a Activation) recipient() string {
	if a.To != "" {
		return a.To
	}
	return a.Mailbox
}

// Link states that can need attention, as SPEC.md names them.
const (
	StatePendingActivation = "pending_activation"
	StateNeedsConsent      = "needs_consent"
	StateError             = "error"
	StateUnlicensed        = "unlicensed"
	StateActive            = "active"
	StateDisabled          = "disabled"
)

// LinkStatus is one link as the digest sees it. The daemon's state store is adapted to
// this through a LinkSource.
type LinkStatus struct {
	Profile string
	Link    string
	Kind    Kind
	Name    string // display name; empty falls back to Link
	Mailbox string
	State   string    // one of the State constants
	Since   time.Time // when the link entered State; zero if unknown
	// LastError is the last error text, shown for StateError. It must already be free
	// of secrets (the daemon's errors never carry tokens).
	LastError string
	// ActivationExpires is when a pending link's activation URL expires; zero if
	// unknown. The URL itself never goes into the digest.
	ActivationExpires time.Time
}

func (l LinkStatus) displayName() string {
	if l.Name != "" {
		return l.Name
	}
	return l.Link
}

// Digest is one admin digest: the links needing attention, as of At.
type Digest struct {
	At    time.Time
	Links []LinkStatus
}

// Clock tells the time. Production uses SystemClock; tests inject a fixed or stepping
// clock so Date headers and the digest's 12-hour rule are deterministic.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now returns f().
func (f ClockFunc) Now() time.Time { return f() }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
