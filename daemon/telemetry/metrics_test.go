package telemetry

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"synchronizer/plugins/sdk"
)

// The contract's metric table: every name must be served with this type.
var contract = map[string]string{
	"synchronizer_licenses":                                     "gauge",
	"synchronizer_licenses_used":                                "gauge",
	"synchronizer_links":                                        "gauge",
	"synchronizer_sync_runs_total":                              "counter",
	"synchronizer_sync_duration_seconds":                        "histogram",
	"synchronizer_items_synced_total":                           "counter",
	"synchronizer_conflicts_total":                              "counter",
	"synchronizer_provider_requests_total":                      "counter",
	"synchronizer_provider_request_duration_seconds":            "histogram",
	"synchronizer_provider_throttled_total":                     "counter",
	"synchronizer_plugin_restarts_total":                        "counter",
	"synchronizer_last_success_timestamp_seconds":               "gauge",
	"synchronizer_config_last_reload_successful":                "gauge",
	"synchronizer_config_last_reload_success_timestamp_seconds": "gauge",
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: status %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestEveryContractMetricIsServedWithItsType(t *testing.T) {
	t.Parallel()
	m := New()
	m.Init(Known{Profiles: []string{"acme-365"}, Providers: []string{"m365", "superoffice"}})
	m.SetLicenses(map[string]TenantLicenses{"acme": {Licenses: 55, Used: 2}})
	m.SetLinks(map[string]map[string]int{"acme-365": {"active": 1, "pending_activation": 1}})
	m.ObserveRequest("m365", sdk.RequestRecord{Code: 200, Duration: 30 * time.Millisecond})
	m.ConfigLoaded(true, time.Unix(1700000000, 0))
	out := scrape(t, m)
	for name, typ := range contract {
		if !strings.Contains(out, "# TYPE "+name+" "+typ+"\n") {
			t.Errorf("scrape lacks %s of type %s", name, typ)
		}
	}
	for _, want := range []string{"go_goroutines", "process_start_time_seconds"} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	problems, err := testutil.CollectAndLint(m.Registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestInitStartsSeriesAtZeroAndDropsStaleProfiles(t *testing.T) {
	t.Parallel()
	m := New()
	m.Init(Known{Profiles: []string{"a", "b"}, Providers: []string{"m365"}})
	if got := testutil.ToFloat64(m.SyncRuns.WithLabelValues("a", ResultError)); got != 0 {
		t.Fatalf("fresh counter = %v", got)
	}
	// 2 profiles x 2 results
	if n := testutil.CollectAndCount(m.SyncRuns); n != 4 {
		t.Fatalf("sync_runs series = %d, want 4", n)
	}
	if n := testutil.CollectAndCount(m.ItemsSynced); n != 12 {
		t.Fatalf("items_synced series = %d, want 12", n)
	}
	m.ObserveRequest("m365", sdk.RequestRecord{Code: 429, Throttled: true})
	m.Init(Known{Profiles: []string{"b"}, Providers: []string{"google"}})
	if n := testutil.CollectAndCount(m.SyncRuns); n != 2 {
		t.Fatalf("after reload sync_runs series = %d, want 2", n)
	}
	out := scrape(t, m)
	if strings.Contains(out, `profile="a"`) || strings.Contains(out, `provider="m365"`) {
		t.Fatalf("stale series survived a reload:\n%s", out)
	}
	if !strings.Contains(out, `synchronizer_plugin_restarts_total{plugin="google"} 0`) || !strings.Contains(out, `synchronizer_provider_requests_total{code="200",provider="google"} 0`) {
		t.Fatalf("new provider not initialised:\n%s", out)
	}
}

func TestObservations(t *testing.T) {
	t.Parallel()
	m := New()
	end := time.Unix(1700000000, 500000000)
	m.ObserveRun("p", nil, 2*time.Second, end)
	m.ObserveRun("p", errors.New("boom"), time.Second, end.Add(time.Minute))
	m.ObserveItem("p", DirectionToCalendar, OpCreate)
	m.ObserveConflict("p", WinnerCalendar)
	rec := m.Recorder("google")
	rec.Record(sdk.RequestRecord{Code: 503, Duration: time.Second, Throttled: true})
	rec.Record(sdk.RequestRecord{Code: 0, Duration: time.Second})
	m.PluginRestarted("google")
	m.ConfigLoaded(false, end)

	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"runs ok", testutil.ToFloat64(m.SyncRuns.WithLabelValues("p", ResultOK)), 1},
		{"runs error", testutil.ToFloat64(m.SyncRuns.WithLabelValues("p", ResultError)), 1},
		{"last success is the ok run", testutil.ToFloat64(m.LastSuccess.WithLabelValues("p")), 1700000000.5},
		{"items", testutil.ToFloat64(m.ItemsSynced.WithLabelValues("p", DirectionToCalendar, OpCreate)), 1},
		{"conflicts", testutil.ToFloat64(m.Conflicts.WithLabelValues("p", WinnerCalendar)), 1},
		{"503", testutil.ToFloat64(m.ProviderRequests.WithLabelValues("google", "503")), 1},
		{"no response", testutil.ToFloat64(m.ProviderRequests.WithLabelValues("google", "0")), 1},
		{"throttled", testutil.ToFloat64(m.ProviderThrottled.WithLabelValues("google")), 1},
		{"restarts", testutil.ToFloat64(m.PluginRestarts.WithLabelValues("google")), 1},
		{"reload failed", testutil.ToFloat64(m.ConfigReloadSuccessful), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestSnapshotsReplaceWholeSets(t *testing.T) {
	t.Parallel()
	m := New()
	m.SetLinks(map[string]map[string]int{"a": {"active": 3}, "b": {"error": 1}})
	m.SetLinks(map[string]map[string]int{"b": {"error": 2}})
	out := scrape(t, m)
	if strings.Contains(out, `profile="a"`) {
		t.Fatalf("old snapshot leaked:\n%s", out)
	}
	if !strings.Contains(out, `synchronizer_links{profile="b",state="error"} 2`) {
		t.Fatalf("new snapshot missing:\n%s", out)
	}
	m.SetLicenses(map[string]TenantLicenses{"acme": {Licenses: 55, Used: 55}})
	out = scrape(t, m)
	for _, want := range []string{`synchronizer_licenses{tenant="acme"} 55`, `synchronizer_licenses_used{tenant="acme"} 55`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
}
