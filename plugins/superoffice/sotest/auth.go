package sotest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html/template"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/superoffice/internal/wire"
)

const (
	codeLifetime   = 10 * time.Minute
	accessLifetime = time.Hour
	ticketSliding  = 6 * time.Hour
	// signedTokenWindow is how far the timestamp in a signed system token may be
	// from the server's clock [inferred: the docs only say the token is stamped].
	signedTokenWindow = 5 * time.Minute
	claimPrefix       = "http://schemes.superoffice.net/identity/"
)

type keyPair struct {
	signing *rsa.PrivateKey
	partner *rsa.PrivateKey
	kid     string
}

func (s *Server) keyPair() *keyPair {
	s.keysOnce.Do(func() {
		kp := &keyPair{signing: s.opts.SigningKey, partner: s.opts.PartnerKey}
		var err error
		if kp.signing == nil {
			if kp.signing, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				panic(fmt.Sprintf("sotest: generate signing key: %v", err))
			}
		}
		if kp.partner == nil {
			if kp.partner, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				panic(fmt.Sprintf("sotest: generate partner key: %v", err))
			}
		}
		sum := sha256.Sum256(kp.signing.N.Bytes())
		kp.kid = hex.EncodeToString(sum[:8])
		s.keys = kp
	})
	return s.keys
}

// PartnerKeyPEM returns the partner's RSA private key as PEM (PKCS#1), the file a
// daemon's partner_key_file points at for the system-user flow.
func (s *Server) PartnerKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.keyPair().partner)})
}

// AdminToken returns a bearer token the tenant API accepts for every diary. It acts
// as the tenant's system user and never expires.
func (s *Server) AdminToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.adminTok
}

type authCode struct {
	assoc      int
	clientID   string
	redirect   string
	challenge  string
	method     string
	nonce      string
	expires    time.Time
	used       bool
	issuerBase string
}

type accessToken struct {
	assoc   int
	expires time.Time
}

type refreshToken struct {
	assoc    int
	clientID string
}

type ticket struct {
	assoc    int
	lastUsed time.Time
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("sotest: random: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// RevokeConsent withdraws the application's authorisation in the tenant: refresh
// tokens answer invalid_grant, the system token is refused and tickets and access
// tokens stop working. A new consent (sign-in) restores it.
func (s *Server) RevokeConsent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.revoked = true
	s.st.refresh = map[string]*refreshToken{}
	s.st.tickets = map[string]*ticket{}
	s.st.access = map[string]*accessToken{}
}

// ExpireTickets ends every system-user ticket and user access token (the next use
// answers 401), as if they had lapsed.
func (s *Server) ExpireTickets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.tickets = map[string]*ticket{}
	s.st.access = map[string]*accessToken{}
}

func (s *Server) loginRoot(r *http.Request) string { return requestBase(r) }

func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	p := strings.ToLower(strings.TrimRight(r.URL.Path, "/"))
	switch {
	case p == "/login/.well-known/openid-configuration":
		s.count("GET /login/.well-known/openid-configuration")
		root := s.loginRoot(r)
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                root,
			"authorization_endpoint":                root + "/login/common/oauth/authorize",
			"token_endpoint":                        root + "/login/common/oauth/tokens",
			"jwks_uri":                              root + "/login/.well-known/jwks",
			"scopes_supported":                      []string{"openid"},
			"response_types_supported":              []string{"code", "id_token", "code id_token"},
			"response_modes_supported":              []string{"query", "fragment", "form_post"},
			"grant_types_supported":                 []string{"authorization_code", "refresh_token", "implicit"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"subject_types_supported":               []string{"public"},
			"code_challenge_methods_supported":      []string{"plain", "S256"},
		})
	case p == "/login/.well-known/jwks":
		s.count("GET /login/.well-known/jwks")
		kp := s.keyPair()
		writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kp.kid,
			"n": base64.RawURLEncoding.EncodeToString(kp.signing.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(kp.signing.E)).Bytes()),
		}}})
	case p == "/login/common/oauth/authorize":
		s.count(r.Method + " /login/common/oauth/authorize")
		s.serveAuthorize(w, r)
	case p == "/login/common/oauth/tokens":
		s.count("POST /login/common/oauth/tokens")
		s.serveTokens(w, r)
	case p == "/login/api/partnersystemuser/authenticate":
		s.count("POST /Login/api/PartnerSystemUser/Authenticate")
		s.serveSystemUser(w, r)
	default:
		s.count("unknown")
		writeError(w, http.StatusNotFound, "NotFound", "No such login resource")
	}
}

var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html><head><title>SuperOffice sign-in (emulator)</title></head><body>
<h1>Sign in to {{.Tenant}}</h1>
<p>Application <b>{{.Client}}</b> asks for access to your SuperOffice CRM.</p>
<form method="post">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<label>User name <input name="username" value="{{.Hint}}"></label>
<button type="submit" name="approve" value="yes">Approve</button>
<button type="submit" name="approve" value="no">Deny</button>
</form></body></html>`))

func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	get := func(k string) string { return r.Form.Get(k) }
	redirect := get("redirect_uri")
	if get("client_id") != s.opts.ClientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	ru, err := url.Parse(redirect)
	if err != nil || redirect == "" || !ru.IsAbs() {
		http.Error(w, "redirect_uri missing or not absolute", http.StatusBadRequest)
		return
	}
	fail := func(code, desc string) {
		q := ru.Query()
		q.Set("error", code)
		q.Set("error_description", desc)
		if st := get("state"); st != "" {
			q.Set("state", st)
		}
		ru.RawQuery = q.Encode()
		http.Redirect(w, r, ru.String(), http.StatusFound)
	}
	if get("response_type") != "code" {
		fail("unsupported_response_type", "only response_type=code is emulated")
		return
	}
	for _, sc := range strings.Fields(get("scope")) {
		if sc != "openid" {
			fail("invalid_scope", "only the openid scope exists")
			return
		}
	}
	if !strings.Contains(" "+get("scope")+" ", " openid ") {
		fail("invalid_scope", "scope must be openid")
		return
	}
	if acr := get("acr_values"); acr != "" && !strings.EqualFold(strings.TrimPrefix(acr, "tenant:"), s.opts.ContextID) {
		fail("access_denied", "unknown tenant "+acr)
		return
	}
	method := get("code_challenge_method")
	if method == "" && get("code_challenge") != "" {
		method = "plain" // plain is the default, as documented
	}
	if method != "" && method != "plain" && method != "S256" {
		fail("invalid_request", "code_challenge_method must be plain or S256")
		return
	}
	hint := get("login_hint")
	username := hint
	if r.Method == http.MethodPost {
		if get("approve") != "yes" {
			fail("access_denied", "the user denied access")
			return
		}
		username = get("username")
	} else if !s.opts.AutoConsent {
		params := map[string]string{}
		for k := range r.Form {
			params[k] = r.Form.Get(k)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = signInPage.Execute(w, map[string]any{"Tenant": s.opts.ContextID, "Client": s.opts.ClientID,
			"Hint": hint, "Params": params})
		return
	}
	s.mu.Lock()
	var a *associate
	if username == "" && s.opts.AutoConsent {
		// No account named: the real sign-in would ask who is signing in; the
		// auto-approving page answers with the tenant's first administrator, which
		// is what a scripted tenant setup (curl -L .../setup/NAME/go) needs.
		a = s.st.firstAdmin()
	} else {
		a = s.st.findAssociate(username)
	}
	if a == nil || a.kind != kindEmployee || a.deleted {
		s.mu.Unlock()
		fail("access_denied", "unknown user "+username)
		return
	}
	code := randomToken(24)
	s.st.codes[code] = &authCode{assoc: a.id, clientID: s.opts.ClientID, redirect: redirect,
		challenge: get("code_challenge"), method: method, nonce: get("nonce"),
		expires: s.now().Add(codeLifetime), issuerBase: s.loginRoot(r)}
	if a.admin {
		// An administrator's consent (re)authorises the app for the tenant.
		s.st.revoked = false
	}
	s.mu.Unlock()
	q := ru.Query()
	q.Set("code", code)
	if st := get("state"); st != "" {
		q.Set("state", st)
	}
	ru.RawQuery = q.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (s *Server) serveTokens(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		tokenError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if err := r.ParseForm(); err != nil { // form body and query string alike
		tokenError(w, http.StatusBadRequest, "invalid_request", "bad form body")
		return
	}
	get := func(k string) string { return r.Form.Get(k) }
	clientID, secret := get("client_id"), get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		clientID, secret = u, p
	}
	if clientID != s.opts.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var assoc int
	var nonce string
	issueRefresh := false
	switch get("grant_type") {
	case "authorization_code":
		c := s.st.codes[get("code")]
		if c == nil || c.used || now.After(c.expires) || c.clientID != clientID {
			tokenError(w, http.StatusBadRequest, "invalid_grant", "code unknown, used or expired")
			return
		}
		c.used = true
		if get("redirect_uri") != c.redirect {
			tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match")
			return
		}
		if c.challenge != "" {
			v := get("code_verifier")
			want := v
			if c.method == "S256" {
				sum := sha256.Sum256([]byte(v))
				want = base64.RawURLEncoding.EncodeToString(sum[:])
			}
			if v == "" || want != c.challenge {
				tokenError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
				return
			}
		}
		assoc, nonce, issueRefresh = c.assoc, c.nonce, true
	case "refresh_token":
		rt := s.st.refresh[get("refresh_token")]
		if rt == nil || s.st.revoked || rt.clientID != clientID {
			tokenError(w, http.StatusBadRequest, "invalid_grant", "refresh token revoked or unknown")
			return
		}
		assoc = rt.assoc
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
		return
	}
	a := s.st.assocs[assoc]
	if a == nil || a.deleted {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "user no longer exists")
		return
	}
	s.pruneLocked(now)
	access := "8A:" + s.opts.ContextID + "." + randomToken(32)
	s.st.access[access] = &accessToken{assoc: assoc, expires: now.Add(accessLifetime)}
	resp := map[string]any{"token_type": "Bearer", "access_token": access, "expires_in": int(accessLifetime / time.Second)}
	if issueRefresh {
		rt := randomToken(32)
		s.st.refresh[rt] = &refreshToken{assoc: assoc, clientID: clientID}
		resp["refresh_token"] = rt
	}
	root := s.loginRoot(r)
	claims := map[string]any{
		"sub": a.email, "iss": root, "aud": clientID,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(accessLifetime).Unix(),
		claimPrefix + "ctx": s.opts.ContextID,
		// The documented sample points at the root host, which answers 421 for the
		// tenant's API: clients must resolve the host through the state API.
		claimPrefix + "webapi_url":               root + "/" + s.opts.ContextID + "/api/",
		claimPrefix + "netserver_url":            root + "/" + s.opts.ContextID + "/Remote/Services88/",
		claimPrefix + "associateid":              strconv.Itoa(a.id),
		claimPrefix + "email":                    a.email,
		claimPrefix + "upn":                      a.email,
		claimPrefix + "is_administrator":         boolText(a.admin),
		claimPrefix + "company_name":             "Emulated Company",
		claimPrefix + "serial":                   "1234567890",
		claimPrefix + "initials":                 initials(a.fullName),
		claimPrefix + "identityprovider":         "SuperOffice",
		claimPrefix + "so_primary_email_address": a.email,
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if a.admin {
		claims[claimPrefix+"system_token"] = s.opts.SystemToken
	}
	resp["id_token"] = s.signJWT(claims)
	writeJSON(w, http.StatusOK, resp)
}

func boolText(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func initials(name string) string {
	var b strings.Builder
	for _, f := range strings.Fields(name) {
		b.WriteString(strings.ToUpper(f[:1]))
	}
	return b.String()
}

func (s *Server) signJWT(claims map[string]any) string {
	kp := s.keyPair()
	hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kp.kid})
	body, _ := json.Marshal(claims)
	data := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(body)
	sum := sha256.Sum256([]byte(data))
	sig, err := rsa.SignPKCS1v15(rand.Reader, kp.signing, crypto.SHA256, sum[:])
	if err != nil {
		panic(fmt.Sprintf("sotest: sign: %v", err))
	}
	return data + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// serveSystemUser exchanges a signed system token for a ticket.
func (s *Server) serveSystemUser(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use POST")
		return
	}
	var req wire.SystemUserRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	refuse := func(msg string) {
		writeJSON(w, http.StatusOK, wire.SystemUserResponse{IsSuccessful: false, ErrorMessage: &msg})
	}
	if subtle.ConstantTimeCompare([]byte(req.ApplicationToken), []byte(s.opts.ClientSecret)) != 1 {
		refuse("Invalid application token")
		return
	}
	if !strings.EqualFold(req.ContextIdentifier, s.opts.ContextID) {
		refuse("Unknown context identifier")
		return
	}
	i := strings.LastIndexByte(req.SignedSystemToken, '.')
	if i < 0 {
		refuse("Malformed signed system token")
		return
	}
	data, sigText := req.SignedSystemToken[:i], req.SignedSystemToken[i+1:]
	j := strings.LastIndexByte(data, '.')
	if j < 0 {
		refuse("Malformed signed system token")
		return
	}
	token, stamp := data[:j], data[j+1:]
	sig, err := base64.StdEncoding.DecodeString(sigText)
	if err != nil {
		refuse("Malformed signature")
		return
	}
	sum := sha256.Sum256([]byte(data))
	if err := rsa.VerifyPKCS1v15(&s.keyPair().partner.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		refuse("Invalid signature")
		return
	}
	at, err := time.ParseInLocation("200601021504", stamp, time.UTC)
	now := s.now()
	if err != nil || at.Before(now.Add(-signedTokenWindow)) || at.After(now.Add(signedTokenWindow)) {
		refuse("Invalid timestamp")
		return
	}
	s.mu.Lock()
	revoked := s.st.revoked
	s.mu.Unlock()
	if token != s.opts.SystemToken || revoked {
		refuse("The application's authorisation for this tenant was revoked")
		return
	}
	tk := "7T:" + randomToken(24)
	s.mu.Lock()
	s.pruneLocked(now)
	s.st.tickets[tk] = &ticket{assoc: s.st.systemUser().id, lastUsed: now}
	s.mu.Unlock()
	jwt := s.signJWT(map[string]any{
		"iss": "SuperOffice AS", "aud": "spn:1234567890",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		claimPrefix + "ticket":      tk,
		claimPrefix + "ctx":         s.opts.ContextID,
		claimPrefix + "associateid": strconv.Itoa(s.st.systemUser().id),
	})
	if strings.EqualFold(req.ReturnTokenType, "Ticket") {
		jwt = tk
	}
	writeJSON(w, http.StatusOK, wire.SystemUserResponse{IsSuccessful: true, Token: jwt})
}

// authenticate checks the credentials of a tenant API request and returns the
// acting associate, or writes 401.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*associate, bool) {
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(msg string) (*associate, bool) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="SuperOffice"`)
		writeError(w, http.StatusUnauthorized, "SoAuthenticationException", msg)
		return nil, false
	}
	switch strings.ToLower(scheme) {
	case "bearer":
		if s.opts.Onsite && cred != s.st.adminTok {
			return fail("Bearer tokens are not supported onsite")
		}
		if cred != "" && cred == s.st.adminTok {
			return s.st.systemUser(), true
		}
		t := s.st.access[cred]
		if t == nil || now.After(t.expires) {
			return fail("Access token invalid or expired")
		}
		a := s.st.assocs[t.assoc]
		if a == nil || a.deleted {
			return fail("User no longer exists")
		}
		return a, true
	case "soticket":
		if !s.opts.Onsite && subtle.ConstantTimeCompare([]byte(r.Header.Get("SO-AppToken")), []byte(s.opts.ClientSecret)) != 1 {
			return fail("SOTicket requires a valid SO-AppToken")
		}
		t := s.st.tickets[cred]
		if t == nil || now.Sub(t.lastUsed) > ticketSliding {
			delete(s.st.tickets, cred)
			return fail("Ticket invalid or expired")
		}
		t.lastUsed = now // sliding expiry
		return s.st.assocs[t.assoc], true
	case "basic":
		if !s.opts.Onsite {
			return fail("Basic authentication is not enabled")
		}
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return fail("Malformed Basic credentials")
		}
		user, pass, _ := strings.Cut(string(raw), ":")
		a := s.st.findAssociate(user)
		if a == nil || a.deleted || a.password == "" || subtle.ConstantTimeCompare([]byte(a.password), []byte(pass)) != 1 {
			return fail("Wrong user name or password")
		}
		return a, true
	}
	return fail("Missing or unsupported Authorization header")
}

// pruneLocked drops used and expired codes, tokens and tickets once there are
// many, so a long-running emulator keeps its memory bounded.
func (s *Server) pruneLocked(now time.Time) {
	const many = 1000
	if len(s.st.codes) > many {
		for k, c := range s.st.codes {
			if c.used || now.After(c.expires) {
				delete(s.st.codes, k)
			}
		}
	}
	if len(s.st.access) > many {
		for k, a := range s.st.access {
			if now.After(a.expires) {
				delete(s.st.access, k)
			}
		}
	}
	if len(s.st.tickets) > many {
		for k, t := range s.st.tickets {
			if now.Sub(t.lastUsed) > ticketSliding {
				delete(s.st.tickets, k)
			}
		}
	}
}

// SetPassword sets the password an associate uses with onsite Basic auth.
func (s *Server) SetPassword(login, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.findAssociate(login)
	if a == nil {
		return fmt.Errorf("no associate %q", login)
	}
	a.password = password
	return nil
}

// SignSystemToken signs a system token with the partner key the way a partner
// application must (token.yyyyMMddHHmm.signature); a helper for tests.
func (s *Server) SignSystemToken(token string, at time.Time) string {
	data := token + "." + at.UTC().Format("200601021504")
	sum := sha256.Sum256([]byte(data))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.keyPair().partner, crypto.SHA256, sum[:])
	if err != nil {
		panic(fmt.Sprintf("sotest: sign: %v", err))
	}
	return data + "." + base64.StdEncoding.EncodeToString(sig)
}
