package sdk

import (
	"context"
	"time"
)

// ProtocolVersion is the version of the wire contract (plugins/proto/calendar/v1).
// It changes only when a change is not backwards compatible; new optional fields and
// new methods keep the version (callers check Capabilities).
const ProtocolVersion = 1

// Provider is what every provider plugin implements. One plugin process serves every
// configured instance of its provider (two Microsoft 365 tenants are two instances);
// each call names its instance.
type Provider interface {
	// Info names the plugin and says what it can do. It needs no configuration.
	Info(ctx context.Context) (Info, error)
	// Configure hands over one instance's settings, already evaluated by the host
	// from HCL (plain strings; the host owns the schema). Called again on reload.
	Configure(ctx context.Context, instance string, settings map[string]string) error

	// OAuth describes the authorization server the host's consent flow must use.
	OAuth(ctx context.Context, req OAuthRequest) (OAuthSpec, error)
	// Identify says which account a fresh token belongs to (after consent), so the
	// host can check it is the linked mailbox or an admin allowed to manage it.
	Identify(ctx context.Context, t Target, tok TokenInfo) (Account, error)

	// LookupAccount resolves a user or resource by the name the admin configured
	// (login name, id, mailbox, resource name) for link checks.
	LookupAccount(ctx context.Context, t Target, kind AccountKind, key string) (Account, error)
	// Licenses returns the tenant's user-licence count (CRM side only; others return
	// ErrUnsupported).
	Licenses(ctx context.Context, t Target) (Licenses, error)

	// ListChanges returns one page of changes of t's calendar since req.Cursor inside
	// req.Window. An empty cursor starts a full read of the window. The caller keeps
	// calling with the returned Cursor while More is set, and stores the final Cursor
	// only after it has processed every page. An expired cursor gives
	// ErrFullSyncRequired.
	ListChanges(ctx context.Context, t Target, req ChangesRequest) (Changes, error)
	// Get reads one item; ErrNotFound when it is gone (or cancelled).
	Get(ctx context.Context, t Target, id string) (Event, error)
	// Create writes a new item carrying ev.CorrelationID and returns it as stored.
	// For an exception, ev.SeriesID and ev.OriginalStart name the occurrence.
	Create(ctx context.Context, t Target, ev Event) (Event, error)
	// Update replaces the synced fields of ev.ID. A non-empty ev.Version is a
	// precondition: ErrPreconditionFailed when the item changed since.
	Update(ctx context.Context, t Target, ev Event) (Event, error)
	// Delete removes id, with version as precondition when non-empty. Deleting an
	// item that is already gone is not an error.
	Delete(ctx context.Context, t Target, id, version string) error
	// FindByCorrelation returns every item of t's calendar that carries the
	// correlation id (normally zero or one).
	FindByCorrelation(ctx context.Context, t Target, correlationID string) ([]Event, error)
}

// Info describes a plugin.
type Info struct {
	Name            string
	ProtocolVersion int
	Capabilities    Capabilities
}

// Capabilities says which optional parts of the contract a provider supports.
type Capabilities struct {
	IncrementalChanges bool // cursors make later ListChanges calls cheap
	Push               bool // change notifications
	Recurrence         bool // series with exceptions
	CorrelationLookup  bool // FindByCorrelation works
	Directory          bool // LookupAccount works
	Licenses           bool // Licenses works (the CRM side)
	// PushScope says what one subscription covers when Push is set ("" means
	// PushScopeAccount). See push.go.
	PushScope PushScope
}

// Credential is the access credential a call carries. The host owns refresh; a
// provider only uses what it is given.
type Credential struct {
	// Type is "bearer" (an OAuth access token), "system_token" (SuperOffice's system
	// user token, which the provider trades for a ticket itself) or "" (none: the
	// provider uses credentials from its settings, e.g. onsite Basic auth).
	Type  string
	Token string
}

// Target says where a call acts: which configured instance, on whose calendar, with
// which credential.
type Target struct {
	Instance string
	// Account is the owner of the calendar or diary: a mailbox (Graph user id or UPN),
	// a Google calendar id, a SuperOffice associate id — as LookupAccount returned it.
	Account string
	// Calendar selects a calendar of the account; "" is its default calendar.
	Calendar   string
	Credential Credential
}

// AccountKind separates people from rooms and equipment.
type AccountKind string

const (
	AccountUser     AccountKind = "user"
	AccountResource AccountKind = "resource"
)

// Account is a user, room or resource of a system.
type Account struct {
	ID    string // the id later calls put in Target.Account
	Email string
	Name  string
	Kind  AccountKind
	// IsAdmin is set by Identify when the account may grant tenant-level access.
	IsAdmin bool
	// Extra carries provider-specific facts the host may need to keep, such as the
	// SuperOffice system_token a tenant admin's consent yields. The host stores it
	// encrypted with the tokens; it never logs it.
	Extra map[string]string
}

// Licenses is the CRM tenant's licence count.
type Licenses struct {
	UserLicenses int // purchased user licences: the cap's base
	InUse        int // for information
}

// OAuthPurpose says whose consent a flow collects.
type OAuthPurpose string

const (
	// PurposeUser: a person signs in for their own mailbox or diary.
	PurposeUser OAuthPurpose = "user"
	// PurposeResource: a room's consent (an M365 room mailbox signs in as itself; a
	// Google resource calendar is reached through the admin connection).
	PurposeResource OAuthPurpose = "resource"
	// PurposeAdmin: tenant-level access granted once by an admin.
	PurposeAdmin OAuthPurpose = "admin"
)

// OAuthRequest asks a provider how to run a consent flow.
type OAuthRequest struct {
	Instance    string
	Purpose     OAuthPurpose
	LoginHint   string // the account expected to sign in
	RedirectURL string // the host's /oauth/callback
}

// Grant names how the host obtains tokens after the browser step.
type Grant string

const (
	// GrantAuthorizationCode: browser to AuthURL, code back, exchanged at TokenURL.
	GrantAuthorizationCode Grant = "authorization_code"
	// GrantAdminConsent: browser to AuthURL (an admin-consent page), no code back;
	// then tokens come from TokenURL by client credentials.
	GrantAdminConsent Grant = "admin_consent"
	// GrantClientCredentials: no browser at all; tokens by client credentials.
	GrantClientCredentials Grant = "client_credentials"
	// GrantNone: the provider needs no token from the host (onsite Basic auth, a
	// service account the provider signs for itself).
	GrantNone Grant = "none"
)

// OAuthSpec tells the host's consent flow what to do for one provider instance.
type OAuthSpec struct {
	Grant        Grant
	AuthURL      string
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// Params are extra authorize-request parameters (access_type=offline,
	// prompt=consent, acr_values=tenant:Cust1, login_hint ...).
	Params map[string]string
	// PKCE says the server supports S256 code challenges (the host then always sends one).
	PKCE bool
	// AuthInHeader: send client credentials with HTTP Basic instead of in the body.
	AuthInHeader bool
}

// TokenInfo is what the host got back from the token endpoint, minus the refresh
// token (which never leaves the host).
type TokenInfo struct {
	AccessToken string
	IDToken     string
	Scope       string
	Expiry      time.Time
	// Extra holds other string fields of the token response.
	Extra map[string]string
}

// ChangesRequest asks for one page of changes.
type ChangesRequest struct {
	Cursor   string
	Window   Window
	PageSize int // a hint; 0 means the provider's default
}

// Changes is one page of a change round.
type Changes struct {
	// Events are new or changed items inside the window, in full.
	Events []Event
	// Removed lists ids the service reported as removed. They are deletion
	// candidates only: the host confirms each with Get before deleting anything.
	Removed []string
	// Full says this round lists the whole window: an item not listed in any page of
	// the round is a deletion candidate too.
	Full bool
	// Cursor continues this round when More is set, else it starts the next round.
	Cursor string
	More   bool
}
