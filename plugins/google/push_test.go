package google

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/sdk"
)

// channelReceiver judges every push message with the provider's Notification.
type channelReceiver struct {
	p      *Provider
	secret string
	mu     sync.Mutex
	got    []sdk.NotificationResult
	ids    []string
}

func (c *channelReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	res, _ := c.p.Notification(r.Context(), "gw", sdk.NotificationRequest{Method: r.Method, Path: r.URL.Path, Headers: r.Header, Body: body, Secret: c.secret})
	w.WriteHeader(res.Status)
	c.mu.Lock()
	c.got = append(c.got, res)
	c.ids = append(c.ids, r.Header.Get("X-Goog-Channel-ID"))
	c.mu.Unlock()
}

func (c *channelReceiver) wait(t *testing.T, n int) []sdk.NotificationResult {
	t.Helper()
	for range 1000 {
		c.mu.Lock()
		if len(c.got) >= n {
			out := append([]sdk.NotificationResult(nil), c.got...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fewer than %d push messages", n)
	return nil
}

func TestWatchChannelLifecycle(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	rv := &channelReceiver{p: e.p, secret: "channel-token"}
	hook := httptest.NewServer(rv)
	defer hook.Close()
	ctx := context.Background()
	tg := e.target(gcaltest.UserEmail(1))
	sub, err := e.p.Watch(ctx, tg, sdk.WatchRequest{URL: hook.URL + "/notify/google/x", Secret: rv.secret, Expiry: t0.Add(72 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if sub.ID == "" || sub.ResourceID == "" || !sub.Expires.Equal(t0.Add(72*time.Hour)) {
		t.Fatalf("channel %+v", sub)
	}
	// The sync message opens the channel and wakes nothing.
	if got := rv.wait(t, 1); got[0].Status != 200 || got[0].Wake {
		t.Fatalf("sync message verdict %+v", got[0])
	}
	if _, err := e.p.Create(ctx, tg, sdk.Event{Title: "x", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour), TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	if got := rv.wait(t, 2); !got[1].Wake {
		t.Fatalf("exists message verdict %+v", got[1])
	}
	// Renewal is a new channel; the old one is stopped by the host.
	ren, err := e.p.Watch(ctx, tg, sdk.WatchRequest{URL: hook.URL + "/notify/google/x", Secret: rv.secret, Current: sub})
	if err != nil || ren.ID == sub.ID {
		t.Fatalf("renewal %+v, %v; want a new channel", ren, err)
	}
	if err := e.p.Unwatch(ctx, tg, sub); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Unwatch(ctx, tg, sub); err != nil {
		t.Fatalf("stopping a stopped channel: %v", err)
	}
	if ids := e.srv.Channels(); len(ids) != 1 || ids[0] != ren.ID {
		t.Fatalf("channels %v, want only %s", ids, ren.ID)
	}
}

func TestChannelNotificationVerdicts(t *testing.T) {
	p := New(nil)
	h := func(kv ...string) map[string][]string {
		out := map[string][]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			out[http.CanonicalHeaderKey(kv[i])] = []string{kv[i+1]}
		}
		return out
	}
	cases := []struct {
		name   string
		head   map[string][]string
		status int
		wake   bool
	}{
		{"sync", h("X-Goog-Channel-ID", "c", "X-Goog-Channel-Token", "tok", "X-Goog-Resource-State", "sync", "X-Goog-Message-Number", "1"), 200, false},
		{"exists", h("X-Goog-Channel-ID", "c", "X-Goog-Channel-Token", "tok", "X-Goog-Resource-State", "exists", "X-Goog-Message-Number", "2"), 200, true},
		{"not_exists", h("X-Goog-Channel-ID", "c", "X-Goog-Channel-Token", "tok", "X-Goog-Resource-State", "not_exists"), 200, true},
		{"wrong token", h("X-Goog-Channel-ID", "c", "X-Goog-Channel-Token", "guess", "X-Goog-Resource-State", "exists"), 403, false},
		{"no token", h("X-Goog-Channel-ID", "c", "X-Goog-Resource-State", "exists"), 403, false},
		{"no channel", h("X-Goog-Channel-Token", "tok", "X-Goog-Resource-State", "exists"), 400, false},
		{"no state", h("X-Goog-Channel-ID", "c", "X-Goog-Channel-Token", "tok"), 400, false},
		{"bad number", h("X-Goog-Channel-ID", "c", "X-Goog-Channel-Token", "tok", "X-Goog-Resource-State", "exists", "X-Goog-Message-Number", "x"), 400, false},
	}
	for _, c := range cases {
		res, err := p.Notification(context.Background(), "gw", sdk.NotificationRequest{Method: "POST", Headers: c.head, Secret: "tok"})
		if err != nil || res.Status != c.status || res.Wake != c.wake {
			t.Errorf("%s: %+v, %v", c.name, res, err)
		}
	}
}
