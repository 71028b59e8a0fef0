package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
		ok     bool
	}{
		{"empty", nil, 50, 0, false},
		{"one", ms(7), 99, 7 * time.Millisecond, true},
		{"median of four", ms(1, 2, 3, 4), 50, 2 * time.Millisecond, true},
		{"p95 of 1..100", ms(hundred...), 95, 95 * time.Millisecond, true},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond, true},
		{"p100", ms(1, 2, 3), 100, 3 * time.Millisecond, true},
		{"p0", ms(1, 2, 3), 0, 0, false},
	}
	for _, c := range cases {
		got, ok := percentile(c.sorted, c.p)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %v %v, want %v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// The JSON report carries every key the figures are read by, with null where a
// figure was not measured, and the same under "faults".
func TestReportKeys(t *testing.T) {
	rep := &Report{Figures: Figures{Links: 4, Items: ptr(int64(52)), InitialSyncSeconds: ptr(1.5),
		Duplicates: ptr(int64(0)), LostEdits: ptr(int64(0))}, Faults: &Figures{Links: 4}}
	rep.unmeasured("propagation_p95_seconds_push", "no push")
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	keys := []string{"links", "items", "initial_sync_seconds", "initial_sync_items_per_second",
		"idle_requests_per_link_per_cycle", "idle_cycle_cpu_seconds", "propagation_p50_seconds_push",
		"propagation_p95_seconds_push", "propagation_p95_seconds_poll", "daemon_peak_rss_bytes",
		"plugins_peak_rss_bytes", "duplicates", "lost_edits"}
	faults, ok := got["faults"].(map[string]any)
	if !ok {
		t.Fatalf("no faults object in %s", buf.String())
	}
	for _, k := range keys {
		if _, ok := got[k]; !ok {
			t.Errorf("key %s missing", k)
		}
		if _, ok := faults[k]; !ok {
			t.Errorf("faults.%s missing", k)
		}
	}
	if got["links"] != 4.0 || got["items"] != 52.0 || got["initial_sync_seconds"] != 1.5 {
		t.Errorf("values: %v %v %v", got["links"], got["items"], got["initial_sync_seconds"])
	}
	if got["propagation_p95_seconds_push"] != nil || got["daemon_peak_rss_bytes"] != nil {
		t.Error("an unmeasured figure is not null")
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "propagation_p95_seconds_push not measured: no push") {
		t.Errorf("the table does not say why a figure is missing:\n%s", table.String())
	}
}

func TestLosses(t *testing.T) {
	zero := ptr(int64(0))
	cases := []struct {
		name string
		rep  Report
		want []string
	}{
		{"all zero", Report{Figures: Figures{Duplicates: zero, LostEdits: zero, Missing: zero},
			Faults: &Figures{Duplicates: zero, LostEdits: zero, Missing: zero}}, nil},
		{"no fault run", Report{Figures: Figures{Duplicates: zero, LostEdits: zero, Missing: zero}}, nil},
		{"a duplicate under faults", Report{Figures: Figures{Duplicates: zero, LostEdits: zero, Missing: zero},
			Faults: &Figures{Duplicates: ptr(int64(2)), LostEdits: zero, Missing: zero}}, []string{"faults run: 2 duplicates"}},
		{"not compared", Report{Figures: Figures{Duplicates: zero, Missing: zero}}, []string{"clean run: lost edits not measured"}},
	}
	for _, c := range cases {
		got := c.rep.Losses()
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestSumMetric(t *testing.T) {
	scrape := `# HELP synchronizer_sync_runs_total Runs.
# TYPE synchronizer_sync_runs_total counter
synchronizer_sync_runs_total{profile="emu-m365",result="ok"} 10
synchronizer_sync_runs_total{profile="emu-m365",result="error"} 2
synchronizer_sync_runs_total{profile="emu-google",result="ok"} 5
synchronizer_sync_runs_total_extra 99
synchronizer_config_last_reload_successful 1
`
	sum, err := sumMetric(strings.NewReader(scrape), "synchronizer_sync_runs_total")
	if err != nil || sum != 17 {
		t.Errorf("sum = %v, %v; want 17", sum, err)
	}
	by, err := sumMetricBy(strings.NewReader(scrape), "synchronizer_sync_runs_total", "profile")
	if err != nil || by["emu-m365"] != 12 || by["emu-google"] != 5 || len(by) != 2 {
		t.Errorf("by profile = %v, %v", by, err)
	}
	if v, err := sumMetric(strings.NewReader(scrape), "synchronizer_config_last_reload_successful"); err != nil || v != 1 {
		t.Errorf("unlabelled = %v, %v", v, err)
	}
	if _, err := sumMetric(strings.NewReader("synchronizer_x{a=\"b\" 1\n"), "synchronizer_x"); err == nil {
		t.Error("unclosed labels accepted")
	}
	if _, err := sumMetric(strings.NewReader("synchronizer_x{a=\"b\"} one\n"), "synchronizer_x"); err == nil {
		t.Error("a value that is no number accepted")
	}
}

// A SuperOffice all-day row runs from local midnight to 23:59 (or midnight) of
// its last day, answered as wall clock in the installation's zone.
func TestSuperOfficeAllDay(t *testing.T) {
	cases := []struct{ start, end, d0, d1 string }{
		{"2027-10-18T00:00:00+02:00", "2027-10-20T23:59:00+02:00", "2027-10-18", "2027-10-21"},
		{"2027-06-01T00:00:00+02:00", "2027-06-02T00:00:00+02:00", "2027-06-01", "2027-06-02"},
		{"2026-03-01T00:00:00+13:00", "2026-03-01T23:59:00+13:00", "2026-03-01", "2026-03-02"},
		{"2026-12-24T00:00:00-05:00", "2026-12-26T23:59:00-05:00", "2026-12-24", "2026-12-27"},
		{"2026-01-31T00:00:00+00:00", "2026-01-31T00:00:00+00:00", "2026-01-31", "2026-02-01"},
	}
	for _, c := range cases {
		start, _ := time.Parse(time.RFC3339, c.start)
		end, _ := time.Parse(time.RFC3339, c.end)
		if d0, d1 := soAllDay(start, end); d0 != c.d0 || d1 != c.d1 {
			t.Errorf("%s..%s: %s..%s, want %s..%s", c.start, c.end, d0, d1, c.d0, c.d1)
		}
	}
}
