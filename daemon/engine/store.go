package engine

import (
	"context"
	"maps"
	"slices"
	"time"

	"synchronizer/plugins/sdk"
)

// Store is what the engine persists, per link (the link key is the caller's, e.g.
// "profile/link"). Everything a run needs to continue after a crash goes through
// Commit, which must apply a Batch atomically: all of it or none. Implementations
// copy values in and out; the engine never holds on to what it passed.
type Store interface {
	// Pairs returns every pair of link (any order).
	Pairs(ctx context.Context, link string) ([]Pair, error)
	// PairBySide finds the pair whose side s has item id.
	PairBySide(ctx context.Context, link string, s Side, id string) (Pair, bool, error)
	// PairByCorrelation finds the pair with correlation id corr (its ID).
	PairByCorrelation(ctx context.Context, link, corr string) (Pair, bool, error)
	// Intents returns the link's pending intents.
	Intents(ctx context.Context, link string) ([]Intent, error)
	// Cursor returns the stored cursor of one side, and whether there is one.
	Cursor(ctx context.Context, link string, s Side) (CursorState, bool, error)
	// Commit applies b atomically.
	Commit(ctx context.Context, link string, b Batch) error
	// DropLink forgets everything about link (the link left the config).
	DropLink(ctx context.Context, link string) error
}

// Pair is what the engine remembers about one item and its copy.
type Pair struct {
	// ID is the pair's correlation id, stamped on the copies the engine creates.
	ID  string `json:"id"`
	SO  Ref    `json:"so"`
	Cal Ref    `json:"cal"`

	Kind sdk.EventKind `json:"kind,omitempty"`
	// Series is the ID of the master's pair, on exceptions.
	Series string `json:"series,omitempty"`
	// OriginalStart identifies an exception within its series.
	OriginalStart time.Time `json:"orig,omitzero"`

	// Origin is the side the item was first created on.
	Origin Side `json:"origin,omitempty"`
	// Owner is the side that owns the meeting, once the item has attendees.
	Owner Side `json:"owner,omitempty"`
	// SOPrivate mirrors the SuperOffice item's privacy (for the private policy).
	SOPrivate bool `json:"so_private,omitempty"`
	// Endless marks a series that had no end where it came from; an end far beyond
	// the window (a provider's horizon) is not copied to the other side.
	Endless bool `json:"endless,omitempty"`
	// Frozen: a side was last seen outside the window. The pair is left alone
	// until both sides are seen inside again.
	Frozen bool `json:"frozen,omitempty"`
	// Note says why a side is missing (detached, skipped, failed) for status output.
	Note string `json:"note,omitempty"`
	// Writes are the times of the engine's recent writes of this pair (flap guard).
	Writes []time.Time `json:"writes,omitempty"`
	// QuarantinedUntil holds the pair out of sync after it flapped.
	QuarantinedUntil time.Time `json:"quarantined_until,omitzero"`

	// Role says how the pair takes part in a meeting across links (meeting.go).
	Role Role `json:"role,omitempty"`
	// Meeting is the registry id of the pair's meeting, once known.
	Meeting string `json:"meeting,omitempty"`
	// WaitSince is when a participant's copy began to wait for its meeting.
	WaitSince time.Time `json:"wait_since,omitzero"`
}

// Ref is one side of a pair.
type Ref struct {
	// ID is the provider's id; empty when the side has no copy (yet).
	ID      string `json:"id,omitempty"`
	Version string `json:"version,omitempty"`
	// Hash is the content hash of the synced fields as last synced.
	Hash string `json:"hash,omitempty"`
	// Start and End are the item's last known extent (End zero = a series without
	// end), for window checks without a request.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Series is the side's id of the master, on exceptions: a master with another
	// id means the series was made anew.
	Series string `json:"series,omitempty"`
	// Extras are the provider's values to hand back on the next write.
	Extras map[string]string `json:"extras,omitempty"`
	// Deleted marks an item confirmed deleted while its pair was frozen; the delete
	// is carried over once the other side is back in the window.
	Deleted bool `json:"deleted,omitempty"`
	// Meeting is the item's meeting key (sdk.Event.MeetingKey), Response the owner's
	// answer to it, as last synced.
	Meeting  string       `json:"meeting,omitempty"`
	Response sdk.Response `json:"response,omitempty"`
}

// live reports whether the side has an existing item.
func (r Ref) live() bool { return r.ID != "" && !r.Deleted }

func (p *Pair) ref(s Side) *Ref {
	if s == SuperOffice {
		return &p.SO
	}
	return &p.Cal
}

// Clone returns a deep copy.
func (p Pair) Clone() Pair {
	p.SO.Extras = maps.Clone(p.SO.Extras)
	p.Cal.Extras = maps.Clone(p.Cal.Extras)
	p.Writes = slices.Clone(p.Writes)
	return p
}

// Intent records a write before it is sent, so that a crash between the write and
// the recording of its result is settled without a second create (the copy is
// looked up by its correlation id) and without mistaking our own update for a
// user's edit (the target is read and compared with what was sent).
type Intent struct {
	// ID is the pair's ID (the correlation id a created item carries).
	ID string `json:"id"`
	// Op is OpCreate or OpUpdate ("" means create).
	Op Op `json:"op,omitempty"`
	// Side is the side written.
	Side Side `json:"side"`
	// Pair is the pair as it will be recorded once the write is known to have
	// happened; the written side's ref holds the hash of what was sent (and, for a
	// create, no id yet).
	Pair Pair `json:"pair"`
	// Before is the written side's content hash before an update.
	Before string `json:"before,omitempty"`
	// Shape identifies what a create sent by the fields every provider keeps
	// (shapeOf), to recognise the copy when it was stored without its correlation
	// id; the content hash alone misses a copy the provider stored with less or
	// more than it was sent.
	Shape   string    `json:"shape,omitempty"`
	Started time.Time `json:"started"`
}

// Clone returns a deep copy.
func (in Intent) Clone() Intent {
	in.Pair = in.Pair.Clone()
	return in
}

// CursorState is one side's stored change cursor.
type CursorState struct {
	Token string `json:"token,omitempty"`
	// Fingerprint identifies the policy the cursor was taken under.
	Fingerprint string `json:"fingerprint,omitempty"`
	// FullAt is when this side was last read in full.
	FullAt time.Time `json:"full_at,omitzero"`
	// Saved is when the cursor was stored (zero: before this was kept). A
	// round that found nothing keeps the stored cursor while it is younger
	// than cursorRefresh (run.go), so an idle run writes nothing.
	Saved time.Time `json:"saved,omitzero"`
}

// Batch is one atomic change of a link's state.
type Batch struct {
	PutPairs      []Pair
	DeletePairs   []string
	PutIntents    []Intent
	DeleteIntents []string
	Cursors       map[Side]CursorState
}

// Empty reports whether b changes nothing.
func (b Batch) Empty() bool {
	return len(b.PutPairs) == 0 && len(b.DeletePairs) == 0 && len(b.PutIntents) == 0 &&
		len(b.DeleteIntents) == 0 && len(b.Cursors) == 0
}
