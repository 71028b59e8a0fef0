package superoffice

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"sync"
	"time"
)

// A round without changes, the usual round, gets the same scan answer as the
// round before, byte for byte. The cursor therefore keeps a digest of that
// answer (when it was one page) and the bounds within which the answer alone
// decides the round: the rows the window keeps and which of them are fresh
// (freshMargin) depend on the window and the clock too, and both move. While
// the window and the clock stay within those bounds, an answer with the same
// digest has the same rows as the cursor's snapshot, and the round skips
// reading it. Anything else (another answer, a window or clock past a bound, a
// cursor without them) reads the answer in full.

// bodyDigest identifies a scan answer read in zone loc (offset-less times
// depend on it): its length and two CRC-32s with different polynomials, which
// the hardware computes at memory speed. The answer holds ids, numbers and
// dates only, written by the service.
func bodyDigest(loc *time.Location, body []byte) []byte {
	zone := []byte(loc.String())
	out := make([]byte, 0, 16)
	out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
	out = binary.BigEndian.AppendUint32(out, crc32.Checksum(zone, crc32.IEEETable)^uint32(len(zone)))
	out = binary.BigEndian.AppendUint32(out, crc32.Update(crc32.Checksum(zone, castagnoli), castagnoli, body))
	out = binary.BigEndian.AppendUint32(out, crc32.Update(crc32.ChecksumIEEE(zone), crc32.IEEETable, body))
	return out
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// scanBounds are the bounds within which the rows of one scan answer keep their
// place: lo < x <= hi for each of the window's start and end (Unix
// nanoseconds, strictly: see within) and for the fresh cut (Unix seconds).
type scanBounds struct {
	StartLo, StartHi int64 // the window's start: StartLo <= start < StartHi
	EndLo, EndHi     int64 // its end: EndLo < end <= EndHi
	FreshLo, FreshHi int64 // the fresh cut: FreshLo < cut <= FreshHi
}

// open are bounds that allow everything.
func openBounds() scanBounds {
	return scanBounds{StartLo: math.MinInt64, StartHi: math.MaxInt64, EndLo: math.MinInt64, EndHi: math.MaxInt64,
		FreshLo: math.MinInt64, FreshHi: math.MaxInt64}
}

// nanos is t in Unix nanoseconds, saturated outside the years 1678 to 2262.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64+1)):
		return math.MinInt64 + 1
	case t.After(time.Unix(0, math.MaxInt64-1)):
		return math.MaxInt64 - 1
	}
	return t.UnixNano()
}

// window narrows b to the window starts and ends that give row (start, end),
// read as sdk.Window.Contains reads it, the same verdict as w.
func (b *scanBounds) window(w windowNanos, start, end time.Time) {
	s, e := nanos(start), nanos(end)
	// The start: a row is in when start < e, or for a row without length when
	// start <= s, that is start < s+1.
	v := e
	if e <= s {
		v = s + 1
	}
	if v <= w.start {
		b.StartLo = max(b.StartLo, v)
	} else {
		b.StartHi = min(b.StartHi, v)
	}
	// The end: a row is in when s < end.
	if s < w.end {
		b.EndLo = max(b.EndLo, s)
	} else {
		b.EndHi = min(b.EndHi, s)
	}
}

// fresh narrows b to the fresh cuts that give a row changed at ts (Unix
// seconds) the same freshness as cut does (fresh when ts >= cut).
func (b *scanBounds) fresh(cut, ts int64) {
	if ts >= cut {
		b.FreshHi = min(b.FreshHi, ts)
	} else {
		b.FreshLo = max(b.FreshLo, ts)
	}
}

// within says whether a window w and fresh cut give every row the place it had
// when b was taken.
func (b scanBounds) within(w windowNanos, cut int64) bool {
	return b.StartLo <= w.start && w.start < b.StartHi && b.EndLo < w.end && w.end <= b.EndHi &&
		b.FreshLo < cut && cut <= b.FreshHi
}

type windowNanos struct{ start, end int64 }

func windowOf(start, end time.Time) windowNanos {
	return windowNanos{start: nanos(start), end: nanos(end)}
}

// list is b as the cursor keeps it.
func (b scanBounds) list() []int64 {
	return []int64{b.StartLo, b.StartHi, b.EndLo, b.EndHi, b.FreshLo, b.FreshHi}
}

// boundsOf reads what list wrote; anything else allows nothing.
func boundsOf(l []int64) scanBounds {
	if len(l) != 6 {
		return scanBounds{StartLo: math.MaxInt64, StartHi: math.MinInt64}
	}
	return scanBounds{StartLo: l[0], StartHi: l[1], EndLo: l[2], EndHi: l[3], FreshLo: l[4], FreshHi: l[5]}
}

// snapshotIDs keeps, per diary, the ids of the snapshot a round last wrote,
// with the snapshot's sum (snapSum). A round whose scan answered as the last
// one did compares rows created here with those ids (sameAnswer) without
// decompressing its cursor's snapshot; right after an initial sync, when many
// rows created here are remembered, that was most of the round's work.
type snapshotIDs struct {
	mu sync.Mutex
	m  map[int]snapshotIDsEntry
}

type snapshotIDsEntry struct {
	sum []byte
	ids []int // sorted
}

// maxSnapshotIDs bounds the diaries remembered; beyond it the memory starts
// over (the snapshots can be read again).
const maxSnapshotIDs = 5000

// get returns the ids of owner's snapshot whose sum is sum, nil when not kept.
func (c *snapshotIDs) get(owner int, sum []byte) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[owner]
	if !ok || len(sum) == 0 || !bytes.Equal(e.sum, sum) {
		return nil
	}
	return e.ids
}

// put remembers the sorted ids of owner's snapshot with sum sum.
func (c *snapshotIDs) put(owner int, sum []byte, ids []int) {
	if len(sum) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxSnapshotIDs {
		c.m = map[int]snapshotIDsEntry{}
	}
	c.m[owner] = snapshotIDsEntry{sum: sum, ids: ids}
}
