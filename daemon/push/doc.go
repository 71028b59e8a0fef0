// Package push keeps the daemon's change subscriptions and receives the
// notifications they bring: Microsoft Graph subscriptions, Google watch
// channels, SuperOffice webhooks — whatever a provider plugin's push part
// (sdk.Pusher) speaks. It is provider-neutral: the plugins know their service's
// handshakes, secrets and payloads; this package knows URLs, secrets at rest,
// timing and which links to wake.
//
// # What it owns
//
//   - Sources: after every run a link declares what it listens to (Bind): its
//     SuperOffice side and its calendar side, each a provider instance and an
//     account. A provider that subscribes per account (a mailbox, a calendar)
//     gets one subscription per account, shared by the links on it; one that
//     subscribes per instance (a CRM tenant's webhook) gets one per instance,
//     and its notifications say which accounts changed.
//   - Subscriptions, persisted in the state store (state.PushSubscription) with
//     their secret sealed: created when a bound source has none, renewed at two
//     thirds of their life (or checked every CheckEvery when they do not
//     expire, which repairs a webhook the service stopped), created again when
//     the service dropped them (a lifecycle notification) or public_url moved,
//     and removed when no link in the configuration uses them any more.
//   - The notification route, POST /notify/{provider}/{token} on the consent
//     listener (public_url/notify/...): the token is an unguessable
//     per-subscription path segment; unknown tokens get 404 without any plugin
//     call. The raw request goes with the subscription's secret to the plugin's
//     Notification, whose verdict is answered as is (Graph's validationToken
//     echo, 202, 403 for a forged one). Only a 2xx verdict wakes anything.
//
// # Rules
//
//   - A notification carries nothing we trust: it only wakes the affected links
//     (Options.Wake), whose runs read back through the normal incremental path.
//   - Push is an accelerator, never the only path: links are polled at their
//     interval regardless, and a periodic full read (the runner's reconcile)
//     catches what both notifications and change feeds missed. Losing a
//     subscription, a notification or the whole push setup delays a change by
//     at most one interval; it never loses one.
//   - A new subscription wakes its links once it exists, so a change made
//     between their last read and the subscription's start is not left to the
//     next poll.
//   - Subscriptions outlive restarts (they are stored, and the services keep
//     delivering to the same URL); shutdown removes nothing. Notifications that
//     fail while the daemon is down are retried by the services or caught by
//     the first runs after start.
//   - Secrets never reach logs, errors or metrics.
//
// It must not import a concrete provider, nor hold a store transaction across a
// network call.
package push
