package m365

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
)

// A series whose cancelled occurrences cannot be cancelled is not left behind,
// tagged, to be taken later for the complete copy: the create fails and
// removes it, and the next attempt makes it whole.
func TestSeriesCreateFailingItsCancellationLeavesNothing(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	fail := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/$batch") {
			http.Error(w, `{"error":{"code":"BadRequest","message":"injected"}}`, http.StatusBadRequest)
			return true
		}
		return false
	}
	e.intercept.Store(&fail)
	ev := sdk.Event{Kind: sdk.KindMaster, CorrelationID: "g-series", Title: "series", Start: t0.Add(24 * time.Hour), End: t0.Add(25 * time.Hour),
		TimeZone: "Europe/Berlin", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic,
		Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=3", "EXDATE:" + t0.Add(48*time.Hour).Format("20060102T150405Z")}}
	if _, err := e.p.Create(e.ctx, tg, ev); err == nil {
		t.Fatal("the create succeeded although its cancellation failed")
	}
	if found, err := e.p.FindByCorrelation(e.ctx, tg, "g-series"); err != nil || len(found) != 0 {
		t.Fatalf("after the failed create, found by correlation: %v, %v", found, err)
	}
	e.intercept.Store(nil)
	got, err := e.p.Create(e.ctx, tg, ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Recurrence) != 2 {
		t.Errorf("made again: %v, want the rule and its EXDATE", got.Recurrence)
	}
}
