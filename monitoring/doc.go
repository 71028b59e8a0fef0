// Package monitoring holds the assets that ship for watching the daemon: the
// Grafana dashboard (grafana/synchronizer.json) and the Prometheus recording and
// alerting rules (prometheus/synchronizer.rules.yml, with promtool unit tests
// beside them). It has no code of its own; its tests check that the assets parse,
// use only metrics, labels and label values the daemon serves, and cover what
// they must.
package monitoring
