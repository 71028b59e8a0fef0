package memory

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// receiver answers the validation handshake through the provider's own
// Notification and keeps every other request.
type receiver struct {
	p      *Provider
	secret string
	mu     sync.Mutex
	got    []sdk.NotificationResult
	srv    *httptest.Server
}

func newReceiver(t *testing.T, p *Provider, secret string) *receiver {
	r := &receiver{p: p, secret: secret}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		res, err := p.Notification(req.Context(), "i", sdk.NotificationRequest{
			Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Headers: req.Header, Body: body, Secret: r.secret,
		})
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
		if req.URL.Query().Get("validationToken") == "" {
			r.mu.Lock()
			r.got = append(r.got, res)
			r.mu.Unlock()
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) results() []sdk.NotificationResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sdk.NotificationResult(nil), r.got...)
}

func TestPushSubscriptionLifecycle(t *testing.T) {
	ctx := context.Background()
	p := New()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p.SetClock(func() time.Time { return now })
	rc := newReceiver(t, p, "s3cret")
	tg := sdk.Target{Instance: "i", Account: "jane"}

	if info, _ := p.Info(ctx); !info.Capabilities.Push {
		t.Fatal("memory does not announce push")
	}
	sub, err := p.Watch(ctx, tg, sdk.WatchRequest{URL: rc.srv.URL + "/notify/x", Secret: "s3cret", Expiry: now.Add(72 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !sub.Expires.Equal(now.Add(MaxSubscriptionLifetime)) {
		t.Errorf("expiry = %v, want it capped at %v", sub.Expires, now.Add(MaxSubscriptionLifetime))
	}

	// A change reaches the receiver, signed.
	p.Calendar("i", "jane").Put(sdk.Event{Title: "a", Start: now, End: now.Add(time.Hour)})
	p.WaitNotifications()
	got := rc.results()
	if len(got) != 1 || got[0].Status != http.StatusAccepted || !got[0].Wake {
		t.Fatalf("notifications after a write = %+v, want one accepted wake", got)
	}
	// Another calendar's change does not.
	p.Calendar("i", "bob").Put(sdk.Event{Title: "b", Start: now, End: now.Add(time.Hour)})
	p.WaitNotifications()
	if n := len(rc.results()); n != 1 {
		t.Fatalf("a change of another calendar notified this one (%d notifications)", n)
	}

	// A receiver with another secret refuses them.
	rc.secret = "other"
	p.Calendar("i", "jane").Put(sdk.Event{Title: "c", Start: now, End: now.Add(time.Hour)})
	p.WaitNotifications()
	if got := rc.results(); len(got) != 2 || got[1].Status != http.StatusForbidden || got[1].Wake {
		t.Fatalf("forged-looking notification = %+v, want 403 without wake", got)
	}
	rc.secret = "s3cret"

	// Dropped notifications never arrive.
	p.DropNotifications(1)
	p.Calendar("i", "jane").Put(sdk.Event{Title: "d", Start: now, End: now.Add(time.Hour)})
	p.WaitNotifications()
	if n, st := len(rc.results()), p.PushStats(); n != 2 || st.Dropped != 1 {
		t.Fatalf("after a drop: %d notifications, stats %+v", n, st)
	}

	// Renewal keeps the id; an expired one is replaced by a new one.
	now = now.Add(time.Hour)
	ren, err := p.Watch(ctx, tg, sdk.WatchRequest{URL: rc.srv.URL + "/notify/x", Secret: "s3cret", Current: sub})
	if err != nil || ren.ID != sub.ID || !ren.Expires.After(sub.Expires) {
		t.Fatalf("renewal = %+v, %v; want id %s with a later expiry", ren, err, sub.ID)
	}
	p.ExpireSubscriptions()
	if ids := p.Subscriptions(); len(ids) != 0 {
		t.Fatalf("live subscriptions after expiry: %v", ids)
	}
	p.Calendar("i", "jane").Put(sdk.Event{Title: "e", Start: now, End: now.Add(time.Hour)})
	p.WaitNotifications()
	if n := len(rc.results()); n != 2 {
		t.Fatalf("an expired subscription still notifies (%d)", n)
	}
	fresh, err := p.Watch(ctx, tg, sdk.WatchRequest{URL: rc.srv.URL + "/notify/x", Secret: "s3cret", Current: sub})
	if err != nil || fresh.ID == sub.ID {
		t.Fatalf("watch over an expired subscription = %+v, %v; want a new id", fresh, err)
	}

	// Lifecycle events arrive signed and say what to do.
	if err := p.Lifecycle(fresh.ID, sdk.LifecycleRecreate); err != nil {
		t.Fatal(err)
	}
	p.WaitNotifications()
	got = rc.results()
	if last := got[len(got)-1]; last.Lifecycle != sdk.LifecycleRecreate || last.Wake {
		t.Fatalf("lifecycle notification = %+v", last)
	}
	if ids := p.Subscriptions(); len(ids) != 0 {
		t.Fatalf("subscription survived its removal: %v", ids)
	}
	if err := p.Unwatch(ctx, tg, fresh); err != nil {
		t.Fatalf("unwatch of a removed subscription: %v", err)
	}
}

func TestWatchNeedsTheHandshake(t *testing.T) {
	p := New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK) // no echo
	}))
	defer srv.Close()
	_, err := p.Watch(context.Background(), sdk.Target{Instance: "i", Account: "a"}, sdk.WatchRequest{URL: srv.URL, Secret: "s"})
	if err == nil {
		t.Fatal("a URL that does not echo the validation token was accepted")
	}
	if ids := p.Subscriptions(); len(ids) != 0 {
		t.Fatalf("a failed watch left subscriptions: %v", ids)
	}
}

func TestPutUnannouncedOnlyInFullReads(t *testing.T) {
	ctx := context.Background()
	p := New()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p.SetClock(func() time.Time { return now })
	tg := sdk.Target{Instance: "i", Account: "a"}
	w := sdk.Window{Start: now.Add(-time.Hour), End: now.Add(24 * time.Hour)}
	cal := p.Calendar("i", "a")
	ev := cal.Put(sdk.Event{Title: "one", Start: now, End: now.Add(time.Hour)})
	full, err := p.ListChanges(ctx, tg, sdk.ChangesRequest{Window: w})
	if err != nil || len(full.Events) != 1 {
		t.Fatalf("full read = %+v, %v", full, err)
	}
	ev.Title = "edited where no feed sees it"
	cal.PutUnannounced(ev)
	inc, err := p.ListChanges(ctx, tg, sdk.ChangesRequest{Window: w, Cursor: full.Cursor})
	if err != nil || len(inc.Events) != 0 || len(inc.Removed) != 0 {
		t.Fatalf("incremental read saw the unannounced edit: %+v, %v", inc, err)
	}
	again, err := p.ListChanges(ctx, tg, sdk.ChangesRequest{Window: w})
	if err != nil || len(again.Events) != 1 || again.Events[0].Title != ev.Title {
		t.Fatalf("full read missed the unannounced edit: %+v, %v", again, err)
	}
}
