package superoffice

import (
	"context"
	"errors"
	"sort"
	"strconv"

	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice/internal/wire"
)

// Orphans. A create in SuperOffice takes two writes: the appointment, then the
// correlation mark (a ForeignApp key). When the mark cannot be written, the new
// appointment is deleted again — an unmarked copy would come back as a second
// copy after a retry. When that delete fails too, the appointment is an orphan:
// the provider keeps it out of every listing of its diary and tries the delete
// again on each later call for that diary, so the sync never sees it as a new
// item. (An orphan outlives neither the plugin process nor maxOrphans others.)

// maxOrphans bounds the orphans an instance remembers.
const maxOrphans = 1000

// orphan is a created appointment (or series) that could not be marked.
type orphan struct {
	account string // the diary
	id      string // event id as listed: "123", or "R12" for a series
	row     int    // the row to delete
	mode    string // OnlyThis, or ThisAndForward for a series
}

func orphanKey(account, id string) string { return account + "\x00" + id }

// addOrphan remembers an appointment whose delete failed.
func (in *instance) addOrphan(o orphan) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.orphans == nil {
		in.orphans = map[string]orphan{}
	}
	if len(in.orphans) >= maxOrphans {
		in.logger.Error("too many unmarked appointments to remember; one may be synced as new", "appointment", o.row)
		return
	}
	in.orphans[orphanKey(o.account, o.id)] = o
}

// reapOrphans tries again to delete the orphans of t's diary.
func (in *instance) reapOrphans(ctx context.Context, t sdk.Target) {
	in.mu.Lock()
	var todo []orphan
	for _, o := range in.orphans {
		if o.account == t.Account {
			todo = append(todo, o)
		}
	}
	in.mu.Unlock()
	sort.Slice(todo, func(i, j int) bool { return todo[i].row < todo[j].row })
	for _, o := range todo {
		_, err := in.agent(ctx, t, "Appointment/Delete", nil, wire.DeleteRequest{AppointmentId: wire.FlexInt(o.row), UpdateMode: o.mode}, nil)
		if err != nil && !errors.Is(err, sdk.ErrNotFound) {
			in.logger.Warn("an unmarked appointment could not be removed yet", "appointment", o.row, "error", err)
			continue
		}
		in.mu.Lock()
		delete(in.orphans, orphanKey(o.account, o.id))
		in.mu.Unlock()
	}
}

// withoutOrphans drops the orphans of account from evs (and their exceptions).
func (in *instance) withoutOrphans(account string, evs []sdk.Event) []sdk.Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.orphans) == 0 {
		return evs
	}
	out := evs[:0]
	for _, ev := range evs {
		_, gone := in.orphans[orphanKey(account, ev.ID)]
		if !gone && ev.SeriesID != "" {
			_, gone = in.orphans[orphanKey(account, ev.SeriesID)]
		}
		if !gone {
			out = append(out, ev)
		}
	}
	return out
}

func rowOrphan(account string, row int) orphan {
	return orphan{account: account, id: strconv.Itoa(row), row: row, mode: "OnlyThis"}
}
