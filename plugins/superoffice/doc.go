// Package superoffice is the SuperOffice CRM provider: the diaries of
// associates (users) and diary resources, the directory, and the tenant's user
// licence count, over the WebAPI (REST and the Agents).
//
// # Tenants and access
//
// Online tenants are found through the tenant state API of the environment's
// login host (endpoint replaces https://{env}.superoffice.com); the tenant's API
// host comes from there and is asked again when the tenant answers 421 (it moved).
// Calls carry either a user's OIDC access token (credential "bearer") or act as
// the tenant's system user (credential "system_token": the system token an
// administrator's consent yields, signed with partner_key and exchanged for a
// ticket, cached and renewed on 401). Onsite installations (base_url) use Basic
// authentication from the settings.
//
// # Reading a diary
//
// See changes.go: an id-and-timestamp scan of the window against a snapshot in
// the cursor, then reads of what changed (GetAppointmentList by id for many rows,
// single reads for meetings, whose participants only the full entity carries),
// and deletes as ids that vanished. A round without changes is one request; a
// full read of 5,000 appointments about 270 (most of them meetings). Cursors
// expire when the tenant's version changes (a restored database) and after
// cursor_max_age, which makes a periodic full read that also extends series. Meetings are one
// row per participant: each diary reports its own row (organizer or participant,
// with the meeting's mother id as MeetingKey and the owner's answer); an external
// person's row in the organizer's diary is skipped. A participant's rows of a
// series fold like the organizer's, under the same "R" id; the rows of
// occurrences the organizer deleted (cancelled bookings) are cancelled
// occurrences, and the organizer's mark on the shared rule is not theirs. An
// update of a participant's row writes only the answer (the Accept and Reject
// agents); the meeting's content is its organizer's. Series are stored one row per
// occurrence and are folded back into a master and exceptions (series.go); a
// series written without an end is cut at series_horizon (two years) and
// extended once less than three quarters of it is left, which is not an edit. Event ids are appointment ids; a master's id is
// "R" and its recurrence rule id.
//
// # Times
//
// Every request sends SO-TimeZone: UTC,includeTZOffset, so dates arrive as
// instants; dates without an offset are read as wall clock of the tenant's base
// zone (GET /api/v1/TimeZone/base). All-day items map to midnight UTC dates, end
// exclusive; their stored end may be 23:59 of the last day or the next midnight.
//
// # Writing
//
// See write.go. The correlation id is a foreign key (correlation.go). Writes
// never send invitations: meetings and series go through the Appointment agent
// with SendEmailToParticipants false.
//
// # Facts of the reference that are not confirmed
//
// The provider depends on several facts marked [unconfirmed] or [inferred] in
// the WebAPI reference; each is handled defensively: SO-TimeZone conversion
// (dates without an offset still work), FindAppointment columns on updatedDate
// with afterTime (the scan only filters on date and endDate, widened by a day,
// and checks the window itself), server-side OData paging (keyset paging by
// appointmentId, next links honoured), the end of all-day items (both forms
// read), ForeignApp keys on table recurrencerule, UpdateMode semantics when only
// the end of a series changes, and which licence count the old product used
// (module user, NumberOfLicensesTotal; user_licenses in the config overrides).
package superoffice
