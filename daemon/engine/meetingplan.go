package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"synchronizer/plugins/sdk"
)

// meetingRun is the meeting side of one run (nil when the link has no Meetings).
type meetingRun struct {
	m     *Meetings
	store MeetingStore
	dir   *directory
	// cache holds registry answers of this run by side and key (nil: not registered).
	cache map[string]*Meeting
	// dropped are organizer pairs forgotten in this run: their entries go.
	dropped []Pair
}

func (r *run) initMeetings() {
	if r.link.Meetings == nil {
		return
	}
	r.mt = &meetingRun{m: r.link.Meetings, store: r.e.cfg.Meetings, dir: r.e.directory(r.link.Meetings),
		cache: map[string]*Meeting{}}
}

// dirCache is the directory of a profile's members, kept while its runs are
// handed the same members (a profile of a thousand links would build it anew
// for every run, idle ones included).
type dirCache struct {
	m     *Meetings
	first *Member
	n     int
	dir   *directory
}

// directory returns the directory of m's members, built once for the members
// it holds now.
func (e *Engine) directory(m *Meetings) *directory {
	var first *Member
	if len(m.Members) > 0 {
		first = &m.Members[0]
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.dirs[m.Profile]; ok && c.m == m && c.first == first && c.n == len(m.Members) {
		return c.dir
	}
	d := newDirectory(m.Members)
	e.dirs[m.Profile] = dirCache{m: m, first: first, n: len(m.Members), dir: d}
	return d
}

func cacheKey(s Side, key string) string { return string(s) + "\x00" + key }

// lookup returns the registry entry whose key on side s is key (nil when none).
func (r *run) lookup(ctx context.Context, s Side, key string) (*Meeting, error) {
	if key == "" {
		return nil, nil
	}
	ck := cacheKey(s, key)
	if m, ok := r.mt.cache[ck]; ok {
		return m, nil
	}
	m, ok, err := r.mt.store.MeetingByKey(ctx, r.mt.m.Profile, s, key)
	if err != nil {
		return nil, fmt.Errorf("read the meeting registry: %w", err)
	}
	if !ok {
		r.mt.cache[ck] = nil
		return nil, nil
	}
	r.mt.cache[ck] = &m
	return &m, nil
}

// cached returns what lookup found before (decide has no context; plan prefetches).
func (r *run) cached(s Side, key string) *Meeting {
	if key == "" {
		return nil
	}
	return r.mt.cache[cacheKey(s, key)]
}

// distributes reports whether side s's system puts the participants' copies of m
// into their calendars or diaries by itself: SuperOffice always, a calendar when
// it knows the meeting by a key of its own.
func (r *run) distributes(s Side, m *Meeting) bool {
	return s == SuperOffice || m.Origin == Calendar || m.Cal != ""
}

func answerKey(s Side, link string) string { return string(s) + "/" + link }

// respOf is the calendar owner's answer on side s as listed, else as last synced.
func (r *run) respOf(w *work, s Side) sdk.Response {
	resp := w.p.ref(s).Response
	if o := w.o(s); o.kind == obsListed {
		resp = o.ev.Response
	}
	if resp == "" {
		resp = sdk.ResponseNone
	}
	return resp
}

// meetingMatch turns unpaired copies of meetings that a linked colleague organizes
// into waiting pairs, so that no copy of them is created before the organizer's
// link has synced the meeting.
func (r *run) meetingMatch(unpaired *[2][]*sdk.Event) {
	for _, s := range sides {
		keep := unpaired[s.index()][:0]
		for _, ev := range unpaired[s.index()] {
			if !r.waitsFor(s, *ev) {
				keep = append(keep, ev)
				continue
			}
			id := CorrelationFor(s, ev.ID)
			if r.idx.byID[id] != nil {
				keep = append(keep, ev) // newItems notes the clash
				continue
			}
			p := &Pair{ID: id, Kind: orSingle(ev.Kind), Role: RoleWaiting, WaitSince: r.now, Endless: endless(*ev)}
			p.ref(s).ID, p.ref(s).Meeting = ev.ID, ev.MeetingKey
			if org := r.mt.dir.find(s, ev.Organizer); org != nil {
				p.Note = "waits for " + org.Link + " (the organizer's link) to sync the meeting"
			}
			r.idx.add(p)
			w := r.work(p)
			w.isNew = true
			*w.o(s) = obs{kind: obsListed, ev: ev}
		}
		unpaired[s.index()] = keep
	}
}

// waitsFor reports whether a new item is a participant's copy of a meeting that a
// linked colleague organizes.
func (r *run) waitsFor(s Side, ev sdk.Event) bool {
	if ev.Kind == sdk.KindException || !isMeeting(ev) || ev.Cancelled || ev.IsOrganizer || ev.MeetingKey == "" {
		return false
	}
	if ev.CorrelationID != "" || !InWindow(ev, r.win) {
		return false // a copy we wrote, or not synced at all
	}
	org := r.mt.dir.find(s, ev.Organizer)
	return org != nil && org.Link != r.link.Key
}

// oneSide returns the side of a pair that has an item, when exactly one has.
func oneSide(p *Pair) (Side, bool) {
	so, cal := p.SO.live(), p.Cal.live()
	switch {
	case so && !cal:
		return SuperOffice, true
	case cal && !so:
		return Calendar, true
	}
	return "", false
}

// resolveWaiting looks every waiting copy up in the registry: it joins its partner
// copy on the other side, becomes a copy this link writes, or goes on waiting.
func (r *run) resolveWaiting(ctx context.Context) error {
	var waiting []*Pair
	partners := map[string][]*Pair{}
	for _, p := range r.idx.sorted() {
		if p.Role != RoleWaiting || p.Kind == sdk.KindException {
			continue
		}
		s, ok := oneSide(p)
		if !ok {
			continue
		}
		waiting = append(waiting, p)
		partners[cacheKey(s, p.ref(s).Meeting)] = append(partners[cacheKey(s, p.ref(s).Meeting)], p)
	}
	// SuperOffice copies first, so a joined pair keeps the SuperOffice copy's id.
	sort.SliceStable(waiting, func(i, j int) bool { return waiting[i].SO.live() && !waiting[j].SO.live() })
	for _, p := range waiting {
		if r.idx.byID[p.ID] != p || p.Role != RoleWaiting {
			continue // joined to another meanwhile
		}
		s, ok := oneSide(p)
		if !ok {
			continue
		}
		m, err := r.lookup(ctx, s, p.ref(s).Meeting)
		if err != nil {
			return err
		}
		if m == nil {
			r.waitNote(p, p.Note)
			continue
		}
		y := s.Other()
		if !r.distributes(y, m) {
			r.becomeCopy(p, s, m)
			continue
		}
		var q *Pair
		for _, c := range partners[cacheKey(y, m.Key(y))] {
			if c != p && r.idx.byID[c.ID] == c && c.Role == RoleWaiting && c.Kind == p.Kind && m.Key(y) != "" {
				q = c
				break
			}
		}
		if q != nil {
			r.join(p, q, s, m)
			continue
		}
		ans, invited := m.Answers[answerKey(y, r.link.Key)]
		switch {
		case ans == sdk.ResponseDeclined:
			// Declined over there before the copies met: settle as declined.
			r.settleParticipant(p, m)
			r.work(p).declinedOn = y
			continue
		case !invited && slices.Contains(m.Listed, y):
			// The organizer's item over there does not invite this link's owner
			// (a room that declined is not booked there): nothing to wait for.
			r.settleParticipant(p, m)
			p.Note = "not invited on " + string(y)
			continue
		}
		r.waitNote(p, fmt.Sprintf("waits for its copy of the meeting on %s", y))
	}
	return nil
}

// waitNote says why a pair waits: a note at first, an item error once the wait
// has lasted MeetingWait (a broken organizer's link, an attendee not mapped).
func (r *run) waitNote(p *Pair, why string) {
	if why == "" {
		why = "waits for its meeting"
	}
	if p.Note != why {
		p.Note = why
		r.markDirty(p)
	}
	if !p.WaitSince.IsZero() && r.now.Sub(p.WaitSince) >= r.e.cfg.MeetingWait {
		r.itemError("pair %s (a meeting copy) %s since %s", p.ID, why, p.WaitSince.UTC().Format("2006-01-02 15:04Z"))
		return
	}
	r.note("pair %s %s", p.ID, why)
}

func (r *run) becomeCopy(p *Pair, s Side, m *Meeting) {
	set := func(x *Pair) {
		x.Role, x.Owner, x.Origin, x.Meeting, x.WaitSince, x.Note = RoleCopy, s, s, m.ID, time.Time{}, ""
		r.markDirty(x)
		r.work(x).retryCreate = s.Other()
	}
	set(p)
	for _, x := range r.idx.exceptionsOf(p.ID) {
		set(x)
	}
}

func (r *run) settleParticipant(p *Pair, m *Meeting) {
	p.Role, p.Owner, p.Origin, p.Meeting, p.WaitSince, p.Note = RoleParticipant, m.Origin, m.Origin, m.ID, time.Time{}, ""
	r.dropExceptions(p) // each system keeps its participants' occurrences
	r.markDirty(p)
}

// join makes one participant pair of two waiting copies (p on side s, q on the
// other) of meeting m.
func (r *run) join(p, q *Pair, s Side, m *Meeting) {
	y := s.Other()
	ref := *q.ref(y)
	var qo obs
	if qw, ok := r.works[q.ID]; ok {
		qo = *qw.o(y)
	}
	r.drop(q)
	r.idx.update(p, func() { *p.ref(y) = ref })
	r.settleParticipant(p, m)
	w := r.work(p)
	*w.o(y) = qo
	w.joined = true
	r.note("pair %s: joined the participant's copies of meeting %s", p.ID, m.ID)
}

func (r *run) dropExceptions(p *Pair) {
	for _, x := range r.idx.exceptionsOf(p.ID) {
		r.idx.remove(x)
		r.drops[x.ID] = true
		delete(r.dirty, x.ID)
	}
}

// prefetch reads the registry entries decide will need.
func (r *run) prefetch(ctx context.Context, ws []*work) error {
	for _, w := range ws {
		if w.p.Role != RoleParticipant {
			continue
		}
		for _, s := range sides {
			key := w.p.ref(s).Meeting
			if o := w.o(s); o.kind == obsListed && o.ev.MeetingKey != "" {
				key = o.ev.MeetingKey
			}
			if _, err := r.lookup(ctx, s, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// classify settles the role of a pair that has none yet from what was listed.
func (r *run) classify(w *work) Role {
	p := w.p
	if p.Role != RoleNone {
		return p.Role
	}
	if p.Kind == sdk.KindException {
		if m := r.idx.byID[p.Series]; m != nil && m.Role != RoleNone {
			p.Role, p.Meeting = m.Role, m.Meeting
			if p.Owner == "" {
				p.Owner = m.Owner
			}
			r.markDirty(p)
		}
		return p.Role
	}
	var role Role
	for _, s := range sides {
		o := w.o(s)
		if o.kind != obsListed || !isMeeting(*o.ev) {
			continue
		}
		if o.ev.IsOrganizer {
			role = RoleOrganizer
			break
		}
		switch org := r.mt.dir.find(s, o.ev.Organizer); {
		case org == nil:
			role = RolePrivate
		case org.Link == r.link.Key:
			role = RoleOrganizer
		default:
			role = RoleCopy // our copy of a colleague's meeting, paired by correlation id
		}
	}
	if role != RoleNone {
		p.Role = role
		r.markDirty(p)
	}
	return role
}

// decideMeeting decides a pair by its meeting role; done is false when the usual
// rules apply.
func (r *run) decideMeeting(w *work) (steps []*step, done bool) {
	switch r.classify(w) {
	case RoleWaiting:
		return r.decideWaiting(w), true
	case RoleParticipant:
		return r.decideParticipant(w), true
	case RoleCopy, RolePrivate:
		return r.decideCopy(w)
	}
	return nil, false
}

func (r *run) liveState(w *work, s Side) bool {
	st := r.state(w, s)
	return st == stUnchanged || st == stChanged
}

func (r *run) decideWaiting(w *work) []*step {
	p := w.p
	if !r.liveState(w, SuperOffice) && !r.liveState(w, Calendar) {
		r.drop(p)
		return nil
	}
	r.record(w)
	return nil
}

// decideParticipant: both copies are their systems' own; only answers travel.
func (r *run) decideParticipant(w *work) []*step {
	p := w.p
	ls, lc := r.liveState(w, SuperOffice), r.liveState(w, Calendar)
	if !ls && !lc {
		r.drop(p)
		return nil
	}
	if p.Kind == sdk.KindException {
		r.record(w)
		return nil
	}
	if ls && lc {
		rs, rc := r.respOf(w, SuperOffice), r.respOf(w, Calendar)
		chS := w.o(SuperOffice).kind == obsListed && rs != orNone(p.SO.Response)
		chC := w.o(Calendar).kind == obsListed && rc != orNone(p.Cal.Response)
		if w.joined {
			chS, chC = true, true
		}
		r.record(w)
		if to, want := pickResponse(rs, rc, chS, chC); to != "" {
			return []*step{r.respondStep(w, to, want, "answered "+string(want)+" on "+string(to.Other()))}
		}
		return nil
	}
	x := SuperOffice
	if lc {
		x = Calendar
	}
	y := x.Other()
	var steps []*step
	declined := w.declinedOn == y
	if m := r.cached(x, p.ref(x).Meeting); m != nil && m.Answers[answerKey(y, r.link.Key)] == sdk.ResponseDeclined {
		declined = true
	}
	if p.ref(y).ID != "" {
		// The copy went away over there. Not cancelled by its organizer, it was
		// removed by its owner, which declines the meeting (Exchange also removes
		// a copy its owner declined). A cancellation a system reports as a plain
		// removal at worst answers a booking that is being cancelled anyway.
		if !w.o(y).cancelled {
			declined = true
			p.Note = "declined: its copy on " + string(y) + " was removed"
		}
		r.idx.update(p, func() { *p.ref(y) = Ref{} })
		r.markDirty(p)
	}
	r.record(w, x)
	if declined && r.respOf(w, x) != sdk.ResponseDeclined {
		steps = append(steps, r.respondStep(w, x, sdk.ResponseDeclined, "declined on "+string(y)))
	}
	return steps
}

func orNone(r sdk.Response) sdk.Response {
	if r == "" {
		return sdk.ResponseNone
	}
	return r
}

// pickResponse decides which answer a participant pair carries, and where.
func pickResponse(rs, rc sdk.Response, chS, chC bool) (Side, sdk.Response) {
	if rs == rc || rs == sdk.ResponseOrganizer || rc == sdk.ResponseOrganizer {
		return "", ""
	}
	switch {
	case chC && !chS:
		if rc != sdk.ResponseNone {
			return SuperOffice, rc
		}
	case chS && !chC:
		if rs != sdk.ResponseNone {
			return Calendar, rs
		}
	case chS && chC:
		switch {
		case rs == sdk.ResponseDeclined:
			return Calendar, rs
		case rc == sdk.ResponseDeclined:
			return SuperOffice, rc
		case rc != sdk.ResponseNone:
			return SuperOffice, rc
		case rs != sdk.ResponseNone:
			return Calendar, rs
		}
	}
	return "", ""
}

// decideCopy: the participant's own copy on the owner side and the copy this link
// wrote on the other. The copy exists while the participant has not declined;
// deleting it declines.
func (r *run) decideCopy(w *work) ([]*step, bool) {
	p := w.p
	src := p.Owner
	if !src.Valid() {
		src = p.Origin
	}
	if !src.Valid() || p.Kind == sdk.KindException {
		return nil, false
	}
	dst := src.Other()
	ss, ds := r.state(w, src), r.state(w, dst)
	if ss != stUnchanged && ss != stChanged {
		return nil, false // deletes and cancellations follow the source
	}
	resp := r.respOf(w, src)
	listed := w.o(src).kind == obsListed
	if p.Role == RolePrivate && listed {
		if org := r.mt.dir.find(src, w.o(src).ev.Organizer); org != nil && org.Link != r.link.Key && w.o(src).ev.MeetingKey != "" {
			// The organizer has a link now (added, licensed again): the private copy
			// gives way to the organizer's meeting.
			return r.unprivate(w, src, dst, org), true
		}
	}
	if resp == sdk.ResponseDeclined {
		if p.ref(dst).live() && ds != stGone {
			r.record(w, src)
			st := r.deleteStep(w, dst, "declined on "+string(src))
			st.keep = true
			return []*step{st}, true
		}
		if p.ref(dst).ID != "" {
			r.idx.update(p, func() { *p.ref(dst) = Ref{} })
			r.markDirty(p)
		}
		r.record(w, src)
		return nil, true
	}
	switch {
	case ds == stGone:
		r.idx.update(p, func() { *p.ref(dst) = Ref{} })
		p.Note = "declined: its copy on " + string(dst) + " was deleted"
		r.markDirty(p)
		r.record(w, src)
		return []*step{r.respondStep(w, src, sdk.ResponseDeclined, "copy deleted on "+string(dst)+": declined")}, true
	case ds == stAbsent && ss == stUnchanged && listed && orNone(p.ref(src).Response) == sdk.ResponseDeclined:
		// Accepted again after a decline: the copy comes back.
		return r.newOn(w, src), true
	case ds == stUnchanged && ss == stUnchanged && listed && p.Role == RoleCopy && resp != orNone(p.ref(src).Response) && p.ref(dst).live():
		st := r.updateStep(w, dst, src, "answered "+string(resp)+" on "+string(src))
		st.carry = true
		return []*step{st}, true
	}
	return nil, false
}

// translate maps the participants of ev (read on side from) to the other side:
// linked members become that side's account, others keep their address. A
// private copy has none; a room that declined is not booked.
func (r *run) translate(ev *sdk.Event, from Side, role Role) {
	if role == RolePrivate {
		ev.Organizer, ev.Attendees, ev.IsOrganizer, ev.Response = sdk.Attendee{}, nil, false, ""
		return
	}
	to := from.Other()
	mapOne := func(a sdk.Attendee) (sdk.Attendee, bool) {
		if m := r.mt.dir.find(from, a); m != nil {
			acct := m.account(to)
			out := sdk.Attendee{Email: acct.Email, Name: a.Name, Type: a.Type, Response: a.Response, AccountID: acct.ID}
			if out.Email == "" && to == Calendar {
				out.Email = acct.ID
			}
			if m.Kind == sdk.AccountResource {
				out.Type = sdk.AttendeeResource
			}
			if out.Name == "" {
				out.Name = acct.Name
			}
			if out.Name == "" {
				out.Name = m.account(from).Name
			}
			return out, true
		}
		if a.Email == "" {
			return sdk.Attendee{}, false
		}
		a.AccountID = ""
		return a, true
	}
	if ev.Organizer != (sdk.Attendee{}) {
		if o, ok := mapOne(ev.Organizer); ok {
			ev.Organizer = o
		}
	}
	out := make([]sdk.Attendee, 0, len(ev.Attendees))
	for _, a := range ev.Attendees {
		if role == RoleOrganizer && a.Type == sdk.AttendeeResource && a.Response == sdk.ResponseDeclined {
			continue // a room that declined is not booked on the other side
		}
		na, ok := mapOne(a)
		if !ok {
			continue
		}
		if role == RoleOrganizer {
			// Attendees answer for themselves over there (a room by its own
			// booking rules): the organizer's write does not answer for them.
			na.Response = sdk.ResponseNone
		}
		out = append(out, na)
	}
	ev.Attendees = out
}

// registerMeetings records the meetings this link organizes in the registry, with
// the answers their organizer's items show. all: every pair, not only those seen
// in this run (the first run after the engine started).
func (r *run) registerMeetings(ctx context.Context, all bool) error {
	if r.mt == nil || r.opts.DryRun || r.idx == nil {
		return nil
	}
	for _, p := range r.mt.dropped {
		if p.Role != RoleOrganizer || !p.Owner.Valid() || p.ref(p.Owner).Meeting == "" {
			continue
		}
		if r.idx.byID[p.ID] != nil {
			continue // forgotten and made anew in the same run
		}
		if err := r.mt.store.DeleteMeeting(ctx, r.mt.m.Profile, MeetingID(p.Owner, p.ref(p.Owner).Meeting)); err != nil {
			return fmt.Errorf("forget meeting of pair %s: %w", p.ID, err)
		}
	}
	var ps []*Pair
	if all {
		ps = r.idx.sorted()
	} else {
		for id := range r.works {
			if p := r.idx.byID[id]; p != nil {
				ps = append(ps, p)
			}
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
	}
	for _, p := range ps {
		if p.Role != RoleOrganizer || p.Kind == sdk.KindException || !p.Owner.Valid() {
			continue
		}
		owner := p.Owner
		key := p.ref(owner).Meeting
		if key == "" || !p.ref(owner).live() {
			continue
		}
		want := Meeting{ID: MeetingID(owner, key), Origin: owner, Owner: r.link.Key}
		if p.SO.live() {
			want.SO = p.SO.Meeting
		}
		if p.Cal.live() {
			want.Cal = p.Cal.Meeting
		}
		cur, err := r.lookup(ctx, owner, key)
		if err != nil {
			return err
		}
		want.Answers = map[string]sdk.Response{}
		listed := map[Side]bool{}
		if cur != nil && cur.ID == want.ID {
			maps.Copy(want.Answers, cur.Answers)
			for _, s := range cur.Listed {
				listed[s] = true
			}
		}
		if w, ok := r.works[p.ID]; ok {
			for _, s := range sides {
				o := w.o(s)
				if o.kind != obsListed {
					continue
				}
				// This side's answers are read afresh.
				for k := range want.Answers {
					if len(k) > len(s) && k[:len(s)+1] == string(s)+"/" {
						delete(want.Answers, k)
					}
				}
				listed[s] = true
				for _, a := range o.ev.Attendees {
					if m := r.mt.dir.find(s, a); m != nil && m.Link != r.link.Key {
						want.Answers[answerKey(s, m.Link)] = orNone(a.Response)
					}
				}
			}
		}
		if len(want.Answers) == 0 {
			want.Answers = nil
		}
		for _, s := range sides {
			if listed[s] {
				want.Listed = append(want.Listed, s)
			}
		}
		if cur != nil && cur.sameAs(want) {
			continue
		}
		want.Updated = r.now
		if err := r.mt.store.PutMeeting(ctx, r.mt.m.Profile, want); err != nil {
			return fmt.Errorf("register meeting of pair %s: %w", p.ID, err)
		}
		for _, s := range sides {
			if k := want.Key(s); k != "" {
				m := want.Clone()
				r.mt.cache[cacheKey(s, k)] = &m
			}
		}
	}
	return nil
}

// countWaiting counts the pairs that wait for a meeting.
func (r *run) countWaiting() int {
	if r.idx == nil {
		return 0
	}
	n := 0
	for _, p := range r.idx.byID {
		if p.Role == RoleWaiting && p.Kind != sdk.KindException {
			n++
		}
	}
	return n
}

// unprivate turns a private copy's pair back into a participant's copy that waits
// for its organizer's link, removing the private copy this link wrote.
func (r *run) unprivate(w *work, src, dst Side, org *Member) []*step {
	p := w.p
	r.record(w, src)
	p.Role, p.WaitSince = RoleWaiting, r.now
	p.Note = "waits for " + org.Link + " (the organizer's link) to sync the meeting"
	for _, x := range r.idx.exceptionsOf(p.ID) {
		// The copy's exceptions go with its series.
		r.idx.update(x, func() { *x.ref(dst) = Ref{} })
		x.Role = RoleWaiting
		r.markDirty(x)
	}
	r.markDirty(p)
	if p.ref(dst).live() && r.state(w, dst) != stGone {
		st := r.deleteStep(w, dst, "the organizer's link syncs this meeting now; the private copy goes")
		st.keep = true
		return []*step{st}
	}
	if p.ref(dst).ID != "" {
		r.idx.update(p, func() { *p.ref(dst) = Ref{} })
	}
	return nil
}
