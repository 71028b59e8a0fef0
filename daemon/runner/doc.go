// Package runner runs the links: it is the agent's Runner and LicenseSource.
// For every licensed link of the configuration in force it binds the two sides
// (the superoffice provider and the profile's calendar provider, each a plugin
// behind daemon/pluginhost) to the sync engine, schedules runs with
// daemon/scheduler, keeps each link's state, last sync, last error and item count
// in the state store, and feeds the metrics. Credentials and activation links come
// from the consent side through the Credentials and Activations interfaces. It
// also serves the run-now routes of the admin API (Routes).
//
// # A link's life here
//
// Each run of a link first makes sure both provider instances hold the
// configuration in force (Configure, replayed by the plugin host after a crash),
// then fetches both credentials, resolves the SuperOffice associate or resource
// and the calendar mailbox (LookupAccount, cached until the next reload), settles
// a crash's leftovers once (engine.Recover) and runs the engine. The outcome lands
// in the link's row:
//
//   - no consent yet (ErrNoConsent): pending_activation, with the activation URL;
//   - consent revoked (sdk.ErrConsentRevoked): needs_consent, with a new URL;
//   - any other failure: error, with a readable reason (the mass-delete guard's
//     names the command that lifts it);
//   - success: active, last sync, items (the pairs the link keeps).
//
// A link waiting for consent is not a failing link: it is looked at again at its
// interval without backoff, and it is not counted as a failed run.
//
// # Pairs and bindings
//
// The engine keeps a link's pairs under a key made of the link's name and a hash
// of what it binds (tenant, associate, calendar system, mailbox, as resolved). A
// link whose mailbox or associate changes starts a fresh pair set — items are
// re-paired by their correlation ids, never duplicated — instead of mistaking a
// different calendar for one emptied by its user. Links removed from the
// configuration (or unlicensed, or disabled) stop being scheduled; their pairs and
// cursors are kept, so a link that comes back continues where it stopped.
//
// # Push and reconcile
//
// With a state store that keeps subscriptions, the runner runs a daemon/push
// Manager (push.go): after each run a link declares its two sides, and when its
// profile has push on, http.public_url is written and the side's provider
// announces push, the manager subscribes to that side's changes. A notification
// wakes the link through the scheduler, coalesced per link; interval runs go on
// regardless. NotifyHandler is the route cmd mounts on the consent listener
// (web.WithNotify). Every profile's reconcile period (default 3h) a link's run
// reads both sides in full, which catches what notifications and change feeds
// missed.
//
// # Meetings
//
// The links of a profile share what they know about meetings (meetings.go):
// before the first run of any of them after an Apply, the runner resolves the
// accounts of every link of the profile that may run and hands each run the
// same engine.Meetings, so a meeting reaches each linked person and room once.
// A profile removed from the configuration loses its meeting registry.
//
// # Concurrency and memory
//
// Up to DefaultMaxConcurrent runs are under way at once (DefaultLimits bound
// them per provider instance, mailbox and diary), most of them waiting for a
// service; a SuperOffice tenant gets at most DefaultRequestLimits' requests at
// once however many runs there are. New sets the Go heap's soft limit to
// DefaultMemoryLimit unless GOMEMLIMIT is set (Options.MemoryLimit < 0 leaves
// it alone), and a run starts only while the live heap is under half of the
// limit in force (a burst of runs at a time, scheduler.Config.Admit), so the
// daemon stays within its memory budget while many runs hold their items.
//
// It must not import a concrete provider; cmd hands it the plugins.
package runner
