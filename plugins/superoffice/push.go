package superoffice

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice/internal/wire"
)

// Push: one SuperOffice webhook per tenant (sdk.PushScopeInstance).
//
//   - Watch registers a webhook for activity.created, activity.changed and
//     activity.deleted (appointments raise activity events; there are no
//     appointment.* events) with the host's URL and secret. SuperOffice first
//     POSTs a "test" event that must be answered 200, which Notification does.
//     The acting associate (the system user) is kept in the subscription, so
//     the tenant's echoes of our own writes wake nothing.
//   - A webhook does not expire, but the tenant may stop it, or switch it to
//     TooManyErrors after nine failed deliveries: Watch with the current one
//     reads it back and sets it Active again (or registers a new one when it is
//     gone). The host calls it every hour or so, and when a delivery says so.
//   - Notification verifies X-SuperOffice-Signature, base64(HMAC-SHA256(secret,
//     raw body)), and wakes the links of the associate whose appointment row
//     changed (FieldValues.associate_id, or Values on a delete). Documents,
//     which share the table, and our own writes are acknowledged and ignored.
//     Every answer to SuperOffice is 200: anything else counts as a failed
//     delivery and is retried.

// webhookName names the webhooks this provider registers.
const webhookName = "synchronizer"

// webhookEvents are the events a webhook subscribes to.
func webhookEvents() []string {
	return []string{"activity.created", "activity.changed", "activity.deleted"}
}

var _ sdk.Pusher = (*Provider)(nil)

// Watch implements sdk.Pusher.
func (p *Provider) Watch(ctx context.Context, t sdk.Target, req sdk.WatchRequest) (sdk.Subscription, error) {
	in, err := p.instance(t.Instance)
	if err != nil {
		return sdk.Subscription{}, err
	}
	if req.URL == "" || req.Secret == "" {
		return sdk.Subscription{}, fmt.Errorf("watch %s: a notification URL and a secret are needed: %w", in.name, sdk.ErrInvalidArgument)
	}
	self, err := in.principal(ctx, t)
	if err != nil {
		return sdk.Subscription{}, fmt.Errorf("watch %s: %w", in.name, err)
	}
	sub := sdk.Subscription{Extra: map[string]string{"self": strconv.Itoa(self)}}
	if id := req.Current.ID; id != "" {
		var cur wire.Webhook
		resp, err := in.get(ctx, t, "/v1/Webhook/"+url.PathEscape(id), nil, &cur)
		switch {
		case err == nil && !resp.null && cur.WebhookId != 0:
			if cur.State == "Active" && cur.TargetUrl == req.URL {
				sub.ID = id
				return sub, nil
			}
			// Stopped by the tenant, or by failed deliveries: set it going again.
			put := wire.Webhook{WebhookId: cur.WebhookId, Name: cur.Name, Events: webhookEvents(), TargetUrl: req.URL,
				Secret: req.Secret, State: "Active", Type: "webhook", Headers: cur.Headers, Properties: cur.Properties}
			if _, err := in.call(ctx, t, request{method: http.MethodPut, path: "/v1/Webhook/" + url.PathEscape(id), body: put}); err != nil {
				return sdk.Subscription{}, fmt.Errorf("watch %s: set webhook %s active again: %w", in.name, id, err)
			}
			in.logger.Info("webhook set active again", "webhook", id, "was", cur.State, "last_error", truncate(cur.LastError, 200))
			sub.ID = id
			return sub, nil
		case err != nil && !errors.Is(err, sdk.ErrNotFound):
			return sdk.Subscription{}, fmt.Errorf("watch %s: read webhook %s: %w", in.name, id, err)
		}
		// Gone: register a new one.
	}
	var out wire.Webhook
	_, err = in.call(ctx, t, request{method: http.MethodPost, path: "/v1/Webhook", body: wire.Webhook{
		Name: webhookName, Events: webhookEvents(), TargetUrl: req.URL, Secret: req.Secret, State: "Active", Type: "webhook",
		Headers: map[string]string{}, Properties: map[string]any{},
	}, out: &out})
	if err != nil {
		return sdk.Subscription{}, fmt.Errorf("watch %s: register a webhook: %w", in.name, err)
	}
	if out.WebhookId == 0 {
		return sdk.Subscription{}, fmt.Errorf("watch %s: the webhook answer has no WebhookId", in.name)
	}
	sub.ID = strconv.Itoa(int(out.WebhookId))
	return sub, nil
}

// Unwatch implements sdk.Pusher.
func (p *Provider) Unwatch(ctx context.Context, t sdk.Target, sub sdk.Subscription) error {
	if sub.ID == "" {
		return nil
	}
	in, err := p.instance(t.Instance)
	if err != nil {
		return err
	}
	_, err = in.call(ctx, t, request{method: http.MethodDelete, path: "/v1/Webhook/" + url.PathEscape(sub.ID)})
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return fmt.Errorf("unwatch %s: delete webhook %s: %w", in.name, sub.ID, err)
	}
	return nil
}

// Notification implements sdk.Pusher.
func (p *Provider) Notification(_ context.Context, _ string, req sdk.NotificationRequest) (sdk.NotificationResult, error) {
	ok := http.StatusOK
	sig := ""
	if v := req.Headers["X-Superoffice-Signature"]; len(v) > 0 {
		sig = v[0]
	}
	if req.Secret == "" || !validSignature(req.Secret, req.Body, sig) {
		return sdk.NotificationResult{Status: http.StatusForbidden}, nil
	}
	var ev wire.WebhookPayload
	if err := json.Unmarshal(req.Body, &ev); err != nil {
		return sdk.NotificationResult{Status: http.StatusBadRequest}, nil
	}
	event := strings.ToLower(ev.Event)
	switch {
	case event == "test":
		return sdk.NotificationResult{Status: ok}, nil
	case strings.HasPrefix(event, "webhook") && (strings.HasSuffix(event, ".stopped") || strings.HasSuffix(event, ".errors")):
		// The tenant tells about the webhook itself: check and repair it now.
		return sdk.NotificationResult{Status: ok, Lifecycle: sdk.LifecycleRenew}, nil
	case !strings.HasPrefix(event, "activity."):
		return sdk.NotificationResult{Status: ok}, nil
	}
	if typ, found := intField(ev.FieldValues, "type"); found && typ == 4 {
		return sdk.NotificationResult{Status: ok}, nil // a document, not an appointment
	}
	if self := req.Subscription.Extra["self"]; self != "" && strconv.Itoa(ev.ChangedByAssociateId) == self {
		return sdk.NotificationResult{Status: ok}, nil // our own write
	}
	res := sdk.NotificationResult{Status: ok, Wake: true}
	if id, found := intField(ev.FieldValues, "associate_id"); found && id > 0 {
		res.Accounts = []string{strconv.Itoa(id)}
	} else if id, found := intField(ev.Values, "associate_id"); found && id > 0 {
		res.Accounts = []string{strconv.Itoa(id)}
	}
	return res, nil
}

func validSignature(secret string, body []byte, sig string) bool {
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
	if err != nil || len(got) == 0 {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// intField reads a number that JSON may carry as a number or a string.
func intField(m map[string]any, key string) (int, bool) {
	switch v := m[key].(type) {
	case float64:
		return int(v), true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		return n, err == nil
	case json.Number:
		n, err := strconv.Atoi(v.String())
		return n, err == nil
	}
	return 0, false
}
