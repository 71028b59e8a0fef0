package graphtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The identity platform (v2.0 endpoints) on the same host as Graph:
//
//	GET|POST /{tenant}/oauth2/v2.0/authorize   sign-in and consent (PKCE, state)
//	POST     /{tenant}/oauth2/v2.0/token       authorization_code, refresh_token, client_credentials
//	GET|POST /{tenant}/adminconsent            admin consent (v1 form)
//	GET|POST /{tenant}/v2.0/adminconsent       admin consent (v2 form, scope=.default)
//	GET      /{tenant}/v2.0/.well-known/openid-configuration
//
// Tokens are JWTs signed with HS256 under a key the emulator keeps to itself: they
// parse like real ones, but only the emulator can check them (clients must not trust
// their claims, and a careful client asks /v1.0/me instead).

const (
	accessLifetime  = 3599 * time.Second
	codeLifetime    = 10 * time.Minute
	refreshIdleLife = 90 * 24 * time.Hour
	graphResource   = "https://graph.microsoft.com/"
	graphAppID      = "00000003-0000-0000-c000-000000000000"
	globalAdminRole = "62e90394-69f5-4237-9190-012177145e10"
)

type principal struct {
	admin  bool
	appID  string
	user   *user // delegated tokens
	scopes map[string]bool
	roles  map[string]bool
}

// has reports whether the caller holds a permission; ReadWrite implies Read.
func (p *principal) has(perm string) bool {
	if p.admin {
		return true
	}
	l := strings.ToLower(perm)
	set := p.roles
	if p.user != nil {
		set = p.scopes
	}
	if set[l] {
		return true
	}
	if strings.HasSuffix(l, ".read") && set[strings.TrimSuffix(l, ".read")+".readwrite"] {
		return true
	}
	if strings.HasSuffix(l, ".read.all") && set[strings.TrimSuffix(l, ".read.all")+".readwrite.all"] {
		return true
	}
	return false
}

type authCode struct {
	appID       string
	userID      string
	redirectURI string
	challenge   string
	method      string
	scopes      []string
	nonce       string
	expires     time.Time
	used        bool
}

type refreshGrant struct {
	appID    string
	userID   string
	scopes   []string
	lastUsed time.Time
	revoked  bool
}

type accessGrant struct {
	appID   string
	userID  string // "" for app-only
	scopes  []string
	roles   []string
	expires time.Time
}

func (s *Server) tenantOK(t string) bool {
	switch strings.ToLower(t) {
	case "common", "organizations", strings.ToLower(s.tenantID), s.domain:
		return true
	}
	return false
}

func (s *Server) serveIdentity(w http.ResponseWriter, r *http.Request) {
	segs := splitPath(r.URL.EscapedPath())
	if len(segs) < 2 {
		s.stats.count("identity", r.Method+" "+r.URL.Path)
		http.NotFound(w, r)
		return
	}
	tenant := segs[0]
	rest := strings.Join(segs[1:], "/")
	route := r.Method + " /{tenant}/" + rest
	s.stats.count("identity", route)
	if !s.tenantOK(tenant) {
		s.tokenError(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	switch rest {
	case "oauth2/v2.0/authorize":
		s.handleAuthorize(w, r, tenant)
	case "oauth2/v2.0/token":
		if r.Method != http.MethodPost {
			s.tokenError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
			return
		}
		s.handleToken(w, r, tenant)
	case "adminconsent", "v2.0/adminconsent":
		s.handleAdminConsent(w, r, rest == "v2.0/adminconsent")
	case "v2.0/.well-known/openid-configuration":
		base := baseURL(r) + "/" + tenant
		writeJSONBody(w, http.StatusOK, map[string]any{
			"issuer":                                base + "/v2.0",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"response_types_supported":              []string{"code"},
			"response_modes_supported":              []string{"query", "form_post"},
			"grant_types_supported":                 []string{"authorization_code", "refresh_token", "client_credentials"},
			"code_challenge_methods_supported":      []string{"S256", "plain"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
			"id_token_signing_alg_values_supported": []string{"HS256"},
			"userinfo_endpoint":                     baseURL(r) + "/oidc/userinfo",
		}, false)
	case "discovery/v2.0/keys":
		writeJSONBody(w, http.StatusOK, map[string]any{"keys": []any{}}, false)
	default:
		http.NotFound(w, r)
	}
}

// tokenError writes the identity platform's error shape.
func (s *Server) tokenError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	now := s.now().UTC()
	s.mu.Lock()
	s.tokenSeq++
	trace := s.guid("trace", s.tokenSeq)
	corr := s.guid("correlation", s.tokenSeq)
	s.mu.Unlock()
	writeJSONBody(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, desc, trace, corr, now.Format("2006-01-02 15:04:05Z")),
		"error_codes":       []int{aadsts},
		"timestamp":         now.Format("2006-01-02 15:04:05Z"),
		"trace_id":          trace,
		"correlation_id":    corr,
	}, false)
}

func normalizeScope(sc string) string {
	if strings.HasPrefix(strings.ToLower(sc), graphResource) {
		return sc[len(graphResource):]
	}
	return sc
}

var oidcScopes = []string{"openid", "profile", "email", "offline_access"}

func isOIDC(sc string) bool { return slices.Contains(oidcScopes, strings.ToLower(sc)) }

// appForRequest validates client_id and redirect_uri of a browser request; problems
// are shown on the page, never redirected (the redirect target is not trusted).
func (s *Server) appForRequest(q url.Values) (*app, string, error) {
	s.mu.Lock()
	a := s.apps[q.Get("client_id")]
	s.mu.Unlock()
	if a == nil {
		return nil, "", fmt.Errorf("AADSTS700016: Application with identifier '%s' was not found in the directory '%s'.", q.Get("client_id"), s.domain)
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" {
		return nil, "", fmt.Errorf("AADSTS900144: The request body must contain the following parameter: 'redirect_uri'.")
	}
	u, err := url.Parse(redirect)
	if err != nil || !u.IsAbs() {
		return nil, "", fmt.Errorf("AADSTS50011: The redirect URI '%s' is not valid.", redirect)
	}
	if len(a.RedirectURIs) > 0 && !slices.Contains(a.RedirectURIs, redirect) {
		return nil, "", fmt.Errorf("AADSTS50011: The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'.", redirect, a.ClientID)
	}
	return a, redirect, nil
}

func redirectWith(w http.ResponseWriter, r *http.Request, target string, params url.Values, formPost bool) {
	if formPost {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = formPostPage.Execute(w, map[string]any{"Action": target, "Params": params})
		return
	}
	u, _ := url.Parse(target)
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

var formPostPage = template.Must(template.New("post").Parse(`<html><head><title>Working...</title></head><body onload="document.forms[0].submit()"><form method="POST" action="{{.Action}}">{{range $k, $vs := .Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}<noscript><button type="submit">Continue</button></noscript></form></body></html>`))

var signInPage = template.Must(template.New("signin").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Text}}</p>
{{if .Error}}<p role="alert" id="error">{{.Error}}</p>{{end}}
<form method="POST" action="{{.Action}}">
{{range $k, $vs := .Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
<label>Account <input type="email" name="login" id="login" value="{{.Login}}"></label>
<button type="submit" name="action" value="approve" id="approve">Accept</button>
<button type="submit" name="action" value="deny" id="deny">Cancel</button>
</form>
</body></html>`))

func showPage(w http.ResponseWriter, status int, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = signInPage.Execute(w, data)
}

// consentStep shows the sign-in/consent page until the person decides (or approves
// at once with AutoConsent). It reports the account to act as and whether to go on;
// a refusal has been answered through fail.
func (s *Server) consentStep(w http.ResponseWriter, r *http.Request, q url.Values, title, text, action string, fail func(code, desc string)) (string, bool) {
	login := q.Get("login")
	if login == "" {
		login = q.Get("login_hint")
	}
	decided := r.Method == http.MethodPost && q.Get("action") != ""
	if !decided && !s.opts.AutoConsent {
		params := url.Values{}
		for k, v := range q {
			if k != "login" && k != "action" {
				params[k] = v
			}
		}
		showPage(w, http.StatusOK, map[string]any{"Title": title, "Text": text, "Action": action, "Params": params, "Login": login})
		return "", false
	}
	if decided && q.Get("action") != "approve" {
		fail("access_denied", "AADSTS65004: User declined to consent to access the app.")
		return "", false
	}
	return login, true
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		showPage(w, http.StatusBadRequest, map[string]any{"Title": "Sign in", "Error": "malformed request"})
		return
	}
	q := r.Form
	a, redirect, err := s.appForRequest(q)
	if err != nil {
		showPage(w, http.StatusBadRequest, map[string]any{"Title": "Sign in", "Error": err.Error()})
		return
	}
	formPost := q.Get("response_mode") == "form_post"
	fail := func(code, desc string) {
		p := url.Values{"error": {code}, "error_description": {desc}}
		if st := q.Get("state"); st != "" {
			p.Set("state", st)
		}
		redirectWith(w, r, redirect, p, formPost)
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "AADSTS700054: response_type '"+q.Get("response_type")+"' is not enabled for the application.")
		return
	}
	var scopes []string
	for _, sc := range strings.Fields(q.Get("scope")) {
		scopes = append(scopes, normalizeScope(sc))
	}
	if len(scopes) == 0 {
		fail("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'scope'.")
		return
	}
	method := q.Get("code_challenge_method")
	challenge := q.Get("code_challenge")
	if challenge != "" && method == "" {
		method = "plain"
	}
	if method != "" && method != "S256" && method != "plain" {
		fail("invalid_request", "AADSTS50124: The code_challenge_method '"+method+"' is not supported.")
		return
	}
	if a.ClientSecret == "" && challenge == "" {
		fail("invalid_request", "AADSTS9002325: Proof Key for Code Exchange is required for public clients.")
		return
	}
	login, proceed := s.consentStep(w, r, q, "Sign in to "+a.Name, a.Name+" asks for: "+strings.Join(scopes, ", "), "/"+tenant+"/oauth2/v2.0/authorize", fail)
	if !proceed {
		return
	}
	s.mu.Lock()
	u := s.lookupUserLocked(login)
	s.mu.Unlock()
	if u == nil {
		fail("access_denied", fmt.Sprintf("AADSTS50034: The user account %s does not exist in the %s directory.", login, s.domain))
		return
	}
	s.mu.Lock()
	code := "0.emu-code." + s.randomToken(40)
	s.codes[code] = &authCode{appID: a.ClientID, userID: u.ID, redirectURI: redirect, challenge: challenge, method: method, scopes: scopes, nonce: q.Get("nonce"), expires: s.now().Add(codeLifetime)}
	s.pruneLocked()
	s.mu.Unlock()
	p := url.Values{"code": {code}, "session_state": {s.guid("session", u.idx)}}
	if st := q.Get("state"); st != "" {
		p.Set("state", st)
	}
	redirectWith(w, r, redirect, p, formPost)
}

func (s *Server) handleAdminConsent(w http.ResponseWriter, r *http.Request, v2 bool) {
	if err := r.ParseForm(); err != nil {
		showPage(w, http.StatusBadRequest, map[string]any{"Title": "Admin consent", "Error": "malformed request"})
		return
	}
	q := r.Form
	a, redirect, err := s.appForRequest(q)
	if err != nil {
		showPage(w, http.StatusBadRequest, map[string]any{"Title": "Admin consent", "Error": err.Error()})
		return
	}
	fail := func(code, desc string) {
		p := url.Values{"error": {code}, "error_description": {desc}}
		if st := q.Get("state"); st != "" {
			p.Set("state", st)
		}
		redirectWith(w, r, redirect, p, false)
	}
	login, proceed := s.consentStep(w, r, q, "Permissions requested: "+a.Name, "Accept for your organization: "+strings.Join(a.Roles, ", "), r.URL.Path, fail)
	if !proceed {
		return
	}
	s.mu.Lock()
	var admin *user
	if login != "" {
		admin = s.lookupUserLocked(login)
	} else {
		for _, u := range s.users {
			if u.Admin && (admin == nil || u.idx < admin.idx) {
				admin = u
			}
		}
	}
	ok := admin != nil && admin.Admin
	if ok {
		a.Consented = true
	}
	s.mu.Unlock()
	if !ok {
		fail("access_denied", "AADSTS90094: The grant requires admin permission.")
		return
	}
	p := url.Values{"admin_consent": {"True"}, "tenant": {s.tenantID}}
	if st := q.Get("state"); st != "" {
		p.Set("state", st)
	}
	if v2 {
		p.Set("scope", graphResource+".default")
	}
	redirectWith(w, r, redirect, p, false)
}

// clientAuth authenticates the client at the token endpoint (body or HTTP Basic).
func (s *Server) clientAuth(r *http.Request) (*app, int, string, int, string) {
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if r.PostForm.Get("client_assertion") != "" {
		return nil, http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation."
	}
	s.mu.Lock()
	a := s.apps[id]
	s.mu.Unlock()
	if a == nil {
		return nil, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", id, s.domain)
	}
	if a.ClientSecret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(a.ClientSecret)) != 1 {
		if secret == "" {
			return nil, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
		}
		return nil, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID."
	}
	return a, 0, "", 0, ""
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		s.tokenError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body is not form-encoded.")
		return
	}
	a, status, code, aad, desc := s.clientAuth(r)
	if a == nil {
		s.tokenError(w, status, code, aad, desc)
		return
	}
	f := r.PostForm
	now := s.now()
	switch f.Get("grant_type") {
	case "authorization_code":
		s.mu.Lock()
		c := s.codes[f.Get("code")]
		var problem string
		var pcode int
		switch {
		case c == nil:
			problem, pcode = "Malformed or invalid authorization code.", 9002313
		case c.used:
			problem, pcode = "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.", 54005
		case now.After(c.expires):
			problem, pcode = "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.", 70008
		case c.appID != a.ClientID:
			problem, pcode = "The code was issued to another application.", 70000
		case c.redirectURI != f.Get("redirect_uri"):
			problem, pcode = "The redirect URI does not match the one the authorization code was requested with.", 500112
		case c.challenge != "" && !pkceOK(c.method, c.challenge, f.Get("code_verifier")):
			problem, pcode = "The code_verifier does not match the code_challenge supplied in the authorization request.", 501481
		}
		if c != nil {
			c.used = true // a code is single-use even when its redemption fails
		}
		if problem != "" {
			s.mu.Unlock()
			s.tokenError(w, http.StatusBadRequest, "invalid_grant", pcode, problem)
			return
		}
		u := s.users[c.userID]
		resp := s.issueDelegatedLocked(r, tenant, a, u, c.scopes, c.nonce)
		s.mu.Unlock()
		writeJSONBody(w, http.StatusOK, resp, false)
	case "refresh_token":
		s.mu.Lock()
		g := s.refresh[f.Get("refresh_token")]
		var problem string
		var pcode int
		switch {
		case g == nil:
			problem, pcode = "The refresh token is malformed or not valid.", 9002313
		case g.revoked:
			problem, pcode = "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on a date before the revocation.", 50173
		case now.Sub(g.lastUsed) > refreshIdleLife:
			problem, pcode = "The refresh token has expired due to inactivity. The token was issued on a date and was inactive for 90.00:00:00.", 700082
		case g.appID != a.ClientID:
			problem, pcode = "The refresh token was issued to a different client.", 70000
		}
		if problem != "" {
			s.mu.Unlock()
			s.tokenError(w, http.StatusBadRequest, "invalid_grant", pcode, problem)
			return
		}
		u := s.users[g.userID]
		if u == nil {
			s.mu.Unlock()
			s.tokenError(w, http.StatusBadRequest, "invalid_grant", 50034, "The user account does not exist in the directory.")
			return
		}
		scopes := g.scopes
		if req := f.Get("scope"); req != "" {
			var want []string
			for _, sc := range strings.Fields(req) {
				sc = normalizeScope(sc)
				if !isOIDC(sc) && !slices.ContainsFunc(g.scopes, func(x string) bool { return strings.EqualFold(x, sc) }) {
					s.mu.Unlock()
					s.tokenError(w, http.StatusBadRequest, "invalid_grant", 65001, "The user or administrator has not consented to use the application with ID '"+a.ClientID+"'. Send an interactive authorization request for this user and resource.")
					return
				}
				want = append(want, sc)
			}
			scopes = want
			if slices.Contains(g.scopes, "offline_access") && !slices.Contains(scopes, "offline_access") {
				scopes = append(scopes, "offline_access")
			}
		}
		g.lastUsed = now
		resp := s.issueDelegatedLocked(r, tenant, a, u, scopes, "")
		s.mu.Unlock()
		writeJSONBody(w, http.StatusOK, resp, false)
	case "client_credentials":
		if t := strings.ToLower(tenant); t == "common" || t == "organizations" {
			s.tokenError(w, http.StatusBadRequest, "invalid_request", 7000216, "Use a tenant-specific endpoint or configure the application to be multi-tenant: the client credentials grant needs a tenant.")
			return
		}
		if a.ClientSecret == "" {
			s.tokenError(w, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
			return
		}
		sc := f.Get("scope")
		if !strings.EqualFold(sc, graphResource+".default") && !strings.EqualFold(sc, graphAppID+"/.default") {
			s.tokenError(w, http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope "+sc+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
			return
		}
		s.mu.Lock()
		var roles []string
		if a.Consented {
			roles = slices.Clone(a.Roles)
		}
		tok := s.issueAccessLocked(r, a, nil, nil, roles)
		s.mu.Unlock()
		writeJSONBody(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok}, false)
	case "":
		s.tokenError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
	default:
		s.tokenError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+f.Get("grant_type")+"'.")
	}
}

func pkceOK(method, challenge, verifier string) bool {
	if verifier == "" {
		return false
	}
	if method == "plain" {
		return subtle.ConstantTimeCompare([]byte(challenge), []byte(verifier)) == 1
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

func (s *Server) issueDelegatedLocked(r *http.Request, tenant string, a *app, u *user, scopes []string, nonce string) map[string]any {
	var graphScopes []string
	var oidc []string
	for _, sc := range scopes {
		if isOIDC(sc) {
			if sc != "offline_access" {
				oidc = append(oidc, strings.ToLower(sc))
			}
			continue
		}
		graphScopes = append(graphScopes, sc)
	}
	if len(graphScopes) == 0 {
		graphScopes = []string{"User.Read"}
	}
	tok := s.issueAccessLocked(r, a, u, graphScopes, nil)
	resp := map[string]any{
		"token_type":     "Bearer",
		"scope":          strings.Join(append(slices.Clone(graphScopes), oidc...), " "),
		"expires_in":     3599,
		"ext_expires_in": 3599,
		"access_token":   tok,
	}
	if slices.ContainsFunc(scopes, func(x string) bool { return strings.EqualFold(x, "offline_access") }) {
		rt := "0.emu-rt." + s.randomToken(64)
		s.refresh[rt] = &refreshGrant{appID: a.ClientID, userID: u.ID, scopes: slices.Clone(scopes), lastUsed: s.now()}
		resp["refresh_token"] = rt
	}
	if slices.Contains(oidc, "openid") {
		now := s.now()
		claims := map[string]any{
			"aud": a.ClientID, "iss": baseURL(r) + "/" + s.tenantID + "/v2.0", "iat": now.Unix(), "nbf": now.Unix(),
			"exp": now.Add(time.Hour).Unix(), "name": u.DisplayName, "oid": u.ID, "sub": s.guid("sub", u.idx),
			"preferred_username": u.UserPrincipalName, "tid": s.tenantID, "ver": "2.0",
		}
		if slices.Contains(oidc, "email") {
			claims["email"] = u.Mail
		}
		if nonce != "" {
			claims["nonce"] = nonce
		}
		resp["id_token"] = s.signJWT(claims)
	}
	return resp
}

func (s *Server) issueAccessLocked(r *http.Request, a *app, u *user, scopes, roles []string) string {
	now := s.now()
	s.tokenSeq++
	claims := map[string]any{
		"aud": graphResource[:len(graphResource)-1], "iss": "https://sts.windows.net/" + s.tenantID + "/",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(accessLifetime).Unix(),
		"appid": a.ClientID, "app_displayname": a.Name, "tid": s.tenantID, "ver": "1.0",
		"uti": s.randomToken(22),
	}
	g := &accessGrant{appID: a.ClientID, expires: now.Add(accessLifetime)}
	if u != nil {
		claims["oid"] = u.ID
		claims["upn"] = u.UserPrincipalName
		claims["unique_name"] = u.UserPrincipalName
		claims["name"] = u.DisplayName
		claims["scp"] = strings.Join(scopes, " ")
		if u.Admin {
			claims["wids"] = []string{globalAdminRole}
		}
		g.userID, g.scopes = u.ID, slices.Clone(scopes)
	} else {
		claims["oid"] = s.guid("sp", 1)
		claims["idtyp"] = "app"
		claims["roles"] = roles
		g.roles = slices.Clone(roles)
	}
	tok := s.signJWT(claims)
	s.access[tok] = g
	s.pruneLocked()
	return tok
}

func (s *Server) signJWT(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "HS256", "kid": "emulator"})
	c, _ := json.Marshal(claims)
	head := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	m := hmac.New(sha256.New, append([]byte("jwt"), s.salt...))
	m.Write([]byte(head))
	return head + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// pruneLocked drops expired codes and access tokens so memory stays bounded.
func (s *Server) pruneLocked() {
	if len(s.codes)+len(s.access) < 4096 {
		return
	}
	now := s.now()
	for k, c := range s.codes {
		if now.After(c.expires) {
			delete(s.codes, k)
		}
	}
	for k, g := range s.access {
		if now.After(g.expires) {
			delete(s.access, k)
		}
	}
}

// authenticate resolves the bearer token of a Graph request.
func (s *Server) authenticate(r *http.Request) (*principal, *apiError) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "bearer ")
	}
	if !ok || strings.TrimSpace(tok) == "" {
		return nil, errf(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
	}
	tok = strings.TrimSpace(tok)
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.adminToken)) == 1 {
		return &principal{admin: true, appID: "emulator-admin"}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.access[tok]
	if g == nil {
		return nil, errf(http.StatusUnauthorized, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed, or the token is not one this service issued.")
	}
	if !s.now().Before(g.expires) {
		return nil, errf(http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
	}
	p := &principal{appID: g.appID, scopes: map[string]bool{}, roles: map[string]bool{}}
	if g.userID != "" {
		p.user = s.users[g.userID]
		if p.user == nil {
			return nil, errf(http.StatusUnauthorized, "InvalidAuthenticationToken", "The user of the token no longer exists.")
		}
		for _, sc := range g.scopes {
			p.scopes[strings.ToLower(sc)] = true
		}
	}
	for _, ro := range g.roles {
		p.roles[strings.ToLower(ro)] = true
	}
	return p, nil
}

// RevokeUser revokes every refresh token of an account (as a password reset or an
// admin's "revoke sessions" does): the next refresh answers invalid_grant.
func (s *Server) RevokeUser(account string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUserLocked(account)
	if u == nil {
		return fmt.Errorf("revoke: no user %q", account)
	}
	for _, g := range s.refresh {
		if g.userID == u.ID {
			g.revoked = true
		}
	}
	return nil
}

// ExpireAccessTokens makes every access token issued so far expired: the next Graph
// call with one answers 401, as after an hour.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.access {
		g.expires = time.Time{}
	}
}
