package sdk

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// pushFake is a fake with the push part.
type pushFake struct {
	fake
	sub Subscription
	res NotificationResult
}

func (f *pushFake) Watch(ctx context.Context, t Target, req WatchRequest) (Subscription, error) {
	return f.sub, f.seen(ctx, t, req)
}
func (f *pushFake) Unwatch(ctx context.Context, t Target, sub Subscription) error {
	return f.seen(ctx, t, sub)
}
func (f *pushFake) Notification(ctx context.Context, instance string, req NotificationRequest) (NotificationResult, error) {
	return f.res, f.seen(ctx, instance, req)
}

func TestPushCrossesTheBoundary(t *testing.T) {
	ctx := context.Background()
	exp := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	sub := Subscription{ID: "s1", ResourceID: "r1", Expires: exp, Extra: map[string]string{"self": "7"}}
	res := NotificationResult{Status: 200, ContentType: "text/plain", Body: []byte("tok"), Wake: true, Accounts: []string{"5", "6"}, Lifecycle: LifecycleMissed}
	f := &pushFake{sub: sub, res: res}
	c := loopback(t, f)
	tg := Target{Instance: "i", Account: "a", Credential: Credential{Type: "bearer", Token: "tok"}}
	eq := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

	req := WatchRequest{URL: "https://sync.example.test/notify/m365/x", Secret: "s3cret", Expiry: exp, Current: Subscription{ID: "old"}}
	got, err := c.Watch(ctx, tg, req)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(sub, got, eq); d != "" {
		t.Errorf("subscription (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]any{tg, req}, f.received(), eq); d != "" {
		t.Errorf("watch request (-want +got):\n%s", d)
	}

	if err := c.Unwatch(ctx, tg, sub); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]any{tg, sub}, f.received(), eq); d != "" {
		t.Errorf("unwatch request (-want +got):\n%s", d)
	}

	nreq := NotificationRequest{Method: "POST", Path: "/notify/m365/x", Query: "validationToken=a%20b",
		Headers: map[string][]string{"Content-Type": {"text/plain"}, "X-Goog-Channel-Id": {"c1", "c2"}},
		Body:    []byte(`{"value":[]}`), Secret: "s3cret", Subscription: sub, Account: "a"}
	nres, err := c.Notification(ctx, "i", nreq)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(res, nres); d != "" {
		t.Errorf("notification result (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]any{"i", nreq}, f.received(), eq); d != "" {
		t.Errorf("notification request (-want +got):\n%s", d)
	}

	// Errors keep their kind.
	f.err = ErrNotFound
	if err := c.Unwatch(ctx, tg, sub); !errors.Is(err, ErrNotFound) {
		t.Errorf("Unwatch error = %v, want ErrNotFound", err)
	}
}

func TestPushUnsupportedWithoutPusher(t *testing.T) {
	c := loopback(t, &fake{})
	ctx := context.Background()
	if _, err := c.Watch(ctx, Target{}, WatchRequest{URL: "http://127.0.0.1/x"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Watch on a provider without push = %v, want ErrUnsupported", err)
	}
	if _, err := c.Notification(ctx, "i", NotificationRequest{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Notification on a provider without push = %v, want ErrUnsupported", err)
	}
	if err := c.Unwatch(ctx, Target{}, Subscription{ID: "x"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Unwatch on a provider without push = %v, want ErrUnsupported", err)
	}
}
