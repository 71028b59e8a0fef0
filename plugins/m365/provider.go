// Package m365 is the Microsoft 365 provider: it syncs Exchange Online calendars
// through Microsoft Graph v1.0 (plain REST over net/http), for mailboxes that
// consented one by one (auth = "delegated") or for a whole tenant whose admin granted
// application permissions once (auth = "application").
//
// It owns the Graph client, the mapping between Graph events and the neutral model,
// and the change cursor. It keeps no secrets and no state beyond each instance's
// settings; the host passes a bearer token with every call.
//
// # How the traps of Graph are handled
//
//   - Ids: every request sends Prefer: IdType="ImmutableId", so ids survive moves and
//     are the same in delta, GETs and notifications.
//   - Changes: calendarView/delta over a window fixed inside its token. The cursor
//     keeps the delta link plus the window it covers; the token window reaches a
//     margin beyond the requested window and is re-baselined (without a full re-read)
//     once the requested window leaves it. Items that enter the requested window as
//     it slides are read with a calendarView of the new slice, batched with the delta
//     request so an idle round is one HTTP request.
//   - Occurrences come from delta as stubs: the provider reads their series instead
//     (masters, then their instances, each through $batch) and reports the master,
//     whose Recurrence lists cancelled occurrences as EXDATEs (v1.0 has no list of
//     them: they are the pattern's starts missing from /instances, from the series'
//     start to a year past the window, so the list neither shrinks nor grows as the
//     window slides), and the exceptions that touch the window.
//   - A change Graph reports is passed on even when the item now lies outside the
//     window (the host freezes it); listings report only what lies inside.
//   - Removals may mean "changed outside the window": each one is confirmed with a GET;
//     only 404s are reported as removed, the rest as changes when inside the window.
//   - The correlation id lives in a single-value extended property, which delta never
//     returns: changed items are re-read in $batch GETs that expand it, and a full
//     read lists the window with calendarView, which can expand it.
//   - 410 on a delta link means sdk.ErrFullSyncRequired; 412 means
//     sdk.ErrPreconditionFailed; 429/503 are retried after Retry-After when short and
//     otherwise returned as *sdk.ThrottledError; at most four requests per mailbox
//     are in flight.
//
// # Invitations
//
// A write never makes Exchange mail anyone. Graph sends invitations for every event
// created with attendees and updates or cancellations when an organizer's meeting is
// changed or deleted, so the provider (1) never writes Graph attendees: the
// participants of an event travel in the SyncMeta extended property and read back
// from there; (2) refuses to update or delete a meeting that Exchange itself
// distributes (organized in this mailbox, with attendees) — that meeting belongs to
// its organizer in Outlook; (3) answers for a participant with accept /
// tentativelyAccept / decline and sendResponse=false.
package m365

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"synchronizer/plugins/internal/httppool"
	"synchronizer/plugins/internal/retry"
	"synchronizer/plugins/m365/internal/wintz"
	"synchronizer/plugins/sdk"
)

const (
	defaultGraphHost = "https://graph.microsoft.com"
	defaultLoginHost = "https://login.microsoftonline.com"
)

// Provider implements sdk.Provider for Microsoft 365.
type Provider struct {
	log       *slog.Logger
	transport http.RoundTripper
	limiter   *mailboxLimiter

	// now and sleep are the clock; tests replace them so nothing waits for real.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu        sync.Mutex
	instances map[string]*instance

	// zones keeps the time zones writes resolve.
	zones wintz.Zones
}

type instance struct {
	name         string
	graphBase    string // {endpoint}/v1.0
	loginBase    string // {endpoint}
	tenant       string
	clientID     string
	clientSecret string
	application  bool
	client       *http.Client
}

// New returns the provider. Every HTTP request it makes is reported to the recorder
// in the call's context (sdk.InstrumentedTransport).
func New(logger *slog.Logger) *Provider {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Provider{
		log:       logger.With("provider", "m365"),
		transport: httppool.Transport(),
		limiter:   newMailboxLimiter(),
		now:       time.Now,
		sleep:     retry.Sleep,
		instances: map[string]*instance{},
	}
}

// SetClock replaces the clock and the wait between retries (tests and the
// embedded demo, which run on a clock of their own). Call it before the provider
// is used; a nil sleep keeps the real one.
func (p *Provider) SetClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) {
	if now != nil {
		p.now = now
	}
	if sleep != nil {
		p.sleep = sleep
	}
}

// Info names the plugin and its capabilities.
func (p *Provider) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "m365", ProtocolVersion: sdk.ProtocolVersion, Capabilities: sdk.Capabilities{
		IncrementalChanges: true,
		Recurrence:         true,
		CorrelationLookup:  true,
		Directory:          true,
		Push:               true,
	}}, nil
}

// Configure takes an instance's settings: endpoint, tenant_id, client_id,
// client_secret, auth (delegated|application). Unknown keys are ignored.
func (p *Provider) Configure(_ context.Context, name string, settings map[string]string) error {
	inst := &instance{
		name:         name,
		graphBase:    defaultGraphHost + "/v1.0",
		loginBase:    defaultLoginHost,
		tenant:       strings.TrimSpace(settings["tenant_id"]),
		clientID:     strings.TrimSpace(settings["client_id"]),
		clientSecret: settings["client_secret"],
	}
	if ep := strings.TrimSpace(settings["endpoint"]); ep != "" {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return fmt.Errorf("%w: m365 instance %s: endpoint %q must be scheme://host[:port] with no path", sdk.ErrInvalidArgument, name, ep)
		}
		base := u.Scheme + "://" + u.Host
		inst.graphBase, inst.loginBase = base+"/v1.0", base
	}
	switch strings.ToLower(strings.TrimSpace(settings["auth"])) {
	case "", "delegated":
	case "application":
		inst.application = true
		if inst.tenant == "" || strings.EqualFold(inst.tenant, "common") || strings.EqualFold(inst.tenant, "organizations") {
			return fmt.Errorf("%w: m365 instance %s: auth = \"application\" needs tenant_id set to the tenant's id or domain", sdk.ErrInvalidArgument, name)
		}
	default:
		return fmt.Errorf("%w: m365 instance %s: auth must be \"delegated\" or \"application\", not %q", sdk.ErrInvalidArgument, name, settings["auth"])
	}
	inst.client = &http.Client{Transport: sdk.InstrumentedTransport(p.transport), Timeout: 2 * time.Minute}
	p.mu.Lock()
	p.instances[name] = inst
	p.mu.Unlock()
	p.log.Debug("configured", "instance", name, "application", inst.application)
	return nil
}

func (p *Provider) instance(name string) (*instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inst := p.instances[name]
	if inst == nil {
		return nil, fmt.Errorf("%w: m365 instance %q is not configured", sdk.ErrInvalidArgument, name)
	}
	return inst, nil
}

func (inst *instance) tenantOrCommon() string {
	if inst.tenant == "" {
		return "common"
	}
	return url.PathEscape(inst.tenant)
}

// connect prepares a call against t's mailbox.
func (p *Provider) connect(t sdk.Target) (*conn, error) {
	inst, err := p.instance(t.Instance)
	if err != nil {
		return nil, err
	}
	if t.Credential.Type != "bearer" || t.Credential.Token == "" {
		return nil, fmt.Errorf("%w: m365 needs a bearer token (got credential type %q)", sdk.ErrUnauthenticated, t.Credential.Type)
	}
	mailbox := "/me"
	h := fnv.New64a()
	h.Write([]byte(t.Credential.Token))
	key := t.Instance + "|me|" + strconv.FormatUint(h.Sum64(), 36) // whose mailbox /me is depends on the token
	if t.Account != "" {
		mailbox = "/users/" + url.PathEscape(t.Account)
		key = t.Instance + "|" + strings.ToLower(t.Account)
	}
	cal := mailbox + "/calendar"
	if t.Calendar != "" {
		cal = mailbox + "/calendars/" + url.PathEscape(t.Calendar)
	}
	return &conn{p: p, inst: inst, token: t.Credential.Token, mailbox: mailbox, calPath: cal, sem: p.limiter.get(key)}, nil
}

// OAuth describes the consent flow: authorization code with PKCE for a mailbox
// (delegated), admin consent followed by client credentials for a tenant
// (application).
func (p *Provider) OAuth(_ context.Context, req sdk.OAuthRequest) (sdk.OAuthSpec, error) {
	inst, err := p.instance(req.Instance)
	if err != nil {
		return sdk.OAuthSpec{}, err
	}
	if inst.clientID == "" {
		return sdk.OAuthSpec{}, fmt.Errorf("%w: m365 instance %s has no client_id", sdk.ErrInvalidArgument, inst.name)
	}
	token := inst.loginBase + "/" + inst.tenantOrCommon() + "/oauth2/v2.0/token"
	if inst.application {
		spec := sdk.OAuthSpec{
			Grant:        sdk.GrantClientCredentials,
			TokenURL:     token,
			ClientID:     inst.clientID,
			ClientSecret: inst.clientSecret,
			Scopes:       []string{"https://graph.microsoft.com/.default"},
		}
		if req.Purpose == sdk.PurposeAdmin {
			spec.Grant = sdk.GrantAdminConsent
			spec.AuthURL = inst.loginBase + "/" + inst.tenantOrCommon() + "/v2.0/adminconsent"
		}
		return spec, nil
	}
	spec := sdk.OAuthSpec{
		Grant:        sdk.GrantAuthorizationCode,
		AuthURL:      inst.loginBase + "/" + inst.tenantOrCommon() + "/oauth2/v2.0/authorize",
		TokenURL:     token,
		ClientID:     inst.clientID,
		ClientSecret: inst.clientSecret,
		Scopes:       []string{"offline_access", "Calendars.ReadWrite", "User.Read", "openid", "profile", "email"},
		Params:       map[string]string{"response_mode": "query", "prompt": "select_account"},
		PKCE:         true,
	}
	if req.LoginHint != "" {
		spec.Params["login_hint"] = req.LoginHint
	}
	return spec, nil
}

type gUser struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	Mail              string `json:"mail"`
	UserPrincipalName string `json:"userPrincipalName"`
}

func (u gUser) email() string {
	if u.Mail != "" {
		return u.Mail
	}
	return u.UserPrincipalName
}

// Identify tells who a fresh token belongs to. A delegated token is asked /me (the
// token's own claims are not trusted); an application token is checked against
// Graph and identifies the tenant (IsAdmin: it reaches every mailbox).
func (p *Provider) Identify(ctx context.Context, t sdk.Target, tok sdk.TokenInfo) (sdk.Account, error) {
	t.Credential = sdk.Credential{Type: "bearer", Token: tok.AccessToken}
	t.Account = ""
	c, err := p.connect(t)
	if err != nil {
		return sdk.Account{}, err
	}
	var me gUser
	_, err = c.do(ctx, request{method: http.MethodGet, path: "/me?$select=id,displayName,mail,userPrincipalName", op: "identify the signed-in user"}, &me)
	if err == nil {
		if me.ID == "" {
			return sdk.Account{}, fmt.Errorf("identify the signed-in user: Graph answered without an id")
		}
		return sdk.Account{ID: me.ID, Email: me.email(), Name: me.DisplayName, Kind: sdk.AccountUser}, nil
	}
	var ge *GraphError
	if !errors.As(err, &ge) || ge.Status != http.StatusBadRequest && ge.Status != http.StatusForbidden {
		return sdk.Account{}, err
	}
	// Not a delegated token. An application token must be accepted by the tenant's
	// directory; its tenant and roles come from its claims, which Graph just vouched
	// for by accepting it.
	var users struct {
		Value []gUser `json:"value"`
	}
	if _, uerr := c.do(ctx, request{method: http.MethodGet, path: "/users?$top=1&$select=id", op: "check the application token"}, &users); uerr != nil {
		return sdk.Account{}, fmt.Errorf("identify token: neither a user (%v) nor an application of the tenant: %w", err, uerr)
	}
	claims := tokenClaims(tok.AccessToken)
	if !slices.ContainsFunc(claims.Roles, func(r string) bool { return strings.EqualFold(r, "Calendars.ReadWrite") }) {
		return sdk.Account{}, fmt.Errorf("%w: the application token has no Calendars.ReadWrite role (roles: %q): grant the application permission and admin consent in Entra ID", sdk.ErrPermissionDenied, claims.Roles)
	}
	tenant := claims.TenantID
	if tenant == "" {
		tenant = c.inst.tenant
	}
	if inst := c.inst; inst.tenant != "" && strings.Count(inst.tenant, "-") == 4 && !strings.EqualFold(inst.tenant, tenant) {
		return sdk.Account{}, fmt.Errorf("%w: the token belongs to tenant %s, not the configured %s", sdk.ErrPermissionDenied, tenant, inst.tenant)
	}
	return sdk.Account{ID: tenant, Name: "tenant " + tenant, Kind: sdk.AccountUser, IsAdmin: true, Extra: map[string]string{"tenant_id": tenant, "roles": strings.Join(claims.Roles, " ")}}, nil
}

type accessClaims struct {
	TenantID string   `json:"tid"`
	Roles    []string `json:"roles"`
}

// tokenClaims reads the tid and roles claims of an access token without checking its
// signature: only for a token Graph has just accepted.
func tokenClaims(tok string) accessClaims {
	var c accessClaims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c
	}
	_ = json.Unmarshal(b, &c)
	return c
}

// LookupAccount resolves a mailbox (user id, UPN or address) or a room (address,
// display name or place id) and checks that its calendar can be reached, so a link
// to a mailbox without Exchange or outside the app's access policy fails with a
// clear error at link time.
func (p *Provider) LookupAccount(ctx context.Context, t sdk.Target, kind sdk.AccountKind, key string) (sdk.Account, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return sdk.Account{}, fmt.Errorf("%w: empty account name", sdk.ErrInvalidArgument)
	}
	t.Account = ""
	c, err := p.connect(t)
	if err != nil {
		return sdk.Account{}, err
	}
	acct := sdk.Account{Kind: kind}
	if kind == sdk.AccountResource {
		room, err := p.findRoom(ctx, c, key)
		if err != nil {
			return sdk.Account{}, err
		}
		if room != nil {
			key = room.EmailAddress
			acct.Name = room.DisplayName
		}
	}
	var u gUser
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/users/" + url.PathEscape(key) + "?$select=id,displayName,mail,userPrincipalName", op: "look up " + key}, &u); err != nil {
		return sdk.Account{}, err
	}
	acct.ID, acct.Email = u.ID, u.email()
	if acct.Name == "" {
		acct.Name = u.DisplayName
	}
	// The calendar must be reachable with this credential.
	t.Account = u.ID
	cc, err := p.connect(t)
	if err != nil {
		return sdk.Account{}, err
	}
	if _, err := cc.do(ctx, request{method: http.MethodGet, path: cc.calPath + "?$select=id,name,canEdit", op: "open the calendar of " + key}, nil); err != nil {
		return sdk.Account{}, err
	}
	return acct, nil
}

type gRoom struct {
	ID           string `json:"id"`
	EmailAddress string `json:"emailAddress"`
	DisplayName  string `json:"displayName"`
}

// findRoom looks a room up in the places API; nil when the caller may not list
// places (a room mailbox signed in as itself) or no room matches.
func (p *Provider) findRoom(ctx context.Context, c *conn, key string) (*gRoom, error) {
	var found *gRoom
	err := c.eachPage(ctx, "/places/microsoft.graph.room?$top=100", 0, "list rooms", func(items []json.RawMessage) (bool, error) {
		rooms, err := decodeItems[gRoom](items, "list rooms")
		if err != nil {
			return true, err
		}
		for i, r := range rooms {
			if strings.EqualFold(r.EmailAddress, key) || strings.EqualFold(r.DisplayName, key) || r.ID == key {
				found = &rooms[i]
				return true, nil
			}
		}
		return false, nil
	})
	if errors.Is(err, sdk.ErrPermissionDenied) {
		return nil, nil // no Place.Read.All: look the address up as a user
	}
	return found, err
}

// Licenses is a CRM concept.
func (p *Provider) Licenses(context.Context, sdk.Target) (sdk.Licenses, error) {
	return sdk.Licenses{}, fmt.Errorf("m365 licences: %w", sdk.ErrUnsupported)
}
