package graphtest

import (
	"encoding/json"
	"io"
	"maps"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// faults are the switches of POST /_emulator/faults.
type faults struct {
	// Throttle is the fraction of Graph requests answered 429 with Retry-After.
	Throttle float64 `json:"throttle"`
	// ServerErrors is the fraction answered 5xx (503 with Retry-After and 500 in turn).
	ServerErrors float64 `json:"server_errors"`
	// ExpireCursors, when sent as true, expires every delta token issued so far (they
	// answer 410 SyncStateNotFound). It is an action, not a state.
	ExpireCursors bool `json:"expire_cursors"`
	// TruncateNext cuts the JSON body of the next N Graph answers in half.
	TruncateNext int `json:"truncate_next"`
	// UnauthorizedNext answers the next N Graph requests 401 InvalidAuthenticationToken.
	UnauthorizedNext int `json:"unauthorized_next"`
	// Replay is the fraction of delta pages that repeat an item of the previous page.
	Replay float64 `json:"replay"`
	// EmptyPages is the fraction of delta pages answered empty with a nextLink.
	EmptyPages float64 `json:"empty_pages"`
	// RetryAfter overrides the Retry-After seconds of injected throttling (0 = default).
	RetryAfter int `json:"retry_after"`
	// DropNotifications is the fraction of change notifications never sent, as
	// real ones get lost.
	DropNotifications float64 `json:"drop_notifications"`
	// DropNextNotifications drops the next N change notifications.
	DropNextNotifications int `json:"drop_next_notifications"`
	// ExpireSubscriptions, when sent as true, ends every subscription now (they
	// notify no more and answer 404, as expired ones do). An action, not a state.
	ExpireSubscriptions bool `json:"expire_subscriptions"`

	serverErrorTurn int
}

type stats struct {
	mu           sync.Mutex
	routes       map[string]int
	identity     map[string]int
	total        int
	batchItems   int
	throttled    int
	serverErrors int
	mails        map[string]int
	mailLog      []Mail
	notified     int // change notifications the receiver took
}

// Mail is a message the real service would have sent because of a write.
type Mail struct {
	Kind    string `json:"kind"` // invitation | update | cancellation | response
	From    string `json:"from"`
	To      string `json:"to"`
	Subject string `json:"subject"`
}

func newStats() stats {
	return stats{routes: map[string]int{}, identity: map[string]int{}, mails: map[string]int{}}
}

func (st *stats) count(kind, route string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch kind {
	case "identity":
		st.identity[route]++
	case "batch-item":
		st.routes[route]++
		st.batchItems++
	default:
		st.routes[route]++
		st.total++
	}
}

func (st *stats) add(field *int) {
	st.mu.Lock()
	*field++
	st.mu.Unlock()
}

func (st *stats) mail(m Mail) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.mails[m.Kind]++
	if len(st.mailLog) >= 1000 {
		st.mailLog = st.mailLog[1:]
	}
	st.mailLog = append(st.mailLog, m)
}

// Stats is the JSON of GET /_emulator/stats.
type Stats struct {
	// Requests counts Graph requests by route ("GET /v1.0/users/{user}/calendarView/delta"),
	// $batch items included under their own route.
	Requests      map[string]int `json:"requests"`
	RequestsTotal int            `json:"requests_total"` // HTTP requests to Graph (a batch counts once)
	BatchItems    int            `json:"batch_items"`
	Identity      map[string]int `json:"identity_requests"`
	Throttled     int            `json:"throttled"`
	ServerErrors  int            `json:"server_errors"`
	// MailsSent counts the invitations, updates, cancellations and responses the real
	// service would have mailed because of writes; Mails breaks them down by kind.
	MailsSent int            `json:"mails_sent"`
	Mails     map[string]int `json:"mails"`
	// NotificationsSent counts the change and lifecycle notifications the
	// subscriptions' receivers took (answered 2xx).
	NotificationsSent int `json:"notifications_sent"`
}

// Stats returns the counters of /_emulator/stats.
func (s *Server) Stats() Stats {
	st := &s.stats
	st.mu.Lock()
	defer st.mu.Unlock()
	out := Stats{Requests: maps.Clone(st.routes), RequestsTotal: st.total, BatchItems: st.batchItems, Identity: maps.Clone(st.identity), Throttled: st.throttled, ServerErrors: st.serverErrors, Mails: maps.Clone(st.mails),
		NotificationsSent: st.notified}
	for _, n := range st.mails {
		out.MailsSent += n
	}
	return out
}

// MailLog returns the last (up to 1,000) mails the real service would have sent.
func (s *Server) MailLog() []Mail {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return append([]Mail(nil), s.stats.mailLog...)
}

// ExpireCursors makes every delta token issued so far answer 410 SyncStateNotFound.
func (s *Server) ExpireCursors() {
	s.mu.Lock()
	s.epoch++
	s.mu.Unlock()
}

// SetFaults replaces the fault switches (ExpireCursors acts once).
func (s *Server) setFaults(f faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.ExpireCursors {
		s.epoch++
		f.ExpireCursors = false
	}
	if f.ExpireSubscriptions {
		s.expireSubscriptionsLocked()
		f.ExpireSubscriptions = false
	}
	s.faults = f
}

// Reset drops every event, tombstone, subscription, fault and counter; the directory,
// applications, consents and tokens stay.
func (s *Server) Reset() {
	s.mu.Lock()
	for _, u := range s.users {
		for _, c := range u.calendars {
			c.events = map[uint64]*event{}
			c.tombs = nil
			c.minSeq = u.seq
		}
	}
	s.events = map[uint64]*event{}
	s.subs = map[string]*subscription{}
	s.faults = faults{}
	s.epoch++
	s.mu.Unlock()
	s.throttle.reset()
	st := &s.stats
	st.mu.Lock()
	fresh := newStats()
	st.routes, st.identity, st.mails = fresh.routes, fresh.identity, fresh.mails
	st.total, st.batchItems, st.throttled, st.serverErrors, st.mailLog = 0, 0, 0, 0, nil
	st.mu.Unlock()
}

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/_emulator/")
	readJSON := func(dst any) bool {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil && len(strings.TrimSpace(string(body))) > 0 {
			err = json.Unmarshal(body, dst)
		}
		if err != nil {
			writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "bad JSON: " + err.Error()}, false)
			return false
		}
		return true
	}
	fail := func(err error) {
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": err.Error()}, false)
	}
	switch {
	case name == "stats" && r.Method == http.MethodGet:
		writeJSONBody(w, http.StatusOK, s.Stats(), false)
	case name == "mails" && r.Method == http.MethodGet:
		writeJSONBody(w, http.StatusOK, map[string]any{"value": s.MailLog()}, false)
	case name == "faults" && r.Method == http.MethodGet:
		s.mu.Lock()
		f := s.faults
		s.mu.Unlock()
		writeJSONBody(w, http.StatusOK, f, false)
	case name == "faults" && r.Method == http.MethodPost:
		var f faults
		if !readJSON(&f) {
			return
		}
		if f.Throttle < 0 || f.Throttle > 1 || f.ServerErrors < 0 || f.ServerErrors > 1 || f.Replay < 0 || f.Replay > 1 || f.EmptyPages < 0 || f.EmptyPages > 1 ||
			f.DropNotifications < 0 || f.DropNotifications > 1 || f.DropNextNotifications < 0 {
			fail(errString("fractions must be between 0 and 1"))
			return
		}
		s.setFaults(f)
		s.mu.Lock()
		f = s.faults
		s.mu.Unlock()
		writeJSONBody(w, http.StatusOK, f, false)
	case name == "reset" && r.Method == http.MethodPost:
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	case name == "revoke" && r.Method == http.MethodPost:
		var req struct {
			User string `json:"user"`
		}
		if !readJSON(&req) {
			return
		}
		if err := s.RevokeUser(req.User); err != nil {
			fail(err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case name == "expire_tokens" && r.Method == http.MethodPost:
		s.ExpireAccessTokens()
		w.WriteHeader(http.StatusNoContent)
	case name == "move" && r.Method == http.MethodPost:
		var req struct {
			User string `json:"user"`
		}
		if !readJSON(&req) {
			return
		}
		if err := s.MoveItems(req.User); err != nil {
			fail(err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case name == "seed" && r.Method == http.MethodPost:
		var req struct {
			User   string `json:"user"`
			Events int    `json:"events"`
			Seed   int64  `json:"seed"`
		}
		if !readJSON(&req) {
			return
		}
		if err := s.SeedEvents(req.User, req.Events, req.Seed); err != nil {
			fail(err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case name == "lifecycle" && r.Method == http.MethodPost:
		var req struct {
			Subscription string `json:"subscription"`
			Event        string `json:"event"`
		}
		if !readJSON(&req) {
			return
		}
		if err := s.Lifecycle(req.Subscription, req.Event); err != nil {
			fail(err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// MoveItems changes the REST ids (not the immutable ids) of every item of a mailbox,
// as moving them between folders does.
func (s *Server) MoveItems(account string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUserLocked(account)
	if u == nil {
		return errString("move: no user " + account)
	}
	u.gen++
	return nil
}

// --- throttling ---

type throttler struct {
	mu       sync.Mutex
	rate     int
	conc     int
	windows  map[string]*rateWindow
	inflight map[string]int
}

type rateWindow struct {
	start time.Time
	count int
}

const rateWindowLength = 10 * time.Minute

func newThrottler(rate, conc int) *throttler {
	return &throttler{rate: rate, conc: conc, windows: map[string]*rateWindow{}, inflight: map[string]int{}}
}

func (t *throttler) reset() {
	t.mu.Lock()
	t.windows = map[string]*rateWindow{}
	t.inflight = map[string]int{}
	t.mu.Unlock()
}

// acquire admits one request of an application against a mailbox, or says why not.
func (t *throttler) acquire(key string, now time.Time, concRetry time.Duration) (release func(), e *apiError) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rate > 0 {
		w := t.windows[key]
		if w == nil || now.Sub(w.start) >= rateWindowLength {
			w = &rateWindow{start: now}
			t.windows[key] = w
		}
		w.count++ // refused requests count too
		if w.count > t.rate {
			wait := w.start.Add(rateWindowLength).Sub(now)
			e := errf(http.StatusTooManyRequests, "TooManyRequests", "The mailbox has exceeded its request limit of %d requests per 10 minutes for this application.", t.rate)
			e.retryAfter = wait
			return nil, e
		}
	}
	if t.conc > 0 {
		if t.inflight[key] >= t.conc {
			e := errf(http.StatusTooManyRequests, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
			e.retryAfter = concRetry
			return nil, e
		}
		t.inflight[key]++
	}
	return func() {
		if t.conc <= 0 {
			return
		}
		t.mu.Lock()
		t.inflight[key]--
		if t.inflight[key] <= 0 {
			delete(t.inflight, key)
		}
		t.mu.Unlock()
	}, nil
}

func retryAfterSeconds(d time.Duration) string {
	sec := int(math.Ceil(d.Seconds()))
	if sec < 1 {
		sec = 1
	}
	return itoa(sec)
}
