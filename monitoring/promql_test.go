package monitoring

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// A small PromQL reader, enough to find every series selector in an expression
// with its label matchers, whether it is a range vector, and the calls around
// it. It is no full parser: promtool checks the syntax; this checks that the
// names mean something.

// selector is one series selector in an expression.
type selector struct {
	name     string
	matchers []matcher
	ranged   bool     // followed by [range]
	calls    []string // enclosing function or aggregation calls, innermost last ("" for plain parentheses)
}

type matcher struct {
	label, op, value string
}

// parsedExpr is what an expression names.
type parsedExpr struct {
	selectors []selector
	grouping  []string // labels in by, without, on, ignoring, group_left, group_right
}

var promFunctions = map[string]bool{}

func init() {
	for _, f := range strings.Fields(`abs absent absent_over_time ceil changes clamp clamp_max clamp_min
		day_of_month day_of_week day_of_year days_in_month delta deriv exp floor histogram_quantile
		holt_winters hour idelta increase irate label_join label_replace ln log2 log10 minute month
		predict_linear rate resets round scalar sgn sort sort_desc sqrt time timestamp vector year
		avg_over_time min_over_time max_over_time sum_over_time count_over_time quantile_over_time
		stddev_over_time stdvar_over_time last_over_time present_over_time`) {
		promFunctions[f] = true
	}
}

var promAggregations = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
}

var promKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
}

var promGrouping = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

func isIdentStart(r byte) bool { return r == '_' || r == ':' || unicode.IsLetter(rune(r)) }
func isIdent(r byte) bool      { return isIdentStart(r) || (r >= '0' && r <= '9') }

// parsePromQL reads expr. Grafana variables ($x, ${x}, ${x:fmt}) are accepted
// where a value, string or range goes.
func parsePromQL(expr string) (parsedExpr, error) {
	var (
		out     parsedExpr
		stack   []string
		pending string // function or aggregation whose '(' comes next
		open    = -1   // index of the selector that a '{' or '[' would still belong to
		i       int
	)
	skipSpace := func() {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n' || expr[i] == '\r') {
			i++
		}
	}
	readString := func() (string, error) {
		q := expr[i]
		start := i
		i++
		var b strings.Builder
		for i < len(expr) && expr[i] != q {
			if expr[i] == '\\' && q != '`' && i+1 < len(expr) {
				i++
			}
			b.WriteByte(expr[i])
			i++
		}
		if i >= len(expr) {
			return "", fmt.Errorf("unterminated string at offset %d", start)
		}
		i++
		return b.String(), nil
	}
	readIdent := func() string {
		start := i
		for i < len(expr) && isIdent(expr[i]) {
			i++
		}
		return expr[start:i]
	}
	for {
		skipSpace()
		if i >= len(expr) {
			break
		}
		c := expr[i]
		switch {
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
			continue
		case c == '"' || c == '\'' || c == '`':
			if _, err := readString(); err != nil {
				return out, err
			}
			open = -1
		case c == '{':
			if open < 0 {
				return out, fmt.Errorf("selector without a metric name at offset %d", i)
			}
			i++
			for {
				skipSpace()
				if i >= len(expr) {
					return out, fmt.Errorf("unterminated label matchers")
				}
				if expr[i] == '}' {
					i++
					break
				}
				label := readIdent()
				if label == "" {
					return out, fmt.Errorf("label name expected at offset %d", i)
				}
				skipSpace()
				var op string
				for _, o := range []string{"=~", "!~", "!=", "="} {
					if strings.HasPrefix(expr[i:], o) {
						op = o
						break
					}
				}
				if op == "" {
					return out, fmt.Errorf("matcher operator expected after %s", label)
				}
				i += len(op)
				skipSpace()
				if i >= len(expr) || !strings.ContainsRune("\"'`", rune(expr[i])) {
					return out, fmt.Errorf("string expected after %s%s", label, op)
				}
				v, err := readString()
				if err != nil {
					return out, err
				}
				out.selectors[open].matchers = append(out.selectors[open].matchers, matcher{label, op, v})
				skipSpace()
				if i < len(expr) && expr[i] == ',' {
					i++
				}
			}
			continue // the selector stays open for a range
		case c == '[':
			end := strings.IndexByte(expr[i:], ']')
			if end < 0 {
				return out, fmt.Errorf("unterminated range at offset %d", i)
			}
			if open >= 0 {
				out.selectors[open].ranged = true
			}
			i += end + 1
			open = -1
		case c == '(':
			stack = append(stack, pending)
			pending = ""
			i++
			open = -1
		case c == ')':
			if len(stack) == 0 {
				return out, fmt.Errorf("unbalanced ')' at offset %d", i)
			}
			stack = stack[:len(stack)-1]
			i++
			open = -1
		case c == '$':
			i++
			if i < len(expr) && expr[i] == '{' {
				end := strings.IndexByte(expr[i:], '}')
				if end < 0 {
					return out, fmt.Errorf("unterminated variable at offset %d", i)
				}
				i += end + 1
			} else {
				readIdent()
			}
			open = -1
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
			open = -1
		case isIdentStart(c):
			name := readIdent()
			open = -1
			lower := strings.ToLower(name)
			switch {
			case promKeywords[name]:
			case lower == "inf" || lower == "nan":
			case promGrouping[name]:
				skipSpace()
				if i < len(expr) && expr[i] == '(' {
					end := strings.IndexByte(expr[i:], ')')
					if end < 0 {
						return out, fmt.Errorf("unterminated label list after %s", name)
					}
					for l := range strings.SplitSeq(expr[i+1:i+end], ",") {
						if l = strings.TrimSpace(l); l != "" {
							out.grouping = append(out.grouping, l)
						}
					}
					i += end + 1
				}
			case promAggregations[name]:
				pending = name
			default:
				skipSpace()
				if i < len(expr) && expr[i] == '(' {
					if !promFunctions[name] {
						return out, fmt.Errorf("unknown function %s", name)
					}
					pending = name
					continue
				}
				out.selectors = append(out.selectors, selector{name: name, calls: slices.Clone(stack)})
				open = len(out.selectors) - 1
			}
		default:
			// operators, commas, '@'
			i++
			open = -1
		}
	}
	if len(stack) != 0 {
		return out, fmt.Errorf("unbalanced '('")
	}
	return out, nil
}

// metricInfo is what the daemon serves under one series name.
type metricInfo struct {
	kind   string          // counter, gauge, bucket (a histogram's _bucket), recorded
	labels map[string]bool // nil: not checked (recorded series)
}

// vocabulary is every name an expression may use.
type vocabulary struct {
	metrics map[string]metricInfo
	// values of labels with a fixed set of values (state, result, ...)
	enums map[string][]string
}

var (
	rangeOverCounter = map[string]bool{"rate": true, "irate": true, "increase": true, "resets": true}
	rangeOverGauge   = map[string]bool{"changes": true, "deriv": true, "delta": true, "idelta": true,
		"predict_linear": true, "resets": true, "holt_winters": true}
	plainAlternation = regexp.MustCompile(`^[a-z_]+(\|[a-z_]+)*$`)
)

// targetLabels are added by Prometheus to every scraped series.
var targetLabels = []string{"job", "instance"}

// check returns every problem with the names in p. labelsOnly is for
// expressions that only name series to read their labels (Grafana's
// label_values), where a counter needs no rate.
func (v vocabulary) check(p parsedExpr, labelsOnly bool) []error {
	var errs []error
	exprLabels := map[string]bool{"le": true}
	for _, l := range targetLabels {
		exprLabels[l] = true
	}
	checkGrouping := true
	for _, s := range p.selectors {
		info, ok := v.metrics[s.name]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown metric %s", s.name))
			continue
		}
		inner := ""
		if len(s.calls) > 0 {
			inner = s.calls[len(s.calls)-1]
		}
		switch {
		case labelsOnly:
		case info.kind == "counter" || info.kind == "bucket":
			if !s.ranged || !rangeOverCounter[inner] {
				errs = append(errs, fmt.Errorf("%s is a counter: use it as rate/irate/increase(%s[...])", s.name, s.name))
			}
		default:
			if s.ranged && !rangeOverGauge[inner] && !strings.HasSuffix(inner, "_over_time") {
				errs = append(errs, fmt.Errorf("%s is a gauge: a range of it only makes sense in *_over_time, changes, deriv, delta, not %q", s.name, inner))
			}
		}
		if info.labels == nil {
			checkGrouping = false
			continue
		}
		for l := range info.labels {
			exprLabels[l] = true
		}
		for _, m := range s.matchers {
			if m.label == "__name__" {
				errs = append(errs, fmt.Errorf("%s: __name__ matchers are not checked; name the metric", s.name))
				continue
			}
			if !info.labels[m.label] && !slices.Contains(targetLabels, m.label) {
				errs = append(errs, fmt.Errorf("%s has no label %s", s.name, m.label))
				continue
			}
			values, enum := v.enums[m.label]
			if !enum || strings.Contains(m.value, "$") {
				continue
			}
			switch m.op {
			case "=", "!=":
				if !slices.Contains(values, m.value) {
					errs = append(errs, fmt.Errorf("%s{%s%s%q}: %s is never %q (it is one of %s)", s.name, m.label, m.op, m.value, m.label, m.value, strings.Join(values, ", ")))
				}
			case "=~", "!~":
				if !plainAlternation.MatchString(m.value) {
					continue
				}
				for alt := range strings.SplitSeq(m.value, "|") {
					if !slices.Contains(values, alt) {
						errs = append(errs, fmt.Errorf("%s{%s%s%q}: %s is never %q (it is one of %s)", s.name, m.label, m.op, m.value, m.label, alt, strings.Join(values, ", ")))
					}
				}
			}
		}
	}
	if checkGrouping {
		for _, l := range p.grouping {
			if !exprLabels[l] {
				errs = append(errs, fmt.Errorf("grouping by %s, which no series of the expression has", l))
			}
		}
	}
	return errs
}

// The checker itself: what it must accept and what it must catch, so a passing
// asset test means something.
func TestCheckerAcceptsGoodAndCatchesBadExpressions(t *testing.T) {
	t.Parallel()
	v := vocabulary{metrics: served(t), enums: enums()}
	v.metrics["profile:synchronizer_last_success:age_seconds"] = metricInfo{kind: "recorded"}
	tests := []struct {
		expr string
		want string // "" when fine, else a part of the first problem
	}{
		{`sum by (profile, result) (rate(synchronizer_sync_runs_total{profile=~"$profile"}[$__rate_interval]))`, ""},
		{`histogram_quantile(0.95, sum by (le, provider) (rate(synchronizer_provider_request_duration_seconds_bucket[5m])))`, ""},
		{`synchronizer_links{state=~"error|needs_consent"} > 0`, ""},
		{`time() - (synchronizer_last_success_timestamp_seconds > 0) or on (job, instance) group_left () process_start_time_seconds`, ""},
		{`profile:synchronizer_last_success:age_seconds > 900 # a comment`, ""},
		{`absent(up{job="synchronizer"})`, ""},
		{`max_over_time(synchronizer_links{state="error"}[1h])`, ""},
		{`rate(synchronizr_sync_runs_total[5m])`, "unknown metric synchronizr_sync_runs_total"},
		{`synchronizer_sync_runs_total{result="error"}`, "is a counter"},
		{`sum(synchronizer_plugin_restarts_total[15m])`, "is a counter"},
		{`rate(synchronizer_links[5m])`, "is a gauge"},
		{`synchronizer_sync_duration_seconds`, "unknown metric synchronizer_sync_duration_seconds"},
		{`synchronizer_links{stat="error"}`, "has no label stat"},
		{`synchronizer_links{state="erorr"}`, `state is never "erorr"`},
		{`synchronizer_links{state=~"error|need_consent"}`, `state is never "need_consent"`},
		{`rate(synchronizer_sync_runs_total{result="failed"}[5m])`, `result is never "failed"`},
		{`sum by (tenant) (synchronizer_links)`, "grouping by tenant"},
		{`rat(synchronizer_sync_runs_total[5m])`, "unknown function rat"},
		{`{__name__="synchronizer_links"}`, "without a metric name"},
		{`sum(rate(synchronizer_sync_runs_total[5m])`, "unbalanced"},
		{`synchronizer_links{state="error`, "unterminated"},
	}
	for _, tt := range tests {
		p, err := parsePromQL(tt.expr)
		var got string
		if err != nil {
			got = err.Error()
		} else if errs := v.check(p, false); len(errs) > 0 {
			got = errs[0].Error()
		}
		switch {
		case tt.want == "" && got != "":
			t.Errorf("%s: %s, want no problem", tt.expr, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("%s: problem %q, want one with %q", tt.expr, got, tt.want)
		}
	}
}

func TestParseFindsSelectorsRangesAndCalls(t *testing.T) {
	t.Parallel()
	p, err := parsePromQL(`histogram_quantile(0.9, sum by (le) (rate(a_bucket{x="1", y=~"$v"}[5m]))) / on (job) group_left b offset 5m`)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.selectors) != 2 {
		t.Fatalf("selectors %+v, want a_bucket and b", p.selectors)
	}
	a, b := p.selectors[0], p.selectors[1]
	if a.name != "a_bucket" || !a.ranged || !slices.Equal(a.calls, []string{"histogram_quantile", "sum", "rate"}) ||
		!slices.Equal(a.matchers, []matcher{{"x", "=", "1"}, {"y", "=~", "$v"}}) {
		t.Errorf("first selector %+v", a)
	}
	if b.name != "b" || b.ranged || len(b.calls) != 0 {
		t.Errorf("second selector %+v", b)
	}
	if !slices.Equal(p.grouping, []string{"le", "job"}) {
		t.Errorf("grouping %v, want [le job]", p.grouping)
	}
}
