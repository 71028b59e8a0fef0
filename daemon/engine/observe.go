package engine

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"
)

// Op is a write the engine makes on one side.
type Op string

const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Observer receives what metrics need. The host adapts it to daemon/telemetry
// (synchronizer_sync_runs_total, _sync_duration_seconds, _items_synced_total,
// _conflicts_total, _last_success_timestamp_seconds). Calls come from the running
// link's goroutine; implementations must be safe for concurrent use.
type Observer interface {
	// RunFinished: one run of a link ended (dry runs are not reported); ok is false
	// when it returned an error. at is when it ended.
	RunFinished(profile, link string, ok bool, d time.Duration, at time.Time)
	// ItemSynced: one write toward side `to` succeeded.
	ItemSynced(profile string, to Side, op Op)
	// Conflict: both sides changed one item; winner's version was kept.
	Conflict(profile string, winner Side)
	// Quarantined: a pair flapped and is held out of sync.
	Quarantined(profile, link, pair string)
}

// NopObserver ignores everything.
type NopObserver struct{}

func (NopObserver) RunFinished(string, string, bool, time.Duration, time.Time) {}
func (NopObserver) ItemSynced(string, Side, Op)                                {}
func (NopObserver) Conflict(string, Side)                                      {}
func (NopObserver) Quarantined(string, string, string)                         {}

var corrEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// CorrelationFor is the correlation id the copy of item id on side s carries: the
// side's letter and 26 characters of a hash of the id. Deriving it from the source
// makes it the same on every attempt, so a crashed create, a lost store or a
// re-created link all find the copy that exists instead of making another.
func CorrelationFor(s Side, id string) string {
	sum := sha256.Sum256([]byte(string(s) + "\x00" + id))
	return string(s.letter()) + strings.ToLower(corrEncoding.EncodeToString(sum[:])[:26])
}

// originOf tells from a correlation id which side the original item is on.
func originOf(corr string) (Side, bool) {
	if corr == "" {
		return "", false
	}
	switch corr[0] {
	case 's':
		return SuperOffice, true
	case 'c':
		return Calendar, true
	}
	return "", false
}
