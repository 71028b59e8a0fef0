package graphtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

type receiver struct {
	mu       sync.Mutex
	got      []map[string]any
	failures int // answer 500 to this many notifications first
	arrived  chan struct{}
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if tok := r.URL.Query().Get("validationToken"); tok != "" {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, tok)
		return
	}
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.failures > 0 {
		rv.failures--
		w.WriteHeader(500)
		return
	}
	rv.got = append(rv.got, body)
	w.WriteHeader(202)
	select {
	case rv.arrived <- struct{}{}:
	default:
	}
}

func (rv *receiver) wait(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		rv.mu.Lock()
		if len(rv.got) >= n {
			out := append([]map[string]any(nil), rv.got...)
			rv.mu.Unlock()
			return out
		}
		rv.mu.Unlock()
		select {
		case <-rv.arrived:
		case <-deadline:
			t.Fatalf("only %d of %d notifications arrived", len(rv.got), n)
		}
	}
}

func TestSubscriptions(t *testing.T) {
	s, ts, clk := newTestServer(t, Options{NotificationRetry: 10 * time.Millisecond})
	rv := &receiver{failures: 1, arrived: make(chan struct{}, 16)}
	hook := httptest.NewServer(rv)
	defer hook.Close()
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer silent.Close()
	a := newAPI(t, ts, s.AdminToken())
	exp := clk.Now().Add(24 * time.Hour).Format(time.RFC3339)
	sub := map[string]any{"changeType": "created,updated,deleted", "notificationUrl": hook.URL + "/hooks/graph", "lifecycleNotificationUrl": hook.URL + "/hooks/life", "resource": "/users/user1@m365.test/events", "expirationDateTime": exp, "clientState": "secret-state"}
	created := a.must(201, "POST", "/v1.0/subscriptions", sub)
	id := str(created.body, "id")
	// An endpoint that does not echo the token is refused.
	bad := map[string]any{"changeType": "created", "notificationUrl": silent.URL, "resource": "/users/user1@m365.test/events", "expirationDateTime": exp}
	if ans := a.do("POST", "/v1.0/subscriptions", bad); ans.status != 400 || errCode(ans) != "ValidationError" {
		t.Fatalf("silent endpoint: %d %s", ans.status, ans.raw)
	}
	tooLong := map[string]any{"changeType": "created", "notificationUrl": hook.URL, "resource": "/users/user1@m365.test/events", "expirationDateTime": clk.Now().Add(8 * 24 * time.Hour).Format(time.RFC3339)}
	a.must(400, "POST", "/v1.0/subscriptions", tooLong)

	ev := a.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("x", testStart, time.Hour, "UTC"))
	got := rv.wait(t, 1) // the first delivery failed and was retried
	n := got[0]["value"].([]any)[0].(map[string]any)
	if n["clientState"] != "secret-state" || n["changeType"] != "created" || n["subscriptionId"] != id || !strings.Contains(str(n, "resource"), str(ev.body, "id")) {
		t.Fatalf("notification %v", n)
	}
	renewed := a.must(200, "PATCH", "/v1.0/subscriptions/"+id, map[string]any{"expirationDateTime": clk.Now().Add(48 * time.Hour).Format(time.RFC3339)})
	if str(renewed.body, "expirationDateTime")[:10] != clk.Now().Add(48*time.Hour).Format("2006-01-02") {
		t.Errorf("renewed to %s", str(renewed.body, "expirationDateTime"))
	}
	if err := s.Lifecycle(id, "missed"); err != nil {
		t.Fatal(err)
	}
	got = rv.wait(t, 2)
	if life := got[1]["value"].([]any)[0].(map[string]any); life["lifecycleEvent"] != "missed" {
		t.Fatalf("lifecycle %v", life)
	}
	// The two deliveries the receiver took are counted (not the refused attempt).
	for i := 0; s.Stats().NotificationsSent < 2; i++ {
		if i > 200 {
			t.Fatalf("notifications_sent = %d, want 2 or more", s.Stats().NotificationsSent)
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.must(204, "DELETE", "/v1.0/subscriptions/"+id, nil)
	a.must(404, "GET", "/v1.0/subscriptions/"+id, nil)
}

// Close stops the delivery worker even with a redelivery pending: no goroutine stays.
func TestCloseStopsDelivery(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		s := New(Options{NotificationRetry: time.Hour})
		if err := s.Populate(1, 0); err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s)
		rv := &receiver{failures: 100, arrived: make(chan struct{}, 1)}
		hook := httptest.NewServer(rv)
		a := newAPI(t, ts, s.AdminToken())
		a.must(201, "POST", "/v1.0/subscriptions", map[string]any{"changeType": "created", "notificationUrl": hook.URL, "resource": "/users/user1@m365.test/events", "expirationDateTime": time.Now().Add(time.Hour).Format(time.RFC3339)})
		a.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("x", testStart, time.Hour, "UTC"))
		for deadline := time.Now().Add(5 * time.Second); ; {
			rv.mu.Lock()
			tried := rv.failures < 100
			rv.mu.Unlock()
			if tried {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no delivery attempt")
			}
			time.Sleep(5 * time.Millisecond)
		}
		done := make(chan struct{})
		go func() { s.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Close hangs on a pending redelivery")
		}
		hook.Close()
		ts.Close()
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	for deadline := time.Now().Add(3 * time.Second); runtime.NumGoroutine() > before+1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines before, %d after", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Notifications can be dropped and subscriptions expired on request; an
// expired subscription notifies no more and cannot be renewed.
func TestDroppedNotificationsAndExpiredSubscriptions(t *testing.T) {
	s, ts, clk := newTestServer(t, Options{NotificationRetry: 10 * time.Millisecond})
	rv := &receiver{arrived: make(chan struct{}, 16)}
	hook := httptest.NewServer(rv)
	defer hook.Close()
	a := newAPI(t, ts, s.AdminToken())
	exp := clk.Now().Add(24 * time.Hour).Format(time.RFC3339)
	created := a.must(201, "POST", "/v1.0/subscriptions", map[string]any{"changeType": "created,updated,deleted",
		"notificationUrl": hook.URL, "resource": "/users/user1@m365.test/events", "expirationDateTime": exp, "clientState": "cs"})
	id := str(created.body, "id")

	a.must(200, "POST", "/_emulator/faults", map[string]any{"drop_next_notifications": 1})
	a.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("dropped", testStart, time.Hour, "UTC"))
	a.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("delivered", testStart.Add(2*time.Hour), time.Hour, "UTC"))
	got := rv.wait(t, 1)
	if s.NotificationsDropped() != 1 || len(got) != 1 {
		t.Fatalf("dropped %d, delivered %d; want 1 and 1", s.NotificationsDropped(), len(got))
	}

	a.must(200, "POST", "/_emulator/faults", map[string]any{"expire_subscriptions": true})
	if ids := s.Subscriptions(); len(ids) != 0 {
		t.Fatalf("live subscriptions after expiry: %v", ids)
	}
	a.must(404, "PATCH", "/v1.0/subscriptions/"+id, map[string]any{"expirationDateTime": exp})
	a.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("after expiry", testStart.Add(4*time.Hour), time.Hour, "UTC"))
	// A fresh subscription proves delivery works; the expired one sent nothing.
	a.must(201, "POST", "/v1.0/subscriptions", map[string]any{"changeType": "created", "notificationUrl": hook.URL,
		"resource": "/users/user1@m365.test/events", "expirationDateTime": exp, "clientState": "cs2"})
	a.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("fresh", testStart.Add(6*time.Hour), time.Hour, "UTC"))
	got = rv.wait(t, 2)
	if n := got[1]["value"].([]any)[0].(map[string]any); n["clientState"] != "cs2" {
		t.Fatalf("the expired subscription notified: %v", n)
	}
}
