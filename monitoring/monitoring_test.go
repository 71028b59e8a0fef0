package monitoring

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"synchronizer/daemon/state"
	"synchronizer/daemon/telemetry"
)

const (
	rulesFile     = "prometheus/synchronizer.rules.yml"
	rulesTestFile = "prometheus/synchronizer.rules_test.yml"
	dashboardFile = "grafana/synchronizer.json"
	readmeFile    = "../README.md"
)

// served returns every series name the daemon serves, with its kind and labels,
// read from the daemon's own registry after every metric has been fed once.
func served(t *testing.T) map[string]metricInfo {
	t.Helper()
	m := telemetry.New()
	m.Init(telemetry.Known{Profiles: []string{"p"}, Providers: []string{"m365"}})
	m.SetLicenses(map[string]telemetry.TenantLicenses{"acme": {Licenses: 55, Used: 2}})
	m.SetLinks(map[string]map[string]int{"p": {string(state.Active): 1}})
	m.ObserveRun("p", nil, time.Second, time.Unix(1700000000, 0))
	m.ConfigLoaded(true, time.Unix(1700000000, 0))
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]metricInfo{}
	for _, f := range families {
		labels := map[string]bool{}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		name := f.GetName()
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			out[name] = metricInfo{kind: "counter", labels: labels}
		case dto.MetricType_HISTOGRAM:
			withLE := map[string]bool{"le": true}
			for l := range labels {
				withLE[l] = true
			}
			out[name+"_bucket"] = metricInfo{kind: "bucket", labels: withLE}
			out[name+"_sum"] = metricInfo{kind: "counter", labels: labels}
			out[name+"_count"] = metricInfo{kind: "counter", labels: labels}
		case dto.MetricType_SUMMARY:
			withQ := map[string]bool{"quantile": true}
			for l := range labels {
				withQ[l] = true
			}
			out[name] = metricInfo{kind: "gauge", labels: withQ}
			out[name+"_sum"] = metricInfo{kind: "counter", labels: labels}
			out[name+"_count"] = metricInfo{kind: "counter", labels: labels}
		default:
			out[name] = metricInfo{kind: "gauge", labels: labels}
		}
	}
	// Prometheus adds up{job, instance} for every target.
	out["up"] = metricInfo{kind: "gauge", labels: map[string]bool{}}
	return out
}

// contractNames reads the synchronizer_* names of the README's metrics table,
// the user-facing contract.
func contractNames(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatalf("read the metrics table: %v", err)
	}
	re := regexp.MustCompile("^\\| `(synchronizer_[a-z_]+)` \\|")
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			names = append(names, m[1])
		}
	}
	if len(names) < 12 {
		t.Fatalf("%s: found %d metrics in the metrics table, want the contract's (>= 12)", readmeFile, len(names))
	}
	return names
}

func enums() map[string][]string {
	var states []string
	for _, s := range state.LinkStates {
		states = append(states, string(s))
	}
	return map[string][]string{
		"state":     states,
		"result":    {telemetry.ResultOK, telemetry.ResultError},
		"direction": {telemetry.DirectionToCalendar, telemetry.DirectionToSuperOffice},
		"op":        {telemetry.OpCreate, telemetry.OpUpdate, telemetry.OpDelete},
		"winner":    {telemetry.WinnerSuperOffice, telemetry.WinnerCalendar},
	}
}

// vocab is what the daemon serves, limited for synchronizer_* names to the
// README's contract, plus the series the rules file records.
func vocab(t *testing.T, rules ruleFile) vocabulary {
	t.Helper()
	all := served(t)
	contract := contractNames(t)
	metrics := map[string]metricInfo{}
	for name, info := range all {
		if strings.HasPrefix(name, telemetry.Namespace+"_") {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
			if !slices.Contains(contract, name) && !slices.Contains(contract, base) {
				continue
			}
		}
		metrics[name] = info
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				metrics[r.Record] = metricInfo{kind: "recorded"}
			}
		}
	}
	return vocabulary{metrics: metrics, enums: enums()}
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	if len(rf.Groups) == 0 {
		t.Fatalf("%s: no rule groups", rulesFile)
	}
	return rf
}

func TestRulesNameOnlyServedMetrics(t *testing.T) {
	t.Parallel()
	rf := loadRules(t)
	v := vocab(t, rf)
	recorded := map[string]bool{}
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			name := r.Record + r.Alert
			switch {
			case r.Record != "" && r.Alert != "":
				t.Errorf("%s: a rule is either record or alert", name)
			case r.Record != "":
				if recorded[r.Record] {
					t.Errorf("%s recorded twice", r.Record)
				}
				recorded[r.Record] = true
				// level:metric:operations, the Prometheus naming convention
				if parts := strings.Split(r.Record, ":"); len(parts) != 3 || !strings.HasPrefix(parts[1], telemetry.Namespace+"_") {
					t.Errorf("%s: recorded names read level:synchronizer_metric:operations", r.Record)
				}
			case r.Alert != "":
				if alerts[r.Alert] {
					t.Errorf("alert %s defined twice", r.Alert)
				}
				alerts[r.Alert] = true
			default:
				t.Errorf("group %s: a rule without record or alert", g.Name)
			}
			p, err := parsePromQL(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if len(p.selectors) == 0 {
				t.Errorf("%s: the expression names no series", name)
			}
			for _, e := range v.check(p, false) {
				t.Errorf("%s: %v", name, e)
			}
		}
	}
}

func TestAlertsCarrySeverityAndAnnotations(t *testing.T) {
	t.Parallel()
	rf := loadRules(t)
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if !strings.HasPrefix(r.Alert, "Synchronizer") {
				t.Errorf("%s: alert names start with Synchronizer, so they group in Alertmanager", r.Alert)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no alerts")
	}
}

// Every alert has a unit test where it fires and one where it stays quiet.
func TestEveryAlertIsUnitTestedBothWays(t *testing.T) {
	t.Parallel()
	rf := loadRules(t)
	b, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			Name          string `yaml:"name"`
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &tf); err != nil {
		t.Fatalf("%s: %v", rulesTestFile, err)
	}
	if !slices.Contains(tf.RuleFiles, filepath.Base(rulesFile)) {
		t.Errorf("%s does not load %s", rulesTestFile, filepath.Base(rulesFile))
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tg := range tf.Tests {
		for _, c := range tg.AlertRuleTest {
			if len(c.ExpAlerts) > 0 {
				fires[c.Alertname] = true
			} else {
				quiet[c.Alertname] = true
			}
		}
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if !fires[r.Alert] {
				t.Errorf("%s: no unit test where it fires", r.Alert)
			}
			if !quiet[r.Alert] {
				t.Errorf("%s: no unit test where it stays quiet", r.Alert)
			}
		}
	}
}

// dashboard is the part of Grafana's dashboard JSON model the tests read.
type dashboard struct {
	Inputs []struct {
		Name, Type, PluginID string
	} `json:"__inputs"`
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name, Type string
			Query      any
			Datasource *datasourceRef
		} `json:"list"`
	} `json:"templating"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // inside collapsed rows
}

const dsInput = "DS_PROMETHEUS"

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("%s is not valid JSON", dashboardFile)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// dashboardQuery is one PromQL expression of the dashboard and where it is.
type dashboardQuery struct {
	where, expr string
	labelsOnly  bool // a variable's label_values selector
}

var labelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

func dashboardQueries(t *testing.T, d dashboard) (queries []dashboardQuery, varLabels map[string]string) {
	t.Helper()
	varLabels = map[string]string{}
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			queries = append(queries, dashboardQuery{where: fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID), expr: tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		m := labelValuesQuery.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(SELECTOR, LABEL)", v.Name, q)
			continue
		}
		queries = append(queries, dashboardQuery{where: "variable " + v.Name, expr: m[1], labelsOnly: true})
		varLabels[v.Name] = m[2]
	}
	return queries, varLabels
}

func TestDashboardIsImportable(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both needed for a stable import", d.UID, d.Title)
	}
	// 39 is Grafana 11.0's; older schemas are migrated on load and look dated.
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion %d, want a current one (>= 39)", d.SchemaVersion)
	}
	hasInput := false
	for _, in := range d.Inputs {
		if in.Name == dsInput && in.Type == "datasource" && in.PluginID == "prometheus" {
			hasInput = true
		}
	}
	if !hasInput {
		t.Errorf("no __inputs entry %s (datasource, prometheus): the import would not ask for a data source", dsInput)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${"+dsInput+"}") {
			t.Errorf("variable %s: datasource %+v, want uid ${%s}", v.Name, v.Datasource, dsInput)
		}
	}
	// A datasource variable of the same name makes the dashboard work when it is
	// provisioned from a file too, where __inputs are not substituted.
	if !vars[dsInput] || !vars["profile"] {
		t.Errorf("templating variables %v, want %s and profile", vars, dsInput)
	}

	ids := map[int]bool{}
	type cell struct{ x, y int }
	taken := map[cell]string{}
	for _, p := range allPanels(d.Panels) {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %d %q: gridPos %+v outside the 24-column grid", p.ID, p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := taken[cell{x, y}]; ok {
					t.Errorf("panel %d %q overlaps %s at (%d,%d)", p.ID, p.Title, other, x, y)
					x, y = g.X+g.W, g.Y+g.H // one report per pair
					continue
				}
				taken[cell{x, y}] = fmt.Sprintf("%q", p.Title)
			}
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${"+dsInput+"}" {
			t.Errorf("panel %d %q: datasource %+v, want uid ${%s}", p.ID, p.Title, p.Datasource, dsInput)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %d %q has no query", p.ID, p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %d %q: refId %q empty or repeated", p.ID, p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource == nil || tg.Datasource.UID != "${"+dsInput+"}" {
				t.Errorf("panel %d %q target %s: datasource %+v, want uid ${%s}", p.ID, p.Title, tg.RefID, tg.Datasource, dsInput)
			}
		}
	}
}

// grafanaBuiltins are the variables Grafana defines itself.
var grafanaBuiltins = map[string]bool{
	"__rate_interval": true, "__interval": true, "__interval_ms": true,
	"__range": true, "__range_s": true, "__range_ms": true,
}

var grafanaVar = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\$([A-Za-z0-9_]+)`)

func TestDashboardNamesOnlyServedMetricsAndCoversTheContract(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	v := vocab(t, loadRules(t))
	queries, _ := dashboardQueries(t, d)
	if len(queries) == 0 {
		t.Fatal("no queries in the dashboard")
	}
	vars := map[string]bool{}
	for _, tv := range d.Templating.List {
		vars[tv.Name] = true
	}
	used := map[string]bool{}
	for _, q := range queries {
		for _, m := range grafanaVar.FindAllStringSubmatch(q.expr, -1) {
			name := m[1] + m[2]
			if !vars[name] && !grafanaBuiltins[name] {
				t.Errorf("%s: uses $%s, which is no variable of the dashboard", q.where, name)
			}
		}
		p, err := parsePromQL(q.expr)
		if err != nil {
			t.Errorf("%s: %v", q.where, err)
			continue
		}
		for _, s := range p.selectors {
			used[s.name] = true
			if v.metrics[s.name].kind == "recorded" {
				t.Errorf("%s: uses the recorded %s; the dashboard must work without the rules loaded", q.where, s.name)
			}
		}
		for _, e := range v.check(p, q.labelsOnly) {
			t.Errorf("%s: %v", q.where, e)
		}
	}
	// Every metric of the contract is on the dashboard.
	for _, name := range contractNames(t) {
		if !used[name] && !used[name+"_bucket"] {
			t.Errorf("the dashboard does not show %s", name)
		}
	}
}

// The dashboard's expressions are valid PromQL: promtool checks them as
// recording rules, with Grafana's variables replaced by sample values.
func TestDashboardExpressionsParseWithPromtool(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus); make check-rules needs it")
	}
	d := loadDashboard(t)
	queries, _ := dashboardQueries(t, d)
	type rec struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rec
	for i, q := range queries {
		expr := grafanaVar.ReplaceAllStringFunc(q.expr, func(s string) string {
			switch strings.Trim(s, "${}") {
			case "__rate_interval", "__interval", "__range":
				return "5m"
			}
			return "x"
		})
		rules = append(rules, rec{Record: fmt.Sprintf("dashboard:query_%d:check", i), Expr: expr})
	}
	out, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "check", "rules", path)
	msg, err := cmd.CombinedOutput()
	if err != nil {
		// promtool names the failing rule by index: map it back.
		var where []string
		for i, q := range queries {
			where = append(where, fmt.Sprintf("query_%d = %s", i, q.where))
		}
		sort.Strings(where)
		t.Fatalf("promtool check rules on the dashboard's expressions: %v\n%s\n%s", err, msg, strings.Join(where, "\n"))
	}
}
