package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Figures are the measurements of one run (clean, or under faults). A nil
// figure could not be measured; Unmeasured says why.
type Figures struct {
	Links int    `json:"links"`
	Items *int64 `json:"items"`

	InitialSyncSeconds        *float64 `json:"initial_sync_seconds"`
	InitialSyncItemsPerSecond *float64 `json:"initial_sync_items_per_second"`
	// ConsentSeconds is how long completing every link's consent took (the
	// initial sync of a link starts as its consent lands).
	ConsentSeconds *float64 `json:"consent_seconds"`

	// IdleRequestsPerLinkPerCycle counts the requests one link's run that finds
	// nothing to do makes, both sides together (the aim: one per side, 2);
	// IdleRequestsBySide breaks it down per side.
	IdleRequestsPerLinkPerCycle *float64            `json:"idle_requests_per_link_per_cycle"`
	IdleRequestsBySide          map[string]*float64 `json:"idle_requests_per_link_per_cycle_by_side"`
	IdleCycleCPUSeconds         *float64            `json:"idle_cycle_cpu_seconds"`
	IdleCycleWallSeconds        *float64            `json:"idle_cycle_wall_seconds"`

	PropagationP50Push *float64 `json:"propagation_p50_seconds_push"`
	PropagationP95Push *float64 `json:"propagation_p95_seconds_push"`
	PropagationP99Push *float64 `json:"propagation_p99_seconds_push"`
	PropagationP50Poll *float64 `json:"propagation_p50_seconds_poll"`
	PropagationP95Poll *float64 `json:"propagation_p95_seconds_poll"`
	PropagationP99Poll *float64 `json:"propagation_p99_seconds_poll"`
	// Changes is how many changes the propagation figures cover, and
	// ChangesNotSeen how many never showed on the other side in time.
	Changes        int `json:"changes"`
	ChangesNotSeen int `json:"changes_not_seen"`
	// ByChange breaks the propagation figures down by mode, operation and the
	// side the change was made on ("push edit on superoffice").
	ByChange map[string]ChangeFigures `json:"propagation_by_change,omitempty"`
	// Notifications counts the push notifications the emulators sent while the
	// push figures were measured, by side (Graph's emulator keeps no count).
	Notifications map[string]int `json:"push_notifications,omitempty"`

	DaemonPeakRSSBytes *int64 `json:"daemon_peak_rss_bytes"`
	// DaemonPeakAnonBytes is the highest RssAnon sampled: the daemon's RSS
	// without the pages of the state file it maps (which count in VmHWM).
	DaemonPeakAnonBytes *int64 `json:"daemon_peak_rss_anon_bytes"`
	PluginsPeakRSSBytes *int64 `json:"plugins_peak_rss_bytes"`

	Duplicates *int64 `json:"duplicates"`
	LostEdits  *int64 `json:"lost_edits"`
	// Missing counts seeded items absent from a side where they belong (a lost
	// item rather than a lost edit); Compared how many places were compared.
	Missing  *int64 `json:"missing"`
	Compared *int64 `json:"items_compared"`
	// MeetingsSkipped counts meeting copies left out of the comparison of the
	// seeded items (the benchmark's own changes have no participants).
	MeetingsSkipped *int64 `json:"meetings_not_compared"`

	// Unmeasured gives, per JSON key left null, the reason.
	Unmeasured map[string]string `json:"unmeasured,omitempty"`
}

// ChangeFigures are the propagation figures of one kind of change.
type ChangeFigures struct {
	Changes int      `json:"changes"`
	NotSeen int      `json:"not_seen"`
	P50     *float64 `json:"p50_seconds"`
	P95     *float64 `json:"p95_seconds"`
}

// Report is the benchmark's JSON file: the clean run's figures at the top
// level, the run under faults in Faults, and what they ran on.
type Report struct {
	Figures
	Faults  *Figures `json:"faults"`
	Setup   Setup    `json:"setup"`
	Machine Machine  `json:"machine"`
}

// Setup is the scale and settings the figures were measured with.
type Setup struct {
	Users             int      `json:"users"`
	Resources         int      `json:"resources"`
	EventsPerSide     int      `json:"events_per_side"`
	Profiles          []string `json:"profiles"`
	IntervalSeconds   float64  `json:"interval_seconds"`
	Push              bool     `json:"push"`
	FaultThrottle     float64  `json:"fault_throttle"`
	FaultServerErrors float64  `json:"fault_server_errors"`
	GoogleQuota       int      `json:"google_project_quota_per_minute"`
	GoogleUserQuota   int      `json:"google_user_quota_per_minute"`
	Seed              int64    `json:"seed"`
	StartedAt         string   `json:"started_at"`
}

// Machine describes where the figures were measured.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemoryB   int64  `json:"memory_bytes"`
	GoVersion string `json:"go_version"`
	Kernel    string `json:"kernel"`
}

func (f *Figures) unmeasured(key, why string) {
	if f.Unmeasured == nil {
		f.Unmeasured = map[string]string{}
	}
	f.Unmeasured[key] = why
}

func ptr[T any](v T) *T { return &v }

func seconds(d time.Duration) *float64 { return ptr(round3(d.Seconds())) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// WriteJSON writes the report, indented.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteTable prints the figures side by side (clean | under faults), then why
// any figure is missing.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\tclean\tfaults\ttarget\n")
	fl := func(v *float64, unit string) string {
		if v == nil {
			return "—"
		}
		return fmt.Sprintf("%.3g %s", *v, unit)
	}
	in := func(v *int64) string {
		if v == nil {
			return "—"
		}
		return fmt.Sprintf("%d", *v)
	}
	mb := func(v *int64) string {
		if v == nil {
			return "—"
		}
		return fmt.Sprintf("%.0f MB", float64(*v)/1e6)
	}
	faults := r.Faults
	if faults == nil {
		faults = &Figures{}
	}
	rows := []struct {
		name, a, b, target string
	}{
		{"links", fmt.Sprint(r.Links), fmt.Sprint(faults.Links), ""},
		{"items (pairs)", in(r.Items), in(faults.Items), ""},
		{"consent, all links", fl(r.ConsentSeconds, "s"), fl(faults.ConsentSeconds, "s"), ""},
		{"initial sync", fl(r.InitialSyncSeconds, "s"), fl(faults.InitialSyncSeconds, "s"), "< 300 s for 600,000"},
		{"initial sync rate", fl(r.InitialSyncItemsPerSecond, "items/s"), fl(faults.InitialSyncItemsPerSecond, "items/s"), ""},
		{"idle requests per link and cycle", fl(r.IdleRequestsPerLinkPerCycle, ""), fl(faults.IdleRequestsPerLinkPerCycle, ""), "2 (one per side)"},
	}
	sides := map[string]bool{}
	for k := range r.IdleRequestsBySide {
		sides[k] = true
	}
	for k := range faults.IdleRequestsBySide {
		sides[k] = true
	}
	var names []string
	for k := range sides {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		rows = append(rows, struct{ name, a, b, target string }{"  of which " + k, fl(r.IdleRequestsBySide[k], ""), fl(faults.IdleRequestsBySide[k], ""), "1"})
	}
	rows = append(rows, []struct{ name, a, b, target string }{
		{"idle cycle CPU, all links", fl(r.IdleCycleCPUSeconds, "s"), fl(faults.IdleCycleCPUSeconds, "s"), "< 1 s for 2,000 links"},
		{"idle cycle wall time", fl(r.IdleCycleWallSeconds, "s"), fl(faults.IdleCycleWallSeconds, "s"), ""},
		{"propagation p50, push", fl(r.PropagationP50Push, "s"), fl(faults.PropagationP50Push, "s"), ""},
		{"propagation p95, push", fl(r.PropagationP95Push, "s"), fl(faults.PropagationP95Push, "s"), "< 5 s"},
		{"propagation p99, push", fl(r.PropagationP99Push, "s"), fl(faults.PropagationP99Push, "s"), ""},
		{"propagation p50, poll", fl(r.PropagationP50Poll, "s"), fl(faults.PropagationP50Poll, "s"), ""},
		{"propagation p95, poll", fl(r.PropagationP95Poll, "s"), fl(faults.PropagationP95Poll, "s"), ""},
		{"propagation p99, poll", fl(r.PropagationP99Poll, "s"), fl(faults.PropagationP99Poll, "s"), ""},
		{"changes (not seen)", fmt.Sprintf("%d (%d)", r.Changes, r.ChangesNotSeen), fmt.Sprintf("%d (%d)", faults.Changes, faults.ChangesNotSeen), ""},
		{"daemon peak RSS", mb(r.DaemonPeakRSSBytes), mb(faults.DaemonPeakRSSBytes), "< 300 MB"},
		{"  of which its own (RssAnon)", mb(r.DaemonPeakAnonBytes), mb(faults.DaemonPeakAnonBytes), ""},
		{"plugins peak RSS (sum)", mb(r.PluginsPeakRSSBytes), mb(faults.PluginsPeakRSSBytes), ""},
		{"items compared", in(r.Compared), in(faults.Compared), ""},
		{"meeting copies not compared", in(r.MeetingsSkipped), in(faults.MeetingsSkipped), ""},
		{"duplicates", in(r.Duplicates), in(faults.Duplicates), "0"},
		{"lost edits", in(r.LostEdits), in(faults.LostEdits), "0"},
		{"missing items", in(r.Missing), in(faults.Missing), "0"},
	}...)
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.name, row.a, row.b, row.target)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, part := range []struct {
		name string
		f    *Figures
	}{{"clean", &r.Figures}, {"faults", r.Faults}} {
		if part.f == nil {
			continue
		}
		var keys []string
		for k := range part.f.Unmeasured {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%s: %s not measured: %s\n", part.name, k, part.f.Unmeasured[k])
		}
	}
	fmt.Fprintf(w, "machine: %d CPUs (%s), %.1f GB, %s, %s\n", r.Machine.CPUs, r.Machine.CPUModel,
		float64(r.Machine.MemoryB)/1e9, r.Machine.GoVersion, strings.TrimSpace(r.Machine.Kernel))
	return nil
}

// percentile is the p-th percentile (0 < p <= 100) of sorted values by the
// nearest-rank method; ok is false for no values.
func percentile(sorted []time.Duration, p float64) (time.Duration, bool) {
	if len(sorted) == 0 || p <= 0 || p > 100 {
		return 0, false
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1], true
}

// Losses names what each run ended with that must be zero: duplicates, lost
// edits, missing items, and comparisons that did not happen.
func (r *Report) Losses() []string {
	var out []string
	for _, part := range []struct {
		name string
		f    *Figures
	}{{"clean", &r.Figures}, {"faults", r.Faults}} {
		if part.f == nil {
			continue
		}
		for _, c := range []struct {
			what string
			v    *int64
		}{{"duplicates", part.f.Duplicates}, {"lost edits", part.f.LostEdits}, {"missing items", part.f.Missing}} {
			switch {
			case c.v == nil:
				out = append(out, fmt.Sprintf("%s run: %s not measured", part.name, c.what))
			case *c.v > 0:
				out = append(out, fmt.Sprintf("%s run: %d %s", part.name, *c.v, c.what))
			}
		}
	}
	return out
}
