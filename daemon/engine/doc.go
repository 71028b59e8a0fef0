// Package engine owns sync semantics: for one link it reads both sides' changes,
// pairs them with what the store remembers, plans creates, updates and deletes, and
// carries them out one at a time so that a crash at any point leaves state from which
// the next run reaches the same result.
//
// The engine does no I/O of its own. It works over three small interfaces it
// declares: Endpoint (one side of a link: an sdk.Provider bound to one target),
// Store (pairs, cursors and intents; MemStore here, the bbolt store in
// daemon/state) and Observer (metrics). It never imports bbolt, gRPC or
// prometheus, and it never decides when to run — daemon/scheduler does.
//
// # Invariants the engine keeps (see SYNC-DESIGN.md)
//
//   - Pairing is one-to-one; an item is matched by its id, then by the correlation id
//     it carries, then (for exceptions) by series and original start, then by iCalUID.
//   - Every created item carries a correlation id derived from the item it copies
//     (side letter + hash of the source id), recorded as an intent before the create.
//     A pending intent is resolved by looking the id up on the target before anything
//     is created again; a lost store re-pairs by these ids instead of duplicating.
//     A copy the lookup misses may exist untagged (a provider that tags in a second
//     request, interrupted between the two): the run reads the target in full and
//     adopts an untagged item of the same content, or kind, title and time, made
//     since the intent, writing the id on it (plan.go, adoptUntagged).
//   - A change counts only when the content hash of the synced fields changed, so the
//     echo of our own write is a no-op.
//   - Deletes are confirmed with Get before they propagate, and the mass-delete guard
//     refuses to mirror a side that suddenly lost most of its items.
//   - Items outside the window are frozen: neither updated nor deleted. They are
//     looked at again when both sides are back inside.
//   - Intents go on file before their writes are sent, a chunk of creates' at
//     once; a write's result may wait in memory for the run's next commit,
//     since its intent stands for it until then (pending.go).
//   - Cursors are stored only after every change they cover has been recorded;
//     a round that found nothing may keep the older cursor for a while, which
//     sees the same changes.
//   - A meeting syncs once across the links of a profile (Link.Meetings, see
//     meeting.go): the organizer's link carries the meeting to the other side and
//     registers it; every other participant's and room's link pairs its own copy
//     by meeting key, or writes that participant's own copy where the calendar
//     does not distribute meetings; answers travel as response status; a meeting
//     whose organizer has no link becomes private copies without attendees.
package engine
