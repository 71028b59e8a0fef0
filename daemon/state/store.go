// Package state owns every byte the daemon keeps on disk: links and their
// states, the last known licence count of each tenant, OAuth tokens (sealed with
// AES-256-GCM) and activation tokens (stored hashed). The sync engine's rows
// (pairs, cursors, intents) live in the same bbolt file, in buckets reserved for
// it; see bolt.go for the bucket tree.
//
// Store is the interface the daemon uses; Bolt is the on-disk implementation
// and Memory the in-memory one for tests and the embedded demo. The package must
// not know about configuration, HTTP or providers.
package state

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"
)

// Sentinel errors; check with errors.Is.
var (
	ErrNotFound          = errors.New("not found")
	ErrActivationExpired = errors.New("activation link expired")
	ErrActivationUsed    = errors.New("activation link already used")
	ErrLocked            = errors.New("state is locked by another process")
	ErrForeign           = errors.New("not a synchronizer state file")
	ErrCorrupt           = errors.New("state file is corrupt")
	ErrTooNew            = errors.New("state file was written by a newer synchronizer")
)

// LinkState is where a link is in its life. The values are part of the product
// contract (status JSON, metrics labels).
type LinkState string

const (
	PendingActivation LinkState = "pending_activation"
	Active            LinkState = "active"
	NeedsConsent      LinkState = "needs_consent"
	Unlicensed        LinkState = "unlicensed"
	Error             LinkState = "error"
	Disabled          LinkState = "disabled"
)

// LinkStates lists every state in a stable order.
var LinkStates = []LinkState{PendingActivation, Active, NeedsConsent, Unlicensed, Error, Disabled}

// Valid reports whether s is one of LinkStates.
func (s LinkState) Valid() bool {
	for _, v := range LinkStates {
		if s == v {
			return true
		}
	}
	return false
}

// LinkID names a link: its profile and its name inside the profile.
type LinkID struct {
	Profile string
	Link    string
}

// String is the link's key in the store and in logs: "profile/link". Profile
// and link names cannot contain a slash (the configuration checks names).
func (id LinkID) String() string { return id.Profile + "/" + id.Link }

// Link is the persisted state of one link. State is what the link runner last
// decided (pending_activation, active, needs_consent, error); the agent overlays
// unlicensed and disabled from the configuration and the licence cap when it
// reports, without overwriting what is stored here.
type Link struct {
	ID        LinkID
	State     LinkState
	LastSync  time.Time // end of the last successful run; zero when never
	LastError string    // readable reason of the last failure; "" when fine
	Items     int       // pairs the link keeps
	// ActivationURL is where the person consents, while the link waits for it.
	ActivationURL string
	// Changed is when State last changed.
	Changed time.Time
}

// Tenant is what the daemon last learned about a SuperOffice tenant.
type Tenant struct {
	Name         string
	UserLicenses int
	CheckedAt    time.Time
}

// TokenKey names a stored OAuth token: one per link, one per tenant-level
// connection (a superoffice or calendar block).
type TokenKey string

// LinkToken is the key of a link's token.
func LinkToken(id LinkID) TokenKey { return TokenKey("link/" + id.String()) }

// ConnectionToken is the key of a tenant-level connection's token.
func ConnectionToken(name string) TokenKey { return TokenKey("connection/" + name) }

// Token is an OAuth token with what belongs to it. It is sealed at rest.
type Token struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	Expiry       time.Time
	Scope        string
	// Account is whom the token belongs to, as the provider identified it.
	Account string
	// Extra holds small provider secrets kept with the token (a SuperOffice
	// system_token).
	Extra   map[string]string
	Updated time.Time
}

func (t Token) clone() Token {
	t.Extra = maps.Clone(t.Extra)
	return t
}

// Activation is a pending consent: a link's activation link or an admin's setup
// link. The secret in the URL is never stored, only its SHA-256.
type Activation struct {
	// Purpose is "user", "resource" or "admin" (the sdk's OAuthPurpose).
	Purpose string
	// Link is the link to activate; zero for an admin setup.
	Link LinkID
	// Connection is the superoffice or calendar block an admin setup is for.
	Connection string
	Created    time.Time
	Expires    time.Time
	// Used is when the activation completed; zero while unused.
	Used time.Time
}

// Store is the daemon's persistent state. Implementations are safe for
// concurrent use. Values returned are copies.
type Store interface {
	// Links returns every stored link, sorted by ID.
	Links(ctx context.Context) ([]Link, error)
	// Link returns one link; ErrNotFound when it was never stored.
	Link(ctx context.Context, id LinkID) (Link, error)
	// UpdateLink applies fn to the stored link (a zero Link with ID set when absent)
	// and stores the result atomically; Changed is set when State changes. An error
	// from fn stores nothing. A change of LastSync alone may reach the disk a few
	// seconds later (Bolt: linkrows.go); reads see it at once.
	UpdateLink(ctx context.Context, id LinkID, fn func(*Link) error) (Link, error)
	// DeleteLink removes a link's row and token; absent is not an error.
	DeleteLink(ctx context.Context, id LinkID) error

	// Tenant returns what is known of a tenant; ErrNotFound when nothing.
	Tenant(ctx context.Context, name string) (Tenant, error)
	PutTenant(ctx context.Context, t Tenant) error

	// Token returns a stored token; ErrNotFound when none.
	Token(ctx context.Context, key TokenKey) (Token, error)
	PutToken(ctx context.Context, key TokenKey, tok Token) error
	DeleteToken(ctx context.Context, key TokenKey) error

	// PutActivation stores an activation under the hash of secret.
	PutActivation(ctx context.Context, secret string, a Activation) error
	// Activation returns the activation for secret if it is still usable at now:
	// ErrNotFound, ErrActivationExpired or ErrActivationUsed otherwise.
	Activation(ctx context.Context, secret string, now time.Time) (Activation, error)
	// ConsumeActivation marks the activation used, atomically: of two concurrent
	// calls with the same secret exactly one succeeds.
	ConsumeActivation(ctx context.Context, secret string, now time.Time) (Activation, error)
	// RevokeActivations deletes every activation of a link (or, with a zero link,
	// of a connection), e.g. when a new one is sent.
	RevokeActivations(ctx context.Context, link LinkID, connection string) error
	// PruneActivations deletes activations expired or used before cutoff.
	PruneActivations(ctx context.Context, cutoff time.Time) (int, error)

	Close() error
}

// NewSecret returns a fresh unguessable token for a URL: 256 bits from random
// (crypto/rand when nil), base64url without padding.
func NewSecret(random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	b := make([]byte, 32)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// secretKey is how an activation secret is stored: its SHA-256, in hex.
func secretKey(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return []byte(hex.EncodeToString(sum[:]))
}

// checkActivation applies expiry and single use.
func checkActivation(a Activation, now time.Time) error {
	if !a.Used.IsZero() {
		return ErrActivationUsed
	}
	if !now.Before(a.Expires) {
		return ErrActivationExpired
	}
	return nil
}

func matchesRevoke(a Activation, link LinkID, connection string) bool {
	if link != (LinkID{}) {
		return a.Link == link
	}
	return connection != "" && a.Connection == connection && a.Link == (LinkID{})
}

// applyLinkUpdate runs fn on a copy of l and stamps Changed.
func applyLinkUpdate(l Link, id LinkID, now time.Time, fn func(*Link) error) (Link, error) {
	before := l.State
	l.ID = id
	if err := fn(&l); err != nil {
		return Link{}, err
	}
	l.ID = id
	if l.State != "" && !l.State.Valid() {
		return Link{}, fmt.Errorf("link %s: invalid state %q", id, l.State)
	}
	if l.State != before {
		l.Changed = now
	}
	return l, nil
}
