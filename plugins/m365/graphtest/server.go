package graphtest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"synchronizer/plugins/internal/pushdeliver"
	"synchronizer/plugins/m365/internal/wintz"
)

// Defaults of a fresh emulator.
const (
	DefaultTenantID     = "7e1a4d2c-0b5f-4c1e-9a3d-6f2b8c9d0e11"
	DefaultDomain       = "m365.test"
	DefaultClientID     = "5c2b7a90-3f41-4e6d-8a12-9b0c1d2e3f40"
	DefaultClientSecret = "emulator-client-secret"
)

// Options configure an emulator. The zero value is usable.
type Options struct {
	// AutoConsent makes the sign-in and admin-consent pages approve at once, as the
	// account named in login_hint (or the first admin for admin consent), so a script
	// can finish a consent with curl -L.
	AutoConsent bool
	// Now is the clock (nil = time.Now). Token lifetimes, throttling windows,
	// lastModifiedDateTime and seeding follow it.
	Now func() time.Time
	// Logger receives one debug line per request (nil = discard).
	Logger *slog.Logger

	// TenantID is the directory's GUID (default DefaultTenantID); Domain its verified
	// domain (default DefaultDomain, so users are user1@m365.test).
	TenantID string
	Domain   string
	// ClientID and ClientSecret register the default application (defaults
	// DefaultClientID / DefaultClientSecret). Its redirect URIs are not restricted;
	// RegisterApp adds stricter ones.
	ClientID     string
	ClientSecret string
	// Seed makes ids, fault injection and replays deterministic.
	Seed int64

	// RateLimit is the per application and mailbox budget per 10 minutes
	// (0 = 10,000; negative = unlimited). ConcurrencyLimit is the number of requests
	// one application may have in flight against one mailbox (0 = 4; negative =
	// unlimited).
	RateLimit        int
	ConcurrencyLimit int
	// RetryAfter is the Retry-After given with injected 429/503 answers and the
	// concurrency limit (0 = 1 s).
	RetryAfter time.Duration
	// Latency delays every Graph request, so concurrency limits can be met in tests.
	Latency time.Duration

	// RoomsDecline makes room mailboxes decline instead of accept.
	RoomsDecline bool
	// RoomsDeclineConflicts makes a room decline an invitation that overlaps a busy
	// single item already in its calendar (AllowConflicts off); recurring
	// invitations and series in the room's calendar are not checked.
	RoomsDeclineConflicts bool
	// RoomSubjectRewrite makes rooms replace the subject of their copy with the
	// organizer's name, as Exchange does with AddOrganizerToSubject/DeleteSubject.
	RoomSubjectRewrite bool
	// DeltaIncludesMasters makes calendarView/delta list series masters as well as
	// their occurrences (the real service is inconsistent about it).
	DeltaIncludesMasters bool
	// TombstoneLimit bounds the deletions remembered per calendar for delta; tokens
	// older than the oldest forgotten one answer 410 (0 = 20,000).
	TombstoneLimit int

	// HTTPClient delivers subscription validations and notifications
	// (nil = a client with a 10 s timeout).
	HTTPClient *http.Client
	// NotificationRetry is the first redelivery delay of a failed notification
	// (0 = 1 s); it doubles up to NotificationAttempts attempts (0 = 4).
	NotificationRetry    time.Duration
	NotificationAttempts int
}

// Server is the emulator: an http.Handler serving Graph under /v1.0, the identity
// platform under /{tenant}/..., and the test surface under /_emulator/.
type Server struct {
	opts     Options
	now      func() time.Time
	log      *slog.Logger
	tenantID string
	domain   string
	salt     []byte

	adminToken string

	mu      sync.Mutex
	rng     *rand.Rand
	users   map[string]*user // by id
	byName  map[string]*user // lower-case UPN, mail and aliases
	userSeq uint64
	lists   []*roomList
	apps    map[string]*app
	codes   map[string]*authCode
	refresh map[string]*refreshGrant
	access  map[string]*accessGrant
	nextKey uint64
	events  map[uint64]*event // every stored single, master and copy, by key
	subs    map[string]*subscription
	subSeq  uint64
	// zones keeps the time zones requests name.
	zones wintz.Zones
	// notificationsDropped counts change notifications lost to the drop faults.
	notificationsDropped int
	faults               faults
	epoch                uint64
	tokenSeq             uint64
	stats                stats

	throttle *throttler
	notifier *pushdeliver.Queue
}

// New builds an emulator with one default application and an empty directory.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.TenantID == "" {
		opts.TenantID = DefaultTenantID
	}
	if opts.Domain == "" {
		opts.Domain = DefaultDomain
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 10000
	}
	if opts.ConcurrencyLimit == 0 {
		opts.ConcurrencyLimit = 4
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	if opts.TombstoneLimit <= 0 {
		opts.TombstoneLimit = 20000
	}
	if opts.NotificationRetry <= 0 {
		opts.NotificationRetry = time.Second
	}
	if opts.NotificationAttempts <= 0 {
		opts.NotificationAttempts = 4
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	h := fnv.New64a()
	var sb [8]byte
	binary.BigEndian.PutUint64(sb[:], uint64(opts.Seed))
	h.Write(sb[:])
	h.Write([]byte(opts.TenantID))
	salt := h.Sum(nil)
	s := &Server{
		opts:     opts,
		now:      opts.Now,
		log:      opts.Logger,
		tenantID: opts.TenantID,
		domain:   strings.ToLower(opts.Domain),
		salt:     salt,
		rng:      rand.New(rand.NewPCG(uint64(opts.Seed), 0x6d333635)),
		users:    map[string]*user{},
		byName:   map[string]*user{},
		apps:     map[string]*app{},
		codes:    map[string]*authCode{},
		refresh:  map[string]*refreshGrant{},
		access:   map[string]*accessGrant{},
		events:   map[uint64]*event{},
		subs:     map[string]*subscription{},
		stats:    newStats(),
	}
	s.throttle = newThrottler(opts.RateLimit, opts.ConcurrencyLimit)
	s.notifier = pushdeliver.New(pushdeliver.Options{
		Client: opts.HTTPClient, Attempts: opts.NotificationAttempts, Retry: opts.NotificationRetry,
		Taken:     func(status int) bool { return status >= 200 && status < 300 }, // Graph redelivers until 2xx
		MaxQueued: maxQueuedNotifications, Logger: opts.Logger,
		Delivered: func() {
			s.stats.mu.Lock()
			s.stats.notified++
			s.stats.mu.Unlock()
		},
	})
	s.adminToken = "emu-admin." + s.randomToken(24)
	s.apps[opts.ClientID] = &app{
		ClientID:     opts.ClientID,
		ClientSecret: opts.ClientSecret,
		Name:         "Synchronizer",
		Roles:        defaultAppRoles(),
	}
	return s
}

// Close stops the notification worker. The Server stays usable as a handler but no
// longer delivers notifications.
func (s *Server) Close() { s.notifier.Close() }

// AdminToken returns a bearer token Graph accepts for every mailbox (as an
// application with every role and no access policy).
func (s *Server) AdminToken() string { return s.adminToken }

// TenantID returns the directory's GUID.
func (s *Server) TenantID() string { return s.tenantID }

// Domain returns the directory's verified domain.
func (s *Server) Domain() string { return s.domain }

// randomToken returns n random bytes as URL-safe text from the seeded source.
func (s *Server) randomToken(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// ServeHTTP dispatches to Graph, the identity platform and the test surface.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	switch {
	case path == "/v1.0" || strings.HasPrefix(path, "/v1.0/"):
		s.serveGraph(w, r)
	case strings.HasPrefix(path, "/_emulator/"):
		s.serveControl(w, r)
	default:
		s.serveIdentity(w, r)
	}
}

// baseURL is the scheme and host the request came in on: every absolute URL the
// emulator hands out is built from it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// splitPath splits an escaped path into unescaped segments, so "user1%40x.test" and
// ids with encoded characters arrive as the client meant them.
func splitPath(escaped string) []string {
	parts := strings.Split(strings.Trim(escaped, "/"), "/")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p == "" {
			continue
		}
		u, err := pathUnescape(p)
		if err != nil {
			u = p
		}
		out = append(out, u)
	}
	return out
}

func writeJSONBody(w http.ResponseWriter, status int, v any, truncate bool) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if truncate && len(b) > 2 {
		b = b[:len(b)/2]
	}
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// graphErrorBody is Graph's error envelope.
type graphErrorBody struct {
	Error graphErrorDetail `json:"error"`
}

type graphErrorDetail struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

func formatDateTimeUTC(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05")
}

func (s *Server) requestIDs(r *http.Request) (string, string) {
	rid := r.Header.Get("x-emu-request-id")
	if rid == "" {
		s.mu.Lock()
		s.tokenSeq++
		rid = s.guid("request", s.tokenSeq)
		s.mu.Unlock()
	}
	crid := r.Header.Get("client-request-id")
	if crid == "" {
		crid = rid
	}
	return rid, crid
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	rid, crid := s.requestIDs(r)
	w.Header().Set("request-id", rid)
	w.Header().Set("client-request-id", crid)
	writeJSONBody(w, status, graphErrorBody{Error: graphErrorDetail{
		Code: code, Message: msg,
		InnerError: innerError{Date: formatDateTimeUTC(s.now()), RequestID: rid, ClientRequestID: crid},
	}}, false)
}

// errf is a Graph error a handler returns.
type apiError struct {
	status     int
	code       string
	msg        string
	retryAfter time.Duration
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.msg) }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func notFoundItem() *apiError {
	return errf(http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
}
