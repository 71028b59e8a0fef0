package runner

import (
	"errors"
	"log/slog"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/telemetry"
)

// observer feeds the engine's events into the daemon's metrics.
type observer struct {
	m   *telemetry.Metrics
	log *slog.Logger
}

var _ engine.Observer = observer{}

var errRunFailed = errors.New("run failed")

func (o observer) RunFinished(profile, link string, ok bool, d time.Duration, at time.Time) {
	if o.m == nil {
		return
	}
	var err error
	if !ok {
		err = errRunFailed
	}
	o.m.ObserveRun(profile, err, d, at)
}

func (o observer) ItemSynced(profile string, to engine.Side, op engine.Op) {
	if o.m != nil {
		o.m.ObserveItem(profile, to.Direction(), string(op))
	}
}

func (o observer) Conflict(profile string, winner engine.Side) {
	if o.m != nil {
		o.m.ObserveConflict(profile, string(winner))
	}
}

func (o observer) Quarantined(profile, link, pair string) {
	o.log.Warn("an item keeps changing on both sides; it is left alone for a while", "profile", profile, "link", link, "pair", pair)
}
