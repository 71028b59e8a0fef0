package runner

import (
	"context"
	"slices"
	"strings"
	"sync"

	"synchronizer/daemon/config"
	"synchronizer/daemon/engine"
	"synchronizer/daemon/state"
)

// Meetings across the links of a profile.
//
// The engine syncs a meeting once across the links of a profile when every
// link of the profile carries the same engine.Meetings: who the profile's
// running links are (their pair keys and resolved accounts), so that a meeting
// organized by a linked colleague, or a booked room that is linked, is
// recognised (see daemon/engine/meeting.go). The runner builds that value per
// profile on the first run of any of its links after each Apply (start, reload,
// licence change): it resolves the accounts of every link of the profile that
// may run, before that first run goes on. A link that cannot be resolved then
// (no consent yet, an unknown mailbox) is left out, and its own first
// successful run adds it: until then its colleagues take its meetings for an
// outsider's, which heals without duplicates. A value handed to runs is never
// changed (runs read it without a lock); a new one replaces it.
//
// A profile removed from the configuration loses its meeting registry
// (Engine.DropMeetings); its links' pairs are kept like those of any removed
// link.

// meetingState is the runner's part of meetings; its zero value is ready.
type meetingState struct {
	// gen counts Applies; a profile's value is built anew for each. Guarded
	// by Runner.mu.
	gen uint64

	mu       sync.Mutex
	profiles map[string]*profileMeetings
}

// profileMeetings is one profile's value.
type profileMeetings struct {
	build sync.Mutex // one build at a time, while the others wait for it

	mu    sync.Mutex
	gen   uint64
	value *engine.Meetings
}

// applyMeetingsLocked records a new Apply of cfg after old (nil at start):
// every profile's value is built anew on the next run of one of its links. It
// returns the profiles that left the configuration, whose registries
// dropMeetings forgets once r.mu is released. r.mu must be held.
func (r *Runner) applyMeetingsLocked(old, cfg *config.Config) (removed []string) {
	r.meet.gen++
	r.meet.mu.Lock()
	defer r.meet.mu.Unlock()
	for name := range r.meet.profiles {
		if cfg.Profile(name) == nil {
			delete(r.meet.profiles, name)
		}
	}
	if old == nil {
		return nil
	}
	for _, p := range old.Profiles {
		if cfg.Profile(p.Name) == nil {
			removed = append(removed, p.Name)
		}
	}
	slices.Sort(removed)
	return removed
}

// dropMeetings forgets the registries of profiles removed from the
// configuration.
func (r *Runner) dropMeetings(ctx context.Context, profiles []string) {
	for _, name := range profiles {
		if err := r.eng.DropMeetings(ctx, name); err != nil {
			r.log.Warn("the meeting registry of a removed profile could not be dropped", "profile", name, "err", err)
			continue
		}
		r.log.Info("meeting registry of a removed profile dropped", "profile", name)
	}
}

func (r *Runner) profileMeetings(profile string) *profileMeetings {
	r.meet.mu.Lock()
	defer r.meet.mu.Unlock()
	if r.meet.profiles == nil {
		r.meet.profiles = map[string]*profileMeetings{}
	}
	pm := r.meet.profiles[profile]
	if pm == nil {
		pm = &profileMeetings{}
		r.meet.profiles[profile] = pm
	}
	return pm
}

// meetingsFor returns the Meetings of b's profile for a run of b, which
// resolved itself as self: built for the configuration in force, with self
// among its members.
func (r *Runner) meetingsFor(ctx context.Context, b *bound, self engine.Member) *engine.Meetings {
	pm := r.profileMeetings(b.id.Profile)
	pm.build.Lock()
	defer pm.build.Unlock()
	r.mu.RLock()
	gen := r.meet.gen
	r.mu.RUnlock()
	pm.mu.Lock()
	cur, curGen := pm.value, pm.gen
	pm.mu.Unlock()

	var next *engine.Meetings
	switch {
	case cur == nil || curGen != gen:
		next = &engine.Meetings{Profile: b.id.Profile, Members: r.resolveMembers(ctx, b, self)}
		r.log.Debug("meeting members resolved", "profile", b.id.Profile, "members", len(next.Members))
	case slices.ContainsFunc(cur.Members, func(m engine.Member) bool { return m.Link == self.Link }):
		return cur
	default:
		// The link was left out when the value was built and has resolved since.
		members := append(slices.Clone(cur.Members), self)
		slices.SortFunc(members, func(a, b engine.Member) int { return strings.Compare(a.Link, b.Link) })
		next = &engine.Meetings{Profile: b.id.Profile, Members: members}
		r.log.Info("link joins its profile's meetings", "profile", b.id.Profile, "link", b.id.Link)
	}
	if ctx.Err() != nil {
		return next // cut short: built again by the next run
	}
	pm.mu.Lock()
	pm.value, pm.gen = next, gen
	pm.mu.Unlock()
	return next
}

// resolveMembers resolves every link of b's profile that may run (self is b,
// resolved already). A link that cannot be resolved now is left out.
func (r *Runner) resolveMembers(ctx context.Context, b *bound, self engine.Member) []engine.Member {
	var ids []state.LinkID
	r.mu.RLock()
	for id := range r.allowed {
		if id.Profile == b.id.Profile && id != b.id {
			ids = append(ids, id)
		}
	}
	r.mu.RUnlock()
	slices.SortFunc(ids, func(a, b state.LinkID) int { return strings.Compare(a.Link, b.Link) })
	members := []engine.Member{self}
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		ob, err := r.bind(id.Profile, id.Link)
		if err != nil {
			continue
		}
		_, _, soAcc, calAcc, err := r.resolve(ctx, ob)
		if err != nil {
			r.log.Debug("link not among its profile's meeting members until it runs", "profile", id.Profile, "link", id.Link, "err", err)
			continue
		}
		members = append(members, engine.Member{Link: pairKey(ob, soAcc.ID, calAcc.ID), Kind: ob.kind(), SuperOffice: soAcc, Calendar: calAcc})
	}
	slices.SortFunc(members, func(a, b engine.Member) int { return strings.Compare(a.Link, b.Link) })
	return members
}
