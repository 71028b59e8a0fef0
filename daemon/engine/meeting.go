package engine

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"synchronizer/plugins/sdk"
)

// Meetings across the links of one profile.
//
// In SuperOffice a meeting is one row per participant: the organizer's mother row
// and a child row in the diary of every invited associate and booked resource.
// Exchange and Google copy an organizer's meeting into the calendar of each
// internal attendee and room by themselves. A link that mirrored its own diary
// blindly would give every participant the meeting twice and invite everyone
// again. So the links of a profile share a meeting registry and a directory of
// who is linked, and keep these rules:
//
//  1. Identity. A meeting is known on each side by its key (sdk.Event.MeetingKey):
//     the SuperOffice mother id (a series: "R" and its rule id), the Graph iCalUId
//     of the organizer's event, the Google event id. The registry maps the two keys
//     of one meeting to each other and names the organizer's link and the side the
//     meeting was created on (its origin, which owns it).
//  2. The organizer's link (pair role RoleOrganizer) syncs the organizer's item:
//     it creates the meeting on the other side with the attendees mapped through
//     the directory (linked associates and resources <-> their mailboxes), and
//     registers it. A room that declined is not booked on the other side.
//  3. Every other linked participant's link pairs its own copy by meeting key
//     (RoleParticipant) where the other side's system distributes copies by
//     itself: SuperOffice always (child rows), and the calendar whenever it knows
//     the meeting as one (the registry holds a calendar key: meetings created
//     there, and Google meetings the organizer's link wrote with attendees). Such
//     a pair never writes content — each system carries the organizer's content
//     to its own copies — only the participant's response. Until the registry
//     knows the meeting, the copy waits (RoleWaiting); after Config.MeetingWait
//     the wait is reported as an item error on every run.
//  4. Where the calendar does not know the meeting (Microsoft 365, where the
//     organizer's link writes it without attendees, because a meeting with
//     attendees would mail them, so its calendar key is empty), each linked
//     participant's link writes that participant's own copy (RoleCopy); it exists
//     while the participant has not declined. SuperOffice never gets such copies:
//     a participant's own row there is always the booking's child row.
//  5. A meeting whose organizer is not linked is copied into each linked
//     participant's calendar or diary as a private copy without attendees
//     (RolePrivate), so nobody is invited.
//  6. Responses travel as response status, never as edits: a changed answer on one
//     side is written to the participant's copy on the other (accept/decline without
//     a mail). A participant who removes a copy (one the synchronizer wrote, or one
//     the system distributed — Exchange also removes what its owner declined)
//     declines the meeting; a copy its organizer cancelled is no answer. A decline
//     given before the copies met reaches the other side through the organizer's
//     answers in the registry. "none" is never carried (a system resets answers
//     when the organizer moves a meeting). When both sides answered differently, a
//     decline wins, then the calendar's answer.
//  7. Edits follow the ownership rule: the origin owns the meeting; the other
//     side's edits are written back once and the flap guard quarantines a pair that
//     keeps changing. A cancellation by the organizer (a deleted mother, a cancelled
//     or deleted organizer's event) deletes the organizer's item on the other side
//     once, which removes the distributed copies there, and the copies the links
//     wrote follow their source. A delete on the side that does not own the meeting
//     detaches that copy and is not carried over.

// Role says how a pair takes part in a meeting.
type Role string

const (
	// RoleNone: not a meeting, or a pair from before meetings were tracked.
	RoleNone Role = ""
	// RoleOrganizer: the link's owner organizes the meeting; its item syncs as usual,
	// with the attendees mapped across.
	RoleOrganizer Role = "organizer"
	// RoleParticipant: both sides hold a copy their systems distributed; only the
	// response is written.
	RoleParticipant Role = "participant"
	// RoleCopy: the participant's copy on one side (Pair.Owner) and the copy this link
	// wrote for it on the other, with the attendees kept as the provider can.
	RoleCopy Role = "copy"
	// RolePrivate: a copy of a meeting whose organizer is not linked, written without
	// attendees.
	RolePrivate Role = "private"
	// RoleWaiting: a participant's copy waiting until the registry knows its meeting.
	RoleWaiting Role = "waiting"
)

// Meetings is what the links of one profile share about meetings. Set the same
// value (or an equal one) on every Link of the profile; nil keeps every link on
// its own (no meeting awareness).
//
// Wiring: the host builds one per profile whenever the set of running links
// changes (start, reload, licence change): Profile is the profile's name, and
// Members holds, for every link of the profile that runs, its Link.Key and the
// accounts its two sides are bound to (what LookupAccount returned: the
// SuperOffice associate or resource, the mailbox or calendar). Resolve them for
// all links before the first run of any: a link missing from Members is taken
// for an outsider, so its meetings reach its colleagues as private copies until
// it is added (they then give way, without duplicates). The registry is the
// engine's Config.Meetings, which defaults to the Store when it implements
// MeetingStore (daemon/state's SyncStore does).
type Meetings struct {
	// Profile names the registry: one per profile.
	Profile string
	// Members are the profile's links that run (licensed, not disabled), so that a
	// meeting organized by a linked colleague is recognised as theirs. Runs read
	// the value without a lock: hand links a new Meetings rather than change one.
	Members []Member
}

// Member is one link of the profile as the meeting logic sees it.
type Member struct {
	// Link is the link's key (Link.Key).
	Link string
	Kind sdk.AccountKind
	// SuperOffice is the associate or resource: ID as in the SuperOffice target's
	// Account (the associate id), Email its address if any.
	SuperOffice sdk.Account
	// Calendar is the mailbox or calendar: ID as in the calendar target's Account,
	// Email its address.
	Calendar sdk.Account
}

// Meeting is one registry entry.
type Meeting struct {
	// ID is derived from the origin side and its key (MeetingID).
	ID string `json:"id"`
	// SO and Cal are the meeting's keys on each side ("" when that side has none,
	// such as a meeting written into Microsoft 365 without attendees).
	SO  string `json:"so,omitempty"`
	Cal string `json:"cal,omitempty"`
	// Origin is the side the meeting was created on; it owns the meeting.
	Origin Side `json:"origin"`
	// Owner is the organizer's link key.
	Owner string `json:"owner"`
	// Answers are the linked attendees' responses as the organizer's item on each
	// side shows them, by "<side>/<link key>". Listed names the sides whose
	// organizer's item was read: a linked colleague missing from its answers is not
	// invited there.
	Answers map[string]sdk.Response `json:"answers,omitempty"`
	Listed  []Side                  `json:"listed,omitempty"`
	Updated time.Time               `json:"updated,omitzero"`
}

// Key returns the meeting's key on side s.
func (m Meeting) Key(s Side) string {
	if s == SuperOffice {
		return m.SO
	}
	return m.Cal
}

// Clone returns a deep copy.
func (m Meeting) Clone() Meeting {
	m.Answers = maps.Clone(m.Answers)
	m.Listed = slices.Clone(m.Listed)
	return m
}

func (m Meeting) sameAs(o Meeting) bool {
	return m.ID == o.ID && m.SO == o.SO && m.Cal == o.Cal && m.Origin == o.Origin && m.Owner == o.Owner && maps.Equal(m.Answers, o.Answers) &&
		slices.Equal(m.Listed, o.Listed)
}

// MeetingID is the registry id of a meeting created on side origin with key key.
func MeetingID(origin Side, key string) string {
	sum := sha256.Sum256([]byte("meeting\x00" + string(origin) + "\x00" + key))
	return "m" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])[:26])
}

// MeetingStore keeps the meeting registry of each profile. The engine uses
// Config.Meetings, else Config.Store when it implements MeetingStore, else a
// registry in memory (rebuilt by the organizers' links after a restart, so
// participants' copies wait one more run).
type MeetingStore interface {
	// MeetingByKey finds the meeting whose key on side s is key.
	MeetingByKey(ctx context.Context, profile string, s Side, key string) (Meeting, bool, error)
	// PutMeeting stores m under m.ID, replacing the entry and its key indexes.
	PutMeeting(ctx context.Context, profile string, m Meeting) error
	// DeleteMeeting forgets a meeting; an unknown id is not an error.
	DeleteMeeting(ctx context.Context, profile, id string) error
}

// MemMeetings is a MeetingStore in memory.
type MemMeetings struct {
	mu       sync.Mutex
	profiles map[string]*memRegistry
}

type memRegistry struct {
	byID  map[string]Meeting
	byKey [2]map[string]string
}

var _ MeetingStore = (*MemMeetings)(nil)

// NewMemMeetings returns an empty registry.
func NewMemMeetings() *MemMeetings { return &MemMeetings{profiles: map[string]*memRegistry{}} }

func (m *MemMeetings) reg(profile string) *memRegistry {
	if m.profiles == nil {
		m.profiles = map[string]*memRegistry{}
	}
	r := m.profiles[profile]
	if r == nil {
		r = &memRegistry{byID: map[string]Meeting{}, byKey: [2]map[string]string{{}, {}}}
		m.profiles[profile] = r
	}
	return r
}

// MeetingByKey implements MeetingStore.
func (m *MemMeetings) MeetingByKey(_ context.Context, profile string, s Side, key string) (Meeting, bool, error) {
	if key == "" {
		return Meeting{}, false, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.reg(profile)
	id, ok := r.byKey[s.index()][key]
	if !ok {
		return Meeting{}, false, nil
	}
	mt, ok := r.byID[id]
	return mt.Clone(), ok, nil
}

// PutMeeting implements MeetingStore.
func (m *MemMeetings) PutMeeting(_ context.Context, profile string, mt Meeting) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.reg(profile)
	if old, ok := r.byID[mt.ID]; ok {
		for _, s := range sides {
			if k := old.Key(s); k != "" && r.byKey[s.index()][k] == mt.ID {
				delete(r.byKey[s.index()], k)
			}
		}
	}
	r.byID[mt.ID] = mt.Clone()
	for _, s := range sides {
		if k := mt.Key(s); k != "" {
			r.byKey[s.index()][k] = mt.ID
		}
	}
	return nil
}

// DeleteMeeting implements MeetingStore.
func (m *MemMeetings) DeleteMeeting(_ context.Context, profile, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.reg(profile)
	old, ok := r.byID[id]
	if !ok {
		return nil
	}
	for _, s := range sides {
		if k := old.Key(s); k != "" && r.byKey[s.index()][k] == id {
			delete(r.byKey[s.index()], k)
		}
	}
	delete(r.byID, id)
	return nil
}

// Len returns the number of meetings registered for profile (tests, status).
func (m *MemMeetings) Len(profile string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.reg(profile).byID)
}

// directory finds members by what an attendee of either side carries.
type directory struct {
	soByID    map[string]*Member
	soByEmail map[string]*Member
	calByKey  map[string]*Member // calendar id and e-mail, lower case
}

func newDirectory(ms []Member) *directory {
	d := &directory{soByID: map[string]*Member{}, soByEmail: map[string]*Member{}, calByKey: map[string]*Member{}}
	for i := range ms {
		m := &ms[i]
		if id := strings.TrimSpace(m.SuperOffice.ID); id != "" {
			d.soByID[id] = m
		}
		if e := lower(m.SuperOffice.Email); e != "" {
			d.soByEmail[e] = m
		}
		for _, k := range []string{m.Calendar.ID, m.Calendar.Email} {
			if k = lower(k); k != "" {
				d.calByKey[k] = m
			}
		}
	}
	return d
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// find returns the member an attendee (or organizer) of side s is, or nil.
func (d *directory) find(s Side, a sdk.Attendee) *Member {
	if s == SuperOffice {
		if m := d.soByID[strings.TrimSpace(a.AccountID)]; m != nil && a.AccountID != "" {
			return m
		}
		if e := lower(a.Email); e != "" {
			return d.soByEmail[e]
		}
		return nil
	}
	for _, k := range []string{a.Email, a.AccountID} {
		if k = lower(k); k != "" {
			if m := d.calByKey[k]; m != nil {
				return m
			}
		}
	}
	return nil
}

// account returns a member's account on side s.
func (m *Member) account(s Side) sdk.Account {
	if s == SuperOffice {
		return m.SuperOffice
	}
	return m.Calendar
}

// DropMeetings forgets a profile's registry.
func (m *MemMeetings) DropMeetings(_ context.Context, profile string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.profiles, profile)
	return nil
}
