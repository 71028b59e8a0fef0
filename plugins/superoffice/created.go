package superoffice

import (
	"slices"
	"sync"
	"time"

	"synchronizer/plugins/sdk"
)

// Rows this process created, remembered for a while per diary.
//
// A round finds deletions by comparing the diary's rows with the snapshot in
// its cursor (changes.go). A row created after that snapshot and deleted before
// the next round is in neither, so the comparison alone never reports it; yet
// the host has it paired with the item it copies, and the deletion must reach
// that item. So a round also reports, as deletion candidates, the rows created
// here lately that are in neither the snapshot nor the diary. The host confirms
// every candidate with Get and ignores ids it has not paired, so a candidate
// reported again, or to the other link of the same diary, costs nothing.
// Entries go after createdTTL (the host's periodic full read, default every few
// hours, catches what a restart of this process forgot) and beyond
// maxCreatedRows the oldest go first.
const (
	createdTTL     = time.Hour
	maxCreatedRows = 100000
)

type createdRow struct {
	id         int
	at         time.Time
	start, end time.Time
}

type createdLog struct {
	mu      sync.Mutex
	byOwner map[int][]createdRow // oldest first
	n       int
}

// add remembers that the row id was created in owner's diary at at.
func (l *createdLog) add(owner, id int, at, start, end time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byOwner == nil {
		l.byOwner = map[int][]createdRow{}
	}
	l.byOwner[owner] = append(l.byOwner[owner], createdRow{id: id, at: at, start: start, end: end})
	l.n++
	if l.n > maxCreatedRows {
		l.pruneLocked(time.Time{}, true)
	}
}

// pruneLocked drops the entries older than createdTTL before now, or, when
// over the cap, the oldest tenth.
func (l *createdLog) pruneLocked(now time.Time, overCap bool) {
	cut := now.Add(-createdTTL)
	if overCap {
		ats := make([]time.Time, 0, l.n)
		for _, rows := range l.byOwner {
			for _, r := range rows {
				ats = append(ats, r.at)
			}
		}
		slices.SortFunc(ats, time.Time.Compare)
		cut = ats[len(ats)/10].Add(time.Nanosecond)
	}
	for owner, rows := range l.byOwner {
		i := 0
		for i < len(rows) && rows[i].at.Before(cut) {
			i++
		}
		l.n -= i
		if i == len(rows) {
			delete(l.byOwner, owner)
		} else if i > 0 {
			l.byOwner[owner] = append([]createdRow(nil), rows[i:]...)
		}
	}
}

// vanished returns the rows created lately in owner's diary, inside window,
// that are not among the rows now.
func (l *createdLog) vanished(owner int, now time.Time, window sdk.Window, present func(id int) bool) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(now, false)
	var out []int
	for _, r := range l.byOwner[owner] {
		if window.Contains(r.start, r.end) && !present(r.id) {
			out = append(out, r.id)
		}
	}
	return out
}
