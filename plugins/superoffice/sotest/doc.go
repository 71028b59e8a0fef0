// Package sotest is an emulator of SuperOffice CRM Online (and onsite) for the
// superoffice provider's tests, the conformance suite, `synchronizer run -dev` and
// `synchronizer emulate`: an http.Handler that serves, on one host, what the real
// service spreads over several.
//
// # Hosts and paths
//
// The root of the handler plays the environment's login host
// (https://{env}.superoffice.com): OpenID Connect under /login/ (discovery,
// JWKS, /login/common/oauth/authorize, /login/common/oauth/tokens), the tenant
// state API GET /api/state/{contextId}, and the system-user exchange POST
// /Login/api/PartnerSystemUser/Authenticate. The tenant's WebAPI lives on a
// "numbered host", here a host label in the path: {root}/online2/{contextId}/api.
// MoveTenant switches to online3 (and so on): the old path then answers 421
// Misdirected Request and the state API names the new one. The root host's own
// /{contextId}/api (where the id_token's webapi_url points, as in the documented
// sample) answers 421 too. With Options.Onsite the API is at /SuperOffice/api,
// there is no login host and Basic authentication works.
//
// Every absolute URL handed out (state API endpoints, OData next links, issuer,
// redirects) is built from the incoming request's Host.
//
// # Authentication
//
//   - Bearer: access tokens "8A:{contextId}.…" from the token endpoint (valid one
//     hour), or AdminToken(), which acts as the tenant's system user on every diary
//     and never expires.
//   - SOTicket 7T:… with SO-AppToken: tickets from the system-user exchange, which
//     verifies the partner's RSA-SHA256 signature over "{system_token}.{yyyyMMddHHmm}"
//     (five minutes either way), the application token and the context id. Tickets
//     expire after six hours unused (sliding).
//   - Basic (onsite only), with passwords from User.Password or SetPassword.
//
// Sign-in pages show a form; with Options.AutoConsent they approve at once as the
// user named by login_hint, so `curl -L` completes consent. PKCE plain (the default)
// and S256 work; codes live ten minutes; there is no client_credentials grant. An
// administrator's id_token carries the system_token claim.
//
// # The WebAPI
//
// Appointment REST (GET/POST/PUT/DELETE with If-Modified-Since and
// If-Unmodified-Since, /default, /Simple, /Participants, /ForeignKey), the OData
// search on GET /api/v1/Appointment (archive FindAppointment: $select, $filter with
// the operators of the reference joined by "and", $orderBy, $top, $skip, SLIM
// display values or $output=Logical raw values, updatedDate 0001-01-01 until the
// first change, deleted rows simply gone), the Appointment agent (Save, Delete,
// SaveAppointmentEntity, GetAppointmentEntity, DeleteAppointmentEntity,
// CreateDefaultAppointmentEntity, GetAssociateDiary, GetAppointmentList,
// GetAppointmentRecords,
// UpdateAppointmentWithMode, Accept, Reject, CalculateDays and the UID methods),
// users (REST, OData AllUsers, currentPrincipal, GetUser/GetUserFromName),
// licences (REST and GetLicenseForAllOwnersFromDB), MDOList resource and task,
// List GetResourceEntity, time zones, ForeignApp keys, and webhooks.
//
// Meetings are stored as SuperOffice does: one row per participant. The
// organizer's row is the mother; every associate, resource and external person
// gets a child row (persons in the organizer's diary, with PersonId set). Deleting
// the mother turns the children into BookingDeleted. Recurring appointments are
// stored expanded, one row per occurrence sharing a recurrence rule id, and need
// an end. Agent saves take UpdateMode OnlyThis, ThisAndForward (a new time or
// pattern regenerates the rest of the series; a new end only extends or trims it)
// or StopRecurrence. Times are stored as instants and shown as wall clock in the
// base zone, or in the zone of the SO-TimeZone header, with an offset when it says
// includeTZOffset. Names in bodies and query strings match case-insensitively;
// null bodies, camelCase, ISO 8601 durations and dates with Z are accepted; agents
// answer 200 null for missing entities.
//
// Writes that would notify participants are counted as mails: the agents' Save and
// Delete when SendEmailToParticipants is true, and the plain entity saves (REST,
// SaveAppointmentEntity) of meetings, which are assumed to notify [unconfirmed].
//
// # Test surface
//
//	GET  /_emulator/stats           requests by route, mails_sent, injected faults
//	POST /_emulator/faults          {"throttle":0.1,"server_errors":0.02,"expire_cursors":true,
//	                                 "retry_after":1,"fail_next":{"status":421,"count":1,"retry_after":"5"},
//	                                 "truncate_next":1,"break":"garbage"|"truncated",
//	                                 "drop_notifications":0.1,"drop_next_notifications":1,
//	                                 "stop_webhooks":"Stopped"|"TooManyErrors"}
//	POST /_emulator/reset           drop appointments, keys, webhooks, tokens; keep users
//	POST /_emulator/licenses        {"user":N}: purchased user licences
//	POST /_emulator/move            move the tenant to another host (421 on the old)
//	POST /_emulator/state           {"state":"OfflineMaintenance"} and the other tenant states
//	POST /_emulator/revoke          revoke the application's consent (invalid_grant, system user refused)
//	POST /_emulator/expire-tickets  end every ticket and access token (401 on next use)
//	POST /_emulator/seed            {"account":"USER1","n":100,"seed":1}
//	POST /_emulator/token           {"associate":"USER1"}: an access token of that person
//	GET  /_emulator/info            context id, API URL, admin token
//
// expire_cursors: SuperOffice keeps no cursors; what invalidates a client's
// incremental state is a change of the tenant's database, so the emulator bumps the
// tenant's Version (state API and GET /api/v1), which clients compare.
//
// Call Close when done: it stops webhook delivery, the only background work.
package sotest
