package google

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"

	"synchronizer/plugins/google/internal/recur"
	"synchronizer/plugins/sdk"
)

// cursor is the state ListChanges hands the host, base64 JSON. A round runs
// through phases: "full" (a window-bounded list that ends with a sync token),
// "inc" (a sync-token list), "supp" (window spans that entered the window since they
// were last read); "" is the resting state between rounds.
type cursor struct {
	V      int        `json:"v"`
	Phase  string     `json:"p,omitempty"`
	Sync   string     `json:"s,omitempty"`  // the sync token the next incremental read uses
	Page   string     `json:"g,omitempty"`  // Google's page token inside the phase
	WS     int64      `json:"ws,omitempty"` // window of a running full read
	WE     int64      `json:"we,omitempty"`
	CS     int64      `json:"cs,omitempty"` // the span whose items have been listed
	CE     int64      `json:"ce,omitempty"`
	Slices [][2]int64 `json:"sl,omitempty"` // supp: spans still to read, the first one running
}

const cursorVersion = 1

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.V != cursorVersion {
		return cursor{}, fmt.Errorf("unreadable cursor: %w", sdk.ErrFullSyncRequired)
	}
	switch c.Phase {
	case "", "full", "inc", "supp":
	default:
		return cursor{}, fmt.Errorf("unknown cursor phase %q: %w", c.Phase, sdk.ErrFullSyncRequired)
	}
	if c.Phase != "full" && c.Sync == "" {
		return cursor{}, fmt.Errorf("cursor without sync token: %w", sdk.ErrFullSyncRequired)
	}
	return c, nil
}

func unix(t time.Time) int64 { return t.Unix() }
func at(s int64) time.Time   { return time.Unix(s, 0).UTC() }

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ListChanges implements sdk.Provider.
func (p *Provider) ListChanges(ctx context.Context, t sdk.Target, req sdk.ChangesRequest) (sdk.Changes, error) {
	if !req.Window.End.After(req.Window.Start) {
		return sdk.Changes{}, fmt.Errorf("google: list changes: empty window %s..%s: %w", req.Window.Start, req.Window.End, sdk.ErrInvalidArgument)
	}
	c, err := p.connect(t, ScopeEvents)
	if err != nil {
		return sdk.Changes{}, err
	}
	cur := cursor{V: cursorVersion, Phase: "full", WS: unix(req.Window.Start), WE: unix(req.Window.End)}
	if req.Cursor != "" {
		if cur, err = decodeCursor(req.Cursor); err != nil {
			return sdk.Changes{}, fmt.Errorf("google: list changes of %s: %w", c.calendar, err)
		}
	}
	size := int64(2500)
	if req.PageSize > 0 && req.PageSize < 2500 {
		size = int64(req.PageSize)
	}
	l := &listing{c: c, win: req.Window, cur: cur, size: size}
	switch cur.Phase {
	case "full":
		err = l.full(ctx)
	case "", "inc":
		err = l.incremental(ctx)
	case "supp":
		err = l.supplement(ctx)
	}
	if err != nil {
		return sdk.Changes{}, err
	}
	l.out.Cursor = l.cur.encode()
	slices.Sort(l.out.Removed)
	l.out.Removed = slices.Compact(l.out.Removed)
	return l.out, nil
}

// listing is one ListChanges call.
type listing struct {
	c    *conn
	win  sdk.Window
	cur  cursor
	size int64
	out  sdk.Changes
}

func (l *listing) list(ctx context.Context, what string, build func(*calendar.EventsListCall) *calendar.EventsListCall) (*calendar.Events, error) {
	var res *calendar.Events
	err := l.c.do(ctx, what, idempotent, func(ctx context.Context) error {
		call := l.c.svc.Events.List(l.c.calendar).MaxResults(l.size).Context(ctx)
		var err error
		res, err = build(call).Do(googleapi.QuotaUser(l.c.quota))
		return err
	})
	return res, err
}

// full reads one page of the window-bounded first read.
func (l *listing) full(ctx context.Context) error {
	ws, we := at(l.cur.WS), at(l.cur.WE)
	res, err := l.list(ctx, "list "+l.c.calendar, func(call *calendar.EventsListCall) *calendar.EventsListCall {
		call = call.ShowDeleted(true).SingleEvents(false).TimeMin(rfc(ws)).TimeMax(rfc(we))
		if l.cur.Page != "" {
			call = call.PageToken(l.cur.Page)
		}
		return call
	})
	if err != nil {
		return err
	}
	l.out.Full = true
	if err := l.take(ctx, res.Items, false, sdk.Window{Start: ws, End: we}); err != nil {
		return err
	}
	switch {
	case res.NextPageToken != "":
		l.cur.Page = res.NextPageToken
		l.out.More = true
	case res.NextSyncToken != "":
		l.cur = cursor{V: cursorVersion, Sync: res.NextSyncToken, CS: l.cur.WS, CE: l.cur.WE}
	default:
		return fmt.Errorf("google: list %s: the last page has no nextSyncToken: %w", l.c.calendar, sdk.ErrInvalidArgument)
	}
	return nil
}

// incremental reads one page of changes since the sync token.
func (l *listing) incremental(ctx context.Context) error {
	res, err := l.list(ctx, "list changes of "+l.c.calendar, func(call *calendar.EventsListCall) *calendar.EventsListCall {
		call = call.SyncToken(l.cur.Sync).ShowDeleted(true).SingleEvents(false)
		if l.cur.Page != "" {
			call = call.PageToken(l.cur.Page)
		}
		return call
	})
	if err != nil {
		return err
	}
	if err := l.take(ctx, res.Items, true, l.win); err != nil {
		return err
	}
	if res.NextPageToken != "" {
		l.cur.Phase, l.cur.Page = "inc", res.NextPageToken
		l.out.More = true
		return nil
	}
	if res.NextSyncToken == "" {
		return fmt.Errorf("google: list changes of %s: the last page has no nextSyncToken: %w", l.c.calendar, sdk.ErrInvalidArgument)
	}
	spans, cs, ce := l.c.p.uncovered(at(l.cur.CS), at(l.cur.CE), l.win)
	l.cur = cursor{V: cursorVersion, Sync: res.NextSyncToken, CS: unix(cs), CE: unix(ce)}
	if len(spans) > 0 {
		l.cur.Phase, l.cur.Slices = "supp", spans
		l.out.More = true
	}
	return nil
}

// uncovered returns the spans of window w that the covered span [cs, ce) lacks,
// and the covered span after they are read. Spans shorter than the window quantum
// wait (their items are listed once the gap grows; a change inside them is reported
// by the sync token anyway).
func (p *Provider) uncovered(cs, ce time.Time, w sdk.Window) ([][2]int64, time.Time, time.Time) {
	q := p.opts.WindowQuantum
	due := func(d time.Duration) bool { return d > 0 && (q < 0 || d >= q) }
	if !w.Start.Before(ce) || !w.End.After(cs) || !ce.After(cs) {
		// Nothing in common: read the whole window.
		return [][2]int64{{unix(w.Start), unix(w.End)}}, w.Start, w.End
	}
	var spans [][2]int64
	ncs, nce := cs, ce
	switch {
	case !w.Start.Before(cs):
		ncs = w.Start // the window's start moved on: nothing new there
	case due(cs.Sub(w.Start)):
		spans = append(spans, [2]int64{unix(w.Start), unix(cs)})
		ncs = w.Start
	}
	switch {
	case !w.End.After(ce):
		nce = w.End
	case due(w.End.Sub(ce)):
		spans = append(spans, [2]int64{unix(ce), unix(w.End)})
		nce = w.End
	}
	return spans, ncs, nce
}

// supplement reads one page of a span that entered the window.
func (l *listing) supplement(ctx context.Context) error {
	if len(l.cur.Slices) == 0 {
		l.cur.Phase = ""
		return nil
	}
	sl := l.cur.Slices[0]
	res, err := l.list(ctx, "list "+l.c.calendar+" (window extension)", func(call *calendar.EventsListCall) *calendar.EventsListCall {
		call = call.SingleEvents(false).TimeMin(rfc(at(sl[0]))).TimeMax(rfc(at(sl[1])))
		if l.cur.Page != "" {
			call = call.PageToken(l.cur.Page)
		}
		return call
	})
	if err != nil {
		return err
	}
	if err := l.take(ctx, res.Items, false, l.win); err != nil {
		return err
	}
	if res.NextPageToken != "" {
		l.cur.Page = res.NextPageToken
		l.out.More = true
		return nil
	}
	l.cur.Page = ""
	l.cur.Slices = l.cur.Slices[1:]
	if len(l.cur.Slices) > 0 {
		l.out.More = true
	} else {
		l.cur.Phase, l.cur.Slices = "", nil
	}
	return nil
}

// take maps one page of items. changes marks an incremental page: every change is
// reported wherever it now lies (the host freezes what left the window) and
// cancelled stubs are removals or cancelled occurrences. Otherwise only live items
// inside w are reported.
func (l *listing) take(ctx context.Context, items []*calendar.Event, changes bool, w sdk.Window) error {
	masters := map[string]*calendar.Event{}
	var refresh []string
	for _, it := range items {
		switch {
		case it.Status == "cancelled":
			if !changes {
				continue
			}
			l.out.Removed = append(l.out.Removed, it.Id)
			if it.RecurringEventId != "" {
				// A cancelled occurrence: its series gains an EXDATE.
				refresh = append(refresh, it.RecurringEventId)
			}
		case len(it.Recurrence) > 0 && it.RecurringEventId == "":
			masters[it.Id] = it
		default:
			ev, err := toEvent(&l.c.p.zones, it, l.c.calendar, nil)
			if err != nil {
				return fmt.Errorf("google: list %s: %w", l.c.calendar, err)
			}
			if changes || inWindow(&l.c.p.zones, ev, w) {
				l.out.Events = append(l.out.Events, ev)
			}
		}
	}
	if len(masters) == 0 && len(refresh) == 0 {
		return nil
	}
	found, gone, err := l.c.readSeries(ctx, masters, refresh)
	if err != nil {
		return fmt.Errorf("google: list %s: %w", l.c.calendar, err)
	}
	if changes {
		l.out.Removed = append(l.out.Removed, gone...)
	}
	ids := make([]string, 0, len(found))
	for id := range found {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		ev, err := found[id].event(&l.c.p.zones, l.c.calendar)
		if err != nil {
			return fmt.Errorf("google: list %s: %w", l.c.calendar, err)
		}
		if changes || inWindow(&l.c.p.zones, ev, w) {
			l.out.Events = append(l.out.Events, ev)
		}
	}
	return nil
}

// inWindow tells whether an item touches the window; a series counts when one of
// its occurrences does, an exception also by its original slot.
func inWindow(z *zones, ev sdk.Event, w sdk.Window) bool {
	switch ev.Kind {
	case sdk.KindMaster:
		set, err := recur.Parse(ev.Recurrence, ev.Start, zoneOf(z, ev.TimeZone), ev.AllDay)
		if err != nil {
			return true // cannot tell: let the host decide
		}
		return set.Overlaps(w.Start, w.End, ev.End.Sub(ev.Start))
	case sdk.KindException:
		if !ev.OriginalStart.IsZero() && w.Contains(ev.OriginalStart, ev.OriginalStart.Add(ev.End.Sub(ev.Start))) {
			return true
		}
	}
	return w.Contains(ev.Start, ev.End)
}
