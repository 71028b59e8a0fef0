package providertest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// pushReceiver plays the host's notification endpoint: every request is judged
// by the provider's Notification with the subscription's secret, as the daemon
// does, and its result answered and kept.
type pushReceiver struct {
	t       *testing.T
	p       sdk.Pusher
	inst    string
	account string
	srv     *httptest.Server

	mu      sync.Mutex
	secret  string
	sub     sdk.Subscription
	results []sdk.NotificationResult
	changed chan struct{}
}

func newPushReceiver(t *testing.T, p sdk.Pusher, instance, account, secret string) *pushReceiver {
	r := &pushReceiver{t: t, p: p, inst: instance, account: account, secret: secret, changed: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *pushReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	secret, sub := r.secret, r.sub
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
	defer cancel()
	res, err := r.p.Notification(ctx, r.inst, sdk.NotificationRequest{
		Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Headers: req.Header, Body: body,
		Secret: secret, Subscription: sub, Account: r.account,
	})
	if err != nil {
		r.t.Errorf("Notification(%s %s): %v", req.Method, req.URL, err)
		http.Error(w, "notification failed", http.StatusInternalServerError)
		return
	}
	if res.ContentType != "" {
		w.Header().Set("Content-Type", res.ContentType)
	}
	code := res.Status
	if code == 0 {
		code = http.StatusAccepted
	}
	w.WriteHeader(code)
	_, _ = w.Write(res.Body)
	r.mu.Lock()
	r.results = append(r.results, res)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *pushReceiver) set(secret string, sub sdk.Subscription) {
	r.mu.Lock()
	r.secret, r.sub = secret, sub
	r.mu.Unlock()
}

// waitWake waits (at most d) for a wake that concerns account, and reports it.
func (r *pushReceiver) waitWake(account string, instanceScope bool, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for _, res := range r.results {
			ok := res.Status >= 200 && res.Status < 300 || res.Status == 0
			if ok && res.Wake && (!instanceScope || len(res.Accounts) == 0 || slices.Contains(res.Accounts, account)) {
				r.mu.Unlock()
				return true
			}
		}
		r.mu.Unlock()
		select {
		case <-r.changed:
		case <-deadline.C:
			return false
		}
	}
}

// push checks the push part of a provider that announces it: Watch delivers a
// notification for a user's change that wakes the changed account, a request
// with the wrong secret is refused and wakes nothing, renewal works, and Unwatch
// is idempotent.
func (s *suite) push(t *testing.T) {
	info, err := s.h.Provider.Info(s.ctx(t))
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if !info.Capabilities.Push {
		t.Skip("the provider does not announce push")
	}
	p, ok := s.h.Provider.(sdk.Pusher)
	if !ok {
		t.Fatal("the provider announces push but does not implement sdk.Pusher")
	}
	tg := s.target(t)
	instanceScope := info.Capabilities.PushScope == sdk.PushScopeInstance
	wt := tg
	account := tg.Account
	if instanceScope {
		wt.Account = ""
		account = ""
	}
	const secret = "conformance-secret-0123456789abcdef"
	rc := newPushReceiver(t, p, s.h.Instance, account, secret)
	url := rc.srv.URL + "/notify/conformance/x"
	sub, err := p.Watch(s.ctx(t), wt, sdk.WatchRequest{URL: url, Secret: secret, Expiry: s.h.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if sub.ID == "" {
		t.Fatal("Watch returned a subscription without an id")
	}
	rc.set(secret, sub)
	t.Cleanup(func() { _ = p.Unwatch(context.Background(), wt, sub) })

	// A user's change wakes the account.
	s.outOfBandPut(t, tg, s.simple(t, "Pushed", 2))
	if !rc.waitWake(tg.Account, instanceScope, s.h.PushWait) {
		t.Fatalf("no notification waking %s arrived within %s of a change", tg.Account, s.h.PushWait)
	}

	// The same requests with another secret are refused and wake nothing.
	rc.mu.Lock()
	n := len(rc.results)
	rc.mu.Unlock()
	rc.set("not-the-secret", sub)
	s.outOfBandPut(t, tg, s.simple(t, "Pushed, refused", 3))
	deadline := time.Now().Add(s.h.PushWait)
	for {
		rc.mu.Lock()
		more := rc.results[n:]
		rc.mu.Unlock()
		refused := false
		for _, res := range more {
			if res.Wake && (res.Status == 0 || res.Status < 300) {
				t.Fatalf("a notification judged with the wrong secret woke: %+v", res)
			}
			if res.Status >= 400 && res.Status < 500 {
				refused = true
			}
		}
		if refused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no refused notification within %s (results %+v)", s.h.PushWait, more)
		}
		select {
		case <-rc.changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
	rc.set(secret, sub)

	// Renewal returns a live subscription; a replaced one is removed.
	ren, err := p.Watch(s.ctx(t), wt, sdk.WatchRequest{URL: url, Secret: secret, Expiry: s.h.Now().Add(48 * time.Hour), Current: sub})
	if err != nil {
		t.Fatalf("Watch to renew: %v", err)
	}
	if ren.ID == "" {
		t.Fatal("renewal returned a subscription without an id")
	}
	if !sub.Expires.IsZero() && !ren.Expires.IsZero() && ren.Expires.Before(sub.Expires) {
		t.Errorf("renewal moved the expiry back from %v to %v", sub.Expires, ren.Expires)
	}
	if ren.ID != sub.ID {
		if err := p.Unwatch(s.ctx(t), wt, sub); err != nil {
			t.Errorf("Unwatch of the replaced subscription: %v", err)
		}
	}
	rc.set(secret, ren)
	if err := p.Unwatch(s.ctx(t), wt, ren); err != nil {
		t.Errorf("Unwatch: %v", err)
	}
	if err := p.Unwatch(s.ctx(t), wt, ren); err != nil {
		t.Errorf("Unwatch of a subscription already gone: %v, want no error", err)
	}
}

// outOfBandPut makes a user's change.
func (s *suite) outOfBandPut(t *testing.T, tg sdk.Target, ev sdk.Event) {
	t.Helper()
	if s.h.PushChange != nil {
		s.h.PushChange(t, tg, ev)
		return
	}
	if s.h.OutOfBand != nil {
		s.h.OutOfBand.Put(t, tg, ev)
		return
	}
	s.create(t, tg, ev)
}
