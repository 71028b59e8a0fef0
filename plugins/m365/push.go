package m365

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"synchronizer/plugins/sdk"
)

// Push: Microsoft Graph change notifications on a mailbox's events.
//
//   - Watch creates a subscription on /users/{id}/events (or one calendar's
//     events) for created, updated and deleted, with clientState = the host's
//     secret, and the host's URL as both notificationUrl and
//     lifecycleNotificationUrl. Graph validates each URL first (the host answers
//     the validationToken through Notification). Outlook event subscriptions
//     live at most 10,080 minutes; the provider asks for a little less.
//   - Renewal is a PATCH of expirationDateTime; a subscription Graph no longer
//     knows (expired, removed) is created anew.
//   - Notification echoes the validation token as text/plain, checks the
//     clientState of every item (any mismatch refuses the whole request), and
//     maps lifecycle events: reauthorizationRequired -> renew, subscriptionRemoved
//     -> recreate, missed -> a run. The resource data in a notification is not
//     used: the run reads back through delta.

// maxSubscriptionLife is Graph's limit for Outlook event subscriptions (10,080
// minutes) less a margin for clock skew.
const maxSubscriptionLife = 10080*time.Minute - 10*time.Minute

var _ sdk.Pusher = (*Provider)(nil)

type gSubscription struct {
	ID                 string `json:"id"`
	ExpirationDateTime string `json:"expirationDateTime"`
	Resource           string `json:"resource,omitempty"`
}

// subscriptionResource is what a target's subscription watches.
func subscriptionResource(t sdk.Target) string {
	mailbox := "/me"
	if t.Account != "" {
		mailbox = "/users/" + url.PathEscape(t.Account)
	}
	if t.Calendar != "" {
		return mailbox + "/calendars/" + url.PathEscape(t.Calendar) + "/events"
	}
	return mailbox + "/events"
}

func (p *Provider) subscriptionExpiry(want time.Time) time.Time {
	limit := p.now().Add(maxSubscriptionLife)
	if want.IsZero() || want.After(limit) {
		return limit.UTC().Truncate(time.Second)
	}
	return want.UTC().Truncate(time.Second)
}

func (s gSubscription) sdk(fallback time.Time) sdk.Subscription {
	exp, err := time.Parse(time.RFC3339Nano, s.ExpirationDateTime)
	if err != nil {
		exp = fallback
	}
	return sdk.Subscription{ID: s.ID, Expires: exp.UTC()}
}

// Watch implements sdk.Pusher.
func (p *Provider) Watch(ctx context.Context, t sdk.Target, req sdk.WatchRequest) (sdk.Subscription, error) {
	c, err := p.connect(t)
	if err != nil {
		return sdk.Subscription{}, err
	}
	if req.URL == "" || req.Secret == "" || len(req.Secret) > 128 {
		return sdk.Subscription{}, fmt.Errorf("watch %s: a notification URL and a clientState of at most 128 characters are needed: %w", t.Account, sdk.ErrInvalidArgument)
	}
	exp := p.subscriptionExpiry(req.Expiry)
	if id := req.Current.ID; id != "" {
		var out gSubscription
		_, err := c.do(ctx, request{method: http.MethodPatch, path: "/subscriptions/" + url.PathEscape(id),
			body: map[string]string{"expirationDateTime": exp.Format(time.RFC3339)}, op: "renew the subscription of " + t.Account}, &out)
		switch {
		case err == nil:
			if out.ID == "" {
				out.ID = id
			}
			return out.sdk(exp), nil
		case !errors.Is(err, sdk.ErrNotFound):
			return sdk.Subscription{}, err
		}
		// Graph no longer knows it: make a new one.
	}
	var out gSubscription
	_, err = c.do(ctx, request{method: http.MethodPost, path: "/subscriptions", body: map[string]string{
		"changeType":               "created,updated,deleted",
		"notificationUrl":          req.URL,
		"lifecycleNotificationUrl": req.URL,
		"resource":                 subscriptionResource(t),
		"expirationDateTime":       exp.Format(time.RFC3339),
		"clientState":              req.Secret,
	}, op: "subscribe to the events of " + t.Account}, &out)
	if err != nil {
		return sdk.Subscription{}, err
	}
	if out.ID == "" {
		return sdk.Subscription{}, fmt.Errorf("subscribe to the events of %s: Graph answered without a subscription id", t.Account)
	}
	return out.sdk(exp), nil
}

// Unwatch implements sdk.Pusher.
func (p *Provider) Unwatch(ctx context.Context, t sdk.Target, sub sdk.Subscription) error {
	if sub.ID == "" {
		return nil
	}
	c, err := p.connect(t)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, request{method: http.MethodDelete, path: "/subscriptions/" + url.PathEscape(sub.ID), op: "remove the subscription of " + t.Account}, nil)
	if errors.Is(err, sdk.ErrNotFound) {
		return nil
	}
	return err
}

type gNotification struct {
	SubscriptionID string `json:"subscriptionId"`
	ClientState    string `json:"clientState"`
	ChangeType     string `json:"changeType"`
	LifecycleEvent string `json:"lifecycleEvent"`
}

// Notification implements sdk.Pusher.
func (p *Provider) Notification(_ context.Context, _ string, req sdk.NotificationRequest) (sdk.NotificationResult, error) {
	q, err := url.ParseQuery(req.Query)
	if err != nil {
		return sdk.NotificationResult{Status: http.StatusBadRequest}, nil
	}
	if tok, ok := q["validationToken"]; ok && len(tok) > 0 {
		// The handshake before a subscription exists: echo the decoded token.
		return sdk.NotificationResult{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: []byte(tok[0])}, nil
	}
	var body struct {
		Value []gNotification `json:"value"`
	}
	if err := json.Unmarshal(req.Body, &body); err != nil || len(body.Value) == 0 {
		return sdk.NotificationResult{Status: http.StatusBadRequest}, nil
	}
	res := sdk.NotificationResult{Status: http.StatusAccepted}
	for _, n := range body.Value {
		if req.Secret == "" || subtle.ConstantTimeCompare([]byte(n.ClientState), []byte(req.Secret)) != 1 {
			return sdk.NotificationResult{Status: http.StatusForbidden}, nil
		}
		switch strings.ToLower(n.LifecycleEvent) {
		case "":
			res.Wake = true
		case "reauthorizationrequired":
			if res.Lifecycle == "" {
				res.Lifecycle = sdk.LifecycleRenew
			}
		case "subscriptionremoved":
			res.Lifecycle = sdk.LifecycleRecreate
			res.Wake = true // whatever changed while it was gone
		case "missed":
			if res.Lifecycle == "" {
				res.Lifecycle = sdk.LifecycleMissed
			}
			res.Wake = true
		}
	}
	return res, nil
}
