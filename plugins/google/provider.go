// Package google is the Google Workspace provider: Google Calendar API v3 through
// Google's own Go client (google.golang.org/api/calendar/v3 and admin/directory/v1),
// so the wire format is the official one, pointed with option.WithEndpoint and
// option.WithHTTPClient at the real service or at the emulator (plugins/google/gcaltest).
//
// What it keeps straight:
//   - Sync tokens cover the whole calendar. A full read is bounded by the window
//     (timeMin/timeMax) and ends with a token; incremental reads (syncToken,
//     showDeleted) report every change wherever it now lies, so the host can freeze
//     what left the window. When the window slides past what the last full read
//     covered, the newly covered span is read once more (Options.WindowQuantum), so
//     an unchanged item that enters the window is not missed. 410 -> ErrFullSyncRequired.
//   - Deletions arrive as status "cancelled" stubs: Removed, or for a cancelled
//     occurrence (recurringEventId set) the series again, with the occurrence as an
//     EXDATE. A master's EXDATEs are its own recurrence lines plus every cancelled
//     occurrence of the series, read with events.list?iCalUID= (batched).
//   - Writes: insert with an id derived from the correlation id (a retry finds its
//     own insert through 409 duplicate), patch/delete with If-Match (412 ->
//     ErrPreconditionFailed), sendUpdates=none on every write, the correlation id in
//     extendedProperties.private.syncId.
//   - Meetings: attendees are written only for a meeting the calendar's owner
//     organizes (Google then puts it into the attendees' calendars under the same
//     id, without mail); a copy of someone else's meeting is written without
//     attendees. An update of an attendee's copy writes only the owner's own
//     responseStatus (accepted, tentative, declined; "none" is not an answer).
//   - Quota: 403/429 rateLimitExceeded and userRateLimitExceeded, 503 and 500 are
//     retried with exponential backoff and jitter (Retry-After honoured), requests are
//     paced per user, and a throttle that outlasts the retries is *sdk.ThrottledError.
//   - Auth: per-user OAuth (code + PKCE, offline, prompt=consent), one admin
//     connection for resource calendars (Directory resources.calendars), or a service
//     account with domain-wide delegation that signs its own JWT assertions.
package google

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"synchronizer/plugins/internal/httppool"
	"synchronizer/plugins/internal/retry"
	"synchronizer/plugins/sdk"
)

// Name is the provider's plugin name.
const Name = "google"

// Scopes the provider asks for.
const (
	ScopeEvents    = "https://www.googleapis.com/auth/calendar.events"
	ScopeResources = "https://www.googleapis.com/auth/admin.directory.resource.calendar.readonly"
)

// Real service hosts (replaced by the "endpoint" setting).
const (
	realAPI      = "https://www.googleapis.com/calendar/v3/"
	realBatch    = "https://www.googleapis.com/batch/calendar/v3"
	realAdmin    = "https://admin.googleapis.com/"
	realAuth     = "https://accounts.google.com/o/oauth2/v2/auth"
	realToken    = "https://oauth2.googleapis.com/token"
	realUserinfo = "https://openidconnect.googleapis.com/v1/userinfo"
)

// Options tune a Provider. The zero value is the production behaviour.
type Options struct {
	Logger *slog.Logger
	// Transport is the base HTTP transport (httppool.Transport when nil). Every
	// request goes through sdk.InstrumentedTransport on top of it.
	Transport http.RoundTripper
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Sleep waits for d or until ctx ends (a timer when nil).
	Sleep func(ctx context.Context, d time.Duration) error
	// Seed seeds the backoff jitter and generated ids (random when zero).
	Seed uint64
	// MaxRetries is how often a throttled or failed request is retried (default 4;
	// negative: never).
	MaxRetries int
	// MaxWait is the longest single backoff the provider sleeps itself; a longer
	// wait is returned as *sdk.ThrottledError (default 30 s).
	MaxWait time.Duration
	// RequestsPerMinute paces requests per user and instance (default 500, under
	// Google's 600; negative: no pacing).
	RequestsPerMinute int
	// WindowQuantum is how far the window may slide past what was read before the
	// newly covered span is read (default 1 h; negative: read every slide).
	WindowQuantum time.Duration
	// BatchSize is the number of calls per batch request (default 50, at most 1000).
	BatchSize int
}

// Provider implements sdk.Provider for Google Calendar.
type Provider struct {
	log  *slog.Logger
	opts Options

	mu        sync.Mutex
	instances map[string]*instance
	rng       *rand.Rand
	buckets   map[string]*bucket
	zones     zones                   // loaded time zones (mapping.go)
	tokens    map[string]*cachedToken // service-account tokens by instance, subject and scope
}

var _ sdk.Provider = (*Provider)(nil)

// New returns a provider with the production defaults.
func New(logger *slog.Logger) *Provider { return NewWithOptions(Options{Logger: logger}) }

// NewWithOptions returns a provider tuned by opts.
func NewWithOptions(opts Options) *Provider {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Transport == nil {
		opts.Transport = httppool.Transport()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = retry.Sleep
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 4
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = 30 * time.Second
	}
	if opts.RequestsPerMinute == 0 {
		opts.RequestsPerMinute = 500
	}
	if opts.WindowQuantum == 0 {
		opts.WindowQuantum = time.Hour
	}
	if opts.BatchSize <= 0 || opts.BatchSize > 1000 {
		opts.BatchSize = 50
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &Provider{log: opts.Logger, opts: opts, instances: map[string]*instance{},
		rng: rand.New(rand.NewPCG(seed, seed^0x676f6f676c65)), buckets: map[string]*bucket{},
		tokens: map[string]*cachedToken{}}
}

// instance is one configured calendar system.
type instance struct {
	name         string
	endpoint     string
	apiBase      string // ends in "/calendar/v3/"
	adminBase    string // root of the Directory API
	batchURL     string
	authURL      string
	tokenURL     string
	userinfoURL  string
	clientID     string
	clientSecret string
	admin        string
	sa           *serviceAccount
}

// serviceAccount is the parsed JSON key of a service account.
type serviceAccount struct {
	email string
	keyID string
	pem   []byte // the private key as the key file holds it (never logged)
}

// Info implements sdk.Provider.
func (p *Provider) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: Name, ProtocolVersion: sdk.ProtocolVersion, Capabilities: sdk.Capabilities{
		IncrementalChanges: true, Recurrence: true, CorrelationLookup: true, Directory: true, Push: true}}, nil
}

// Configure implements sdk.Provider.
func (p *Provider) Configure(_ context.Context, name string, settings map[string]string) error {
	inst := &instance{name: name, clientID: settings["client_id"], clientSecret: settings["client_secret"],
		admin: strings.ToLower(strings.TrimSpace(settings["admin"]))}
	ep := strings.TrimSpace(settings["endpoint"])
	if ep != "" {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("google %s: endpoint %q: want scheme://host[:port] with no path: %w", name, ep, sdk.ErrInvalidArgument)
		}
		ep = u.Scheme + "://" + u.Host
		inst.endpoint = ep
		inst.apiBase = ep + "/calendar/v3/"
		inst.adminBase = ep + "/"
		inst.batchURL = ep + "/batch/calendar/v3"
		inst.authURL = ep + "/o/oauth2/v2/auth"
		inst.tokenURL = ep + "/token"
		inst.userinfoURL = ep + "/oauth2/v3/userinfo"
	} else {
		inst.apiBase, inst.adminBase, inst.batchURL = realAPI, realAdmin, realBatch
		inst.authURL, inst.tokenURL, inst.userinfoURL = realAuth, realToken, realUserinfo
	}
	if raw := strings.TrimSpace(settings["service_account_json"]); raw != "" {
		sa, err := parseServiceAccount(raw)
		if err != nil {
			return fmt.Errorf("google %s: service account key: %w", name, err)
		}
		inst.sa = sa
		if inst.admin == "" {
			p.log.Warn("service account without admin: resource calendars and the directory are out of reach; set admin to a Workspace admin's address",
				"instance", name)
		}
	}
	p.mu.Lock()
	p.instances[name] = inst
	// Tokens minted for an earlier configuration may belong to another key.
	for k := range p.tokens {
		if strings.HasPrefix(k, name+"\x00") {
			delete(p.tokens, k)
		}
	}
	p.mu.Unlock()
	return nil
}

// parseServiceAccount reads a JSON key file without ever echoing its secret.
func parseServiceAccount(raw string) (*serviceAccount, error) {
	var k struct {
		Type         string `json:"type"`
		PrivateKeyID string `json:"private_key_id"`
		PrivateKey   string `json:"private_key"`
		ClientEmail  string `json:"client_email"`
	}
	if err := json.Unmarshal([]byte(raw), &k); err != nil {
		return nil, fmt.Errorf("not a JSON key file (%s): %w", jsonErrorKind(err), sdk.ErrInvalidArgument)
	}
	if k.Type != "service_account" || k.ClientEmail == "" || k.PrivateKey == "" {
		return nil, fmt.Errorf("want type service_account with client_email and private_key: %w", sdk.ErrInvalidArgument)
	}
	block, _ := pem.Decode([]byte(k.PrivateKey))
	if block == nil {
		return nil, fmt.Errorf("private_key of %s is not PEM: %w", k.ClientEmail, sdk.ErrInvalidArgument)
	}
	var key *rsa.PrivateKey
	if parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private_key of %s is not an RSA key: %w", k.ClientEmail, sdk.ErrInvalidArgument)
		}
		key = rk
	} else if rk, err2 := x509.ParsePKCS1PrivateKey(block.Bytes); err2 == nil {
		key = rk
	} else {
		return nil, fmt.Errorf("private_key of %s cannot be parsed: %w", k.ClientEmail, sdk.ErrInvalidArgument)
	}
	if key.N.BitLen() < 2048 {
		return nil, fmt.Errorf("private_key of %s is shorter than 2048 bits: %w", k.ClientEmail, sdk.ErrInvalidArgument)
	}
	return &serviceAccount{email: k.ClientEmail, keyID: k.PrivateKeyID, pem: []byte(k.PrivateKey)}, nil
}

// jsonErrorKind describes a JSON error without quoting the input.
func jsonErrorKind(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return "wrong shape"
}

func (p *Provider) instance(name string) (*instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inst := p.instances[name]
	if inst == nil {
		return nil, fmt.Errorf("google instance %q is not configured: %w", name, sdk.ErrInvalidArgument)
	}
	return inst, nil
}

// OAuth implements sdk.Provider.
func (p *Provider) OAuth(_ context.Context, req sdk.OAuthRequest) (sdk.OAuthSpec, error) {
	inst, err := p.instance(req.Instance)
	if err != nil {
		return sdk.OAuthSpec{}, err
	}
	if inst.sa != nil {
		// The provider signs its own assertions: no browser, no host token.
		return sdk.OAuthSpec{Grant: sdk.GrantNone}, nil
	}
	if inst.clientID == "" || inst.clientSecret == "" {
		return sdk.OAuthSpec{}, fmt.Errorf("google %s: set client_id and client_secret (an OAuth client of type \"Web application\"), or service_account_file: %w",
			inst.name, sdk.ErrInvalidArgument)
	}
	scopes := []string{"openid", "email", ScopeEvents}
	if req.Purpose == sdk.PurposeAdmin || req.Purpose == sdk.PurposeResource {
		scopes = append(scopes, ScopeResources)
		if req.Purpose == sdk.PurposeAdmin {
			scopes = append(scopes, ScopeUsers)
		}
	}
	params := map[string]string{"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"}
	if req.LoginHint != "" {
		params["login_hint"] = req.LoginHint
	}
	return sdk.OAuthSpec{Grant: sdk.GrantAuthorizationCode, AuthURL: inst.authURL, TokenURL: inst.tokenURL,
		ClientID: inst.clientID, ClientSecret: inst.clientSecret, Scopes: scopes, Params: params, PKCE: true}, nil
}

// Licenses implements sdk.Provider: calendar systems have no licence count.
func (p *Provider) Licenses(context.Context, sdk.Target) (sdk.Licenses, error) {
	return sdk.Licenses{}, fmt.Errorf("google: licences: %w", sdk.ErrUnsupported)
}
