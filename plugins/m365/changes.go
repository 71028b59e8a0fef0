package m365

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strings"
	"time"

	"synchronizer/plugins/sdk"
)

var _ sdk.Provider = (*Provider)(nil)

// The change cursor. One round of ListChanges goes through phases:
//
//	base   walk calendarView/delta over the token window to obtain a delta link,
//	       throwing the items away (a full round lists them next; a re-baseline got
//	       them from the old token)
//	list   a full round: list the requested window with calendarView, which can
//	       expand the correlation property
//	delta  follow the delta link's pages (during a re-baseline: the old token's)
//	slice  list the parts of the requested window the previous round did not cover
//	       (the window slid), so items entering it are seen
//	idle   between rounds: Delta holds the link the next round starts from
//
// The token window (WS, WE) is fixed inside a delta token; it starts at the
// requested window's first day and reaches tokenMargin past its end, so the token
// serves for weeks of a sliding window before a re-baseline.
type cursor struct {
	V        int      `json:"v"`
	Target   uint64   `json:"t"`
	Phase    string   `json:"p"`
	Link     string   `json:"l,omitempty"`
	Delta    string   `json:"d,omitempty"`
	Old      string   `json:"o,omitempty"`
	Draining bool     `json:"dr,omitempty"`
	Slices   []string `json:"sl,omitempty"`
	First    bool     `json:"fi,omitempty"`
	WS       int64    `json:"ws"`
	WE       int64    `json:"we"`
	LS       int64    `json:"ls,omitempty"`
	LE       int64    `json:"le,omitempty"`
	Full     bool     `json:"f,omitempty"`
	Seen     []uint64 `json:"s,omitempty"`
}

const (
	cursorPrefix    = "m365.1."
	tokenMargin     = 30 * 24 * time.Hour
	defaultPageSize = 200
	maxPageSize     = 1000
	basePageSize    = 1000
	maxSeen         = 20000
	// maxStepsPerCall bounds the Graph requests one ListChanges call spends walking
	// a baseline before it answers with an empty page and More set.
	maxStepsPerCall = 8
)

func targetHash(t sdk.Target) uint64 {
	h := fnv.New64a()
	h.Write([]byte(t.Instance + "\x00" + strings.ToLower(t.Account) + "\x00" + t.Calendar))
	return h.Sum64()
}

func seriesHash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

func encodeCursor(c *cursor) string {
	b, _ := json.Marshal(c)
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, t sdk.Target) (*cursor, error) {
	body, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: the cursor is not an m365 cursor", sdk.ErrFullSyncRequired)
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: the cursor is damaged", sdk.ErrFullSyncRequired)
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.V != 1 {
		return nil, fmt.Errorf("%w: the cursor is damaged", sdk.ErrFullSyncRequired)
	}
	if c.Target != targetHash(t) {
		return nil, fmt.Errorf("%w: the cursor belongs to another calendar", sdk.ErrFullSyncRequired)
	}
	return &c, nil
}

func tokenWindow(w sdk.Window) (int64, int64) {
	s := w.Start.UTC().Truncate(24 * time.Hour)
	e := w.End.UTC().Truncate(24 * time.Hour).Add(24*time.Hour + tokenMargin)
	return s.Unix(), e.Unix()
}

// listing is one ListChanges call.
type listing struct {
	c    *conn
	req  sdk.ChangesRequest
	cur  *cursor
	size int
	out  sdk.Changes
	seen map[uint64]bool
}

// ListChanges returns one page of changes (see the cursor's phases above).
func (p *Provider) ListChanges(ctx context.Context, t sdk.Target, req sdk.ChangesRequest) (sdk.Changes, error) {
	c, err := p.connect(t)
	if err != nil {
		return sdk.Changes{}, err
	}
	if !req.Window.End.After(req.Window.Start) {
		return sdk.Changes{}, fmt.Errorf("%w: the window must end after it starts", sdk.ErrInvalidArgument)
	}
	size := req.PageSize
	if size <= 0 {
		size = defaultPageSize
	}
	size = min(max(size, 10), maxPageSize)
	var cur *cursor
	if req.Cursor == "" {
		ws, we := tokenWindow(req.Window)
		cur = &cursor{V: 1, Target: targetHash(t), Phase: "base", WS: ws, WE: we, Full: true}
	} else if cur, err = decodeCursor(req.Cursor, t); err != nil {
		return sdk.Changes{}, err
	}
	l := &listing{c: c, req: req, cur: cur, size: size, seen: map[uint64]bool{}}
	for _, h := range cur.Seen {
		l.seen[h] = true
	}
	if err := l.run(ctx); err != nil {
		return sdk.Changes{}, err
	}
	l.cur.Seen = l.cur.Seen[:0]
	for h := range l.seen {
		l.cur.Seen = append(l.cur.Seen, h)
	}
	slices.Sort(l.cur.Seen)
	if len(l.cur.Seen) > maxSeen {
		l.cur.Seen = l.cur.Seen[:maxSeen] // only costs a repeated read of a series
	}
	if l.cur.Phase == "idle" {
		l.cur.Seen = nil
	}
	l.out.Cursor = encodeCursor(l.cur)
	return l.out, nil
}

func (l *listing) deltaStart() string {
	return l.c.calPath + "/calendarView/delta?" + query("startDateTime", graphTime(time.Unix(l.cur.WS, 0)), "endDateTime", graphTime(time.Unix(l.cur.WE, 0)))
}

func (l *listing) viewLink(from, to time.Time) string {
	return l.c.calPath + "/calendarView?" + query("startDateTime", graphTime(from), "endDateTime", graphTime(to), "$expand", expandProps)
}

// slicesFor lists the parts of w that the last round did not cover.
func (l *listing) slicesFor(w sdk.Window) []string {
	var out []string
	if l.cur.LS == 0 && l.cur.LE == 0 {
		return nil
	}
	// Graph takes whole seconds: compare in them, or a window that slid by less
	// than a second would ask for an empty slice (400).
	ws, we := w.Start.Unix(), ceilUnix(w.End)
	if ws < l.cur.LS {
		out = append(out, l.viewLink(time.Unix(ws, 0), time.Unix(min(l.cur.LS, we), 0)))
	}
	if we > l.cur.LE {
		out = append(out, l.viewLink(time.Unix(max(l.cur.LE, ws), 0), time.Unix(we, 0)))
	}
	return out
}

// ceilUnix is t in Unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.After(time.Unix(s, 0)) {
		s++
	}
	return s
}

func (l *listing) finish() {
	c := l.cur
	c.Phase, c.Link, c.Slices, c.Full, c.First, c.Draining = "idle", "", nil, false, false, false
	c.LS, c.LE = l.req.Window.Start.Unix(), ceilUnix(l.req.Window.End)
	l.seen = map[uint64]bool{}
	l.out.More = false
}

func (l *listing) more() { l.out.More = true }

func (l *listing) run(ctx context.Context) error {
	c := l.cur
	l.out.Full = c.Full
	w := l.req.Window
	for steps := 0; ; steps++ {
		switch c.Phase {
		case "idle":
			if w.Start.Unix() < c.WS || w.End.Unix() > c.WE {
				// The window left the token's: a new token, then drain the old one.
				c.Old, c.Delta = c.Delta, ""
				c.WS, c.WE = tokenWindow(w)
				c.Phase, c.Link = "base", ""
			} else {
				c.Phase, c.Link = "delta", c.Delta
			}
			c.Slices = l.slicesFor(w)
			c.First = true
			l.seen = map[uint64]bool{}
		case "base":
			if steps >= maxStepsPerCall {
				l.more()
				return nil
			}
			link := c.Link
			if link == "" {
				link = l.deltaStart()
			}
			var page struct { // the items are not needed: only the links
				NextLink  string `json:"@odata.nextLink"`
				DeltaLink string `json:"@odata.deltaLink"`
			}
			if _, err := l.c.do(ctx, request{method: http.MethodGet, path: link, page: basePageSize, op: "start change tracking"}, &page); err != nil {
				return err
			}
			if page.NextLink != "" {
				next, err := l.c.rel(page.NextLink)
				if err != nil {
					return err
				}
				c.Link = next
				continue
			}
			if page.DeltaLink == "" {
				return fmt.Errorf("start change tracking: Graph gave neither a next nor a delta link")
			}
			d, err := l.c.rel(page.DeltaLink)
			if err != nil {
				return err
			}
			c.Delta = d
			switch {
			case c.Full:
				c.Phase, c.Link = "list", ""
			case c.Old != "":
				c.Phase, c.Link, c.Old, c.Draining = "delta", c.Old, "", true
			default:
				c.Phase, c.Link = "delta", c.Delta
			}
		case "list":
			link := c.Link
			if link == "" {
				link = l.viewLink(w.Start, w.End)
			}
			var page gPage
			if _, err := l.c.do(ctx, request{method: http.MethodGet, path: link, page: l.size, op: "list the calendar"}, &page); err != nil {
				return err
			}
			if err := l.takeListed(ctx, page.Value, nil); err != nil {
				return err
			}
			if page.NextLink != "" {
				next, err := l.c.rel(page.NextLink)
				if err != nil {
					return err
				}
				c.Link = next
				l.more()
				return nil
			}
			l.finish()
			return nil
		case "delta":
			var page, slice gPage
			hasSlice := false
			if c.First && len(c.Slices) > 0 {
				// The round's first delta page and the first slice in one request.
				res, err := l.c.batch(ctx, "read changes", []batchItem{
					{method: http.MethodGet, path: c.Link, page: l.size},
					{method: http.MethodGet, path: c.Slices[0], page: l.size},
				})
				if err != nil {
					return err
				}
				for i, r := range res {
					if r.err != nil {
						return l.deltaErr(fmt.Errorf("read changes: %w", r.err))
					}
					dst := &page
					if i == 1 {
						dst = &slice
					}
					if err := json.Unmarshal(r.body, dst); err != nil {
						return fmt.Errorf("read changes: decode: %w", err)
					}
				}
				hasSlice = true
			} else if _, err := l.c.do(ctx, request{method: http.MethodGet, path: c.Link, page: l.size, op: "read changes"}, &page); err != nil {
				return l.deltaErr(err)
			}
			c.First = false
			if err := l.takeDelta(ctx, page.Value); err != nil {
				return err
			}
			if hasSlice {
				if err := l.takeSlice(ctx, slice); err != nil {
					return err
				}
			}
			if page.NextLink != "" {
				next, err := l.c.rel(page.NextLink)
				if err != nil {
					return err
				}
				c.Link = next
				l.more()
				return nil
			}
			if page.DeltaLink == "" {
				return fmt.Errorf("read changes: Graph gave neither a next nor a delta link")
			}
			if !c.Draining {
				d, err := l.c.rel(page.DeltaLink)
				if err != nil {
					return err
				}
				c.Delta = d
			}
			c.Draining = false
			if len(c.Slices) > 0 {
				c.Phase = "slice"
				l.more()
				return nil
			}
			l.finish()
			return nil
		case "slice":
			if len(c.Slices) == 0 {
				l.finish()
				return nil
			}
			var page gPage
			if _, err := l.c.do(ctx, request{method: http.MethodGet, path: c.Slices[0], page: l.size, op: "list the window's new part"}, &page); err != nil {
				return err
			}
			if err := l.takeSlice(ctx, page); err != nil {
				return err
			}
			if len(c.Slices) > 0 {
				l.more()
				return nil
			}
			l.finish()
			return nil
		default:
			return fmt.Errorf("%w: the cursor is in an unknown phase %q", sdk.ErrFullSyncRequired, c.Phase)
		}
	}
}

// deltaErr turns the end of a delta token's life into ErrFullSyncRequired, whatever
// the exact answer (410 SyncStateNotFound, resyncRequired, an invalid token).
func (l *listing) deltaErr(err error) error {
	var ge *GraphError
	if errors.As(err, &ge) && (ge.Status == http.StatusGone || strings.Contains(strings.ToLower(ge.Code), "syncstate") || strings.EqualFold(ge.Code, "resyncRequired")) {
		return fmt.Errorf("%w: %w", sdk.ErrFullSyncRequired, err)
	}
	return err
}

// takeSlice handles a page of the first pending slice and moves that slice on.
func (l *listing) takeSlice(ctx context.Context, page gPage) error {
	if err := l.takeListed(ctx, page.Value, l.previous()); err != nil {
		return err
	}
	c := l.cur
	c.Slices = c.Slices[1:]
	if page.NextLink != "" {
		next, err := l.c.rel(page.NextLink)
		if err != nil {
			return err
		}
		c.Slices = append([]string{next}, c.Slices...)
	}
	return nil
}

// takeListed handles calendarView items (full, with the properties expanded):
// singles are reported as they are, occurrences and exceptions through their series.
func (l *listing) takeListed(ctx context.Context, raw []json.RawMessage, before *sdk.Window) error {
	var masters []string
	for _, r := range raw {
		var g gEvent
		if err := json.Unmarshal(r, &g); err != nil {
			return fmt.Errorf("decode a calendar item: %w", err)
		}
		switch g.Type {
		case "singleInstance", "":
			if before != nil {
				// A slice repeats what straddles its edge; the last round had it.
				if s, err1 := parseDTZ(g.Start); err1 == nil {
					if e, err2 := parseDTZ(g.End); err2 == nil && before.Contains(allDayAware(&g, s), allDayAware(&g, e)) {
						continue
					}
				}
			}
			if err := l.addSingle(&g, false); err != nil {
				return err
			}
		case "occurrence", "exception":
			masters = append(masters, g.SeriesMasterID)
		case "seriesMaster":
			masters = append(masters, g.ID)
		}
	}
	return l.addSeries(ctx, masters, false)
}

func allDayAware(g *gEvent, t time.Time) time.Time {
	if g.IsAllDay {
		return dateOf(t)
	}
	return t
}

// previous is the window the last finished round covered, nil before the first.
func (l *listing) previous() *sdk.Window {
	if l.cur.LS == 0 && l.cur.LE == 0 {
		return nil
	}
	return &sdk.Window{Start: time.Unix(l.cur.LS, 0), End: time.Unix(l.cur.LE, 0)}
}

// addSingle reports a single. A listing reports what lies in the window; a known
// change is reported wherever the item now is, so the host learns that an item it
// holds moved out of the window (it freezes it) instead of keeping the old times.
func (l *listing) addSingle(g *gEvent, changed bool) error {
	ev, err := toEvent(g, "")
	if err != nil {
		return err
	}
	if changed || l.req.Window.Contains(ev.Start, ev.End) {
		l.out.Events = append(l.out.Events, ev)
	}
	return nil
}

// takeDelta handles a delta page: full items lack the correlation property and
// removals may be changes outside the window, so both are read again in a batch;
// occurrence stubs and exceptions lead to their series.
func (l *listing) takeDelta(ctx context.Context, raw []json.RawMessage) error {
	var reread, masters []string
	removal := map[string]bool{}
	for _, r := range raw {
		var g gEvent
		if err := json.Unmarshal(r, &g); err != nil {
			return fmt.Errorf("decode a change: %w", err)
		}
		switch {
		case g.Removed != nil:
			reread = append(reread, g.ID)
			removal[g.ID] = true
		case g.Type == "occurrence" || g.Type == "exception":
			masters = append(masters, g.SeriesMasterID)
		case g.Type == "seriesMaster":
			masters = append(masters, g.ID)
		default:
			reread = append(reread, g.ID)
		}
	}
	slices.Sort(reread)
	reread = slices.Compact(reread)
	items := make([]batchItem, len(reread))
	for i, id := range reread {
		items[i] = batchItem{method: http.MethodGet, path: l.c.eventPath(id) + "?" + query("$expand", expandProps)}
	}
	res, err := l.c.batch(ctx, "read changed items", items)
	if err != nil {
		return err
	}
	for i, r := range res {
		id := reread[i]
		if r.err != nil {
			if errors.Is(r.err, sdk.ErrNotFound) {
				l.out.Removed = append(l.out.Removed, id)
				continue
			}
			return fmt.Errorf("read changed item %s: %w", id, r.err)
		}
		var g gEvent
		if err := json.Unmarshal(r.body, &g); err != nil {
			return fmt.Errorf("read changed item %s: decode: %w", id, err)
		}
		switch g.Type {
		case "occurrence", "exception":
			masters = append(masters, g.SeriesMasterID)
		case "seriesMaster":
			masters = append(masters, g.ID)
		default:
			if err := l.addSingle(&g, true); err != nil {
				return err
			}
		}
	}
	return l.addSeries(ctx, masters, true)
}

// addSeries reads each series once per round and reports its master and exceptions
// (a changed series also when it left the window, see addSingle).
func (l *listing) addSeries(ctx context.Context, ids []string, changed bool) error {
	var todo []string
	for _, id := range ids {
		if id == "" {
			continue
		}
		h := seriesHash(id)
		if l.seen[h] {
			continue
		}
		l.seen[h] = true
		todo = append(todo, id)
	}
	if len(todo) == 0 {
		return nil
	}
	found, singles, gone, err := l.c.readSeries(ctx, todo, l.req.Window)
	if err != nil {
		return err
	}
	l.out.Removed = append(l.out.Removed, gone...)
	for _, g := range singles {
		if err := l.addSingle(g, changed); err != nil {
			return err
		}
	}
	for _, s := range found {
		evs, in, err := s.events(l.req.Window)
		if err != nil {
			return err
		}
		if in || changed {
			l.out.Events = append(l.out.Events, evs...)
		}
	}
	return nil
}
