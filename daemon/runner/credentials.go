package runner

import (
	"context"
	"errors"

	"synchronizer/daemon/config"
	"synchronizer/plugins/sdk"
)

// ErrNoConsent says a link or connection has never been consented to (no token
// stored yet). The runner puts the link in pending_activation and asks the
// Activations for its activation URL.
var ErrNoConsent = errors.New("no consent yet")

// Credentials hands out the credential each provider call carries. The consent
// side (daemon/oauth) implements it: it reads the sealed tokens from the state
// store, refreshes them through the provider's token endpoint when they expire,
// and persists rotated refresh tokens.
//
// Errors: ErrNoConsent when nothing was ever granted; sdk.ErrConsentRevoked
// (wrapped) when the grant is gone (invalid_grant) — the runner then puts the link
// in needs_consent; anything else is a transient failure of this run.
type Credentials interface {
	// Calendar returns the credential for the calendar side of a link: the link's
	// own delegated token, or the calendar block's tenant-level token (M365
	// application auth, the Google admin connection for resource calendars, a
	// service account: sdk.Credential{} when the provider signs for itself).
	Calendar(ctx context.Context, cal *config.Calendar, link *config.Link) (sdk.Credential, error)
	// SuperOffice returns the tenant-level credential of a superoffice block (the
	// system user's system_token, or sdk.Credential{} for onsite Basic auth).
	SuperOffice(ctx context.Context, so *config.SuperOffice) (sdk.Credential, error)
	// Invalidate tells the source that the service refused a credential it handed
	// out (sdk.ErrUnauthenticated), so the next call refreshes instead of reusing it.
	Invalidate(ctx context.Context, cred sdk.Credential)
}

// Activations issues activation links for links that wait for a person's consent.
// daemon/oauth implements it.
type Activations interface {
	// Ensure returns the link's current activation URL, issuing a new activation
	// (and sending the activation mail) when none is valid. It is idempotent: a link
	// that already has a valid activation keeps it and gets no second mail.
	Ensure(ctx context.Context, profile *config.Profile, link *config.Link) (url string, err error)
	// NeedsConsent is told that a link's grant died (sdk.ErrConsentRevoked): it issues
	// a fresh activation, sends the "expired credentials" mail once, and returns the URL.
	NeedsConsent(ctx context.Context, profile *config.Profile, link *config.Link) (url string, err error)
}
