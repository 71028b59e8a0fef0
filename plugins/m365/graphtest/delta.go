package graphtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Delta tokens are opaque to clients; here they carry the round's state, sealed with
// an HMAC so a client cannot forge or edit one:
//
//	U, C   the mailbox and calendar the round belongs to
//	WS, WE the window fixed by the round's first request
//	S      the mailbox change counter the round is based on (0 with I set: initial)
//	T, F   the counter the round reads up to, fixed at its first page (skip tokens)
//	K      the sort key of the last item handed out (skip tokens only)
//	E      the epoch: /_emulator/faults {"expire_cursors":true} bumps it, and every
//	       older token answers 410 SyncStateNotFound
type deltaState struct {
	U  string `json:"u"`
	C  string `json:"c"`
	WS int64  `json:"ws"`
	WE int64  `json:"we"`
	S  uint64 `json:"s"`
	T  uint64 `json:"t,omitempty"`
	F  bool   `json:"f,omitempty"` // T is fixed (the round has begun)
	K  string `json:"k,omitempty"`
	E  uint64 `json:"e"`
	I  bool   `json:"i,omitempty"`
}

func (s *Server) sealToken(st deltaState) string {
	b, _ := json.Marshal(st)
	m := hmac.New(sha256.New, append([]byte("delta"), s.salt...))
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

func (s *Server) openToken(tok string) (deltaState, bool) {
	var st deltaState
	body, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return st, false
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return st, false
	}
	m := hmac.New(sha256.New, append([]byte("delta"), s.salt...))
	m.Write(b)
	want := base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return st, false
	}
	return st, json.Unmarshal(b, &st) == nil
}

func syncStateGone(st deltaState) *apiError {
	return errf(http.StatusGone, "SyncStateNotFound", "The sync state generation is not found; generation=%d;[highest=%d].", st.S, st.S+1)
}

// deltaItem is one entry of a round, rendered when its page is served.
type deltaItem struct {
	key    string
	view   *eventView // full item or stub
	stub   bool
	master bool
	remove itemRef
	owner  *user
}

func (s *Server) handleDelta(rc *reqCtx, sc scope) (int, any, *apiError) {
	q := rc.query
	for _, p := range []string{"$select", "$expand", "$filter", "$orderby", "$search", "$top"} {
		if q.Has(p) {
			return 0, nil, errf(http.StatusBadRequest, "ErrorInvalidUrlQuery", "The following parameters are not supported with change tracking over the 'CalendarView' resource: '$orderby, $filter, $select, $expand, $search, $top'.")
		}
	}
	cal := sc.cal
	var st deltaState
	switch {
	case q.Get("$deltatoken") != "" || q.Get("$skiptoken") != "":
		tok := q.Get("$deltatoken")
		if tok == "" {
			tok = q.Get("$skiptoken")
		}
		var ok bool
		st, ok = s.openToken(tok)
		if !ok {
			return 0, nil, errf(http.StatusBadRequest, "ErrorInvalidSyncStateData", "The sync state data is corrupt or otherwise invalid.")
		}
		if st.U != sc.u.ID || st.C != cal.id {
			return 0, nil, errf(http.StatusBadRequest, "ErrorInvalidSyncStateData", "The sync state does not belong to this calendar view.")
		}
		if st.E != s.epoch || (!st.I && st.S < cal.minSeq) {
			return 0, nil, syncStateGone(st)
		}
		if q.Get("$deltatoken") != "" {
			st.T, st.F, st.K = 0, false, ""
		}
	default:
		from, to, err := windowParams(rc)
		if err != nil {
			return 0, nil, err
		}
		st = deltaState{U: sc.u.ID, C: cal.id, WS: from.Unix(), WE: to.Unix(), E: s.epoch, I: true}
	}
	if !st.F {
		st.T, st.F = sc.u.seq, true // a new round reads up to now
	}
	from, to := time.Unix(st.WS, 0).UTC(), time.Unix(st.WE, 0).UTC()
	items := s.deltaItems(cal, from, to, st)

	size := 10
	if rc.prefer.maxPageSize > 0 {
		size = min(rc.prefer.maxPageSize, 1000)
	}
	start, _ := slices.BinarySearchFunc(items, st.K, func(it deltaItem, k string) int { return strings.Compare(it.key, k) })
	if start < len(items) && items[start].key == st.K {
		start++
	}
	var page []deltaItem
	empty := s.faults.EmptyPages > 0 && s.rng.Float64() < s.faults.EmptyPages
	if !empty {
		end := min(start+size, len(items))
		page = items[start:end]
		if st.K != "" && s.faults.Replay > 0 && s.rng.Float64() < s.faults.Replay {
			if i, found := slices.BinarySearchFunc(items, st.K, func(it deltaItem, k string) int { return strings.Compare(it.key, k) }); found {
				page = append([]deltaItem{items[i]}, page...) // the service repeats itself
			}
		}
	}
	vals := make([]any, 0, len(page))
	for _, it := range page {
		switch {
		case it.view == nil:
			vals = append(vals, jsonRemoved{ODataType: "#microsoft.graph.event", ID: s.itemID(rc, it.remove, it.owner), Removed: map[string]string{"reason": "deleted"}})
		case it.stub:
			vals = append(vals, s.renderStub(rc, it.view))
		default:
			j := s.render(rc, it.view, expandSpec{})
			j.ODataType = "#microsoft.graph.event"
			vals = append(vals, j)
		}
	}
	link := rc.base + strings.TrimSuffix(strings.TrimSuffix(rc.path, "()"), ".microsoft.graph.delta") + "?"
	if strings.HasSuffix(rc.path, "microsoft.graph.delta()") {
		link = rc.base + strings.TrimSuffix(rc.path, "microsoft.graph.delta()") + "delta?"
	}
	out := map[string]any{"@odata.context": rc.base + "/v1.0/$metadata#Collection(event)", "value": vals}
	consumed := start + len(page)
	if empty || consumed < len(items) {
		next := st
		if len(page) > 0 {
			next.K = page[len(page)-1].key
		}
		out["@odata.nextLink"] = link + "$skiptoken=" + s.sealToken(next)
	} else {
		next := deltaState{U: st.U, C: st.C, WS: st.WS, WE: st.WE, S: st.T, E: st.E}
		out["@odata.deltaLink"] = link + "$deltatoken=" + s.sealToken(next)
	}
	return http.StatusOK, out, nil
}

// deltaItems lists a round's entries in a stable order: an initial round gives every
// item of the window as of T; a later one what changed in (S, T]. Changes outside the
// window come as removals, as the real service reports them.
func (s *Server) deltaItems(cal *calendar, from, to time.Time, st deltaState) []deltaItem {
	owner := cal.owner
	var items []deltaItem
	key := func(seq uint64, ref itemRef) string {
		id := s.encodeItemID(ref, true, 0)
		if st.I {
			return id
		}
		return fmt.Sprintf("%020d|%s", seq, id)
	}
	removed := func(seq uint64, ref itemRef) {
		items = append(items, deltaItem{key: key(seq, ref), remove: ref, owner: owner})
	}
	for _, e := range cal.events {
		if e.seq > st.T || !st.I && e.seq <= st.S {
			continue
		}
		if e.typ != "seriesMaster" {
			if overlaps(e.start, e.end, from, to) {
				v := viewOf(e)
				items = append(items, deltaItem{key: key(e.seq, v.ref()), view: v, owner: owner})
			} else if !st.I {
				removed(e.seq, itemRef{key: e.key})
			}
			continue
		}
		inst := e.instances(from, to)
		if len(inst) == 0 && !st.I {
			removed(e.seq, itemRef{key: e.key})
		}
		for _, v := range inst {
			items = append(items, deltaItem{key: key(e.seq, v.ref()), view: v, stub: v.occ, owner: owner})
		}
		if s.opts.DeltaIncludesMasters && len(inst) > 0 {
			v := viewOf(e)
			items = append(items, deltaItem{key: key(e.seq, v.ref()), view: v, master: true, owner: owner})
		}
		if !st.I {
			for u, seq := range e.cancelledOcc {
				t := time.Unix(u, 0).UTC()
				if seq > st.S && seq <= st.T && overlaps(t, t.Add(e.end.Sub(e.start)), from, to) {
					removed(seq, itemRef{key: e.key, occ: u})
				}
			}
		}
	}
	if !st.I {
		for _, tb := range cal.tombs {
			if tb.seq <= st.S || tb.seq > st.T {
				continue
			}
			removed(tb.seq, tb.ref)
			if tb.ev != nil && tb.ev.typ == "seriesMaster" {
				for _, v := range tb.ev.instances(from, to) {
					removed(tb.seq, v.ref())
				}
			}
		}
	}
	slices.SortFunc(items, func(a, b deltaItem) int { return strings.Compare(a.key, b.key) })
	return slices.CompactFunc(items, func(a, b deltaItem) bool { return a.key == b.key })
}
