package m365

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"synchronizer/plugins/m365/internal/wintz"
	"synchronizer/plugins/sdk"
)

// horizon is the span Get and FindByCorrelation read a series' cancelled occurrences
// in (they have no window of their own).
func (p *Provider) horizon() sdk.Window {
	now := p.now().UTC()
	return sdk.Window{Start: now.AddDate(-1, 0, 0), End: now.AddDate(2, 0, 0)}
}

func (c *conn) getItem(ctx context.Context, id, op string) (*gEvent, error) {
	var g gEvent
	if _, err := c.do(ctx, request{method: http.MethodGet, path: c.eventPath(id) + "?" + query("$expand", expandProps), op: op}, &g); err != nil {
		if errors.Is(err, sdk.ErrFullSyncRequired) { // 410 Gone on an item
			return nil, fmt.Errorf("%s: %w", op, sdk.ErrNotFound)
		}
		return nil, err
	}
	if g.ID == "" {
		return nil, fmt.Errorf("%s: Graph answered an item without an id", op)
	}
	return &g, nil
}

// eventOf maps a read item to the model, reading its series where needed.
func (c *conn) eventOf(ctx context.Context, g *gEvent) (sdk.Event, error) {
	switch g.Type {
	case "seriesMaster":
		w := c.p.horizon()
		found, _, gone, err := c.readSeries(ctx, []string{g.ID}, w)
		if err != nil {
			return sdk.Event{}, err
		}
		if len(gone) > 0 || len(found) == 0 {
			return sdk.Event{}, fmt.Errorf("read series %s: %w", g.ID, sdk.ErrNotFound)
		}
		evs, _, err := found[0].events(w)
		if err != nil {
			return sdk.Event{}, err
		}
		return evs[0], nil
	case "exception":
		m, err := c.getItem(ctx, g.SeriesMasterID, "read the series of "+g.ID)
		if err != nil {
			return sdk.Event{}, err
		}
		mc, _ := m.prop(propCorrelation)
		return toEvent(g, mc)
	case "occurrence":
		return sdk.Event{}, fmt.Errorf("%w: %s is a plain occurrence of series %s, not an item of its own", sdk.ErrNotFound, g.ID, g.SeriesMasterID)
	}
	return toEvent(g, "")
}

// Get reads one item. A single its organizer cancelled counts as gone.
func (p *Provider) Get(ctx context.Context, t sdk.Target, id string) (sdk.Event, error) {
	c, err := p.connect(t)
	if err != nil {
		return sdk.Event{}, err
	}
	g, err := c.getItem(ctx, id, "read event "+id)
	if err != nil {
		return sdk.Event{}, err
	}
	if g.IsCancelled && g.Type != "seriesMaster" {
		return sdk.Event{}, fmt.Errorf("read event %s: %w (its organizer cancelled it)", id, sdk.ErrNotFound)
	}
	return c.eventOf(ctx, g)
}

// transactionID makes a retried create of the same item a no-op on Graph's side.
func transactionID(ev sdk.Event) string {
	if ev.CorrelationID == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("create\x00" + ev.CorrelationID))
	return "sync-" + hex.EncodeToString(sum[:16])
}

// masterRecurrence turns the model's recurrence lines into Graph's pattern.
func masterRecurrence(z *wintz.Zones, ev sdk.Event) (*gRecurrence, string, []time.Time, error) {
	rule, exdates, err := recurrenceLines(ev.Recurrence)
	if err != nil {
		return nil, "", nil, err
	}
	if rule == "" {
		return nil, "", nil, fmt.Errorf("%w: a series master needs an RRULE", sdk.ErrInvalidArgument)
	}
	tz, loc := graphZone(z, ev.TimeZone)
	start := ev.Start
	if ev.AllDay {
		loc = time.UTC
	}
	rec, err := fromRRule(rule, start, loc, ev.AllDay, tz)
	if err != nil {
		return nil, "", nil, err
	}
	return rec, rule, exdates, nil
}

// withProps gives a written item the properties it was written with, so it maps the
// same way a later read does (POST and PATCH answers do not expand them).
func withProps(g *gEvent, body map[string]any, prev []gProp) {
	props := slices.Clone(prev)
	if written, ok := body["singleValueExtendedProperties"].([]gProp); ok {
		for _, w := range written {
			i := slices.IndexFunc(props, func(p gProp) bool { return strings.EqualFold(p.ID, w.ID) })
			if i >= 0 {
				props[i] = w
			} else {
				props = append(props, w)
			}
		}
	}
	g.Props = props
}

// Create writes a new single or series (never with Graph attendees, so nothing is
// mailed), or turns an occurrence into an exception.
func (p *Provider) Create(ctx context.Context, t sdk.Target, ev sdk.Event) (sdk.Event, error) {
	c, err := p.connect(t)
	if err != nil {
		return sdk.Event{}, err
	}
	if ev.Kind == sdk.KindException {
		return c.createException(ctx, ev)
	}
	var rec *gRecurrence
	var rule string
	var exdates []time.Time
	switch ev.Kind {
	case sdk.KindMaster:
		if rec, rule, exdates, err = masterRecurrence(&c.p.zones, ev); err != nil {
			return sdk.Event{}, fmt.Errorf("create series: %w", err)
		}
	case sdk.KindSingle, "":
		if len(ev.Recurrence) > 0 {
			return sdk.Event{}, fmt.Errorf("%w: a single event cannot carry recurrence lines", sdk.ErrInvalidArgument)
		}
	default:
		return sdk.Event{}, fmt.Errorf("%w: unknown event kind %q", sdk.ErrInvalidArgument, ev.Kind)
	}
	body, err := writeBody(&c.p.zones, ev, rec, rule)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("create event: %w", err)
	}
	if tid := transactionID(ev); tid != "" {
		body["transactionId"] = tid
	}
	var g gEvent
	if _, err := c.do(ctx, request{method: http.MethodPost, path: c.calPath + "/events", body: body, op: "create event", idempotent: body["transactionId"] != nil}, &g); err != nil {
		return sdk.Event{}, err
	}
	if g.ID == "" {
		return sdk.Event{}, fmt.Errorf("create event: Graph answered without an id")
	}
	if rec != nil {
		if err := c.cancelOccurrences(ctx, g.ID, exdates, ev.AllDay); err != nil {
			// Tagged but with occurrences the source cancelled, the series would be
			// taken for the complete copy when the host looks for it after this
			// error: remove it, so that the create is simply made again.
			if _, derr := c.do(ctx, request{method: http.MethodDelete, path: c.eventPath(g.ID), op: "remove the incomplete series " + g.ID}, nil); derr != nil && !errors.Is(derr, sdk.ErrNotFound) {
				c.p.log.Error("a created series could not be completed nor removed", "series", g.ID, "error", derr)
			}
			return sdk.Event{}, fmt.Errorf("create series %s: %w", g.ID, err)
		}
		return c.eventOf(ctx, &g)
	}
	withProps(&g, body, nil)
	return toEvent(&g, "")
}

// findOccurrence finds the instance of a series with the given original start
// (plain occurrence or exception). Exchange keeps an exception between its
// neighbours, so a month either side is enough.
func (c *conn) findOccurrence(ctx context.Context, masterID string, orig time.Time, allDay bool) (*gEvent, error) {
	path := c.eventPath(masterID) + "/instances?" + query("startDateTime", graphTime(orig.AddDate(0, 0, -32)), "endDateTime", graphTime(orig.AddDate(0, 0, 33)), "$select", "id,type,originalStart,start,end,isAllDay,seriesMasterId")
	op := "find the occurrence of " + masterID
	var found *gEvent
	err := c.eachPage(ctx, path, 1000, op, func(items []json.RawMessage) (bool, error) {
		inst, err := decodeItems[gEvent](items, op)
		if err != nil {
			return true, err
		}
		for i := range inst {
			os, err := time.Parse(time.RFC3339Nano, inst[i].OriginalStart)
			if err != nil {
				continue
			}
			if allDay && dateOf(os).Equal(dateOf(orig)) || !allDay && os.Equal(orig) {
				found = &inst[i]
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil || found != nil {
		return found, err
	}
	return nil, fmt.Errorf("%w: series %s has no occurrence starting %s (cancelled, or not in the series)", sdk.ErrNotFound, masterID, orig.UTC().Format(time.RFC3339))
}

func (c *conn) createException(ctx context.Context, ev sdk.Event) (sdk.Event, error) {
	if ev.SeriesID == "" || ev.OriginalStart.IsZero() {
		return sdk.Event{}, fmt.Errorf("%w: an exception needs SeriesID and OriginalStart", sdk.ErrInvalidArgument)
	}
	if len(ev.Recurrence) > 0 {
		return sdk.Event{}, fmt.Errorf("%w: an exception cannot carry recurrence lines", sdk.ErrInvalidArgument)
	}
	occ, err := c.findOccurrence(ctx, ev.SeriesID, ev.OriginalStart, ev.AllDay)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("create exception: %w", err)
	}
	return c.patchItem(ctx, occ.ID, ev, nil, "", "", nil, "create exception")
}

// patchItem PATCHes an item and maps the answer. prev holds its properties before.
func (c *conn) patchItem(ctx context.Context, id string, ev sdk.Event, rec *gRecurrence, rule, ifMatch string, prev []gProp, op string) (sdk.Event, error) {
	body, err := writeBody(&c.p.zones, ev, rec, rule)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("%s: %w", op, err)
	}
	var g gEvent
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: c.eventPath(id), body: body, ifMatch: ifMatch, op: op + " " + id}, &g); err != nil {
		return sdk.Event{}, err
	}
	if g.ID == "" {
		return sdk.Event{}, fmt.Errorf("%s %s: Graph answered without an id", op, id)
	}
	withProps(&g, body, prev)
	if g.Type == "seriesMaster" || g.Type == "exception" {
		return c.eventOf(ctx, &g)
	}
	return toEvent(&g, "")
}

func etagFor(g *gEvent) string {
	if g.ETag != "" {
		return g.ETag
	}
	return `W/"` + g.ChangeKey + `"`
}

// meetingGuard refuses writes that would make Exchange mail the attendees of a meeting
// this mailbox organizes.
func meetingGuard(g *gEvent, what string) error {
	if len(g.Attendees) > 0 && g.IsOrganizer {
		return fmt.Errorf("%w: refusing to %s %s: it is a meeting with %d attendees organized in this mailbox, and Exchange would mail them; its organizer changes it in Outlook", sdk.ErrInvalidArgument, what, g.ID, len(g.Attendees))
	}
	return nil
}

// Update writes ev over ev.ID. A non-empty ev.Version must still be the item's
// version (sdk.ErrPreconditionFailed otherwise); the write itself is conditional on
// the version read just before it.
func (p *Provider) Update(ctx context.Context, t sdk.Target, ev sdk.Event) (sdk.Event, error) {
	c, err := p.connect(t)
	if err != nil {
		return sdk.Event{}, err
	}
	cur, err := c.getItem(ctx, ev.ID, "read event "+ev.ID+" before updating it")
	if err != nil {
		return sdk.Event{}, err
	}
	if ev.Version != "" && cur.version() != ev.Version {
		return sdk.Event{}, fmt.Errorf("update event %s: %w", ev.ID, sdk.ErrPreconditionFailed)
	}
	if cur.Type == "occurrence" {
		return sdk.Event{}, fmt.Errorf("%w: %s is a plain occurrence; create an exception instead", sdk.ErrInvalidArgument, ev.ID)
	}
	if len(cur.Attendees) > 0 && !cur.IsOrganizer {
		// An invited participant's copy: only the answer travels, silently.
		return c.respond(ctx, cur, ev.Response)
	}
	if err := meetingGuard(cur, "update"); err != nil {
		return sdk.Event{}, err
	}
	var rec *gRecurrence
	var rule string
	var exdates []time.Time
	isMaster := cur.Type == "seriesMaster"
	if isMaster || ev.Kind == sdk.KindMaster {
		if rec, rule, exdates, err = masterRecurrence(&c.p.zones, ev); err != nil {
			return sdk.Event{}, fmt.Errorf("update series %s: %w", ev.ID, err)
		}
		if sameRecurrence(rec, cur.Recurrence) {
			rec = nil // an unchanged pattern is not sent: Exchange would drop the exceptions
		}
	} else if len(ev.Recurrence) > 0 {
		return sdk.Event{}, fmt.Errorf("%w: only a series master carries recurrence lines", sdk.ErrInvalidArgument)
	}
	out, err := c.patchItem(ctx, ev.ID, ev, rec, rule, etagFor(cur), cur.Props, "update event")
	if err != nil {
		return sdk.Event{}, err
	}
	if isMaster || ev.Kind == sdk.KindMaster {
		if err := c.cancelOccurrences(ctx, ev.ID, exdates, ev.AllDay); err != nil {
			return sdk.Event{}, fmt.Errorf("update series %s: %w", ev.ID, err)
		}
		if len(exdates) > 0 {
			return p.Get(ctx, t, ev.ID)
		}
	}
	return out, nil
}

// respond records a participant's answer without mailing the organizer.
func (c *conn) respond(ctx context.Context, cur *gEvent, want sdk.Response) (sdk.Event, error) {
	have := sdk.ResponseNone
	if cur.ResponseStatus != nil {
		have = fromGraphResponse(cur.ResponseStatus.Response)
	}
	action := map[sdk.Response]string{sdk.ResponseAccepted: "accept", sdk.ResponseTentative: "tentativelyAccept", sdk.ResponseDeclined: "decline"}[want]
	if want == have || action == "" {
		return c.eventOf(ctx, cur)
	}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: c.eventPath(cur.ID) + "/" + action, body: map[string]any{"sendResponse": false}, op: action + " " + cur.ID, idempotent: true}, nil); err != nil {
		return sdk.Event{}, err
	}
	g, err := c.getItem(ctx, cur.ID, "read event "+cur.ID)
	if err != nil {
		return sdk.Event{}, err
	}
	return c.eventOf(ctx, g)
}

// cancelOccurrences deletes the occurrences of a series that start at the given
// instants (and are still there).
func (c *conn) cancelOccurrences(ctx context.Context, masterID string, starts []time.Time, allDay bool) error {
	if len(starts) == 0 {
		return nil
	}
	want := map[int64]bool{}
	from, to := starts[0], starts[0]
	for _, s := range starts {
		if allDay {
			s = dateOf(s)
		}
		want[s.Unix()] = true
		from, to = minTime(from, s), maxTime(to, s)
	}
	path := c.eventPath(masterID) + "/instances?" + query("startDateTime", graphTime(from.AddDate(0, 0, -1)), "endDateTime", graphTime(to.AddDate(0, 0, 2)), "$select", "id,type,originalStart")
	op := "list the occurrences of " + masterID
	var victims []string
	err := c.eachPage(ctx, path, 1000, op, func(items []json.RawMessage) (bool, error) {
		inst, err := decodeItems[gEvent](items, op)
		if err != nil {
			return true, err
		}
		for _, g := range inst {
			os, err := time.Parse(time.RFC3339Nano, g.OriginalStart)
			if err != nil {
				continue
			}
			if allDay {
				os = dateOf(os)
			}
			if want[os.Unix()] {
				victims = append(victims, g.ID)
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	items := make([]batchItem, len(victims))
	for i, id := range victims {
		items[i] = batchItem{method: http.MethodDelete, path: c.eventPath(id)}
	}
	res, err := c.batch(ctx, "cancel occurrences", items)
	if err != nil {
		return err
	}
	for i, r := range res {
		if r.err != nil && !errors.Is(r.err, sdk.ErrNotFound) {
			return fmt.Errorf("cancel occurrence %s: %w", victims[i], r.err)
		}
	}
	return nil
}

// Delete removes an item (an exception's id cancels that occurrence). Gone already
// is fine.
func (p *Provider) Delete(ctx context.Context, t sdk.Target, id, version string) error {
	c, err := p.connect(t)
	if err != nil {
		return err
	}
	cur, err := c.getItem(ctx, id, "read event "+id+" before deleting it")
	if errors.Is(err, sdk.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if version != "" && cur.version() != version {
		return fmt.Errorf("delete event %s: %w", id, sdk.ErrPreconditionFailed)
	}
	if err := meetingGuard(cur, "delete"); err != nil {
		return err
	}
	ifMatch := ""
	if version != "" {
		ifMatch = etagFor(cur)
	}
	_, err = c.do(ctx, request{method: http.MethodDelete, path: c.eventPath(id), ifMatch: ifMatch, op: "delete event " + id}, nil)
	if errors.Is(err, sdk.ErrNotFound) {
		return nil
	}
	return err
}

// FindByCorrelation looks the correlation property up with Graph's $filter over the
// calendar's singles and masters.
func (p *Provider) FindByCorrelation(ctx context.Context, t sdk.Target, correlationID string) ([]sdk.Event, error) {
	c, err := p.connect(t)
	if err != nil {
		return nil, err
	}
	if correlationID == "" {
		return nil, fmt.Errorf("%w: empty correlation id", sdk.ErrInvalidArgument)
	}
	filter := "singleValueExtendedProperties/Any(ep: ep/id eq '" + propCorrelation + "' and ep/value eq '" + strings.ReplaceAll(correlationID, "'", "''") + "')"
	path := c.calPath + "/events?" + query("$filter", filter, "$expand", expandProps, "$top", "50")
	op := "find events by correlation id"
	var out []sdk.Event
	err = c.eachPage(ctx, path, 0, op, func(items []json.RawMessage) (bool, error) {
		found, err := decodeItems[gEvent](items, op)
		if err != nil {
			return true, err
		}
		for i := range found {
			ev, err := c.eventOf(ctx, &found[i])
			if err != nil {
				return true, err
			}
			out = append(out, ev)
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
