package superoffice

import (
	"bytes"
	"cmp"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice/internal/wire"
)

// Change detection. SuperOffice has no change feed and no deletion feed: the
// OData search can only say which rows exist and when each last changed. So a
// round scans the window's ids with their last change (updatedDate is empty until
// a row's first change, hence max(updatedDate, registeredDate)), compares them
// with the snapshot kept in the cursor, and reads only the rows that are new or
// changed. Rows that vanished are reported as Removed (deletion candidates the
// host confirms with Get). A round without changes costs one scan request (per
// scanPage rows in the window).
//
// The cursor is opaque and self-contained: the window, the tenant's version
// (a restored or rebuilt tenant database shows as a new version and forces a full
// read), the time of the last full read (cursor_max_age forces a periodic full
// read, a reconcile that catches what timestamps cannot), and the snapshot, delta
// encoded and compressed. While a round has more pages it also carries the work
// left.

// scanRow is one row of the scan.
type scanRow struct {
	id, rule   int
	typ        int
	status     int
	start, end time.Time
	registered time.Time
	updated    time.Time
}

func (s scanRow) ts() time.Time {
	if s.updated.After(s.registered) {
		return s.updated
	}
	return s.registered
}

// freshMargin: a row whose last change is this recent when a round scans it is
// fresh, marked so in the snapshot (a negative timestamp), and the first round
// after the margin has passed reads it once more. Timestamps have whole
// seconds, so a second change in the same second as the one a round saw would
// otherwise look like no change at all; the margin also covers a service clock
// a little ahead of ours.
const freshMargin = 5 * time.Second

const scanColumns = "appointmentId,recurrenceRuleId,rawType,rawStatus,date,endDate,updatedDate,registeredDate"

// odataTime writes a filter literal: requests carry SO-TimeZone UTC, so literals
// are UTC wall clock [inferred].
func odataTime(t time.Time) string { return "'" + t.UTC().Format("2006-01-02T15:04:05") + "'" }

// scan lists the diary rows of owner matching extra, inside window when given,
// by appointment id, paging by id.
func (in *instance) scan(ctx context.Context, t sdk.Target, owner int, extra string, window *sdk.Window) ([]scanRow, error) {
	res, err := in.scanDiary(ctx, t, owner, extra, window, nil)
	return res.rows, err
}

// scanResult is what scanDiary found.
type scanResult struct {
	rows []scanRow
	// digest identifies the answer when it was one page (bodyDigest), else nil.
	digest []byte
	// same: the answer's digest was the one to skip; rows were not read.
	same bool
	// bounds: the window starts and ends that keep the same rows (scanBounds;
	// the fresh cut is left open), when a window was given.
	bounds scanBounds
}

// scanDiary is scan, and when the answer is one page whose digest is skip, it
// reads no rows and says so (same).
func (in *instance) scanDiary(ctx context.Context, t sdk.Target, owner int, extra string, window *sdk.Window, skip []byte) (scanResult, error) {
	res := scanResult{bounds: openBounds()}
	loc, _, err := in.location(ctx, t)
	if err != nil {
		return res, err
	}
	terms := extra
	if window != nil {
		// Widened by a day: the exact overlap is checked here, so a server that reads
		// the literals in another zone loses nothing.
		w := "date beforeTime " + odataTime(window.End.Add(24*time.Hour)) + " and endDate afterTime " + odataTime(window.Start.Add(-24*time.Hour))
		if terms != "" {
			terms += " and " + w
		} else {
			terms = w
		}
	}
	var out []scanRow
	last := 0
	for page := 0; ; page++ {
		if page > 100000 {
			return res, fmt.Errorf("scan of diary %d does not end", owner)
		}
		f := terms
		if last > 0 {
			f += " and appointmentId gt " + strconv.Itoa(last)
		}
		q := url.Values{"$select": {scanColumns}, "$filter": {scanFilter(owner, f)}, "$orderBy": {"appointmentId"},
			"$top": {strconv.Itoa(in.scanPage)}, "$output": {"Logical"}}
		pg := scanPage{loc: loc, rows: &out}
		if page == 0 {
			pg.skip = skip
		}
		before := len(out)
		if _, err := in.get(ctx, t, "/v1/Appointment", q, &pg); err != nil {
			return res, fmt.Errorf("scan diary %d: %w", owner, err)
		}
		if pg.same {
			res.digest, res.same = pg.digest, true
			return res, nil
		}
		res.digest = pg.digest
		if page > 0 {
			res.digest = nil
		}
		// A server that pages by itself answers fewer rows with a next link; the
		// keyset continuation covers both cases.
		if len(out) == before || (pg.count < in.scanPage && !pg.more) {
			break
		}
		next := out[len(out)-1].id
		if next <= last {
			return res, fmt.Errorf("scan diary %d: rows are not ordered by appointmentId", owner)
		}
		last = next
	}
	var w windowNanos
	if window != nil {
		w = windowOf(window.Start, window.End)
	}
	kept := out[:0]
	for _, r := range out {
		if r.typ != wire.TypeInDiary && r.typ != wire.TypeBookingForDiary {
			continue
		}
		if r.status == wire.StatusHidden {
			continue
		}
		if window != nil {
			res.bounds.window(w, r.start, r.end)
			if !window.Contains(r.start, r.end) {
				continue
			}
		}
		kept = append(kept, r)
	}
	res.rows = kept
	return res, nil
}

// cursor is the state ListChanges hands out.
type cursor struct {
	V       int    `json:"v"`
	Acct    string `json:"a"`
	WS      int64  `json:"ws"`
	WE      int64  `json:"we"`
	Epoch   string `json:"ep,omitempty"`
	FullAt  int64  `json:"fa"`
	Snap    []byte `json:"s,omitempty"`
	Pending []byte `json:"p,omitempty"`
	Full    bool   `json:"f,omitempty"`
	// Sum identifies the snapshot as written before compression (snapSum): a
	// round whose scan gives the same sum, with the same Gone, changed nothing.
	// Cursors without it are compared entry by entry.
	Sum []byte `json:"h,omitempty"`
	// Body and Keep let a round skip reading an answer it has seen
	// (scanskip.go): the digest of the scan's answer when it was one page, and
	// the bounds (scanBounds, in field order) within which it gives Snap.
	Body []byte  `json:"b,omitempty"`
	Keep []int64 `json:"k,omitempty"`
	// Gone are the rows created here that this cursor already reported
	// removed without ever having them in a snapshot (created.go).
	Gone []int `json:"g,omitempty"`
}

// snapEntry is one row of the snapshot.
type snapEntry struct {
	id, rule int
	ts       int64
}

// workItem is one thing a round still has to read: a single row or a series.
type workItem struct {
	id, rule   int
	start, end int64
	ts         int64 // the row's last change, as scanned
}

func encodeCursor(c *cursor) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func decodeCursor(s string) (*cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	if c.V != 1 {
		return nil, fmt.Errorf("cursor version %d", c.V)
	}
	return &c, nil
}

// compress deflates raw with a compressor from pool: a new one allocates about
// a megabyte, and every round of every link compresses its snapshot.
func compress(pool *sync.Pool, raw []byte) []byte {
	var buf bytes.Buffer
	w, _ := pool.Get().(*flate.Writer)
	if w == nil {
		w, _ = flate.NewWriter(&buf, flate.BestSpeed)
	} else {
		w.Reset(&buf)
	}
	_, _ = w.Write(raw)
	_ = w.Close()
	pool.Put(w)
	return buf.Bytes()
}

func decompress(b []byte) ([]byte, error) {
	return io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(b)), 512<<20))
}

// snapBytes writes a snapshot before compression, sorting it by id.
func snapBytes(es []snapEntry) []byte {
	slices.SortFunc(es, func(a, b snapEntry) int { return cmp.Compare(a.id, b.id) })
	buf := binary.AppendUvarint(make([]byte, 0, 8+len(es)*10), uint64(len(es)))
	prev := 0
	for _, e := range es {
		buf = binary.AppendUvarint(buf, uint64(e.id-prev))
		buf = binary.AppendUvarint(buf, uint64(e.rule))
		buf = binary.AppendVarint(buf, e.ts)
		prev = e.id
	}
	return buf
}

// snapSum identifies a snapshot written by snapBytes.
func snapSum(raw []byte) []byte {
	sum := sha256.Sum256(raw)
	return sum[:16]
}

// decodeSnap reads a compressed snapshot; it also returns it as snapBytes
// wrote it.
func decodeSnap(b []byte) ([]snapEntry, []byte, error) {
	raw, err := decompress(b)
	if err != nil {
		return nil, nil, err
	}
	es, err := parseSnap(raw)
	return es, raw, err
}

func parseSnap(raw []byte) ([]snapEntry, error) {
	rd := bytes.NewReader(raw)
	n, err := binary.ReadUvarint(rd)
	if err != nil || n > 50_000_000 {
		return nil, fmt.Errorf("bad snapshot")
	}
	out := make([]snapEntry, 0, n)
	prev := 0
	for i := uint64(0); i < n; i++ {
		d, err1 := binary.ReadUvarint(rd)
		r, err2 := binary.ReadUvarint(rd)
		ts, err3 := binary.ReadVarint(rd)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("bad snapshot: %w", err)
		}
		prev += int(d)
		out = append(out, snapEntry{id: prev, rule: int(r), ts: ts})
	}
	return out, nil
}

func encodeWork(pool *sync.Pool, ws []workItem) []byte {
	buf := binary.AppendUvarint(nil, uint64(len(ws)))
	for _, w := range ws {
		buf = binary.AppendUvarint(buf, uint64(w.id))
		buf = binary.AppendUvarint(buf, uint64(w.rule))
		buf = binary.AppendVarint(buf, w.start)
		buf = binary.AppendVarint(buf, w.end)
		buf = binary.AppendVarint(buf, w.ts)
	}
	return compress(pool, buf)
}

func decodeWork(b []byte) ([]workItem, error) {
	raw, err := decompress(b)
	if err != nil {
		return nil, err
	}
	rd := bytes.NewReader(raw)
	n, err := binary.ReadUvarint(rd)
	if err != nil || n > 50_000_000 {
		return nil, fmt.Errorf("bad work list")
	}
	out := make([]workItem, 0, n)
	for i := uint64(0); i < n; i++ {
		id, e1 := binary.ReadUvarint(rd)
		rule, e2 := binary.ReadUvarint(rd)
		s, e3 := binary.ReadVarint(rd)
		e, e4 := binary.ReadVarint(rd)
		ts, e5 := binary.ReadVarint(rd)
		if err := errors.Join(e1, e2, e3, e4, e5); err != nil {
			return nil, fmt.Errorf("bad work list: %w", err)
		}
		out = append(out, workItem{id: int(id), rule: int(rule), start: s, end: e, ts: ts})
	}
	return out, nil
}

func accountID(t sdk.Target) (int, error) {
	id, err := strconv.Atoi(t.Account)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("account %q is not a SuperOffice associate id (use LookupAccount): %w", t.Account, sdk.ErrInvalidArgument)
	}
	return id, nil
}

// ListChanges implements sdk.Provider. Appointments this provider created but
// could not mark nor remove (orphans.go) are left out.
func (p *Provider) ListChanges(ctx context.Context, t sdk.Target, req sdk.ChangesRequest) (sdk.Changes, error) {
	in, err := p.instance(t.Instance)
	if err != nil {
		return sdk.Changes{}, err
	}
	in.reapOrphans(ctx, t)
	ch, err := p.listChanges(ctx, t, req)
	if err != nil {
		return ch, err
	}
	ch.Events = in.withoutOrphans(t.Account, ch.Events)
	return ch, nil
}

func (p *Provider) listChanges(ctx context.Context, t sdk.Target, req sdk.ChangesRequest) (sdk.Changes, error) {
	in, err := p.instance(t.Instance)
	if err != nil {
		return sdk.Changes{}, err
	}
	owner, err := accountID(t)
	if err != nil {
		return sdk.Changes{}, err
	}
	if !req.Window.End.After(req.Window.Start) {
		return sdk.Changes{}, fmt.Errorf("list changes: empty window: %w", sdk.ErrInvalidArgument)
	}
	pageSize := req.PageSize
	if pageSize <= 0 {
		pageSize = defaultPageSize
	}
	var cur *cursor
	if req.Cursor != "" {
		cur, err = decodeCursor(req.Cursor)
		if err != nil || cur.Acct != t.Account {
			return sdk.Changes{}, fmt.Errorf("list changes of %s: unreadable cursor: %w", t.Account, sdk.ErrFullSyncRequired)
		}
		if len(cur.Pending) > 0 {
			work, err := decodeWork(cur.Pending)
			if err != nil {
				return sdk.Changes{}, fmt.Errorf("list changes of %s: unreadable cursor: %w", t.Account, sdk.ErrFullSyncRequired)
			}
			return p.emit(ctx, in, t, owner, cur, work, pageSize, nil)
		}
	}
	epoch, err := in.epoch(ctx, t)
	if err != nil {
		return sdk.Changes{}, fmt.Errorf("list changes of %s: %w", t.Account, err)
	}
	now := in.now()
	if cur != nil {
		if cur.Epoch != epoch {
			in.logger.Info("tenant version changed, reading the diary in full", "account", t.Account, "version", epoch)
			return sdk.Changes{}, fmt.Errorf("list changes of %s: the tenant's database changed (version %s): %w", t.Account, epoch, sdk.ErrFullSyncRequired)
		}
		if in.cursorMaxAge > 0 && now.Sub(time.Unix(cur.FullAt, 0)) > in.cursorMaxAge {
			return sdk.Changes{}, fmt.Errorf("list changes of %s: time for a full read: %w", t.Account, sdk.ErrFullSyncRequired)
		}
	}
	freshCut := now.Add(-freshMargin).Unix()
	var skip []byte
	if cur != nil && len(cur.Body) > 0 && boundsOf(cur.Keep).within(windowOf(req.Window.Start, req.Window.End), freshCut) {
		skip = cur.Body
	}
	res, err := in.scanDiary(ctx, t, owner, "", &req.Window, skip)
	if err != nil {
		return sdk.Changes{}, fmt.Errorf("list changes of %s: %w", t.Account, err)
	}
	if res.same {
		return p.sameAnswer(ctx, in, t, owner, cur, req, now, pageSize)
	}
	rows := res.rows
	snap := make([]snapEntry, len(rows))
	bounds := res.bounds
	for i, r := range rows {
		ts := r.ts().Unix()
		bounds.fresh(freshCut, ts)
		if ts >= freshCut {
			ts = -ts // fresh: see freshMargin
		}
		snap[i] = snapEntry{id: r.id, rule: r.rule, ts: ts}
	}
	keep := bounds.list()
	if res.digest == nil {
		keep = nil
	}
	raw := snapBytes(snap) // sorts snap by id
	sum := snapSum(raw)
	if len(res.digest) > 0 {
		ids := make([]int, len(snap))
		for i, e := range snap {
			ids[i] = e.id
		}
		in.snapIDs.put(owner, sum, ids)
	}
	present := func(id int) bool {
		_, ok := slices.BinarySearchFunc(snap, id, func(e snapEntry, id int) int { return cmp.Compare(e.id, id) })
		return ok
	}
	if cur != nil && bytes.Equal(cur.Sum, sum) {
		// The diary's rows are those of the last round's snapshot: unless rows
		// created here have vanished since (created.go), nothing changed. Its
		// cursor then stays as it is (the snapshot is not compressed again),
		// unless it still says that round was a full read or the answer's digest
		// or bounds have moved.
		if gone := in.created.vanished(owner, now, req.Window, present); slices.Equal(gone, cur.Gone) {
			if !cur.Full && bytes.Equal(cur.Body, res.digest) && slices.Equal(cur.Keep, keep) {
				return sdk.Changes{Cursor: req.Cursor}, nil
			}
			next := *cur
			next.Full, next.Body, next.Keep = false, res.digest, keep
			c, err := encodeCursor(&next)
			return sdk.Changes{Cursor: c}, err
		}
	}
	byID := make(map[int]scanRow, len(rows))
	for _, r := range rows {
		byID[r.id] = r
	}
	next := &cursor{V: 1, Acct: t.Account, WS: req.Window.Start.Unix(), WE: req.Window.End.Unix(), Epoch: epoch,
		FullAt: now.Unix(), Full: cur == nil, Sum: sum, Body: res.digest, Keep: keep}
	var removed []string
	var work []workItem
	rulesSeen := map[int]bool{}
	addRule := func(rule int, start, end int64) {
		if rule != 0 && !rulesSeen[rule] {
			rulesSeen[rule] = true
			work = append(work, workItem{rule: rule, start: start, end: end})
		}
	}
	addRow := func(r scanRow) {
		if r.rule != 0 {
			addRule(r.rule, r.start.Unix(), r.end.Unix())
			return
		}
		work = append(work, workItem{id: r.id, start: r.start.Unix(), end: r.end.Unix(), ts: r.ts().Unix()})
	}
	if cur == nil {
		for _, r := range rows {
			addRow(r)
		}
	} else {
		next.FullAt = cur.FullAt
		old, oldRaw, err := decodeSnap(cur.Snap)
		if err != nil {
			return sdk.Changes{}, fmt.Errorf("list changes of %s: unreadable cursor: %w", t.Account, sdk.ErrFullSyncRequired)
		}
		oldByID := make(map[int]snapEntry, len(old))
		for _, e := range old {
			oldByID[e.id] = e
			if _, ok := byID[e.id]; !ok {
				removed = append(removed, strconv.Itoa(e.id))
				if e.rule != 0 {
					addRule(e.rule, 0, 0)
				}
			}
		}
		// Rows created here after the old snapshot and deleted since (created.go),
		// each reported once per cursor.
		next.Gone = in.created.vanished(owner, now, req.Window, present)
		for _, id := range next.Gone {
			if _, seen := oldByID[id]; !seen && !slices.Contains(cur.Gone, id) {
				removed = append(removed, strconv.Itoa(id))
			}
		}
		for _, r := range rows {
			o, ok := oldByID[r.id]
			ts := r.ts().Unix()
			if ok && o.rule == r.rule && (o.ts == ts || (o.ts == -ts && ts >= freshCut)) {
				// Unchanged; or seen within freshMargin of its change, and still
				// within it: a later round reads it once more.
				continue
			}
			if ok && o.rule != 0 && o.rule != r.rule {
				addRule(o.rule, 0, 0)
			}
			addRow(r)
		}
		if bytes.Equal(oldRaw, raw) {
			next.Snap = cur.Snap // the same snapshot (a cursor without a sum)
		}
	}
	sort.SliceStable(work, func(i, j int) bool { return work[i].start < work[j].start })
	if next.Snap == nil {
		next.Snap = compress(&in.flate, raw)
	}
	return p.emit(ctx, in, t, owner, next, work, pageSize, removed)
}

// sameAnswer ends a round whose scan answered as the last round's did, within
// the bounds of the cursor cur (scanskip.go): the diary's rows are those of its
// snapshot. Only rows created here and deleted since (created.go) can be news.
func (p *Provider) sameAnswer(ctx context.Context, in *instance, t sdk.Target, owner int, cur *cursor, req sdk.ChangesRequest,
	now time.Time, pageSize int) (sdk.Changes, error) {
	ids := in.snapIDs.get(owner, cur.Sum)
	var bad error
	read := ids != nil
	present := func(id int) bool {
		if !read {
			read = true
			snap, _, err := decodeSnap(cur.Snap)
			if err != nil {
				bad = err
				return true
			}
			ids = make([]int, len(snap))
			for i, e := range snap {
				ids[i] = e.id
			}
			in.snapIDs.put(owner, cur.Sum, ids)
		}
		_, ok := slices.BinarySearch(ids, id)
		return ok
	}
	gone := in.created.vanished(owner, now, req.Window, present)
	if bad != nil {
		return sdk.Changes{}, fmt.Errorf("list changes of %s: unreadable cursor: %w", t.Account, sdk.ErrFullSyncRequired)
	}
	if slices.Equal(gone, cur.Gone) && !cur.Full {
		return sdk.Changes{Cursor: req.Cursor}, nil
	}
	next := *cur
	next.Full, next.Gone = false, gone
	var removed []string
	for _, id := range gone {
		if !slices.Contains(cur.Gone, id) {
			removed = append(removed, strconv.Itoa(id))
		}
	}
	return p.emit(ctx, in, t, owner, &next, nil, pageSize, removed)
}

// emit reads and returns the next page of a round's work.
func (p *Provider) emit(ctx context.Context, in *instance, t sdk.Target, owner int, cur *cursor, work []workItem, pageSize int, removed []string) (sdk.Changes, error) {
	n := min(pageSize, len(work))
	page, rest := work[:n], work[n:]
	out := sdk.Changes{Full: cur.Full, Removed: removed}
	var singles []workItem
	for _, w := range page {
		if w.rule == 0 {
			singles = append(singles, w)
			continue
		}
		v, found, err := in.fold(ctx, t, w.rule, owner)
		if err != nil {
			return sdk.Changes{}, fmt.Errorf("list changes of %s: series %d: %w", t.Account, w.rule, err)
		}
		if !found {
			out.Removed = append(out.Removed, masterIDPre+strconv.Itoa(w.rule))
			continue
		}
		if err := in.extendIfDue(ctx, t, v); err != nil {
			in.logger.Warn("could not extend a series", "rule", w.rule, "error", err)
		}
		out.Events = append(out.Events, v.events()...)
	}
	evs, err := in.readSingles(ctx, t, owner, singles)
	if err != nil {
		return sdk.Changes{}, fmt.Errorf("list changes of %s: %w", t.Account, err)
	}
	out.Events = append(out.Events, evs...)
	next := *cur
	next.Pending = nil
	if len(rest) > 0 {
		next.Pending = encodeWork(&in.flate, rest)
		out.More = true
	}
	if out.Cursor, err = encodeCursor(&next); err != nil {
		return sdk.Changes{}, err
	}
	return out, nil
}

// bulkThreshold is the number of rows from which one list read beats reading
// rows one by one; bulkChunk bounds the ids of one list read.
const (
	bulkThreshold = 2
	bulkChunk     = 500
)

// readSingles reads rows that are not part of a series and maps them. Many rows
// come from GetAppointmentList by their ids (the rows wanted and no others, as
// a read of the diary over their time span would give); bookings (which need
// their participants) and rows the list read missed are read one by one.
func (in *instance) readSingles(ctx context.Context, t sdk.Target, owner int, items []workItem) ([]sdk.Event, error) {
	if len(items) == 0 {
		return nil, nil
	}
	loc, zone, err := in.location(ctx, t)
	if err != nil {
		return nil, err
	}
	me, err := in.principal(ctx, t)
	if err != nil {
		return nil, err
	}
	want := map[int]bool{}
	for _, w := range items {
		want[w.id] = true
	}
	got := map[int]*row{}
	var oneByOne []int
	if len(items) >= bulkThreshold {
		ids := make([]int, 0, len(items))
		for _, w := range items {
			ids = append(ids, w.id)
		}
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), bulkChunk)]
			ids = ids[len(chunk):]
			var list appointmentList
			if _, err := in.agent(ctx, t, "Appointment/GetAppointmentList", nil, chunk, &list); err != nil {
				return nil, fmt.Errorf("read %d appointments of diary %d: %w", len(chunk), owner, err)
			}
			for i := range list.rows {
				a := &list.rows[i]
				if !want[a.AppointmentId] || got[a.AppointmentId] != nil {
					continue
				}
				if a.MotherId != 0 {
					continue // a booking: read in full below
				}
				r, err := rowFromSimple(a, scanRow{}, loc)
				if err != nil {
					return nil, err
				}
				got[r.id] = &r
			}
		}
	}
	for _, w := range items {
		if got[w.id] == nil {
			oneByOne = append(oneByOne, w.id)
		}
	}
	for _, id := range oneByOne {
		e, err := in.entity(ctx, t, id)
		if errors.Is(err, sdk.ErrNotFound) {
			continue // deleted since the scan; the next round reports it
		}
		if err != nil {
			return nil, err
		}
		r, err := rowFromEntity(e, loc)
		if err != nil {
			return nil, err
		}
		got[id] = &r
	}
	// The scan's timestamps are the version of rows read from the diary.
	stamp := map[int]workItem{}
	for _, w := range items {
		stamp[w.id] = w
	}
	var out []sdk.Event
	for _, w := range items {
		r := got[w.id]
		if r == nil || r.assoc != owner || !r.inDiary() {
			continue
		}
		if r.rule != 0 {
			continue // became part of a series since the scan; the next round folds it
		}
		if !r.full {
			// The flat carrier lacks the update time; the scan's is the version.
			if ts := time.Unix(stamp[w.id].ts, 0).UTC(); ts.After(r.created) {
				r.updated = ts
			}
		}
		ev := in.toEvent(ctx, t, r, loc, zone)
		if r.regBy == me {
			corr, err := in.rowCorrelation(ctx, t, r.id)
			if err != nil {
				return nil, err
			}
			ev.CorrelationID = corr
		}
		out = append(out, ev)
	}
	return out, nil
}
