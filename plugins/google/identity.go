package google

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"

	"synchronizer/plugins/sdk"
)

// ScopeUsers lets the admin connection resolve users by address in the directory.
const ScopeUsers = "https://www.googleapis.com/auth/admin.directory.user.readonly"

// testingRefreshLimit: a refresh token that dies within 8 days comes from an OAuth
// app in "Testing" publishing status (Google ends those after 7 days).
const testingRefreshLimit = 8 * 24 * 3600

// Identify implements sdk.Provider: which account consented, and whether it is an
// admin who can manage resource calendars.
func (p *Provider) Identify(ctx context.Context, t sdk.Target, tok sdk.TokenInfo) (sdk.Account, error) {
	inst, err := p.instance(t.Instance)
	if err != nil {
		return sdk.Account{}, err
	}
	if tok.AccessToken == "" {
		if inst.sa == nil {
			return sdk.Account{}, fmt.Errorf("google %s: identify: no access token: %w", inst.name, sdk.ErrInvalidArgument)
		}
		// A service account: it acts as the configured admin.
		acct := sdk.Account{ID: inst.admin, Email: inst.admin, Kind: sdk.AccountUser}
		if inst.admin != "" {
			acct.IsAdmin = p.canReadResources(ctx, sdk.Target{Instance: t.Instance, Account: inst.admin})
		}
		return acct, nil
	}
	if tok.Scope != "" {
		granted := strings.Fields(tok.Scope)
		has := func(s string) bool {
			for _, g := range granted {
				if g == s {
					return true
				}
			}
			return false
		}
		if !has(ScopeEvents) && !has("https://www.googleapis.com/auth/calendar") {
			return sdk.Account{}, fmt.Errorf("google %s: the consent did not grant calendar access (the box was unticked); sign in again and keep every box ticked: %w",
				inst.name, sdk.ErrPermissionDenied)
		}
	}
	p.warnTesting(inst, tok)
	email, name := idTokenClaims(tok.IDToken)
	if email == "" {
		if email, name, err = p.userinfo(ctx, inst, tok.AccessToken); err != nil {
			return sdk.Account{}, err
		}
	}
	email = strings.ToLower(email)
	tg := sdk.Target{Instance: t.Instance, Account: email, Credential: sdk.Credential{Type: "bearer", Token: tok.AccessToken}}
	acct := sdk.Account{ID: email, Email: email, Name: name, Kind: sdk.AccountUser}
	if tok.Scope == "" || strings.Contains(tok.Scope, "admin.directory.resource.calendar") {
		acct.IsAdmin = p.canReadResources(ctx, tg)
	}
	return acct, nil
}

// warnTesting logs once per consent when the refresh token will die within days.
func (p *Provider) warnTesting(inst *instance, tok sdk.TokenInfo) {
	v := tok.Extra["refresh_token_expires_in"]
	if v == "" {
		return
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || secs <= 0 || secs > testingRefreshLimit {
		return
	}
	p.log.Warn("the Google OAuth app looks like it is in \"Testing\" publishing status: this consent ends within 7 days; publish the app (OAuth consent screen > Publish app) so links keep working",
		"instance", inst.name, "refresh_token_expires_in_seconds", int64(secs))
}

// idTokenClaims reads email and name from an id_token. The token came straight from
// Google's token endpoint over TLS to the host, so its signature need not be checked
// again (OpenID Connect Core 3.1.3.7).
func idTokenClaims(idToken string) (email, name string) {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return "", ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", ""
	}
	var c struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	}
	if json.Unmarshal(b, &c) != nil {
		return "", ""
	}
	return c.Email, c.Name
}

// userinfo asks the OpenID userinfo endpoint who the token belongs to.
func (p *Provider) userinfo(ctx context.Context, inst *instance, token string) (string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, inst.userinfoURL, nil)
	if err != nil {
		return "", "", fmt.Errorf("google %s: userinfo: %w", inst.name, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	hc := &http.Client{Transport: recordingTransport{inner: sdk.InstrumentedTransport(p.opts.Transport)}}
	resp, err := hc.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("google %s: userinfo: %w", inst.name, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return "", "", fmt.Errorf("google %s: userinfo: %w", inst.name, sdk.ErrUnauthenticated)
	case resp.StatusCode != http.StatusOK:
		return "", "", fmt.Errorf("google %s: userinfo answered %d", inst.name, resp.StatusCode)
	}
	var ui struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ui); err != nil || ui.Email == "" {
		return "", "", fmt.Errorf("google %s: userinfo names no address (was the email scope granted?): %w", inst.name, sdk.ErrPermissionDenied)
	}
	return ui.Email, ui.Name, nil
}

// canReadResources tells whether the credential may list resource calendars.
func (p *Provider) canReadResources(ctx context.Context, t sdk.Target) bool {
	c, err := p.connectAny(t, ScopeResources)
	if err != nil {
		return false
	}
	svc, err := c.adminService()
	if err != nil {
		return false
	}
	err = c.do(ctx, "list resource calendars", idempotent, func(ctx context.Context) error {
		_, err := svc.Resources.Calendars.List("my_customer").MaxResults(1).Context(ctx).Do(googleapi.QuotaUser(c.quota))
		return err
	})
	if err != nil {
		p.log.Debug("not a resource admin", "instance", t.Instance, "error", err)
	}
	return err == nil
}

// connectAny is connect for calls that need no calendar.
func (p *Provider) connectAny(t sdk.Target, scope string) (*conn, error) {
	if t.Account == "" && t.Calendar == "" {
		t.Calendar = "primary"
	}
	return p.connect(t, scope)
}

// LookupAccount implements sdk.Provider. Resources are found in the directory by
// address, resource id or name; users by address (their calendar, else the
// directory).
func (p *Provider) LookupAccount(ctx context.Context, t sdk.Target, kind sdk.AccountKind, key string) (sdk.Account, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return sdk.Account{}, fmt.Errorf("google: look up: empty name: %w", sdk.ErrInvalidArgument)
	}
	switch kind {
	case sdk.AccountResource:
		return p.lookupResource(ctx, t, key)
	case sdk.AccountUser:
		return p.lookupUser(ctx, t, key)
	}
	return sdk.Account{}, fmt.Errorf("google: look up %q: unknown kind %q: %w", key, kind, sdk.ErrInvalidArgument)
}

func (p *Provider) lookupResource(ctx context.Context, t sdk.Target, key string) (sdk.Account, error) {
	c, err := p.connectAny(t, ScopeResources)
	if err != nil {
		return sdk.Account{}, err
	}
	svc, err := c.adminService()
	if err != nil {
		return sdk.Account{}, err
	}
	page := ""
	for pages := 0; pages < 200; pages++ {
		var res *admin.CalendarResources
		err := c.do(ctx, "list resource calendars", idempotent, func(ctx context.Context) error {
			call := svc.Resources.Calendars.List("my_customer").MaxResults(500).Context(ctx)
			if page != "" {
				call = call.PageToken(page)
			}
			var err error
			res, err = call.Do(googleapi.QuotaUser(c.quota))
			return err
		})
		if err != nil {
			if errors.Is(err, sdk.ErrPermissionDenied) && strings.Contains(key, "@") {
				// Not an admin: a calendar the credential reaches still identifies itself.
				return p.probeCalendar(ctx, t, key, sdk.AccountResource)
			}
			return sdk.Account{}, fmt.Errorf("google: look up resource %q (needs the admin connection): %w", key, err)
		}
		for _, r := range res.Items {
			if strings.EqualFold(r.ResourceEmail, key) || r.ResourceId == key || strings.EqualFold(r.ResourceName, key) ||
				strings.EqualFold(r.GeneratedResourceName, key) {
				email := strings.ToLower(r.ResourceEmail)
				return sdk.Account{ID: email, Email: email, Name: r.ResourceName, Kind: sdk.AccountResource}, nil
			}
		}
		if page = res.NextPageToken; page == "" {
			break
		}
	}
	return sdk.Account{}, fmt.Errorf("google: resource %q is not in the directory: %w", key, sdk.ErrNotFound)
}

func (p *Provider) lookupUser(ctx context.Context, t sdk.Target, key string) (sdk.Account, error) {
	if !strings.Contains(key, "@") {
		return sdk.Account{}, fmt.Errorf("google: look up user %q: Google accounts are named by their address: %w", key, sdk.ErrInvalidArgument)
	}
	acct, err := p.probeCalendar(ctx, t, key, sdk.AccountUser)
	if err == nil || !(errors.Is(err, sdk.ErrNotFound) || errors.Is(err, sdk.ErrPermissionDenied)) {
		return acct, err
	}
	// Someone else's calendar is invisible to a user token; the admin connection
	// finds the user in the directory.
	c, cerr := p.connectAny(t, ScopeUsers)
	if cerr != nil {
		return sdk.Account{}, err
	}
	svc, cerr := c.adminService()
	if cerr != nil {
		return sdk.Account{}, err
	}
	var u *admin.User
	derr := c.do(ctx, "look up user "+key, idempotent, func(ctx context.Context) error {
		var err error
		u, err = svc.Users.Get(key).Context(ctx).Do(googleapi.QuotaUser(c.quota))
		return err
	})
	if derr != nil {
		if errors.Is(derr, sdk.ErrNotFound) {
			return sdk.Account{}, fmt.Errorf("google: user %q is not in the directory: %w", key, sdk.ErrNotFound)
		}
		return sdk.Account{}, err
	}
	email := strings.ToLower(u.PrimaryEmail)
	name := ""
	if u.Name != nil {
		name = u.Name.FullName
	}
	return sdk.Account{ID: email, Email: email, Name: name, Kind: sdk.AccountUser, IsAdmin: u.IsAdmin}, nil
}

// probeCalendar reads one event of calendar key to prove it exists and is reachable.
func (p *Provider) probeCalendar(ctx context.Context, t sdk.Target, key string, kind sdk.AccountKind) (sdk.Account, error) {
	t.Calendar = key
	if t.Account == "" {
		t.Account = key
	}
	c, err := p.connect(t, ScopeEvents)
	if err != nil {
		return sdk.Account{}, err
	}
	var res *calendar.Events
	err = c.do(ctx, "read calendar "+key, idempotent, func(ctx context.Context) error {
		var err error
		res, err = c.svc.Events.List(key).MaxResults(1).Context(ctx).Do(googleapi.QuotaUser(c.quota))
		return err
	})
	if err != nil {
		return sdk.Account{}, fmt.Errorf("google: look up %s %q: %w", kind, key, err)
	}
	email := strings.ToLower(key)
	name := res.Summary
	if strings.EqualFold(name, key) {
		name = ""
	}
	return sdk.Account{ID: email, Email: email, Name: name, Kind: kind}, nil
}
