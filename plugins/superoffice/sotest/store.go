package sotest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/superoffice/internal/wire"
)

// Associate kinds (associate.type).
const (
	kindEmployee = 0
	kindResource = 1
	kindSystem   = 13
)

type associate struct {
	id       int
	name     string // login name, e.g. USER1
	fullName string
	email    string
	kind     int
	personID int
	admin    bool
	licensed bool
	deleted  bool
	location bool // a resource of item type Location
	password string
	created  time.Time
}

func (a *associate) typeName() string {
	switch a.kind {
	case kindResource:
		return "ResourceAssociate"
	case kindSystem:
		return "SystemAssociate"
	default:
		return "InternalAssociate"
	}
}

type person struct {
	id    int
	name  string
	email string
}

// appt is one appointment row. Times are instants; the API shows them as wall
// clock in the base zone (or the request's SO-TimeZone).
type appt struct {
	id       int
	assoc    int
	start    time.Time
	end      time.Time
	allDay   bool
	typ      int
	status   int
	title    string
	text     string
	location string
	agenda   string
	notes    string
	task     int
	private  int
	free     bool
	alarm    bool
	lead     time.Duration
	mother   int
	rule     int
	personID int

	registered time.Time
	updated    time.Time // zero until the first change
	regBy      int
	updBy      int
	reject     string
}

type recurRule struct {
	id   int
	info pattern
}

type foreignKey struct {
	app, device, deviceID string
	key, table            string
	record                int
	value                 string
	created, updated      time.Time
	by                    int
}

// keyRef is a record a foreign key is on: its table (lower case) and id.
type keyRef struct {
	table  string
	record int
}

// addKey stores a new key and indexes it.
func (st *store) addKey(k *foreignKey) {
	st.keys = append(st.keys, k)
	st.indexKey(k)
}

func (st *store) indexKey(k *foreignKey) {
	if st.keysOf == nil {
		st.keysOf, st.keysByValue = map[keyRef][]*foreignKey{}, map[string][]*foreignKey{}
	}
	r := keyRef{k.table, k.record}
	st.keysOf[r] = append(st.keysOf[r], k)
	st.keysByValue[k.value] = append(st.keysByValue[k.value], k)
}

func (st *store) unindexKey(k *foreignKey) {
	r := keyRef{k.table, k.record}
	st.keysOf[r] = without(st.keysOf[r], k)
	if len(st.keysOf[r]) == 0 {
		delete(st.keysOf, r)
	}
	st.keysByValue[k.value] = without(st.keysByValue[k.value], k)
	if len(st.keysByValue[k.value]) == 0 {
		delete(st.keysByValue, k.value)
	}
}

// setKeyValue changes a key's value, keeping the index by value.
func (st *store) setKeyValue(k *foreignKey, value string) {
	st.unindexKey(k)
	k.value = value
	st.indexKey(k)
}

// recordKeys are the keys on one record (table in any case).
func (st *store) recordKeys(table string, record int) []*foreignKey {
	return st.keysOf[keyRef{strings.ToLower(table), record}]
}

// removeKeys drops the given keys.
func (st *store) removeKeys(gone []*foreignKey) {
	if len(gone) == 0 {
		return
	}
	drop := map[*foreignKey]bool{}
	for _, k := range gone {
		drop[k] = true
		st.unindexKey(k)
	}
	kept := st.keys[:0]
	for _, k := range st.keys {
		if !drop[k] {
			kept = append(kept, k)
		}
	}
	clear(st.keys[len(kept):])
	st.keys = kept
}

func without(ks []*foreignKey, k *foreignKey) []*foreignKey {
	for i, x := range ks {
		if x == k {
			return append(ks[:i:i], ks[i+1:]...)
		}
	}
	return ks
}

type task struct {
	id   int
	name string
}

type store struct {
	nextAppt, nextAssoc, nextRule, nextPerson, nextHook, nextDevice int

	assocs  map[int]*associate
	persons map[int]*person
	appts   map[int]*appt
	byOwner map[int][]int // associate -> appointment ids, ascending
	// byMother holds, per booking mother, the ids of rows that were given that
	// mother (noteMother); bookingRows checks each, so ids that left stay harmless.
	byMother map[int][]int
	// byRule does the same per recurrence rule (noteRule), for ruleRows.
	byRule map[int][]int
	rules  map[int]*recurRule
	keys   []*foreignKey
	// keysOf and keysByValue index keys by (table, record) and by value: a
	// tenant holds one key per synced appointment, and every create writes one.
	keysOf      map[keyRef][]*foreignKey
	keysByValue map[string][]*foreignKey
	devices     map[string]int // app/device/deviceID -> id
	uids        map[string]int // invitation UID -> mother id
	uidOf       map[int]string
	tasks       []task
	hooks       map[int]*webhook

	licenses    int
	hostLabel   string
	hostN       int
	tenantState string
	epoch       int

	codes    map[string]*authCode
	access   map[string]*accessToken
	refresh  map[string]*refreshToken
	tickets  map[string]*ticket
	adminTok string
	revoked  bool // the application's consent is revoked: no refresh, no system user

	stats          map[string]int
	mailsSent      int
	throttled      int
	serverErrors   int
	hookDeliveries int
	hookFailures   int
	hookDropped    int
	faults         Faults
	forced         []forced
	rng            *rand.Rand
}

func newStore(opts Options) *store {
	st := &store{}
	st.reset(opts)
	return st
}

// reset empties the store: no appointments, no users but the system user, no
// tokens; options stay.
func (st *store) reset(opts Options) {
	*st = store{
		nextAppt: 1, nextAssoc: 1, nextRule: 1, nextPerson: 1, nextHook: 1, nextDevice: 1,
		assocs: map[int]*associate{}, persons: map[int]*person{}, appts: map[int]*appt{},
		byOwner: map[int][]int{}, rules: map[int]*recurRule{}, devices: map[string]int{},
		uids: map[string]int{}, uidOf: map[int]string{}, hooks: map[int]*webhook{},
		licenses: opts.Licenses, hostLabel: "online2", hostN: 2, tenantState: "Running",
		codes: map[string]*authCode{}, access: map[string]*accessToken{},
		refresh: map[string]*refreshToken{}, tickets: map[string]*ticket{},
		stats: map[string]int{}, rng: newRand(opts.Seed),
	}
	st.tasks = []task{{1, "Meeting"}, {2, "Phone call"}, {3, "Lunch"}, {4, "Travel"}, {5, "Vacation"}, {6, "Follow-up"}}
	sys := &associate{id: st.nextAssoc, name: "SYSTEM", fullName: "System user", kind: kindSystem}
	st.nextAssoc++
	st.assocs[sys.id] = sys
	st.adminTok = fmt.Sprintf("8A:%s.emulator-admin-%08x", opts.ContextID, st.rng.Uint32())
}

func (st *store) version() string {
	return "Release_11.10_emulator." + strconv.Itoa(st.epoch+1)
}

func (st *store) systemUser() *associate { return st.assocs[1] }

// findAssociate resolves an id, login name or e-mail (case-insensitive).
// firstAdmin returns the administrator with the lowest id, nil when there is none.
func (st *store) firstAdmin() *associate {
	for _, id := range sortedKeys(st.assocs) {
		if a := st.assocs[id]; a.admin && a.kind == kindEmployee && !a.deleted {
			return a
		}
	}
	return nil
}

func (st *store) findAssociate(key string) *associate {
	key = strings.TrimSpace(key)
	if id, err := strconv.Atoi(key); err == nil {
		if a := st.assocs[id]; a != nil {
			return a
		}
		return nil
	}
	for _, id := range sortedKeys(st.assocs) {
		a := st.assocs[id]
		if strings.EqualFold(a.name, key) || (a.email != "" && strings.EqualFold(a.email, key)) {
			return a
		}
	}
	return nil
}

func (st *store) usersInUse() int {
	n := 0
	for _, a := range st.assocs {
		if a.kind == kindEmployee && a.licensed && !a.deleted {
			n++
		}
	}
	return n
}

func (st *store) insertAppt(a *appt) {
	if a.id == 0 {
		a.id = st.nextAppt
		st.nextAppt++
	}
	st.appts[a.id] = a
	st.noteMother(a)
	st.noteRule(a)
	ids := st.byOwner[a.assoc]
	if n := len(ids); n == 0 || ids[n-1] < a.id {
		st.byOwner[a.assoc] = append(ids, a.id)
		return
	}
	i := sort.SearchInts(ids, a.id)
	ids = append(ids, 0)
	copy(ids[i+1:], ids[i:])
	ids[i] = a.id
	st.byOwner[a.assoc] = ids
}

func (st *store) removeAppt(id int) *appt {
	a := st.appts[id]
	if a == nil {
		return nil
	}
	delete(st.appts, id)
	ids := st.byOwner[a.assoc]
	if i := sort.SearchInts(ids, id); i < len(ids) && ids[i] == id {
		st.byOwner[a.assoc] = append(ids[:i], ids[i+1:]...)
	}
	// Foreign keys of a deleted record go with it.
	st.removeKeys(slices.Clone(st.recordKeys("appointment", id)))
	if uid, ok := st.uidOf[id]; ok {
		delete(st.uids, uid)
		delete(st.uidOf, id)
	}
	return a
}

// bookingRows returns every row of the booking whose mother is motherID, the
// mother first, then by id.
func (st *store) bookingRows(motherID int) []*appt {
	if motherID == 0 {
		return nil
	}
	var out []*appt
	var keep []int
	seen := map[int]bool{}
	for _, id := range st.byMother[motherID] {
		if a := st.appts[id]; a != nil && a.mother == motherID && !seen[id] {
			seen[id] = true
			keep = append(keep, id)
			out = append(out, a)
		}
	}
	if len(keep) == 0 {
		delete(st.byMother, motherID)
	} else {
		st.byMother[motherID] = keep
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].id == motherID) != (out[j].id == motherID) {
			return out[i].id == motherID
		}
		return out[i].id < out[j].id
	})
	return out
}

// noteMother records a row under its booking mother, for bookingRows. Every
// place that gives a row a mother calls it (insertAppt for new rows).
func (st *store) noteMother(a *appt) {
	if a.mother == 0 {
		return
	}
	if st.byMother == nil {
		st.byMother = map[int][]int{}
	}
	st.byMother[a.mother] = append(st.byMother[a.mother], a.id)
}

// noteRule records a row under its recurrence rule, for ruleRows. Every place
// that gives an inserted row a rule calls it (insertAppt for new rows).
func (st *store) noteRule(a *appt) {
	if a.rule == 0 {
		return
	}
	if st.byRule == nil {
		st.byRule = map[int][]int{}
	}
	st.byRule[a.rule] = append(st.byRule[a.rule], a.id)
}

// ruleRows returns every row (all participants) of a recurrence rule, by start.
func (st *store) ruleRows(ruleID int) []*appt {
	if ruleID == 0 {
		return nil
	}
	var out []*appt
	var keep []int
	seen := map[int]bool{}
	for _, id := range st.byRule[ruleID] {
		if a := st.appts[id]; a != nil && a.rule == ruleID && !seen[id] {
			seen[id] = true
			keep = append(keep, id)
			out = append(out, a)
		}
	}
	if len(keep) == 0 {
		delete(st.byRule, ruleID)
	} else {
		st.byRule[ruleID] = keep
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].start.Equal(out[j].start) {
			return out[i].start.Before(out[j].start)
		}
		return out[i].id < out[j].id
	})
	return out
}

func (st *store) taskName(id int) string {
	for _, t := range st.tasks {
		if t.id == id {
			return t.name
		}
	}
	return ""
}

func (st *store) taskByName(name string) (int, bool) {
	for _, t := range st.tasks {
		if strings.EqualFold(t.name, name) {
			return t.id, true
		}
	}
	return 0, false
}

// touch marks a row changed by associate by at now.
func (a *appt) touch(now time.Time, by int) {
	a.updated = now
	a.updBy = by
}

// changed reports the DB column names that differ between two versions of a row,
// for webhook payloads.
func changedColumns(old, cur *appt) []string {
	var out []string
	add := func(c bool, name string) {
		if c {
			out = append(out, name)
		}
	}
	add(!old.start.Equal(cur.start), "do_by")
	add(!old.end.Equal(cur.end), "endDate")
	add(old.status != cur.status, "status")
	add(old.typ != cur.typ, "type")
	add(old.text != cur.text || old.title != cur.title, "text_id")
	add(old.location != cur.location, "location")
	add(old.private != cur.private, "private")
	add(old.task != cur.task, "task_idx")
	add(old.free != cur.free, "free_busy")
	add(old.alarm != cur.alarm || old.lead != cur.lead, "alarm")
	add(old.assoc != cur.assoc, "associate_id")
	out = append(out, "updated", "updated_associate_id")
	return out
}

// civilDate is a calendar date.
type civilDate struct {
	Y int
	M time.Month
	D int
}

func dateOf(t time.Time) civilDate {
	y, m, d := t.Date()
	return civilDate{y, m, d}
}

// at is the wall clock time clock (since midnight) of day d in loc. The clock is
// read as hours, minutes and seconds, not as time elapsed since midnight: on a
// DST day those differ (23:59 on a 23-hour day is not 23h59m after midnight).
func (d civilDate) at(loc *time.Location, clock time.Duration) time.Time {
	h, m, s := int(clock/time.Hour), int(clock%time.Hour/time.Minute), int(clock%time.Minute/time.Second)
	return time.Date(d.Y, d.M, d.D, h, m, s, int(clock%time.Second), loc)
}

func (d civilDate) addDays(n int) civilDate {
	return dateOf(time.Date(d.Y, d.M, d.D+n, 12, 0, 0, 0, time.UTC))
}

func (d civilDate) weekday() time.Weekday {
	return time.Date(d.Y, d.M, d.D, 12, 0, 0, 0, time.UTC).Weekday()
}

func (d civilDate) before(o civilDate) bool {
	if d.Y != o.Y {
		return d.Y < o.Y
	}
	if d.M != o.M {
		return d.M < o.M
	}
	return d.D < o.D
}

// clockOf is the wall-clock time of day of t in loc. Around a DST change the
// wall clock is what a diary shows, so series keep it, not the offset.
func clockOf(t time.Time, loc *time.Location) time.Duration {
	t = t.In(loc)
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
}

// rowFields is the shared formatting of a row's dates.
func fmtLocal(t time.Time, z zone) string { return wire.FormatDate(t, z.loc, z.offset) }

func fmtUTC(t time.Time, z zone) string {
	if t.IsZero() {
		return wire.ZeroDate
	}
	return wire.FormatDate(t, time.UTC, z.offset)
}
