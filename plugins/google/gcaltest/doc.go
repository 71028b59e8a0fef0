// Package gcaltest is an in-process emulator of Google Calendar API v3, its OAuth 2.0
// server, the Admin SDK Directory resources it needs, and a test surface. Tests, the
// `run -dev` demo and `synchronizer emulate` point the google provider (through Google's
// own Go client) at it.
//
// One *Server is an http.Handler that serves, on one host:
//
//	/o/oauth2/v2/auth                 sign-in and consent (HTML form; Options.AutoConsent approves at once as login_hint)
//	/token                            authorization_code (+PKCE S256/plain), refresh_token, JWT bearer grant
//	/revoke                           token revocation
//	/oauth2/v3/userinfo, /tokeninfo, /certs, /.well-known/openid-configuration
//	/calendar/v3/...                  calendars.get, calendarList, events (list, get, insert, import, update,
//	                                  patch, delete, instances, watch), channels/stop
//	/batch/calendar/v3                multipart/mixed batch (at most 1000 inner calls)
//	/admin/directory/v1/customer/{customer}/resources/calendars[/{id}], /admin/directory/v1/users/{userKey}
//	/_emulator/...                    the test surface (below)
//
// Absolute URLs it hands out (resourceUri, issuer, redirects) are built from the
// request's Host, so it works behind any listener.
//
// # Accounts
//
// Users (AddUser) have a primary calendar whose id is their address; SPEC naming is
// user1@google.test ... Resources (AddResource) are room calendars such as
// room1@resource.google.test, listed by the Directory API and reached with an admin's
// token. An internal attendee or resource gets a copy of a meeting in its own calendar
// under the same event id; resources accept (or decline) by themselves, as a separate
// change right after the organizer's write, as Google does asynchronously.
//
// # Fidelity
//
// Status codes and error envelopes follow the reference: insert 200, delete 204, a
// second delete 410 deleted, a taken id 409 duplicate, stale If-Match 412
// conditionNotMet, If-None-Match 304, expired sync tokens 410 fullSyncRequired. Sync
// tokens cover the whole calendar; syncToken mixed with iCalUID, orderBy, q,
// privateExtendedProperty, sharedExtendedProperty, timeMin, timeMax or updatedMin, or
// with showDeleted=false, is 400. Deleted events come back as status "cancelled"
// stubs. Quota is 600 requests per minute per user (quotaUser, else the token's
// account) and 10,000 per project, over a sliding minute, answered 403
// userRateLimitExceeded (or 429, Options.QuotaStatus). Unknown query parameters and
// unknown body fields are refused with 400, so a client's typo shows up in tests.
// The standard parameters (alt, fields, prettyPrint, quotaUser, ...) are accepted;
// fields does not trim the answer (a partial response is a subset, so a client that
// asks for one copes with the whole). Push notifications may go to http:// addresses
// (Google wants https), so loopback receivers work.
//
// # Test surface
//
//	GET  /_emulator/stats    {"requests":{"GET /calendar/v3/calendars/{calendarId}/events":3,...},
//	                          "requests_total":N,"responses":{"200":N,...},"mails_sent":N,
//	                          "throttled":N,"server_errors":N,"events":N,"notifications_sent":N}
//	                         mails_sent counts invitations/updates/cancellations a write would have
//	                         mailed: one per attendee (not the organizer, not resources) of a write
//	                         that did not say sendUpdates=none.
//	POST /_emulator/faults   {"throttle":0.1,"server_errors":0.02,"expire_cursors":true,
//	                          "unauthorized":0.01,"quota_exceeded":0.01,"throttle_status":429,
//	                          "retry_after":1,"truncate_next":1,"short_pages":true,
//	                          "user_quota":600,"project_quota":10000,"drop_notifications":0.1,
//	                          "drop_next_notifications":1,"expire_channels":true}
//	                         Replaces the fault settings (absent = off). throttle: fraction answered
//	                         429 rateLimitExceeded with Retry-After (throttle_status 403 answers 403
//	                         rateLimitExceeded without it); server_errors: fraction answered 500
//	                         backendError or 503; unauthorized: fraction answered 401 authError;
//	                         quota_exceeded: fraction answered 403 quotaExceeded; expire_cursors:
//	                         every sync token issued so far answers 410 from now on; truncate_next:
//	                         the next N JSON bodies are cut in half; short_pages: list pages hold
//	                         fewer items than asked (sometimes none) while more remain;
//	                         drop_notifications: fraction of "exists" push messages never sent,
//	                         drop_next_notifications: the next N never sent; expire_channels: every
//	                         watch channel ends now.
//	GET  /_emulator/faults   the current settings.
//	POST /_emulator/reset    deletes every event, channel and issued sync token, clears faults and
//	                         stats; accounts, clients and OAuth grants stay.
//	POST /_emulator/revoke   {"account":"user1@google.test"}: the user revokes access; their refresh
//	                         and access tokens fail (invalid_grant / 401).
//	POST /_emulator/expire_tokens   every access token issued so far answers 401.
//	POST /_emulator/oauth    {"testing_mode":true}: the OAuth app is in "Testing" publishing status;
//	                         new refresh tokens carry refresh_token_expires_in and die after 7 days.
//	POST /_emulator/clock    {"advance":"1h"}: moves the emulator's clock forward (on top of Options.Now).
//
// Where the reference marks a behaviour [unconfirmed], the emulator picks the most
// plausible one and says so in a comment beside the code.
package gcaltest
