// Package telemetry owns the daemon's Prometheus metrics: every metric of the
// product contract, on a private registry built by New, plus the Go and process
// collectors. Other packages are handed the *Metrics (or one of its vectors) by
// the agent; nothing here registers on the global registry.
//
// Label values that are known from the configuration (profiles, providers,
// plugins) are initialised to zero by Init so that counters exist before their
// first event: a scrape shows every series from the start, and rate() works on
// the first increment.
package telemetry

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"synchronizer/plugins/sdk"
)

// Namespace prefixes every metric name.
const Namespace = "synchronizer"

// Label values the contract fixes.
const (
	ResultOK    = "ok"
	ResultError = "error"

	DirectionToCalendar    = "to_calendar"
	DirectionToSuperOffice = "to_superoffice"

	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"

	WinnerSuperOffice = "superoffice"
	WinnerCalendar    = "calendar"
)

// Metrics holds every metric of the daemon. The vectors are exported so that the
// engine, scheduler and plugin host can be handed exactly what they feed; the
// typed methods below are the preferred way to feed them.
type Metrics struct {
	Registry *prometheus.Registry

	// Licences and links are snapshots replaced as a whole (SetLicenses,
	// SetLinks), so a scrape never sees half of an update.
	licenses     *snapshotGauge
	licensesUsed *snapshotGauge
	links        *snapshotGauge

	SyncRuns                *prometheus.CounterVec   // profile, result
	SyncDuration            *prometheus.HistogramVec // profile
	ItemsSynced             *prometheus.CounterVec   // profile, direction, op
	Conflicts               *prometheus.CounterVec   // profile, winner
	ProviderRequests        *prometheus.CounterVec   // provider, code
	ProviderRequestDuration *prometheus.HistogramVec // provider
	ProviderThrottled       *prometheus.CounterVec   // provider
	PluginRestarts          *prometheus.CounterVec   // plugin
	LastSuccess             *prometheus.GaugeVec     // profile

	ConfigReloadSuccessful prometheus.Gauge
	ConfigReloadTimestamp  prometheus.Gauge

	mu        sync.Mutex // serialises Init
	profiles  map[string]bool
	providers map[string]bool
}

// New builds the metrics on a fresh private registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		licenses: newSnapshotGauge(Namespace+"_licenses",
			"Licences of a SuperOffice tenant: its user licences, plus 5 when resource sync is on (0 while unknown).",
			"tenant"),
		licensesUsed: newSnapshotGauge(Namespace+"_licenses_used",
			"Links of a tenant that hold a licence.",
			"tenant"),
		links: newSnapshotGauge(Namespace+"_links",
			"Configured links by profile and state.",
			"profile", "state"),
		SyncRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "sync_runs_total",
			Help: "Sync runs of a profile's links, by result.",
		}, []string{"profile", "result"}),
		SyncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "sync_duration_seconds",
			Help:    "Duration of one link's sync run.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"profile"}),
		ItemsSynced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "items_synced_total",
			Help: "Items written by sync, by direction and operation.",
		}, []string{"profile", "direction", "op"}),
		Conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "conflicts_total",
			Help: "Items changed on both sides since the last run, by the side that won.",
		}, []string{"profile", "winner"}),
		ProviderRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "provider_requests_total",
			Help: "HTTP requests providers made to their services, by status code (0: no response).",
		}, []string{"provider", "code"}),
		ProviderRequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "provider_request_duration_seconds",
			Help:    "Duration of providers' HTTP requests to their services.",
			Buckets: []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"provider"}),
		ProviderThrottled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "provider_throttled_total",
			Help: "Requests a service refused for quota (429, 503, rate limit).",
		}, []string{"provider"}),
		PluginRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "plugin_restarts_total",
			Help: "Provider plugin processes restarted after they exited.",
		}, []string{"plugin"}),
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "last_success_timestamp_seconds",
			Help: "Unix time of the last sync run of a profile that ended without error (0: never).",
		}, []string{"profile"}),
		ConfigReloadSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "config_last_reload_successful",
			Help: "Whether the last configuration load or reload succeeded (1) or was rejected (0).",
		}),
		ConfigReloadTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load or reload.",
		}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.licenses, m.licensesUsed, m.links,
		m.SyncRuns, m.SyncDuration, m.ItemsSynced, m.Conflicts,
		m.ProviderRequests, m.ProviderRequestDuration, m.ProviderThrottled,
		m.PluginRestarts, m.LastSuccess,
		m.ConfigReloadSuccessful, m.ConfigReloadTimestamp,
	)
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		Registry:          m.Registry,
		EnableOpenMetrics: false,
	})
}

// Known lists the label values the configuration names.
type Known struct {
	Profiles  []string
	Providers []string // provider plugins in use: superoffice, m365, google, ...
}

// Init creates the zero-valued series for every known profile and provider, and
// drops the series of profiles and providers no longer configured (after a
// reload), so dashboards do not show stale profiles forever.
func (m *Metrics) Init(k Known) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keepProfile := map[string]bool{}
	for _, p := range k.Profiles {
		keepProfile[p] = true
		for _, r := range []string{ResultOK, ResultError} {
			m.SyncRuns.WithLabelValues(p, r)
		}
		m.SyncDuration.WithLabelValues(p)
		for _, d := range []string{DirectionToCalendar, DirectionToSuperOffice} {
			for _, op := range []string{OpCreate, OpUpdate, OpDelete} {
				m.ItemsSynced.WithLabelValues(p, d, op)
			}
		}
		for _, w := range []string{WinnerSuperOffice, WinnerCalendar} {
			m.Conflicts.WithLabelValues(p, w)
		}
		m.LastSuccess.WithLabelValues(p)
	}
	keepProvider := map[string]bool{}
	for _, p := range k.Providers {
		keepProvider[p] = true
		// Codes appear as they happen; 200 is there from the start so the
		// family is visible (and rate() works) before the first request.
		m.ProviderRequests.WithLabelValues(p, "200")
		m.ProviderRequestDuration.WithLabelValues(p)
		m.ProviderThrottled.WithLabelValues(p)
		m.PluginRestarts.WithLabelValues(p)
	}
	for p := range m.profiles {
		if !keepProfile[p] {
			l := prometheus.Labels{"profile": p}
			m.SyncRuns.DeletePartialMatch(l)
			m.SyncDuration.DeletePartialMatch(l)
			m.ItemsSynced.DeletePartialMatch(l)
			m.Conflicts.DeletePartialMatch(l)
			m.LastSuccess.DeletePartialMatch(l)
		}
	}
	for p := range m.providers {
		if !keepProvider[p] {
			l := prometheus.Labels{"provider": p}
			m.ProviderRequests.DeletePartialMatch(l)
			m.ProviderRequestDuration.DeletePartialMatch(l)
			m.ProviderThrottled.DeletePartialMatch(l)
			m.PluginRestarts.DeletePartialMatch(prometheus.Labels{"plugin": p})
		}
	}
	m.profiles, m.providers = keepProfile, keepProvider
}

// ObserveRun records one finished sync run of a link of profile.
func (m *Metrics) ObserveRun(profile string, err error, took time.Duration, end time.Time) {
	result := ResultOK
	if err != nil {
		result = ResultError
	}
	m.SyncRuns.WithLabelValues(profile, result).Inc()
	m.SyncDuration.WithLabelValues(profile).Observe(took.Seconds())
	if err == nil {
		m.LastSuccess.WithLabelValues(profile).Set(float64(end.UnixNano()) / 1e9)
	}
}

// ObserveItem counts one item written by sync. direction is DirectionToCalendar
// or DirectionToSuperOffice; op is OpCreate, OpUpdate or OpDelete.
func (m *Metrics) ObserveItem(profile, direction, op string) {
	m.ItemsSynced.WithLabelValues(profile, direction, op).Inc()
}

// ObserveConflict counts one conflict, by the side that won.
func (m *Metrics) ObserveConflict(profile, winner string) {
	m.Conflicts.WithLabelValues(profile, winner).Inc()
}

// ObserveRequest feeds one provider HTTP request into the provider metrics.
func (m *Metrics) ObserveRequest(provider string, rec sdk.RequestRecord) {
	m.ProviderRequests.WithLabelValues(provider, codeLabel(rec.Code)).Inc()
	m.ProviderRequestDuration.WithLabelValues(provider).Observe(rec.Duration.Seconds())
	if rec.Throttled {
		m.ProviderThrottled.WithLabelValues(provider).Inc()
	}
}

// Recorder returns an sdk.Recorder that feeds provider's request metrics; the
// plugin host puts it on the context of each call.
func (m *Metrics) Recorder(provider string) sdk.Recorder {
	return providerRecorder{m: m, provider: provider}
}

type providerRecorder struct {
	m        *Metrics
	provider string
}

func (r providerRecorder) Record(rec sdk.RequestRecord) { r.m.ObserveRequest(r.provider, rec) }

// PluginRestarted counts one restart of plugin.
func (m *Metrics) PluginRestarted(plugin string) {
	m.PluginRestarts.WithLabelValues(plugin).Inc()
}

// ConfigLoaded records the outcome of a configuration load or reload.
func (m *Metrics) ConfigLoaded(ok bool, at time.Time) {
	if ok {
		m.ConfigReloadSuccessful.Set(1)
		m.ConfigReloadTimestamp.Set(float64(at.UnixNano()) / 1e9)
		return
	}
	m.ConfigReloadSuccessful.Set(0)
}

// TenantLicenses is one tenant's licence gauges.
type TenantLicenses struct {
	Licenses int
	Used     int
}

// SetLicenses replaces the licence gauges of every tenant at once.
func (m *Metrics) SetLicenses(tenants map[string]TenantLicenses) {
	lic := map[string]float64{}
	used := map[string]float64{}
	for t, v := range tenants {
		lic[labelKey(t)] = float64(v.Licenses)
		used[labelKey(t)] = float64(v.Used)
	}
	m.licenses.set(lic)
	m.licensesUsed.set(used)
}

// SetLinks replaces the link gauges at once: counts[profile][state]. Pass every
// state for every profile (zeros included) so each series stays continuous.
func (m *Metrics) SetLinks(counts map[string]map[string]int) {
	v := map[string]float64{}
	for p, states := range counts {
		for s, n := range states {
			v[labelKey(p, s)] = float64(n)
		}
	}
	m.links.set(v)
}

func codeLabel(code int) string {
	if code <= 0 {
		return "0"
	}
	return strconv.Itoa(code)
}
