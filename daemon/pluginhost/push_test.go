package pluginhost

import (
	"context"
	"errors"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// The test plugin's push part: Watch echoes the request into the subscription,
// Unwatch of id "gone" is not found, Notification wakes when the body is "wake".

func (tp *testPlugin) Watch(_ context.Context, t sdk.Target, req sdk.WatchRequest) (sdk.Subscription, error) {
	return sdk.Subscription{ID: "sub-" + t.Account, Expires: req.Expiry, Extra: map[string]string{"url": req.URL}}, nil
}

func (tp *testPlugin) Unwatch(_ context.Context, _ sdk.Target, sub sdk.Subscription) error {
	if sub.ID == "gone" {
		return sdk.ErrNotFound
	}
	return nil
}

func (tp *testPlugin) Notification(_ context.Context, instance string, req sdk.NotificationRequest) (sdk.NotificationResult, error) {
	if req.Secret != "s" {
		return sdk.NotificationResult{Status: 403}, nil
	}
	return sdk.NotificationResult{Status: 202, Wake: string(req.Body) == "wake", Accounts: []string{instance + "/" + req.Account}}, nil
}

func TestPushCallsReachThePluginProcess(t *testing.T) {
	h := newTestHost(t, Options{})
	p := addSelf(t, h, "test")
	ctx := ctxT(t)
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	sub, err := p.Watch(ctx, sdk.Target{Instance: "i", Account: "a"}, sdk.WatchRequest{URL: "http://127.0.0.1/notify/x", Secret: "s", Expiry: exp})
	if err != nil || sub.ID != "sub-a" || !sub.Expires.Equal(exp) || sub.Extra["url"] != "http://127.0.0.1/notify/x" {
		t.Fatalf("Watch = %+v, %v", sub, err)
	}
	if err := p.Unwatch(ctx, sdk.Target{Instance: "i"}, sdk.Subscription{ID: "gone"}); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("Unwatch error lost its kind: %v", err)
	}
	res, err := p.Notification(ctx, "i", sdk.NotificationRequest{Secret: "s", Body: []byte("wake"), Account: "a"})
	if err != nil || res.Status != 202 || !res.Wake || len(res.Accounts) != 1 || res.Accounts[0] != "i/a" {
		t.Fatalf("Notification = %+v, %v", res, err)
	}
	res, err = p.Notification(ctx, "i", sdk.NotificationRequest{Secret: "forged", Body: []byte("wake")})
	if err != nil || res.Status != 403 || res.Wake {
		t.Fatalf("forged Notification = %+v, %v", res, err)
	}
}
