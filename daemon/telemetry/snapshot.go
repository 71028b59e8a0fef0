package telemetry

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// snapshotGauge is a gauge family whose whole set of series is replaced at once,
// so a scrape sees either the old or the new set, never a mix.
type snapshotGauge struct {
	desc   *prometheus.Desc
	labels int

	mu     sync.RWMutex
	values map[string]float64 // labelKey(values...) -> value
}

func newSnapshotGauge(name, help string, labels ...string) *snapshotGauge {
	return &snapshotGauge{
		desc:   prometheus.NewDesc(name, help, labels, nil),
		labels: len(labels),
		values: map[string]float64{},
	}
}

// labelSep cannot appear in a label value that came from the configuration
// (names are checked there), so joined keys split back unambiguously.
const labelSep = "\x00"

func labelKey(values ...string) string { return strings.Join(values, labelSep) }

func (g *snapshotGauge) set(values map[string]float64) {
	g.mu.Lock()
	g.values = values
	g.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (g *snapshotGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector.
func (g *snapshotGauge) Collect(ch chan<- prometheus.Metric) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for key, v := range g.values {
		lv := strings.Split(key, labelSep)
		if len(lv) != g.labels {
			continue
		}
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v, lv...)
	}
}
