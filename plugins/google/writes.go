package google

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"

	"synchronizer/plugins/google/internal/recur"
	"synchronizer/plugins/sdk"
)

// Every write says sendUpdates=none: sync never makes Google mail attendees.
const sendUpdates = "none"

// mapOne turns a Google event into the neutral model, completing a master with its
// cancelled occurrences.
func (c *conn) mapOne(ctx context.Context, g *calendar.Event) (sdk.Event, error) {
	if len(g.Recurrence) == 0 || g.RecurringEventId != "" {
		return toEvent(&c.p.zones, g, c.calendar, nil)
	}
	found, _, err := c.readSeries(ctx, map[string]*calendar.Event{g.Id: g}, nil)
	if err != nil {
		return sdk.Event{}, err
	}
	return found[g.Id].event(&c.p.zones, c.calendar)
}

// get reads one event (cancelled ones too).
func (c *conn) get(ctx context.Context, id string) (*calendar.Event, error) {
	var g *calendar.Event
	err := c.do(ctx, "get "+id+" of "+c.calendar, idempotent, func(ctx context.Context) error {
		var err error
		g, err = c.svc.Events.Get(c.calendar, id).Context(ctx).Do(googleapi.QuotaUser(c.quota))
		return err
	})
	return g, err
}

// Get implements sdk.Provider: ErrNotFound for a missing or cancelled item.
func (p *Provider) Get(ctx context.Context, t sdk.Target, id string) (sdk.Event, error) {
	if id == "" {
		return sdk.Event{}, fmt.Errorf("google: get: empty id: %w", sdk.ErrInvalidArgument)
	}
	c, err := p.connect(t, ScopeEvents)
	if err != nil {
		return sdk.Event{}, err
	}
	g, err := c.get(ctx, id)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("google: %w", err)
	}
	if g.Status == "cancelled" {
		return sdk.Event{}, fmt.Errorf("google: get %s of %s: cancelled: %w", id, c.calendar, sdk.ErrNotFound)
	}
	ev, err := c.mapOne(ctx, g)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("google: get %s: %w", id, err)
	}
	return ev, nil
}

// Create implements sdk.Provider.
func (p *Provider) Create(ctx context.Context, t sdk.Target, ev sdk.Event) (sdk.Event, error) {
	c, err := p.connect(t, ScopeEvents)
	if err != nil {
		return sdk.Event{}, err
	}
	if ev.Kind == sdk.KindException {
		return c.createException(ctx, ev)
	}
	body, err := fromEventIn(&c.p.zones, ev, false, c.calendar)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("google: create in %s: %w", c.calendar, err)
	}
	if ev.CorrelationID != "" {
		body.Id = idFor(c.inst.name, c.calendar, ev.CorrelationID)
	}
	g, err := c.insert(ctx, body)
	fresh := err == nil
	if code, reason := googleCode(err); code == http.StatusConflict {
		if reason == "duplicate" && body.Id != "" {
			g, err = c.afterDuplicate(ctx, body, ev.CorrelationID)
		} else {
			err = c.mapErr("insert into "+c.calendar, err)
		}
	}
	if err != nil {
		return sdk.Event{}, fmt.Errorf("google: create in %s: %w", c.calendar, err)
	}
	if fresh {
		// A series this insert made has no cancelled occurrences yet: reading
		// them (mapOne) would only spend the calendar's quota.
		out, err := toEvent(&c.p.zones, g, c.calendar, nil)
		if err != nil {
			return sdk.Event{}, fmt.Errorf("google: create in %s: %w", c.calendar, err)
		}
		return out, nil
	}
	out, err := c.mapOne(ctx, g)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("google: create in %s: %w", c.calendar, err)
	}
	return out, nil
}

func (c *conn) insert(ctx context.Context, body *calendar.Event) (*calendar.Event, error) {
	var g *calendar.Event
	// An insert with a chosen id may be repeated (a second one answers 409); one
	// without may not.
	policy := onlyRefused
	if body.Id != "" {
		policy = idempotent
	}
	err := c.do(ctx, "insert into "+c.calendar, policy, func(ctx context.Context) error {
		var err error
		g, err = c.svc.Events.Insert(c.calendar, body).SendUpdates(sendUpdates).Context(ctx).Do(googleapi.QuotaUser(c.quota))
		if err != nil {
			if code, _ := googleCode(err); code == http.StatusConflict {
				return errStop{err}
			}
		}
		return err
	})
	var stop errStop
	if errors.As(err, &stop) {
		return nil, stop.err
	}
	return g, err
}

// errStop carries an answer out of c.do unchanged.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }
func (e errStop) Unwrap() error { return e.err }

// afterDuplicate handles 409 on an insert with the derived id: the item is our own
// earlier attempt when it carries the correlation id. Otherwise (the earlier item was
// deleted since, or an unrelated item took the id) a fresh id is used.
func (c *conn) afterDuplicate(ctx context.Context, body *calendar.Event, correlation string) (*calendar.Event, error) {
	g, err := c.get(ctx, body.Id)
	if err == nil && g.Status != "cancelled" && g.ExtendedProperties != nil && g.ExtendedProperties.Private[CorrelationKey] == correlation {
		return g, nil
	}
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return nil, err
	}
	c.p.log.Info("derived event id taken; inserting under a new id", "instance", c.inst.name, "calendar", c.calendar)
	body.Id = ""
	g, err = c.insert(ctx, body)
	if code, _ := googleCode(err); code == http.StatusConflict {
		err = c.mapErr("insert into "+c.calendar, err)
	}
	return g, err
}

// createException writes an exception: Google makes one by patching the
// occurrence's instance id.
func (c *conn) createException(ctx context.Context, ev sdk.Event) (sdk.Event, error) {
	if ev.SeriesID == "" || ev.OriginalStart.IsZero() {
		return sdk.Event{}, fmt.Errorf("google: create exception in %s: series id and original start are required: %w", c.calendar, sdk.ErrInvalidArgument)
	}
	body, err := fromEvent(&c.p.zones, ev, true)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("google: create exception in %s: %w", c.calendar, err)
	}
	id := instanceID(ev.SeriesID, ev.OriginalStart, ev.AllDay)
	g, err := c.patch(ctx, id, body, "")
	if err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			return sdk.Event{}, fmt.Errorf("google: create exception in %s: series %s has no occurrence at %s: %w",
				c.calendar, ev.SeriesID, ev.OriginalStart.UTC().Format(time.RFC3339), sdk.ErrNotFound)
		}
		return sdk.Event{}, fmt.Errorf("google: create exception in %s: %w", c.calendar, err)
	}
	return toEvent(&c.p.zones, g, c.calendar, nil)
}

// patch sends a PATCH with If-Match when version is set. Its answer is mapped to the
// contract's errors.
func (c *conn) patch(ctx context.Context, id string, body *calendar.Event, version string) (*calendar.Event, error) {
	var g *calendar.Event
	err := c.do(ctx, "patch "+id+" of "+c.calendar, onlyRefused, func(ctx context.Context) error {
		call := c.svc.Events.Patch(c.calendar, id, body).SendUpdates(sendUpdates).Context(ctx)
		if version != "" {
			call.Header().Set("If-Match", version)
		}
		var err error
		g, err = call.Do(googleapi.QuotaUser(c.quota))
		return err
	})
	return g, err
}

// deleted tells whether id is gone or cancelled. Google keeps a deleted event as a
// cancelled item, so a write to it is refused as invalid or forbidden rather than
// "not found".
func (c *conn) deleted(ctx context.Context, id string) bool {
	g, err := c.get(ctx, id)
	if errors.Is(err, sdk.ErrNotFound) {
		return true
	}
	return err == nil && g.Status == "cancelled"
}

// Update implements sdk.Provider.
func (p *Provider) Update(ctx context.Context, t sdk.Target, ev sdk.Event) (sdk.Event, error) {
	if ev.ID == "" {
		return sdk.Event{}, fmt.Errorf("google: update: empty id: %w", sdk.ErrInvalidArgument)
	}
	c, err := p.connect(t, ScopeEvents)
	if err != nil {
		return sdk.Event{}, err
	}
	var cur *calendar.Event
	if ev.Kind != sdk.KindException && (len(ev.Attendees) > 0 || ev.Organizer.Email != "" || ev.Response != "") {
		if cur, err = c.get(ctx, ev.ID); err != nil {
			return sdk.Event{}, fmt.Errorf("google: update %s of %s: %w", ev.ID, c.calendar, err)
		}
		if invited(cur, c.calendar) {
			out, err := c.answer(ctx, cur, ev)
			if err != nil {
				return sdk.Event{}, fmt.Errorf("google: answer %s of %s: %w", ev.ID, c.calendar, err)
			}
			return out, nil
		}
	}
	body, err := fromEventIn(&c.p.zones, ev, true, c.calendar)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("google: update %s of %s: %w", ev.ID, c.calendar, err)
	}
	if cur != nil && body.Attendees != nil {
		// The attendees' own answers stay as Google has them.
		held := map[string]string{}
		for _, a := range cur.Attendees {
			held[strings.ToLower(a.Email)] = a.ResponseStatus
		}
		for _, a := range body.Attendees {
			if st, ok := held[strings.ToLower(a.Email)]; ok && st != "" {
				a.ResponseStatus = st
			}
		}
	}
	if ev.CorrelationID == "" {
		body.ExtendedProperties = nil // leave whatever tag the item has
	}
	g, err := c.patch(ctx, ev.ID, body, ev.Version)
	if err != nil {
		if (errors.Is(err, sdk.ErrInvalidArgument) || errors.Is(err, sdk.ErrPermissionDenied)) && c.deleted(ctx, ev.ID) {
			return sdk.Event{}, fmt.Errorf("google: update %s of %s: deleted: %w", ev.ID, c.calendar, sdk.ErrNotFound)
		}
		return sdk.Event{}, fmt.Errorf("google: update %s of %s: %w", ev.ID, c.calendar, err)
	}
	if g.Status == "cancelled" {
		// The patch went to a deleted item, which stays deleted.
		return sdk.Event{}, fmt.Errorf("google: update %s of %s: deleted: %w", ev.ID, c.calendar, sdk.ErrNotFound)
	}
	if ev.Kind == sdk.KindMaster && len(g.Recurrence) > 0 {
		s, restored, err := c.restoreOccurrences(ctx, g, ev)
		if err != nil {
			return sdk.Event{}, fmt.Errorf("google: update %s of %s: %w", ev.ID, c.calendar, err)
		}
		if !restored {
			out, err := s.event(&c.p.zones, c.calendar)
			if err != nil {
				return sdk.Event{}, fmt.Errorf("google: update %s of %s: %w", ev.ID, c.calendar, err)
			}
			return out, nil
		}
		if g, err = c.get(ctx, ev.ID); err != nil {
			return sdk.Event{}, fmt.Errorf("google: update %s of %s: %w", ev.ID, c.calendar, err)
		}
	}
	out, err := c.mapOne(ctx, g)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("google: update %s of %s: %w", ev.ID, c.calendar, err)
	}
	return out, nil
}

// restoreOccurrences brings back cancelled occurrences whose EXDATE the update
// dropped: Google keeps them as cancelled items, which recurrence lines cannot undo.
func (c *conn) restoreOccurrences(ctx context.Context, g *calendar.Event, want sdk.Event) (*series, bool, error) {
	found, _, err := c.readSeries(ctx, map[string]*calendar.Event{g.Id: g}, nil)
	if err != nil {
		return nil, false, err
	}
	s := found[g.Id]
	if len(s.exdates) == 0 {
		return s, false, nil
	}
	keep := map[string]bool{}
	norm, err := recur.Normalize(want.Recurrence, zoneOf(&c.p.zones, want.TimeZone), want.AllDay)
	if err != nil {
		return s, false, nil
	}
	for _, l := range norm {
		keep[l] = true
	}
	allDay := g.Start != nil && g.Start.Date != ""
	restored := false
	for _, ex := range s.exdates {
		if keep[ex] {
			continue
		}
		t, ok := exdateTime(ex)
		if !ok {
			continue
		}
		id := instanceID(g.Id, t, allDay)
		body := &calendar.Event{Status: "confirmed"}
		if _, err := c.patch(ctx, id, body, ""); err != nil && !errors.Is(err, sdk.ErrNotFound) {
			return nil, false, fmt.Errorf("restore occurrence %s: %w", id, err)
		}
		restored = true
	}
	return s, restored, nil
}

// exdateTime reads the instant of a normalized EXDATE line.
func exdateTime(line string) (time.Time, bool) {
	_, v, ok := strings.Cut(line, ":")
	if !ok {
		return time.Time{}, false
	}
	layout := "20060102T150405Z"
	if len(v) == 8 {
		layout = "20060102"
	}
	t, err := time.Parse(layout, v)
	return t, err == nil
}

// Delete implements sdk.Provider: an item already gone is not an error.
func (p *Provider) Delete(ctx context.Context, t sdk.Target, id, version string) error {
	if id == "" {
		return fmt.Errorf("google: delete: empty id: %w", sdk.ErrInvalidArgument)
	}
	c, err := p.connect(t, ScopeEvents)
	if err != nil {
		return err
	}
	err = c.do(ctx, "delete "+id+" of "+c.calendar, idempotent, func(ctx context.Context) error {
		call := c.svc.Events.Delete(c.calendar, id).SendUpdates(sendUpdates).Context(ctx)
		if version != "" {
			call.Header().Set("If-Match", version)
		}
		return call.Do(googleapi.QuotaUser(c.quota))
	})
	if errors.Is(err, sdk.ErrNotFound) {
		return nil // 404, or 410 deleted
	}
	if err != nil {
		return fmt.Errorf("google: %w", err)
	}
	return nil
}

// FindByCorrelation implements sdk.Provider: a private extended property filter,
// one constraint only (Google's documents disagree on how several combine).
func (p *Provider) FindByCorrelation(ctx context.Context, t sdk.Target, correlationID string) ([]sdk.Event, error) {
	if correlationID == "" {
		return nil, fmt.Errorf("google: find by correlation: empty id: %w", sdk.ErrInvalidArgument)
	}
	c, err := p.connect(t, ScopeEvents)
	if err != nil {
		return nil, err
	}
	var items []*calendar.Event
	page := ""
	for pages := 0; pages < 100; pages++ {
		var res *calendar.Events
		err := c.do(ctx, "find "+correlationID+" in "+c.calendar, idempotent, func(ctx context.Context) error {
			call := c.svc.Events.List(c.calendar).PrivateExtendedProperty(CorrelationKey + "=" + correlationID).
				MaxResults(2500).Context(ctx)
			if page != "" {
				call = call.PageToken(page)
			}
			var err error
			res, err = call.Do(googleapi.QuotaUser(c.quota))
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("google: %w", err)
		}
		for _, it := range res.Items {
			if it.Status != "cancelled" {
				items = append(items, it)
			}
		}
		if page = res.NextPageToken; page == "" {
			break
		}
	}
	out := make([]sdk.Event, 0, len(items))
	for _, it := range items {
		ev, err := c.mapOne(ctx, it)
		if err != nil {
			return nil, fmt.Errorf("google: find %s in %s: %w", correlationID, c.calendar, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// invited reports whether g is an attendee's copy of someone else's meeting in
// calendar calID.
func invited(g *calendar.Event, calID string) bool {
	if g == nil || g.Status == "cancelled" || len(g.Attendees) == 0 || g.Organizer == nil {
		return false
	}
	return !g.Organizer.Self && !strings.EqualFold(g.Organizer.Email, calID)
}

// answer writes the calendar owner's answer to an invitation (an attendee's copy):
// only the owner's own responseStatus changes, nothing else of the organizer's
// meeting, and nobody is mailed. An answer of "none" is not written.
func (c *conn) answer(ctx context.Context, cur *calendar.Event, ev sdk.Event) (sdk.Event, error) {
	if cur.Status == "cancelled" {
		return sdk.Event{}, fmt.Errorf("%s is cancelled: %w", cur.Id, sdk.ErrNotFound)
	}
	if ev.Version != "" && cur.Etag != "" && ev.Version != cur.Etag {
		return sdk.Event{}, fmt.Errorf("answer %s: %w", cur.Id, sdk.ErrPreconditionFailed)
	}
	want := ""
	switch ev.Response {
	case sdk.ResponseAccepted, sdk.ResponseTentative, sdk.ResponseDeclined:
		want = responseStatus(ev.Response)
	}
	atts := make([]*calendar.EventAttendee, 0, len(cur.Attendees))
	changed := false
	for _, a := range cur.Attendees {
		cp := *a
		if want != "" && (a.Self || strings.EqualFold(a.Email, c.calendar)) && a.ResponseStatus != want {
			cp.ResponseStatus = want
			changed = true
		}
		atts = append(atts, &cp)
	}
	if !changed {
		return c.mapOne(ctx, cur)
	}
	g, err := c.patch(ctx, cur.Id, &calendar.Event{Attendees: atts}, cur.Etag)
	if err != nil {
		return sdk.Event{}, err
	}
	return c.mapOne(ctx, g)
}
