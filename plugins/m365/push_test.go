package m365

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
)

// hookReceiver answers Graph's handshakes and notifications through the
// provider's Notification with a fixed secret, and keeps the verdicts.
type hookReceiver struct {
	p      *Provider
	secret string
	mu     sync.Mutex
	got    []sdk.NotificationResult
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	res, err := h.p.Notification(r.Context(), "acme", sdk.NotificationRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Headers: r.Header, Body: body, Secret: h.secret})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	if res.ContentType != "" {
		w.Header().Set("Content-Type", res.ContentType)
	}
	if res.Status == 0 {
		res.Status = 202
	}
	w.WriteHeader(res.Status)
	w.Write(res.Body)
	if r.URL.Query().Get("validationToken") == "" {
		h.mu.Lock()
		h.got = append(h.got, res)
		h.mu.Unlock()
	}
}

func (h *hookReceiver) results() []sdk.NotificationResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.NotificationResult(nil), h.got...)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func TestWatchRenewUnwatch(t *testing.T) {
	e := newEnv(t, graphtest.Options{NotificationRetry: 10 * time.Millisecond})
	rv := &hookReceiver{p: e.p, secret: "client-state-secret"}
	hook := httptest.NewServer(rv)
	defer hook.Close()
	tg := e.target("user1@m365.test")

	// Graph caps the life: ask for a month, get under 7 days.
	sub, err := e.p.Watch(e.ctx, tg, sdk.WatchRequest{URL: hook.URL + "/notify/m365/tok", Secret: rv.secret, Expiry: t0.Add(30 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if sub.ID == "" || sub.Expires.After(t0.Add(10080*time.Minute)) || sub.Expires.Before(t0.Add(6*24*time.Hour)) {
		t.Fatalf("subscription %+v: want an id and an expiry just under 7 days", sub)
	}
	if ids := e.srv.Subscriptions(); len(ids) != 1 || ids[0] != sub.ID {
		t.Fatalf("Graph holds %v", ids)
	}

	// A user's change: a notification whose verdict wakes.
	if _, err := e.p.Create(e.ctx, tg, sdk.Event{Title: "x", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour), TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a notification", func() bool { return len(rv.results()) > 0 })
	if r := rv.results()[0]; r.Status != http.StatusAccepted || !r.Wake {
		t.Fatalf("verdict %+v", r)
	}

	// Renewal by PATCH keeps the id.
	e.clk.Advance(24 * time.Hour)
	ren, err := e.p.Watch(e.ctx, tg, sdk.WatchRequest{URL: hook.URL + "/notify/m365/tok", Secret: rv.secret, Current: sub})
	if err != nil || ren.ID != sub.ID || !ren.Expires.After(sub.Expires) {
		t.Fatalf("renewal %+v, %v", ren, err)
	}
	// A subscription Graph dropped is made anew.
	e.srv.ExpireSubscriptions()
	fresh, err := e.p.Watch(e.ctx, tg, sdk.WatchRequest{URL: hook.URL + "/notify/m365/tok", Secret: rv.secret, Current: ren})
	if err != nil || fresh.ID == "" || fresh.ID == sub.ID {
		t.Fatalf("renewal of an expired subscription %+v, %v; want a new one", fresh, err)
	}
	if err := e.p.Unwatch(e.ctx, tg, fresh); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Unwatch(e.ctx, tg, fresh); err != nil {
		t.Fatalf("second Unwatch: %v", err)
	}
	if ids := e.srv.Subscriptions(); len(ids) != 0 {
		t.Fatalf("Graph still holds %v", ids)
	}
	// An endpoint that does not answer the handshake: no subscription.
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer silent.Close()
	if _, err := e.p.Watch(e.ctx, tg, sdk.WatchRequest{URL: silent.URL, Secret: "s"}); err == nil {
		t.Fatal("a subscription was made without the validation handshake")
	}
}

func TestNotificationVerdicts(t *testing.T) {
	p := New(nil)
	const secret = "s3cret"
	note := func(fields string) string {
		return `{"value":[{"subscriptionId":"sub","tenantId":"t",` + fields + `}]}`
	}
	cases := []struct {
		name      string
		query     string
		body      string
		status    int
		wake      bool
		lifecycle string
		echo      string
	}{
		{"validation", "validationToken=Validation%3A+Testing+client+%26+more", "", 200, false, "", "Validation: Testing client & more"},
		{"change", "", note(`"changeType":"updated","clientState":"s3cret"`), 202, true, "", ""},
		{"two changes", "", `{"value":[{"clientState":"s3cret","changeType":"created"},{"clientState":"s3cret","changeType":"deleted"}]}`, 202, true, "", ""},
		{"forged clientState", "", note(`"changeType":"updated","clientState":"guess"`), 403, false, "", ""},
		{"no clientState", "", note(`"changeType":"updated"`), 403, false, "", ""},
		{"one forged among good", "", `{"value":[{"clientState":"s3cret"},{"clientState":"x"}]}`, 403, false, "", ""},
		{"reauthorizationRequired", "", note(`"lifecycleEvent":"reauthorizationRequired","clientState":"s3cret"`), 202, false, sdk.LifecycleRenew, ""},
		{"subscriptionRemoved", "", note(`"lifecycleEvent":"subscriptionRemoved","clientState":"s3cret"`), 202, true, sdk.LifecycleRecreate, ""},
		{"missed", "", note(`"lifecycleEvent":"missed","clientState":"s3cret"`), 202, true, sdk.LifecycleMissed, ""},
		{"not JSON", "", "garbage", 400, false, "", ""},
		{"empty value", "", `{"value":[]}`, 400, false, "", ""},
	}
	for _, c := range cases {
		res, err := p.Notification(t.Context(), "acme", sdk.NotificationRequest{Method: "POST", Query: c.query, Body: []byte(c.body), Secret: secret})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res.Status != c.status || res.Wake != c.wake || res.Lifecycle != c.lifecycle || string(res.Body) != c.echo {
			t.Errorf("%s: %+v", c.name, res)
		}
		if c.echo != "" && !strings.HasPrefix(res.ContentType, "text/plain") {
			t.Errorf("%s: the echo is %q, not text/plain", c.name, res.ContentType)
		}
	}
}
