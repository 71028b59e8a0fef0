package gcaltest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html/template"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OAuth 2.0 server: the web-server flow with PKCE and offline access, refresh,
// revocation, the JWT bearer grant of service accounts, userinfo and tokeninfo.
// Everything is guarded by Server.mu.

const (
	accessTTL      = time.Hour
	codeTTL        = 10 * time.Minute
	testingRefresh = 7 * 24 * time.Hour
	jwtBearer      = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	realTokenURL   = "https://oauth2.googleapis.com/token"
)

type oauthState struct {
	s          *Server
	adminToken string
	testing    bool

	codes      map[string]*authCode
	access     map[string]*accessGrant
	refresh    map[string]*refreshGrant
	consented  map[string]bool // account + "\x00" + client
	serviceAcc map[string]*serviceAccount

	accessSerial uint64
	accessFloor  uint64

	keyOnce sync.Once
	key     *rsa.PrivateKey
	keyErr  error
}

type authCode struct {
	acct      *account
	client    string
	redirect  string
	scope     string
	challenge string
	method    string
	nonce     string
	expiry    time.Time
	offline   bool
	prompt    bool
}

type accessGrant struct {
	acct    *account
	client  string
	scope   string
	scopes  map[string]bool
	expiry  time.Time
	revoked bool
	serial  uint64
	refresh string
}

type refreshGrant struct {
	acct    *account
	client  string
	scope   string
	expiry  time.Time // zero: no expiry
	revoked bool
}

type serviceAccount struct {
	email  string
	keyID  string
	pub    *rsa.PublicKey
	scopes map[string]bool
}

func newOAuthState(s *Server, testing bool) *oauthState {
	return &oauthState{s: s, adminToken: randomToken("emu-admin-", 20), testing: testing,
		codes: map[string]*authCode{}, access: map[string]*accessGrant{}, refresh: map[string]*refreshGrant{},
		consented: map[string]bool{}, serviceAcc: map[string]*serviceAccount{}}
}

func scopeSetOf(scope string) map[string]bool {
	m := map[string]bool{}
	for _, sc := range strings.Fields(scope) {
		m[sc] = true
	}
	return m
}

// validScope accepts Google API scopes and the OpenID ones.
func validScope(scope string) bool {
	if strings.TrimSpace(scope) == "" {
		return false
	}
	for _, sc := range strings.Fields(scope) {
		switch {
		case sc == "openid", sc == "email", sc == "profile":
		case strings.HasPrefix(sc, scopePrefix):
		default:
			return false
		}
	}
	return true
}

// ---- authorize ----

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in - Google Accounts (emulator)</title></head>
<body><h1>Sign in</h1>
<p><b>{{.Client}}</b> wants to access your Google Account:</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="/o/oauth2/v2/auth">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<label>Account <input name="account" value="{{.Hint}}"></label>
<button name="decision" value="approve">Allow</button>
<button name="decision" value="deny">Cancel</button>
</form></body></html>`))

func oauthPageError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_ = template.Must(template.New("e").Parse(`<!doctype html><html><body><h1>Authorization Error</h1><p>{{.}}</p></body></html>`)).Execute(w, msg)
}

// serveAuthorize shows the sign-in page (GET) or handles its form (POST).
func (o *oauthState) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthPageError(w, http.StatusBadRequest, "Malformed request.")
		return
	}
	q := r.Form
	clientID, redirect := q.Get("client_id"), q.Get("redirect_uri")
	if clientID == "" {
		oauthPageError(w, http.StatusBadRequest, "Error 400: invalid_request. Missing required parameter: client_id")
		return
	}
	if o.s.opts.ClientID != "" && clientID != o.s.opts.ClientID {
		oauthPageError(w, http.StatusUnauthorized, "Error 401: invalid_client. The OAuth client was not found.")
		return
	}
	ru, err := url.Parse(redirect)
	if redirect == "" || err != nil || !ru.IsAbs() {
		oauthPageError(w, http.StatusBadRequest, "Error 400: redirect_uri_mismatch.")
		return
	}
	fail := func(code string) {
		v := ru.Query()
		v.Set("error", code)
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		ru.RawQuery = v.Encode()
		http.Redirect(w, r, ru.String(), http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type")
		return
	}
	if !validScope(q.Get("scope")) {
		fail("invalid_scope")
		return
	}
	method := q.Get("code_challenge_method")
	if q.Get("code_challenge") != "" && method == "" {
		method = "plain"
	}
	if method != "" && method != "S256" && method != "plain" {
		fail("invalid_request")
		return
	}
	account := ""
	switch {
	case r.Method == http.MethodPost:
		if q.Get("decision") != "approve" {
			fail("access_denied")
			return
		}
		account = q.Get("account")
	case o.s.opts.AutoConsent:
		account = q.Get("login_hint")
	default:
		params := map[string]string{}
		for k := range q {
			if k != "account" && k != "decision" {
				params[k] = q.Get(k)
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = consentPage.Execute(w, map[string]any{"Client": clientID, "Scopes": strings.Fields(q.Get("scope")),
			"Params": params, "Hint": q.Get("login_hint")})
		return
	}
	s := o.s
	s.mu.Lock()
	acct := s.accounts[strings.ToLower(strings.TrimSpace(account))]
	if acct == nil || acct.deleted || acct.resource {
		s.mu.Unlock()
		fail("access_denied")
		return
	}
	code := randomToken("4/0A", 24)
	o.codes[code] = &authCode{acct: acct, client: clientID, redirect: redirect, scope: q.Get("scope"),
		challenge: q.Get("code_challenge"), method: method, nonce: q.Get("nonce"), expiry: s.now().Add(codeTTL),
		offline: q.Get("access_type") == "offline", prompt: strings.Contains(q.Get("prompt"), "consent")}
	s.mu.Unlock()
	v := ru.Query()
	v.Set("code", code)
	v.Set("scope", q.Get("scope"))
	if st := q.Get("state"); st != "" {
		v.Set("state", st)
	}
	v.Set("authuser", "0")
	v.Set("prompt", "consent")
	ru.RawQuery = v.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

// ---- token ----

type tokenError struct {
	code int
	err  string
	desc string
}

func (o *oauthState) writeTokenError(w http.ResponseWriter, e *tokenError) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, e.code, map[string]string{"error": e.err, "error_description": e.desc})
}

// serveToken is the token endpoint.
func (o *oauthState) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		o.writeTokenError(w, &tokenError{405, "invalid_request", "Use POST."})
		return
	}
	if err := r.ParseForm(); err != nil {
		o.writeTokenError(w, &tokenError{400, "invalid_request", "Malformed body."})
		return
	}
	f := r.PostForm
	grant := f.Get("grant_type")
	var resp map[string]any
	var te *tokenError
	switch grant {
	case "authorization_code", "refresh_token":
		clientID, secret, ok := r.BasicAuth()
		if !ok {
			clientID, secret = f.Get("client_id"), f.Get("client_secret")
		}
		if clientID == "" {
			te = &tokenError{400, "invalid_request", "Missing required parameter: client_id"}
			break
		}
		if o.s.opts.ClientID != "" && (clientID != o.s.opts.ClientID ||
			subtle.ConstantTimeCompare([]byte(secret), []byte(o.s.opts.ClientSecret)) != 1) {
			te = &tokenError{401, "invalid_client", "Unauthorized"}
			break
		}
		if grant == "authorization_code" {
			resp, te = o.exchangeCode(r, clientID, f)
		} else {
			resp, te = o.refreshGrant(clientID, f.Get("refresh_token"))
		}
	case jwtBearer:
		resp, te = o.jwtGrant(r, f.Get("assertion"))
	case "":
		te = &tokenError{400, "invalid_request", "Missing required parameter: grant_type"}
	default:
		te = &tokenError{400, "unsupported_grant_type", "Invalid grant_type: " + grant}
	}
	if te != nil {
		o.writeTokenError(w, te)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

// issueAccess creates an access token. Callers hold s.mu.
func (o *oauthState) issueAccess(acct *account, client, scope, refresh string) (string, *accessGrant) {
	o.accessSerial++
	tok := randomToken("ya29.emu-", 24)
	g := &accessGrant{acct: acct, client: client, scope: scope, scopes: scopeSetOf(scope),
		expiry: o.s.now().Add(accessTTL), serial: o.accessSerial, refresh: refresh}
	o.access[tok] = g
	o.gc()
	return tok, g
}

// gc forgets expired access tokens and codes so memory stays bounded.
func (o *oauthState) gc() {
	if len(o.access) < 4096 {
		return
	}
	now := o.s.now()
	for k, g := range o.access {
		if !now.Before(g.expiry) || g.revoked {
			delete(o.access, k)
		}
	}
	for k, c := range o.codes {
		if !now.Before(c.expiry) {
			delete(o.codes, k)
		}
	}
}

func (o *oauthState) exchangeCode(r *http.Request, clientID string, f url.Values) (map[string]any, *tokenError) {
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	invalid := &tokenError{400, "invalid_grant", "Malformed auth code."}
	c := o.codes[f.Get("code")]
	if c == nil {
		return nil, invalid
	}
	delete(o.codes, f.Get("code")) // single use
	if !s.now().Before(c.expiry) || c.client != clientID {
		return nil, invalid
	}
	if f.Get("redirect_uri") != c.redirect {
		return nil, &tokenError{400, "redirect_uri_mismatch", "Bad Request"}
	}
	if c.challenge != "" {
		v := f.Get("code_verifier")
		if v == "" {
			return nil, &tokenError{400, "invalid_request", "Missing code verifier."}
		}
		want := v
		if c.method == "S256" {
			sum := sha256.Sum256([]byte(v))
			want = base64.RawURLEncoding.EncodeToString(sum[:])
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(c.challenge)) != 1 {
			return nil, &tokenError{400, "invalid_grant", "Invalid code verifier."}
		}
	}
	if c.acct.deleted {
		return nil, invalid
	}
	key := c.acct.email + "\x00" + clientID
	rt := ""
	resp := map[string]any{"token_type": "Bearer", "expires_in": int(accessTTL.Seconds()) - 1, "scope": c.scope}
	// A refresh token comes only with offline access, and then only on the first
	// consent or when prompt=consent forces the screen again.
	if c.offline && (!o.consented[key] || c.prompt) {
		rt = randomToken("1//0emu-", 24)
		g := &refreshGrant{acct: c.acct, client: clientID, scope: c.scope}
		if o.testing {
			g.expiry = s.now().Add(testingRefresh)
			resp["refresh_token_expires_in"] = int(testingRefresh.Seconds()) - 1
		}
		o.refresh[rt] = g
		resp["refresh_token"] = rt
	}
	o.consented[key] = true
	at, _ := o.issueAccess(c.acct, clientID, c.scope, rt)
	resp["access_token"] = at
	if scopeSetOf(c.scope)["openid"] {
		idt, err := o.idToken(baseURL(r), c.acct, clientID, c.nonce)
		if err != nil {
			return nil, &tokenError{500, "server_error", "cannot sign id_token"}
		}
		resp["id_token"] = idt
	}
	return resp, nil
}

func (o *oauthState) refreshGrant(clientID, rt string) (map[string]any, *tokenError) {
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	g := o.refresh[rt]
	revoked := &tokenError{400, "invalid_grant", "Token has been expired or revoked."}
	if g == nil || g.revoked || g.client != clientID || g.acct.deleted {
		return nil, revoked
	}
	if !g.expiry.IsZero() && !s.now().Before(g.expiry) {
		return nil, revoked
	}
	at, _ := o.issueAccess(g.acct, clientID, g.scope, rt)
	resp := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": int(accessTTL.Seconds()) - 1,
		"scope": g.scope}
	if !g.expiry.IsZero() {
		resp["refresh_token_expires_in"] = int(g.expiry.Sub(s.now()).Seconds())
	}
	return resp, nil
}

// ---- JWT bearer (service accounts) ----

type jwtClaims struct {
	Iss   string `json:"iss"`
	Sub   string `json:"sub"`
	Scope string `json:"scope"`
	Aud   string `json:"aud"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
}

func (o *oauthState) jwtGrant(r *http.Request, assertion string) (map[string]any, *tokenError) {
	bad := func(desc string) *tokenError { return &tokenError{400, "invalid_grant", desc} }
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil, bad("Invalid JWT Signature.")
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, bad("Invalid JWT Signature.")
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var cl jwtClaims
	if json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &cl) != nil || hdr.Alg != "RS256" {
		return nil, bad("Invalid JWT Signature.")
	}
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	sa := o.serviceAcc[strings.ToLower(cl.Iss)]
	if sa == nil {
		return nil, &tokenError{401, "invalid_client", "The OAuth client was not found."}
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(sa.pub, crypto.SHA256, sum[:], sig) != nil {
		return nil, bad("Invalid JWT Signature.")
	}
	// The audience is this server's token endpoint (or the real one, which service
	// account key files name).
	if cl.Aud != baseURL(r)+"/token" && cl.Aud != realTokenURL {
		return nil, bad("Invalid JWT: audience is not the token endpoint.")
	}
	now := s.now().Unix()
	if cl.Exp-cl.Iat > 3600 || cl.Exp <= cl.Iat || now > cl.Exp || cl.Iat > now+300 {
		return nil, bad("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	}
	if strings.TrimSpace(cl.Scope) == "" {
		return nil, &tokenError{400, "invalid_scope", "Invalid OAuth scope or ID token audience provided."}
	}
	for sc := range scopeSetOf(cl.Scope) {
		if !sa.scopes[sc] {
			return nil, &tokenError{401, "unauthorized_client",
				"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}
		}
	}
	var acct *account
	if cl.Sub != "" {
		acct = s.accounts[strings.ToLower(cl.Sub)]
		if acct == nil || acct.deleted || acct.resource {
			return nil, bad("Invalid email or User ID")
		}
	}
	at, _ := o.issueAccess(acct, sa.email, cl.Scope, "")
	return map[string]any{"access_token": at, "expires_in": int(accessTTL.Seconds()) - 1, "token_type": "Bearer"}, nil
}

// NewServiceAccount registers a service account whose domain-wide delegation grants
// scopes, and returns its JSON key file (a fresh 2048-bit RSA key).
func (s *Server) NewServiceAccount(name string, scopes ...string) ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("service account key: %w", err)
	}
	email := name + "@emulator.iam.gserviceaccount.com"
	keyID := randomToken("", 20)
	s.AddServiceAccount(email, keyID, &key.PublicKey, scopes...)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("service account key: %w", err)
	}
	s.mu.Lock()
	s.nextNumID++
	clientID := strconv.FormatInt(s.nextNumID, 10)
	s.mu.Unlock()
	return json.MarshalIndent(map[string]string{
		"type": "service_account", "project_id": "emulator", "private_key_id": keyID,
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": clientID,
		"auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": realTokenURL,
	}, "", "  ")
}

// AddServiceAccount registers a service account's public key and the scopes its
// domain-wide delegation grants.
func (s *Server) AddServiceAccount(email, keyID string, pub *rsa.PublicKey, scopes ...string) {
	sa := &serviceAccount{email: strings.ToLower(email), keyID: keyID, pub: pub, scopes: map[string]bool{}}
	for _, sc := range scopes {
		sa.scopes[sc] = true
	}
	s.mu.Lock()
	s.oauth.serviceAcc[sa.email] = sa
	s.mu.Unlock()
}

// ---- revoke, userinfo, tokeninfo ----

func (o *oauthState) serveRevoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	tok := r.Form.Get("token")
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var rt string
	if g := o.access[tok]; g != nil && !g.revoked {
		g.revoked = true
		rt = g.refresh
	} else if g := o.refresh[tok]; g != nil && !g.revoked {
		rt = tok
	} else {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_token", "error_description": "Token expired or revoked"})
		return
	}
	if g := o.refresh[rt]; g != nil {
		g.revoked = true
		for _, a := range o.access {
			if a.refresh == rt {
				a.revoked = true
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{})
}

// bearerGrant resolves the access token of a userinfo call. Callers hold s.mu.
func (o *oauthState) bearerGrant(tok string) *accessGrant {
	g := o.access[tok]
	if g == nil || g.revoked || !o.s.now().Before(g.expiry) || g.serial < o.accessFloor || g.acct == nil {
		return nil
	}
	return g
}

func (o *oauthState) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimSpace(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	if tok == "" {
		tok = r.URL.Query().Get("access_token")
	}
	s := o.s
	s.mu.Lock()
	g := o.bearerGrant(tok)
	if g == nil {
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request",
			"error_description": "Invalid Credentials"})
		return
	}
	a := g.acct
	s.mu.Unlock()
	out := map[string]any{"sub": a.numericID, "email": a.email, "email_verified": true,
		"hd": domainOf(a.email)}
	if a.name != "" {
		out["name"] = a.name
	}
	writeJSON(w, http.StatusOK, out)
}

func (o *oauthState) serveTokeninfo(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("access_token")
	if tok == "" {
		_ = r.ParseForm()
		tok = r.Form.Get("access_token")
	}
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	g := o.bearerGrant(tok)
	if g == nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_token", "error_description": "Invalid Value"})
		return
	}
	left := int64(g.expiry.Sub(s.now()).Seconds())
	access := "online"
	if g.refresh != "" {
		access = "offline"
	}
	writeJSON(w, http.StatusOK, map[string]string{"azp": g.client, "aud": g.client, "sub": g.acct.numericID,
		"scope": g.scope, "exp": strconv.FormatInt(g.expiry.Unix(), 10), "expires_in": strconv.FormatInt(left, 10),
		"email": g.acct.email, "email_verified": "true", "access_type": access})
}

func domainOf(email string) string {
	_, d, _ := strings.Cut(email, "@")
	return d
}

// ---- id_token signing and discovery ----

func (o *oauthState) idToken(issuer string, a *account, clientID, nonce string) (string, error) {
	key, err := o.signingKey()
	if err != nil {
		return "", err
	}
	now := o.s.now()
	claims := map[string]any{"iss": issuer, "azp": clientID, "aud": clientID, "sub": a.numericID, "email": a.email,
		"email_verified": true, "hd": domainOf(a.email), "iat": now.Unix(), "exp": now.Add(accessTTL).Unix()}
	if a.name != "" {
		claims["name"] = a.name
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	return signJWT(key, "emu1", claims)
}

func signJWT(key *rsa.PrivateKey, kid string, claims any) (string, error) {
	hb, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": kid, "typ": "JWT"})
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func (o *oauthState) serveCerts(w http.ResponseWriter, r *http.Request) {
	key, err := o.signingKey()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "no key"})
		return
	}
	e := big.NewInt(int64(key.PublicKey.E)).Bytes()
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{"kty": "RSA", "alg": "RS256", "use": "sig",
		"kid": "emu1", "n": base64.RawURLEncoding.EncodeToString(key.PublicKey.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(e)}}})
}

func (o *oauthState) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	b := baseURL(r)
	writeJSON(w, http.StatusOK, map[string]any{"issuer": b, "authorization_endpoint": b + "/o/oauth2/v2/auth",
		"token_endpoint": b + "/token", "userinfo_endpoint": b + "/oauth2/v3/userinfo", "revocation_endpoint": b + "/revoke",
		"jwks_uri": b + "/oauth2/v3/certs", "response_types_supported": []string{"code"},
		"code_challenge_methods_supported": []string{"plain", "S256"},
		"grant_types_supported":            []string{"authorization_code", "refresh_token", jwtBearer}})
}

// ---- Go API for tests and the demo ----

// TokenFor issues an access token for an account directly, as if it had consented
// to scopes (all of the Calendar and Directory scopes the provider uses when none
// are given).
func (s *Server) TokenFor(email string, scopes ...string) (string, error) {
	if len(scopes) == 0 {
		scopes = []string{"openid", "email", scopePrefix + "calendar.events",
			scopePrefix + "admin.directory.resource.calendar.readonly", scopePrefix + "admin.directory.user.readonly"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[strings.ToLower(email)]
	if a == nil || a.deleted || a.resource {
		return "", fmt.Errorf("token for %s: no such user", email)
	}
	tok, _ := s.oauth.issueAccess(a, "emulator", strings.Join(scopes, " "), "")
	return tok, nil
}

// RevokeAccount revokes every refresh and access token of an account (the user
// removed the app's access) and returns how many grants it revoked.
func (s *Server) RevokeAccount(email string) int {
	email = strings.ToLower(email)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.oauth.refresh {
		if g.acct.email == email && !g.revoked {
			g.revoked = true
			n++
		}
	}
	for _, g := range s.oauth.access {
		if g.acct != nil && g.acct.email == email && !g.revoked {
			g.revoked = true
			n++
		}
	}
	for k := range s.oauth.consented {
		if strings.HasPrefix(k, email+"\x00") {
			delete(s.oauth.consented, k)
		}
	}
	return n
}

// ExpireAccessTokens makes every access token issued so far answer 401.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	s.oauth.accessFloor = s.oauth.accessSerial + 1
	s.mu.Unlock()
}

// SetTestingMode switches the OAuth app's "Testing" publishing status: refresh
// tokens issued while it is on die after 7 days.
func (s *Server) SetTestingMode(on bool) {
	s.mu.Lock()
	s.oauth.testing = on
	s.mu.Unlock()
}
