package gcaltest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"synchronizer/plugins/internal/pushdeliver"
	"synchronizer/plugins/internal/tzcache"
)

// Options configure a Server.
type Options struct {
	// AutoConsent makes the sign-in page approve at once as the account in login_hint.
	AutoConsent bool
	// Now is the emulator's clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the emulator's own log lines; nil discards them.
	Logger *slog.Logger
	// TimeZone is the zone of new calendars; "" means Europe/Oslo.
	TimeZone string
	// ClientID and ClientSecret, when set, are the only OAuth client accepted;
	// empty accepts any client id with any secret.
	ClientID     string
	ClientSecret string
	// QuotaPerUser is requests per minute per user (0 = 600, negative = unlimited).
	QuotaPerUser int
	// QuotaPerProject is requests per minute per project (0 = 10000, negative = unlimited).
	QuotaPerProject int
	// QuotaStatus is the status of a quota refusal: 403 (userRateLimitExceeded /
	// rateLimitExceeded, the default) or 429 (rateLimitExceeded).
	QuotaStatus int
	// Seed drives the fault injection's random draws, so a run can be replayed.
	Seed int64
	// TestingMode starts the OAuth app in "Testing" publishing status.
	TestingMode bool
	// PushClient delivers events.watch notifications; nil uses a client with a 5 s timeout.
	PushClient *http.Client
	// ResourcesDeclineConflicts makes resources decline an invitation that overlaps
	// a busy event they already hold, as a room set to auto-decline conflicts does
	// (recurring invitations and series in the room's calendar are not checked).
	ResourcesDeclineConflicts bool
}

// Server is the emulator. It is safe for concurrent use.
type Server struct {
	opts     Options
	log      *slog.Logger
	customer string

	mu         sync.Mutex
	clockShift time.Duration
	accounts   map[string]*account // by lower-case address
	calendars  map[string]*calendar
	nextNumID  int64
	seq        uint64 // global change counter
	tokSerial  uint64 // sync tokens issued
	tokFloor   uint64 // sync tokens with a serial below this are expired

	oauth *oauthState

	faults  Faults
	rng     *mrand.Rand
	quota   map[string]*minuteWindow
	project minuteWindow

	// zones keeps the locations requests and events name: loading one reads
	// the zone database.
	zones tzcache.Cache

	stats stats

	channels map[string]*channel
	// notificationsDropped counts push messages lost to the drop faults.
	notificationsDropped int
	push                 *pushdeliver.Queue
}

// stats are the counters /_emulator/stats reports.
type stats struct {
	requests      map[string]int64
	responses     map[int]int64
	total         int64
	mails         int64
	throttled     int64
	serverErrors  int64
	notifications int64
}

// Faults are the injected failures (POST /_emulator/faults).
type Faults struct {
	Throttle       float64 `json:"throttle"`
	ServerErrors   float64 `json:"server_errors"`
	ExpireCursors  bool    `json:"expire_cursors,omitempty"`
	Unauthorized   float64 `json:"unauthorized"`
	QuotaExceeded  float64 `json:"quota_exceeded"`
	ThrottleStatus int     `json:"throttle_status,omitempty"`
	RetryAfter     int     `json:"retry_after,omitempty"`
	TruncateNext   int     `json:"truncate_next,omitempty"`
	ShortPages     bool    `json:"short_pages,omitempty"`
	UserQuota      int     `json:"user_quota,omitempty"`
	ProjectQuota   int     `json:"project_quota,omitempty"`
	// DropNotifications is the fraction of "exists" push messages never sent,
	// as real ones get lost; DropNextNotifications drops the next N.
	DropNotifications     float64 `json:"drop_notifications,omitempty"`
	DropNextNotifications int     `json:"drop_next_notifications,omitempty"`
	// ExpireChannels, sent as true, ends every watch channel now (an action).
	ExpireChannels bool `json:"expire_channels,omitempty"`
}

// New returns an emulator with no accounts.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.TimeZone == "" {
		opts.TimeZone = "Europe/Oslo"
	}
	if opts.QuotaStatus != 429 {
		opts.QuotaStatus = 403
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		customer:  "C01emu4t3",
		accounts:  map[string]*account{},
		calendars: map[string]*calendar{},
		nextNumID: 100000000000000000,
		rng:       mrand.New(mrand.NewPCG(uint64(opts.Seed), 0x6763616c74657374)),
		quota:     map[string]*minuteWindow{},
		channels:  map[string]*channel{},
	}
	s.stats.reset()
	s.oauth = newOAuthState(s, opts.TestingMode)
	return s
}

func (st *stats) reset() {
	*st = stats{requests: map[string]int64{}, responses: map[int]int64{}}
}

// now is the emulator's clock (Options.Now plus /_emulator/clock shifts). Callers
// hold s.mu or accept a racy read of clockShift being guarded below.
func (s *Server) now() time.Time {
	base := time.Now()
	if s.opts.Now != nil {
		base = s.opts.Now()
	}
	return base.Add(s.clockShift)
}

// Close stops background push deliveries. A Server that never had a watch channel
// owns no goroutine; Close is still safe to call.
func (s *Server) Close() {
	s.mu.Lock()
	p := s.push
	s.push = nil
	s.mu.Unlock()
	if p != nil {
		p.Close()
	}
}

// AdminToken is a bearer token accepted for every calendar and the Directory API.
func (s *Server) AdminToken() string { return s.oauth.adminToken }

// randomToken returns n random bytes in hex with a prefix.
func randomToken(prefix string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // never happens on supported platforms
	}
	return prefix + hex.EncodeToString(b)
}

// ServeHTTP dispatches every path the emulator serves.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/_emulator/"):
		s.serveTestSurface(w, r)
	case p == "/batch/calendar/v3" || p == "/batch":
		s.count("POST /batch/calendar/v3", 0)
		s.serveBatch(w, r)
	case strings.HasPrefix(p, "/calendar/v3/") || strings.HasPrefix(p, "/admin/directory/v1/"):
		resp := s.serveAPI(r, false)
		resp.write(w)
	case p == "/o/oauth2/v2/auth" || p == "/o/oauth2/auth":
		s.count(r.Method+" /o/oauth2/v2/auth", 0)
		s.oauth.serveAuthorize(w, r)
	case p == "/token" || p == "/o/oauth2/token":
		s.count("POST /token", 0)
		s.oauth.serveToken(w, r)
	case p == "/revoke" || p == "/o/oauth2/revoke":
		s.count("POST /revoke", 0)
		s.oauth.serveRevoke(w, r)
	case p == "/oauth2/v3/userinfo" || p == "/v1/userinfo" || p == "/oauth2/v2/userinfo":
		s.count("GET /oauth2/v3/userinfo", 0)
		s.oauth.serveUserinfo(w, r)
	case p == "/oauth2/v3/tokeninfo" || p == "/tokeninfo":
		s.count("GET /oauth2/v3/tokeninfo", 0)
		s.oauth.serveTokeninfo(w, r)
	case p == "/oauth2/v3/certs":
		s.oauth.serveCerts(w, r)
	case p == "/.well-known/openid-configuration":
		s.oauth.serveDiscovery(w, r)
	default:
		writeJSON(w, http.StatusNotFound, apiError{Error: apiErrorBody{Code: 404, Message: "Not Found",
			Errors: []apiErrorItem{{Domain: "global", Reason: "notFound", Message: "Not Found"}}}})
	}
}

// count records one request under its route name; code 0 records only the route.
func (s *Server) count(route string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if route != "" {
		s.stats.requests[route]++
		s.stats.total++
	}
	if code != 0 {
		s.stats.responses[code]++
	}
}

// baseURL is scheme://host of the incoming request.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if fp := r.Header.Get("X-Forwarded-Proto"); fp == "https" || fp == "http" {
		scheme = fp
	}
	return scheme + "://" + r.Host
}

// response is a rendered API answer, written to the client or into a batch part.
type response struct {
	code   int
	header http.Header
	body   []byte
}

func (resp *response) write(w http.ResponseWriter) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.code)
	_, _ = w.Write(resp.body)
}

func jsonResponse(code int, v any) *response {
	var b []byte
	var err error
	if e, ok := v.(*Event); ok && e != nil {
		// What json.Marshal would give, without its second pass over the
		// bytes: Event's MarshalJSON already writes compact, escaped JSON.
		b, err = e.MarshalJSON()
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return errorResponse(&gerr{code: 500, domain: "global", reason: "backendError", message: "encode: " + err.Error()})
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Vary", "Origin, X-Origin, Referer")
	return &response{code: code, header: h, body: b}
}

func errorResponse(e *gerr) *response {
	item := apiErrorItem{Domain: e.domain, Reason: e.reason, Message: e.message, LocationType: e.locType, Location: e.location}
	resp := jsonResponse(e.code, apiError{Error: apiErrorBody{Errors: []apiErrorItem{item}, Code: e.code,
		Message: e.message, Status: statusText(e.code)}})
	for k, v := range e.header {
		resp.header.Set(k, v)
	}
	if e.code == 401 {
		resp.header.Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
	}
	return resp
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// serveAPI runs one Calendar or Directory call: route, count, authenticate, inject
// faults, apply quota, handle. inBatch marks an inner call of a batch request.
func (s *Server) serveAPI(r *http.Request, inBatch bool) *response {
	rt, params, gerrRoute := matchRoute(r.Method, r.URL)
	name := ""
	if rt != nil {
		name = rt.name
	} else {
		name = r.Method + " (unknown)"
	}
	resp := s.runAPI(r, rt, params, gerrRoute)
	s.count(name, resp.code)
	return s.maybeTruncate(resp)
}

func (s *Server) runAPI(r *http.Request, rt *route, params map[string]string, routeErr *gerr) *response {
	if routeErr != nil {
		return errorResponse(routeErr)
	}
	if e := checkParams(rt, r.URL.Query()); e != nil {
		return errorResponse(e)
	}
	pr, e := s.authenticate(r)
	if e != nil {
		return errorResponse(e)
	}
	if e := rt.scopes.check(pr); e != nil {
		return errorResponse(e)
	}
	if e := s.injectFault(); e != nil {
		return errorResponse(e)
	}
	if e := s.chargeQuota(pr, r.URL.Query().Get("quotaUser")); e != nil {
		return errorResponse(e)
	}
	c := &call{s: s, r: r, q: r.URL.Query(), p: params, pr: pr, base: baseURL(r)}
	resp, e := rt.h(c)
	if e != nil {
		return errorResponse(e)
	}
	return resp
}

// maybeTruncate cuts a JSON body in half when truncate_next is armed.
func (s *Server) maybeTruncate(resp *response) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.TruncateNext <= 0 || len(resp.body) < 2 {
		return resp
	}
	s.faults.TruncateNext--
	resp.body = resp.body[:len(resp.body)/2]
	return resp
}

// injectFault draws the random faults of /_emulator/faults.
func (s *Server) injectFault() *gerr {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	if f.Unauthorized > 0 && s.rng.Float64() < f.Unauthorized {
		return errAuth()
	}
	if f.Throttle > 0 && s.rng.Float64() < f.Throttle {
		s.stats.throttled++
		if f.ThrottleStatus == 403 {
			return &gerr{code: 403, domain: "usageLimits", reason: "rateLimitExceeded", message: "Rate Limit Exceeded"}
		}
		ra := f.RetryAfter
		if ra <= 0 {
			ra = 1
		}
		return &gerr{code: 429, domain: "usageLimits", reason: "rateLimitExceeded", message: "Rate Limit Exceeded",
			header: map[string]string{"Retry-After": strconv.Itoa(ra)}}
	}
	if f.QuotaExceeded > 0 && s.rng.Float64() < f.QuotaExceeded {
		s.stats.throttled++
		return &gerr{code: 403, domain: "usageLimits", reason: "quotaExceeded", message: "Calendar usage limits exceeded."}
	}
	if f.ServerErrors > 0 && s.rng.Float64() < f.ServerErrors {
		s.stats.serverErrors++
		if s.rng.IntN(2) == 0 {
			return &gerr{code: 503, domain: "global", reason: "backendError", message: "The service is currently unavailable."}
		}
		return &gerr{code: 500, domain: "global", reason: "backendError", message: "Backend Error"}
	}
	return nil
}

// minuteWindow counts requests over a sliding minute in one-second buckets.
type minuteWindow struct {
	buckets [60]int
	stamps  [60]int64
}

// take adds one request at second sec unless limit is reached within the minute.
func (m *minuteWindow) take(sec int64, limit int) bool {
	sum := 0
	for i := range m.buckets {
		if sec-m.stamps[i] < 60 {
			sum += m.buckets[i]
		}
	}
	if sum >= limit {
		return false
	}
	i := sec % 60
	if m.stamps[i] != sec {
		m.stamps[i], m.buckets[i] = sec, 0
	}
	m.buckets[i]++
	return true
}

// chargeQuota applies the per-user and per-project limits. The admin token is
// exempt (it stands for scripts and tests, not a Google user).
func (s *Server) chargeQuota(pr *principal, quotaUser string) *gerr {
	if pr.super {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	userLimit, projLimit := s.opts.QuotaPerUser, s.opts.QuotaPerProject
	if s.faults.UserQuota != 0 {
		userLimit = s.faults.UserQuota
	}
	if s.faults.ProjectQuota != 0 {
		projLimit = s.faults.ProjectQuota
	}
	if userLimit == 0 {
		userLimit = 600
	}
	if projLimit == 0 {
		projLimit = 10000
	}
	sec := s.now().Unix()
	if projLimit > 0 && !s.project.take(sec, projLimit) {
		s.stats.throttled++
		return s.quotaError("rateLimitExceeded", "Rate Limit Exceeded")
	}
	key := pr.email
	if quotaUser != "" {
		key = "q:" + quotaUser
	}
	w := s.quota[key]
	if w == nil {
		if len(s.quota) > 10000 { // bounded: forget idle users
			for k, v := range s.quota {
				if idle(v, sec) {
					delete(s.quota, k)
				}
			}
		}
		w = &minuteWindow{}
		s.quota[key] = w
	}
	if userLimit > 0 && !w.take(sec, userLimit) {
		s.stats.throttled++
		return s.quotaError("userRateLimitExceeded", "User Rate Limit Exceeded")
	}
	return nil
}

func idle(m *minuteWindow, sec int64) bool {
	for i := range m.stamps {
		if sec-m.stamps[i] < 60 && m.buckets[i] > 0 {
			return false
		}
	}
	return true
}

func (s *Server) quotaError(reason, msg string) *gerr {
	if s.opts.QuotaStatus == 429 {
		return &gerr{code: 429, domain: "usageLimits", reason: "rateLimitExceeded", message: "Rate Limit Exceeded"}
	}
	return &gerr{code: 403, domain: "usageLimits", reason: reason, message: msg}
}

// serveTestSurface answers /_emulator/*.
func (s *Server) serveTestSurface(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/_emulator/") {
	case "stats":
		writeJSON(w, http.StatusOK, s.Stats())
	case "faults":
		if r.Method == http.MethodGet {
			s.mu.Lock()
			f := s.faults
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, f)
			return
		}
		var f Faults
		if err := decodeStrict(r, &f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if f.Throttle < 0 || f.Throttle > 1 || f.ServerErrors < 0 || f.ServerErrors > 1 ||
			f.Unauthorized < 0 || f.Unauthorized > 1 || f.QuotaExceeded < 0 || f.QuotaExceeded > 1 ||
			f.DropNotifications < 0 || f.DropNotifications > 1 || f.DropNextNotifications < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "fractions must be between 0 and 1"})
			return
		}
		s.SetFaults(f)
		writeJSON(w, http.StatusOK, f)
	case "reset":
		s.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case "revoke":
		var body struct {
			Account string `json:"account"`
		}
		if err := decodeStrict(r, &body); err != nil || body.Account == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"account":"..."}`})
			return
		}
		n := s.RevokeAccount(body.Account)
		writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
	case "expire_tokens":
		s.ExpireAccessTokens()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case "oauth":
		var body struct {
			TestingMode bool `json:"testing_mode"`
		}
		if err := decodeStrict(r, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		s.SetTestingMode(body.TestingMode)
		writeJSON(w, http.StatusOK, body)
	case "clock":
		var body struct {
			Advance string `json:"advance"`
		}
		if err := decodeStrict(r, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		d, err := time.ParseDuration(body.Advance)
		if err != nil || d < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "advance must be a positive duration such as 1h"})
			return
		}
		s.Advance(d)
		writeJSON(w, http.StatusOK, map[string]string{"now": s.Now().Format(time.RFC3339)})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown test route"})
	}
}

func decodeStrict(r *http.Request, v any) error {
	if r.Method != http.MethodPost {
		return fmt.Errorf("use POST")
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON body: %w", err)
	}
	return nil
}

// StatsSnapshot is what GET /_emulator/stats returns.
type StatsSnapshot struct {
	Requests          map[string]int64 `json:"requests"`
	RequestsTotal     int64            `json:"requests_total"`
	Responses         map[string]int64 `json:"responses"`
	MailsSent         int64            `json:"mails_sent"`
	Throttled         int64            `json:"throttled"`
	ServerErrors      int64            `json:"server_errors"`
	Events            int              `json:"events"`
	NotificationsSent int64            `json:"notifications_sent"`
}

// Stats returns the counters.
func (s *Server) Stats() StatsSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := StatsSnapshot{Requests: map[string]int64{}, Responses: map[string]int64{},
		RequestsTotal: s.stats.total, MailsSent: s.stats.mails, Throttled: s.stats.throttled,
		ServerErrors: s.stats.serverErrors, NotificationsSent: s.stats.notifications}
	for k, v := range s.stats.requests {
		out.Requests[k] = v
	}
	for k, v := range s.stats.responses {
		out.Responses[strconv.Itoa(k)] = v
	}
	for _, c := range s.calendars {
		for _, ev := range c.events {
			if !ev.deleted() {
				out.Events++
			}
		}
	}
	return out
}

// SetFaults replaces the fault settings; ExpireCursors expires every sync token
// issued so far.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.ExpireCursors {
		s.tokFloor = s.tokSerial + 1
		f.ExpireCursors = false
	}
	if f.ExpireChannels {
		s.expireChannelsLocked()
		f.ExpireChannels = false
	}
	s.faults = f
}

// ExpireSyncTokens makes every sync token issued so far answer 410.
func (s *Server) ExpireSyncTokens() {
	s.mu.Lock()
	s.tokFloor = s.tokSerial + 1
	s.mu.Unlock()
}

// Reset deletes every event, channel and sync token and clears faults and stats.
// Accounts, OAuth clients and grants stay.
func (s *Server) Reset() {
	s.mu.Lock()
	for _, c := range s.calendars {
		c.clear()
	}
	s.channels = map[string]*channel{}
	s.faults = Faults{}
	s.stats.reset()
	s.quota = map[string]*minuteWindow{}
	s.project = minuteWindow{}
	s.tokFloor = s.tokSerial + 1
	s.mu.Unlock()
}

// Advance moves the emulator's clock forward by d.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	s.clockShift += d
	s.mu.Unlock()
}

// Now is the emulator's current time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// signingKey lazily creates the RSA key that signs id_tokens.
func (o *oauthState) signingKey() (*rsa.PrivateKey, error) {
	o.keyOnce.Do(func() {
		o.key, o.keyErr = rsa.GenerateKey(rand.Reader, 2048)
	})
	return o.key, o.keyErr
}
