package sdk

import (
	"context"
	"time"
)

// Push: change notifications, the optional part of the contract a provider
// announces with Capabilities.Push. The host owns the HTTP side: it serves the
// notification URL (POST /notify/... on its consent listener, under the public
// URL), keeps the subscriptions and their secrets, renews them and wakes the
// links a notification concerns. A provider owns what is specific to its service:
// how to subscribe, renew and unsubscribe, and how to judge one incoming request
// (handshakes, the secret's check, which accounts changed).
//
// Rules:
//
//   - A notification is a hint, never data: the host only wakes the affected
//     links, whose runs read back through ListChanges. Notification must not trust
//     anything in the request beyond what the secret proves.
//   - Notification makes no network call: it answers within the service's deadline
//     (Graph wants an answer within 3 seconds) from the request and the stored
//     subscription alone.
//   - A request the secret does not prove gets a 4xx status and Wake false.
//   - Polling at the link's interval goes on regardless, so a lost notification
//     only delays a change; it never loses one.

// Pusher is implemented by providers that announce Capabilities.Push.
type Pusher interface {
	// Watch subscribes to the changes of t's calendar (or, for an instance-wide
	// provider, of the whole instance), delivering to req.URL. With req.Current
	// set it renews or repairs that subscription instead: the answer may be the
	// same subscription with a later expiry, or a new one (the host then removes
	// the old one with Unwatch).
	Watch(ctx context.Context, t Target, req WatchRequest) (Subscription, error)
	// Unwatch removes a subscription. One that is already gone is not an error.
	Unwatch(ctx context.Context, t Target, sub Subscription) error
	// Notification judges one request the service sent to a subscription's URL.
	Notification(ctx context.Context, instance string, req NotificationRequest) (NotificationResult, error)
}

// PushScope says what one subscription covers (Capabilities.PushScope).
type PushScope string

const (
	// PushScopeAccount: one subscription per calendar or mailbox (Target.Account).
	// The default.
	PushScopeAccount PushScope = "account"
	// PushScopeInstance: one subscription per configured instance covers every
	// account of it; NotificationResult.Accounts says which ones changed.
	PushScopeInstance PushScope = "instance"
)

// WatchRequest asks for a subscription.
type WatchRequest struct {
	// URL is where the service must deliver notifications. It stays the same
	// across renewals of one subscription.
	URL string
	// Secret is what the service echoes or signs each notification with (Graph's
	// clientState, Google's channel token, a SuperOffice webhook's secret). It is
	// never logged.
	Secret string
	// Expiry is the expiry asked for; the provider caps it at the service's limit
	// and reports the real one. Zero asks for the longest the service allows.
	Expiry time.Time
	// Current, when its ID is set, is the subscription to renew or repair.
	Current Subscription
}

// Subscription is a change subscription as the service knows it.
type Subscription struct {
	ID         string
	ResourceID string
	// Expires is when the service ends it; zero when it does not expire (a
	// webhook), in which case the host still calls Watch with it now and then so
	// the provider can repair one the service stopped.
	Expires time.Time
	// Extra holds provider facts handed back with later calls (never secrets).
	Extra map[string]string
}

// NotificationRequest is one HTTP request that arrived at a subscription's URL,
// with what the host stored about the subscription.
type NotificationRequest struct {
	Method string
	Path   string
	// Query is the raw query string (Graph's validationToken arrives there).
	Query string
	// Headers are the request's headers in canonical form.
	Headers map[string][]string
	// Body is the raw body (signatures are computed over these bytes).
	Body []byte
	// Secret is the subscription's secret (WatchRequest.Secret).
	Secret       string
	Subscription Subscription
	// Account is the subscription's account; "" for an instance-wide one.
	Account string
}

// Lifecycle events a notification may report (NotificationResult.Lifecycle).
const (
	// LifecycleRenew: renew the subscription now (Graph's reauthorizationRequired).
	LifecycleRenew = "renew"
	// LifecycleRecreate: the service dropped the subscription; create it again
	// (Graph's subscriptionRemoved, a webhook the service stopped).
	LifecycleRecreate = "recreate"
	// LifecycleMissed: notifications were lost; the host runs the links it
	// serves (Graph's missed).
	LifecycleMissed = "missed"
)

// NotificationResult says what to answer and what to do.
type NotificationResult struct {
	// Status is the HTTP status to answer; 0 means 202 Accepted.
	Status      int
	ContentType string
	Body        []byte
	// Wake: something changed; run the links the subscription serves. Ignored
	// unless Status is 2xx.
	Wake bool
	// Accounts narrows Wake on an instance-wide subscription to the links of these
	// accounts (as LookupAccount returned them); empty wakes every link.
	Accounts []string
	// Lifecycle is "" or one of the Lifecycle constants.
	Lifecycle string
}
