package sotest

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"synchronizer/plugins/internal/tzcache"
	"synchronizer/plugins/superoffice/internal/wire"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	// ContextID is the tenant's context identifier (default "Cust1").
	ContextID string
	// TimeZone is the installation's base time zone, an IANA name (default
	// "Europe/Oslo"). Appointment times are stored as wall clock in this zone.
	TimeZone string
	// Licenses is the number of purchased user licences of module "user" of owner
	// "SuperOffice" (default 10). SetLicenses and POST /_emulator/licenses change it.
	Licenses int
	// ClientID and ClientSecret identify the one registered application (defaults
	// "synchronizer" and "synchronizer-secret"). The secret is also the
	// application token (SO-AppToken, ApplicationToken).
	ClientID     string
	ClientSecret string
	// SystemToken is the system_token claim an administrator's consent yields
	// (default "Synchronizer-" + ContextID).
	SystemToken string
	// PartnerKey is the partner's RSA key pair for the system-user flow; nil
	// generates one (see PartnerKeyPEM).
	PartnerKey *rsa.PrivateKey
	// SigningKey signs id_tokens and system-user JWTs; nil generates one.
	SigningKey *rsa.PrivateKey
	// Onsite makes the emulator an onsite installation: the API is served at
	// /SuperOffice/api, Basic authentication is accepted (see SetPassword), and
	// there is no login host, no state API and no host move.
	Onsite bool
	// AutoConsent makes the sign-in page approve at once as the account named by
	// login_hint (login name or e-mail).
	AutoConsent bool
	// RejectAddressOnlyParticipants makes saves refuse participants given only by
	// e-mail address (what a tenant does with them is not documented).
	RejectAddressOnlyParticipants bool
	// MaxPageSize caps OData pages the server answers by itself, with an
	// odata.nextLink to the rest (0 = no cap, as in every documented example).
	MaxPageSize int
	// WebhookRetryDelays are the waits before the attempts of one delivery cycle
	// (default 0, 1 s, 4 s as the reference describes).
	WebhookRetryDelays []time.Duration
	// WebhookClient delivers webhooks (default: a client with a 10 s timeout).
	WebhookClient *http.Client
	// Seed seeds the fault injection's random choices (0 = 1).
	Seed uint64
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// Logger receives request and delivery logs (nil = discard).
	Logger *slog.Logger
}

// Server is the emulated SuperOffice CRM Online (or onsite) installation: login
// host, tenant state API, the tenant's WebAPI and the /_emulator/ test surface, all
// on one http.Handler. It is safe for concurrent use.
type Server struct {
	opts   Options
	loc    *time.Location
	logger *slog.Logger

	keysOnce sync.Once
	keys     *keyPair

	mu sync.Mutex
	st *store

	hooks *webhookRunner
	rt    []route

	// zones keeps the locations requests name (SO-TimeZone): loading one
	// reads the zone database.
	zones tzcache.Cache
	// answers keeps the buffers answers are written into.
	answers bufferPool
}

// bufferPool keeps buffers for reuse: a diary scan answers hundreds of
// kilobytes, many times a second.
type bufferPool struct{ p sync.Pool }

// maxPooledBuffer: larger buffers are left to the collector.
const maxPooledBuffer = 8 << 20

func (bp *bufferPool) get() *bytes.Buffer {
	if b, ok := bp.p.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func (bp *bufferPool) put(b *bytes.Buffer) {
	if b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	bp.p.Put(b)
}

// putBytes returns b with the array of used, which was appended to b's
// (and may have outgrown it).
func (bp *bufferPool) putBytes(b *bytes.Buffer, used []byte) {
	if cap(used) > b.Cap() {
		*b = *bytes.NewBuffer(used[:0])
	}
	bp.put(b)
}

// New returns a Server with no users; add them with AddUser and AddResource.
func New(opts Options) *Server {
	if opts.ContextID == "" {
		opts.ContextID = "Cust1"
	}
	if opts.TimeZone == "" {
		opts.TimeZone = "Europe/Oslo"
	}
	if opts.Licenses == 0 {
		opts.Licenses = 10
	}
	if opts.ClientID == "" {
		opts.ClientID = "synchronizer"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "synchronizer-secret"
	}
	if opts.SystemToken == "" {
		opts.SystemToken = "Synchronizer-" + opts.ContextID
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.WebhookRetryDelays == nil {
		opts.WebhookRetryDelays = []time.Duration{0, time.Second, 4 * time.Second}
	}
	if opts.WebhookClient == nil {
		opts.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	loc, err := time.LoadLocation(opts.TimeZone)
	if err != nil {
		logger.Warn("unknown base time zone, using UTC", "zone", opts.TimeZone, "error", err)
		loc = time.UTC
		opts.TimeZone = "UTC"
	}
	s := &Server{opts: opts, loc: loc, logger: logger}
	s.st = newStore(opts)
	s.hooks = newWebhookRunner(s)
	s.rt = s.routes()
	return s
}

// Close stops webhook delivery. The Server still answers requests afterwards.
func (s *Server) Close() { s.hooks.close() }

// ContextID returns the tenant's context identifier.
func (s *Server) ContextID() string { return s.opts.ContextID }

// ClientID returns the registered application's client id.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret returns the registered application's secret (its application token).
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// SystemToken returns the system_token an administrator's consent yields.
func (s *Server) SystemToken() string { return s.opts.SystemToken }

// Location returns the base time zone.
func (s *Server) Location() *time.Location { return s.loc }

func (s *Server) now() time.Time { return s.opts.Now() }

// TenantPath is the path of the tenant's installation on this host, without
// "/api": "/online2/Cust1" (it changes when the tenant moves), or "/SuperOffice"
// onsite.
func (s *Server) TenantPath() string {
	if s.opts.Onsite {
		return "/SuperOffice"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return "/" + s.st.hostLabel + "/" + s.opts.ContextID
}

// APIURL returns the tenant's API root ("{base}/online2/Cust1/api") for a base URL
// such as an httptest server's URL.
func (s *Server) APIURL(base string) string {
	return strings.TrimRight(base, "/") + s.TenantPath() + "/api"
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if strings.HasPrefix(path, "/_emulator/") {
		s.serveEmulator(w, r)
		return
	}
	// Faults apply to everything a client of the real service can reach.
	fw, handled := s.applyFaults(w, r)
	if handled {
		return
	}
	w = fw
	if tw, ok := w.(*truncWriter); ok {
		defer tw.finish()
	}
	lower := strings.ToLower(path)
	if !s.opts.Onsite {
		switch {
		case strings.HasPrefix(lower, "/login/"):
			s.serveLogin(w, r)
			return
		case strings.HasPrefix(lower, "/api/state/"):
			s.count("GET /api/state/{ctx}")
			s.serveState(w, r, path[len("/api/state/"):])
			return
		}
	}
	prefix, rest, ok := s.splitTenant(path)
	if !ok {
		s.count("unknown")
		writeError(w, http.StatusNotFound, "SoNotFoundException", "No such resource: "+path)
		return
	}
	s.serveTenant(w, r, prefix, rest)
}

// splitTenant finds "{prefix}/api{rest}" in path: prefix is what precedes /api
// (the tenant's host label and context id online).
func (s *Server) splitTenant(path string) (prefix, rest string, ok bool) {
	lower := strings.ToLower(path)
	i := strings.Index(lower, "/api")
	for i >= 0 {
		end := i + len("/api")
		if end == len(lower) || lower[end] == '/' {
			return path[:i], path[end:], true
		}
		j := strings.Index(lower[end:], "/api")
		if j < 0 {
			break
		}
		i = end + j
	}
	return "", "", false
}

func (s *Server) serveState(w http.ResponseWriter, r *http.Request, ctxID string) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use GET")
		return
	}
	if !strings.EqualFold(ctxID, s.opts.ContextID) {
		// Unknown tenants are reported, not refused [unconfirmed].
		writeJSON(w, http.StatusOK, wire.TenantState{ContextIdentifier: ctxID, State: "Unknown"})
		return
	}
	base := requestBase(r)
	s.mu.Lock()
	st := wire.TenantState{
		ContextIdentifier: s.opts.ContextID,
		Endpoint:          base + "/" + s.st.hostLabel + "/" + s.opts.ContextID,
		State:             s.st.tenantState,
		IsRunning:         s.st.tenantState == "Running" || s.st.tenantState == "OnlineMaintenance",
		ValidUntil:        s.now().UTC().Add(time.Hour).Format("2006-01-02T15:04:05Z"),
		Api:               base + "/" + s.st.hostLabel + "/" + s.opts.ContextID + "/api",
		Version:           s.st.version(),
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, st)
}

// requestBase is scheme://host of the incoming request: every absolute URL the
// emulator hands out is built from it, so it works behind any listener.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

func (s *Server) count(route string) {
	s.mu.Lock()
	s.st.stats[route]++
	s.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

// writeRawJSON answers with a body already encoded.
func writeRawJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers with the WebAPI's error envelope.
func writeError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, wire.Error{Error: true, ErrorType: typ, ErrorMessage: msg,
		ErrorSource: "SuperOffice.Services.Implementation"})
}

// query returns the request's query parameters with lower-cased names: the WebAPI
// matches parameter names case-insensitively.
func query(r *http.Request) url.Values {
	out := url.Values{}
	for k, v := range r.URL.Query() {
		lk := strings.ToLower(k)
		out[lk] = append(out[lk], v...)
	}
	return out
}

func queryInt(q url.Values, name string) (int, bool) {
	v := q.Get(strings.ToLower(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// Stats is what GET /_emulator/stats answers.
type Stats struct {
	// Requests counts requests served, by route ("GET /api/v1/Appointment/{id}").
	Requests map[string]int `json:"requests"`
	// Total is the sum of Requests.
	Total int `json:"total"`
	// MailsSent counts invitation, update and cancellation mails the real system
	// would have sent because of a write.
	MailsSent int `json:"mails_sent"`
	// Throttled and ServerErrors count injected faults.
	Throttled    int `json:"throttled"`
	ServerErrors int `json:"server_errors"`
	// WebhookDeliveries counts webhook POST attempts; WebhookFailures the failed ones.
	WebhookDeliveries int `json:"webhook_deliveries"`
	WebhookFailures   int `json:"webhook_failures"`
	// Appointments is the number of appointment rows stored.
	Appointments int `json:"appointments"`
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Requests: map[string]int{}, MailsSent: s.st.mailsSent,
		Throttled: s.st.throttled, ServerErrors: s.st.serverErrors,
		WebhookDeliveries: s.st.hookDeliveries, WebhookFailures: s.st.hookFailures,
		Appointments: len(s.st.appts)}
	for k, v := range s.st.stats {
		out.Requests[k] = v
		out.Total += v
	}
	return out
}

// MailsSent returns how many mails the real system would have sent so far.
func (s *Server) MailsSent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.mailsSent
}

// Faults configures random and queued fault injection.
type Faults struct {
	// Throttle is the fraction of requests answered 429 with Retry-After.
	Throttle float64 `json:"throttle"`
	// ServerErrors is the fraction of requests answered 500.
	ServerErrors float64 `json:"server_errors"`
	// ExpireCursors makes every incremental cursor issued so far unusable (see
	// ExpireCursors).
	ExpireCursors bool `json:"expire_cursors"`
	// RetryAfter is the Retry-After of injected 429s in seconds (default 1).
	RetryAfter int `json:"retry_after"`
	// Break answers every tenant API request 200 with a broken body until the
	// faults are replaced: "garbage" (not JSON) or "truncated" (JSON cut short).
	Break string `json:"break"`
	// DropNotifications is the fraction of webhook events never queued, as real
	// ones get lost; DropNextNotifications drops the next N.
	DropNotifications     float64 `json:"drop_notifications"`
	DropNextNotifications int     `json:"drop_next_notifications"`
	// StopWebhooks, when "Stopped" or "TooManyErrors", puts every webhook in that
	// state now, as the tenant or failed deliveries do (an action, not a state).
	StopWebhooks string `json:"stop_webhooks"`
}

type forced struct {
	status     int
	retryAfter string
	truncate   bool
	garbage    bool
}

// SetFaults replaces the random fault rates.
func (s *Server) SetFaults(f Faults) {
	stop := f.StopWebhooks
	f.StopWebhooks = ""
	s.mu.Lock()
	s.st.faults = f
	s.mu.Unlock()
	if stop != "" {
		s.StopWebhooks(stop)
	}
	if f.ExpireCursors {
		s.ExpireCursors()
	}
}

// ClearFaults ends every injected fault: rates, queued answers and broken bodies.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.st.faults = Faults{}
	s.st.forced = nil
	s.mu.Unlock()
}

// FailNext answers the next n requests to the tenant API with status (401, 421,
// 429, 500, 503, ...). retryAfter is sent as Retry-After when not empty.
func (s *Server) FailNext(status, n int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.st.forced = append(s.st.forced, forced{status: status, retryAfter: retryAfter})
	}
}

// TruncateNext cuts the JSON body of the next n tenant API answers in half.
func (s *Server) TruncateNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.st.forced = append(s.st.forced, forced{truncate: true})
	}
}

// ExpireCursors invalidates every incremental cursor issued so far. SuperOffice
// keeps no cursors of its own; what ends a client's incremental reads is a change
// of the tenant's database (a restore or an upgrade), which shows as a new Version
// in the tenant state API and in GET {api}/v1. This bumps it.
func (s *Server) ExpireCursors() {
	s.mu.Lock()
	s.st.epoch++
	s.mu.Unlock()
}

func (s *Server) applyFaults(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, bool) {
	s.mu.Lock()
	tenant := !strings.HasPrefix(strings.ToLower(r.URL.Path), "/login/") &&
		!strings.HasPrefix(strings.ToLower(r.URL.Path), "/api/state/")
	var f *forced
	if tenant && len(s.st.forced) > 0 {
		ff := s.st.forced[0]
		s.st.forced = s.st.forced[1:]
		f = &ff
	}
	rates := s.st.faults
	if tenant && f == nil && rates.Break != "" {
		f = &forced{truncate: true, garbage: rates.Break == "garbage"}
	}
	var roll float64
	if f == nil && (rates.Throttle > 0 || rates.ServerErrors > 0) {
		roll = s.st.rng.Float64()
	}
	s.mu.Unlock()
	if f != nil {
		if f.garbage {
			s.count("fault garbage")
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("X-Emulator-Fault", "garbage")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("<html><body>Service temporarily unavailable</body></html>"))
			return w, true
		}
		if f.truncate {
			return &truncWriter{ResponseWriter: w}, false
		}
		s.count(fmt.Sprintf("fault %d", f.status))
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		switch f.status {
		case http.StatusMisdirectedRequest:
			writeError(w, f.status, "WrongSubdomain", "Wrong subdomain used to access tenant")
		case http.StatusUnauthorized:
			writeError(w, f.status, "SoAuthenticationException", "Ticket or token expired")
		default:
			writeError(w, f.status, "InjectedFault", http.StatusText(f.status))
		}
		return w, true
	}
	if rates.Throttle > 0 && roll < rates.Throttle {
		ra := rates.RetryAfter
		if ra <= 0 {
			ra = 1
		}
		s.mu.Lock()
		s.st.throttled++
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(ra))
		writeError(w, http.StatusTooManyRequests, "TooManyRequests", "Rate limit exceeded")
		return w, true
	}
	if rates.ServerErrors > 0 && roll >= rates.Throttle && roll < rates.Throttle+rates.ServerErrors {
		s.mu.Lock()
		s.st.serverErrors++
		s.mu.Unlock()
		writeError(w, http.StatusInternalServerError, "InjectedFault", "Internal server error")
		return w, true
	}
	return w, false
}

// truncWriter buffers a response and writes only the first half of its body.
type truncWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (t *truncWriter) WriteHeader(code int) { t.status = code }
func (t *truncWriter) Write(b []byte) (int, error) {
	return t.buf.Write(b)
}
func (t *truncWriter) finish() {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	body := t.buf.Bytes()
	body = body[:len(body)/2]
	t.ResponseWriter.Header().Del("Content-Length")
	t.ResponseWriter.Header().Set("X-Emulator-Fault", "truncated")
	t.ResponseWriter.WriteHeader(t.status)
	_, _ = t.ResponseWriter.Write(body)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
