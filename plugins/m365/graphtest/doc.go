// Package graphtest is an emulator of the Microsoft Graph calendar API and of the
// Microsoft identity platform, for tests, `synchronizer run -dev` and
// `synchronizer emulate`. A *Server is an http.Handler: mount it on any listener
// (httptest.NewServer, the daemon's own); every absolute URL it hands out is built
// from the request's Host.
//
// It owns the emulated tenant's state in memory. It must not import anything of the
// daemon, and it never calls out except to deliver subscription handshakes and
// notifications.
//
// # What it serves
//
// Identity platform (v2.0), see oauth.go: /{tenant}/oauth2/v2.0/authorize and /token
// (authorization code with PKCE, single-use codes, redirect_uri matching, state echoed,
// refresh tokens only with offline_access and rotated on each use, client credentials
// with .default giving a token with roles and no refresh token, AADSTS error bodies),
// /{tenant}/adminconsent and /{tenant}/v2.0/adminconsent.
//
// Graph v1.0 under /v1.0: /me and /users/{id|upn} (user objects, their calendar(s)),
// events CRUD at /users/{u}/events, /calendar/events and /calendars/{id}/events (POST
// 201, PATCH 200, DELETE 204, If-Match -> 412 ErrorIrresolvableConflict, transactionId
// de-duplicating creates, changeKey and @odata.etag changing on every write),
// /events/{id}/instances, calendarView, calendarView/delta (also written delta()),
// accept/decline/tentativelyAccept/cancel, open extensions, single-value extended
// properties with $expand and the $filter Any() lookup, $select, $top/$skip paging,
// $batch (20 requests, dependsOn, per-item status), subscriptions with the validation
// handshake, notifications and lifecycle events, and the places API for rooms.
// Request bodies may be gzip-compressed; Prefer may come as several header lines.
//
// # Behaviour worth knowing
//
//   - Times are stored as instants and answered in UTC unless Prefer:
//     outlook.timezone names a zone. Zones are accepted as Windows or IANA names and
//     kept as Windows names in originalStartTimeZone. All-day items are floating
//     dates: they are answered at midnight in whatever zone the request asked for.
//   - Ids come in two forms: without Prefer: IdType="ImmutableId" the REST form, which
//     goes stale when /_emulator/move moves the mailbox's items; with it the immutable
//     form. Occurrence ids encode the master and the original start; an exception
//     keeps the id of the occurrence it came from.
//   - A series' occurrences follow its pattern in the recurrence time zone (09:00
//     stays 09:00 across DST). Changing an occurrence makes an exception (and changes
//     the master's changeKey); moving it to or past a neighbouring occurrence's day
//     answers 400 ErrorOccurrenceCrossingBoundary; deleting it leaves no tombstone in
//     /events. A new pattern or new times for the master drop its exceptions.
//   - calendarView/delta fixes its window at the first request. Its tokens are sealed
//     state (mailbox, window, change counter, epoch); pages hold at most
//     odata.maxpagesize items (default 10, at most 1000). Occurrences come as stubs
//     (id, type, seriesMasterId, start, end, etag); exceptions and singles in full;
//     masters only with Options.DeltaIncludesMasters. Items that changed but lie
//     outside the window, and deleted items, come as @removed {"reason":"deleted"}.
//     $select/$expand/$filter/$orderby/$top are rejected. Tokens older than the
//     deletions a calendar remembers (Options.TombstoneLimit), or than the last
//     expire_cursors, answer 410 SyncStateNotFound.
//   - Throttling is per application and mailbox: Options.RateLimit requests per ten
//     minutes (429 TooManyRequests) and Options.ConcurrencyLimit in flight (429
//     ApplicationThrottled), both with Retry-After. $batch runs up to four items at
//     once, each counted against those limits.
//   - Meetings: see meetings.go. Internal attendees and rooms get copies; every mail
//     the real service would send is counted.
//   - Access: delegated tokens reach their own mailbox only; application tokens need
//     admin consent (roles) and obey SetAccessPolicy (403 ErrorAccessDenied); a user
//     with NoMailbox answers 404 MailboxNotEnabledForRESTAPI; AdminToken reaches all.
//
// # Test surface
//
//	GET  /_emulator/stats          requests by route, batch items, throttled and failed
//	                               answers, and mails_sent (with "mails" by kind)
//	GET  /_emulator/mails          the last 1,000 mails the service would have sent
//	GET  /_emulator/faults         the current fault switches
//	POST /_emulator/faults         {"throttle":0.1,"server_errors":0.02,"expire_cursors":true,
//	                               "truncate_next":1,"unauthorized_next":1,"replay":0.2,
//	                               "empty_pages":0.2,"retry_after":2,"drop_notifications":0.1,
//	                               "drop_next_notifications":1,"expire_subscriptions":true}
//	                               (see faults)
//	POST /_emulator/reset          drop events, subscriptions, faults and counters
//	                               (accounts, apps and tokens stay)
//	POST /_emulator/revoke         {"user":"user1@m365.test"}: refresh tokens -> invalid_grant
//	POST /_emulator/expire_tokens  every access token issued so far -> 401
//	POST /_emulator/move           {"user":"..."}: REST ids of that mailbox change
//	POST /_emulator/seed           {"user":"...","events":100,"seed":1}
//	POST /_emulator/lifecycle      {"subscription":"id","event":"missed"}
//
// Go methods do the same for tests and for the commands that embed the emulator:
// Populate, AddUser, AddResource, AddCalendar, RegisterApp, GrantAdminConsent,
// SetAccessPolicy, SeedEvents, RevokeUser, ExpireAccessTokens, ExpireCursors,
// MoveItems, Lifecycle, ExpireSubscriptions, Subscriptions, NotificationsDropped,
// Stats, MailLog, Reset, AdminToken.
//
// # Embedding it
//
//	srv := graphtest.New(graphtest.Options{AutoConsent: true})
//	srv.Populate(2, 1)                        // user1..2@m365.test, room1@m365.test
//	srv.SeedEvents("user1@m365.test", 50, 1)  // a realistic calendar
//	// serve srv on a listener at base (e.g. http://127.0.0.1:PORT), then:
//	settings := srv.Settings(base, false)     // the m365 provider's instance settings
//	api := base + "/v1.0"                     // SPEC's "url"; srv.AdminToken() its "token"
//	defer srv.Close()
package graphtest
