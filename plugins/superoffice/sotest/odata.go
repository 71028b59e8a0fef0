package sotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/superoffice/internal/wire"
)

// The OData search of the archive providers: $select, $filter (the operators of
// the reference joined by "and"), $orderBy, $top, $skip, and SLIM display values
// versus $output=Logical / $mode=Full raw values.

type colKind int

const (
	colInt colKind = iota
	colAssoc
	colLocalDate // wall clock in the tenant's zone
	colUTCDate
	colBool
	colString
	colList // a list item: display value in SLIM, id in Logical
)

type column struct {
	kind    colKind
	raw     func(row any) any    // int, time.Time, bool, string
	display func(row any) string // SLIM value (colAssoc, colList)
	// num and at, when set, give raw's int or time.Time without boxing it:
	// searches read them for every row.
	num func(row any) int
	at  func(row any) time.Time
}

// intCol and dateCol are columns of an int and of a time (kind colLocalDate or
// colUTCDate) with their typed readers.
func intCol(kind colKind, f func(row any) int) column {
	return column{kind: kind, raw: func(r any) any { return f(r) }, num: f}
}

func dateCol(kind colKind, f func(row any) time.Time) column {
	return column{kind: kind, raw: func(r any) any { return f(r) }, at: f}
}

type archive struct {
	name    string
	entity  string
	columns map[string]column // lower-case name -> column
	names   map[string]string // lower-case name -> canonical name
	key     func(row any) int
}

func (a *archive) col(name string) (string, column, bool) {
	l := strings.ToLower(name)
	c, ok := a.columns[l]
	return a.names[l], c, ok
}

func (s *Server) appointmentArchive(z zone) *archive {
	st := s.st
	ap := func(r any) *appt { return r.(*appt) }
	assocName := func(id int) string {
		if a := st.assocs[id]; a != nil {
			return a.name
		}
		return ""
	}
	cols := map[string]column{
		"appointmentId": intCol(colInt, func(r any) int { return ap(r).id }),
		"associateId": {kind: colAssoc, raw: func(r any) any { return ap(r).assoc }, num: func(r any) int { return ap(r).assoc },
			display: func(r any) string { return assocName(ap(r).assoc) }},
		"date":             dateCol(colLocalDate, func(r any) time.Time { return ap(r).start }),
		"endDate":          dateCol(colLocalDate, func(r any) time.Time { return ap(r).end }),
		"time":             {kind: colString, raw: func(r any) any { return ap(r).start.In(z.loc).Format("15:04") }},
		"endTime":          {kind: colString, raw: func(r any) any { return ap(r).end.In(z.loc).Format("15:04") }},
		"type":             {kind: colList, raw: func(r any) any { return ap(r).task }, display: func(r any) string { return st.taskName(ap(r).task) }},
		"rawType":          intCol(colInt, func(r any) int { return ap(r).typ }),
		"rawStatus":        intCol(colInt, func(r any) int { return ap(r).status }),
		"text":             {kind: colString, raw: func(r any) any { return ap(r).text }},
		"location":         {kind: colString, raw: func(r any) any { return ap(r).location }},
		"completed":        {kind: colBool, raw: func(r any) any { return ap(r).status == wire.StatusCompleted }},
		"alarm":            {kind: colBool, raw: func(r any) any { return ap(r).alarm }},
		"recurring":        {kind: colBool, raw: func(r any) any { return ap(r).rule != 0 }},
		"booking":          {kind: colBool, raw: func(r any) any { return ap(r).mother != 0 }},
		"recurrenceRuleId": intCol(colInt, func(r any) int { return ap(r).rule }),
		"updatedDate":      dateCol(colUTCDate, func(r any) time.Time { return ap(r).updated }),
		"registeredDate":   dateCol(colUTCDate, func(r any) time.Time { return ap(r).registered }),
		"updatedBy":        {kind: colAssoc, raw: func(r any) any { return ap(r).updBy }, display: func(r any) string { return assocName(ap(r).updBy) }},
		"registeredBy":     {kind: colAssoc, raw: func(r any) any { return ap(r).regBy }, display: func(r any) string { return assocName(ap(r).regBy) }},
		"personId":         {kind: colInt, raw: func(r any) any { return ap(r).personID }},
		"contactId":        {kind: colInt, raw: func(r any) any { return 0 }},
		"projectId":        {kind: colInt, raw: func(r any) any { return 0 }},
		"saleId":           {kind: colInt, raw: func(r any) any { return 0 }},
		"invitedPersonId":  {kind: colInt, raw: func(r any) any { return 0 }},
		"visibleInDiary":   {kind: colBool, raw: func(r any) any { return ap(r).status != wire.StatusHidden }},
		"visibleFor": {kind: colList, raw: func(r any) any { return ap(r).private }, display: func(r any) string {
			if ap(r).private == 0 {
				return "All"
			}
			return assocName(ap(r).assoc)
		}},
		"appointment/description": {kind: colString, raw: func(r any) any { return ap(r).text }},
	}
	return newArchive("FindAppointment", "appointment", cols, func(r any) int { return ap(r).id })
}

func (s *Server) userArchive() *archive {
	as := func(r any) *associate { return r.(*associate) }
	cols := map[string]column{
		"associateDbId": {kind: colInt, raw: func(r any) any { return as(r).id }},
		"assocName":     {kind: colString, raw: func(r any) any { return as(r).name }},
		"userName":      {kind: colString, raw: func(r any) any { return as(r).name }},
		"fullName":      {kind: colString, raw: func(r any) any { return as(r).fullName }},
		"personEmail":   {kind: colString, raw: func(r any) any { return as(r).email }},
		"personId":      {kind: colInt, raw: func(r any) any { return as(r).personID }},
		"assocType": {kind: colList, raw: func(r any) any { return as(r).kind }, display: func(r any) string {
			switch as(r).kind {
			case kindResource:
				return "Resource"
			case kindSystem:
				return "System user"
			}
			return "Employee"
		}},
		"isActive": {kind: colBool, raw: func(r any) any { return !as(r).deleted }},
	}
	return newArchive("AllUsers", "associate", cols, func(r any) int { return as(r).id })
}

func newArchive(name, entity string, cols map[string]column, key func(any) int) *archive {
	a := &archive{name: name, entity: entity, columns: map[string]column{}, names: map[string]string{}, key: key}
	for n, c := range cols {
		a.columns[strings.ToLower(n)] = c
		a.names[strings.ToLower(n)] = n
	}
	return a
}

// condition is one parsed filter term.
type condition struct {
	col  string
	c    column
	op   string
	args []string
}

type odataErr struct{ msg string }

func (e odataErr) Error() string { return e.msg }

// parseFilter splits "a op b and c op (d,e)" into conditions.
func parseFilter(a *archive, f string) ([]condition, error) {
	toks, err := tokenize(f)
	if err != nil {
		return nil, err
	}
	var out []condition
	for len(toks) > 0 {
		if len(toks) < 2 {
			return nil, odataErr{fmt.Sprintf("incomplete filter term near %q", strings.Join(toks, " "))}
		}
		name, c, ok := a.col(toks[0])
		if !ok {
			return nil, odataErr{fmt.Sprintf("unknown column %q in $filter of %s", toks[0], a.name)}
		}
		cond := condition{col: name, c: c, op: toks[1]}
		toks = toks[2:]
		if len(toks) > 0 && !strings.EqualFold(toks[0], "and") {
			arg := toks[0]
			toks = toks[1:]
			if strings.HasPrefix(arg, "(") {
				cond.args = splitList(arg[1 : len(arg)-1])
			} else {
				cond.args = []string{unquote(arg)}
			}
		}
		if len(toks) > 0 {
			if !strings.EqualFold(toks[0], "and") {
				return nil, odataErr{fmt.Sprintf("unsupported filter connective %q (only and)", toks[0])}
			}
			toks = toks[1:]
			if len(toks) == 0 {
				return nil, odataErr{"filter ends with and"}
			}
		}
		out = append(out, cond)
	}
	return out, nil
}

func tokenize(s string) ([]string, error) {
	var out []string
	i := 0
	for i < len(s) {
		switch ch := s[i]; {
		case ch == ' ' || ch == '\t':
			i++
		case ch == '\'':
			j := i + 1
			for j < len(s) {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j >= len(s) {
				return nil, odataErr{"unterminated string in $filter"}
			}
			out = append(out, s[i:j+1])
			i = j + 1
		case ch == '(':
			depth, j := 0, i
			inQ := false
			for ; j < len(s); j++ {
				if s[j] == '\'' {
					inQ = !inQ
				}
				if inQ {
					continue
				}
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if j >= len(s) {
				return nil, odataErr{"unbalanced parenthesis in $filter"}
			}
			out = append(out, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '(' {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, unquote(p))
		}
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}

// matcher is a condition ready to test rows: its operator lower-cased and its
// values read once (as ints or dates, when the rows' column calls for them),
// with what was wrong with them reported at the first row, as reading them for
// every row did.
type matcher struct {
	condition
	op string

	intsRead bool
	ints     []int
	intsErr  error

	timesRead bool
	times     []time.Time
	timesErr  error

	lower []string // the values lower-cased (string columns)
}

func newMatcher(cd condition) *matcher {
	m := &matcher{condition: cd, op: strings.ToLower(cd.op)}
	for _, a := range cd.args {
		m.lower = append(m.lower, strings.ToLower(a))
	}
	return m
}

func (m *matcher) need(n int) error {
	if len(m.args) < n {
		return odataErr{fmt.Sprintf("operator %s on %s needs %d value(s)", m.condition.op, m.col, n)}
	}
	return nil
}

func (m *matcher) intArgs() ([]int, error) {
	if !m.intsRead {
		m.intsRead = true
		for _, a := range m.args {
			n, err := strconv.Atoi(strings.TrimSpace(a))
			if err != nil {
				m.intsErr = odataErr{fmt.Sprintf("%s: %q is not a number", m.col, a)}
				break
			}
			m.ints = append(m.ints, n)
		}
	}
	return m.ints, m.intsErr
}

func (m *matcher) timeArgs(loc *time.Location) ([]time.Time, error) {
	if !m.timesRead {
		m.timesRead = true
		for _, a := range m.args {
			t, _, err := wire.ParseDate(a, loc)
			if err != nil {
				m.timesErr = odataErr{fmt.Sprintf("%s: %v", m.col, err)}
				break
			}
			m.times = append(m.times, t)
		}
	}
	return m.times, m.timesErr
}

// match evaluates the condition on a row.
func (m *matcher) match(row any, z zone, now time.Time) (bool, error) {
	switch {
	case m.c.num != nil:
		return m.matchInt(m.c.num(row))
	case m.c.at != nil:
		return m.matchTime(m.c.at(row), z, now)
	}
	switch v := m.c.raw(row).(type) {
	case int:
		return m.matchInt(v)
	case time.Time:
		return m.matchTime(v, z, now)
	}
	return m.matchOther(row)
}

func (m *matcher) matchInt(v int) (bool, error) {
	op := m.op
	{
		ns, err := m.intArgs()
		if err != nil {
			return false, err
		}
		switch op {
		case "eq", "ne", "lt", "gt", "le", "ge":
			if err := m.need(1); err != nil {
				return false, err
			}
			n := ns[0]
			switch op {
			case "eq":
				return v == n, nil
			case "ne":
				return v != n, nil
			case "lt":
				return v < n, nil
			case "gt":
				return v > n, nil
			case "le":
				return v <= n, nil
			}
			return v >= n, nil
		case "between":
			if err := m.need(2); err != nil {
				return false, err
			}
			return v >= ns[0] && v <= ns[1], nil
		case "oneof", "associateisoneof", "in":
			return slices.Contains(ns, v), nil
		case "associateisnotoneof", "notoneof":
			return !slices.Contains(ns, v), nil
		}
	}
	return false, m.unsupported()
}

func (m *matcher) unsupported() error {
	return odataErr{fmt.Sprintf("operator %q is not supported on %s", m.condition.op, m.col)}
}

func (m *matcher) matchTime(v time.Time, z zone, now time.Time) (bool, error) {
	op := m.op
	{
		loc := z.loc
		if m.c.kind == colUTCDate {
			loc = time.UTC
		}
		times, err := m.timeArgs(loc)
		if err != nil {
			return false, err
		}
		day := func(t time.Time) civilDate { return dateOf(t.In(loc)) }
		switch op {
		case "beforetime", "lt":
			if err := m.need(1); err != nil {
				return false, err
			}
			return v.Before(times[0]), nil
		case "aftertime", "gt":
			if err := m.need(1); err != nil {
				return false, err
			}
			return v.After(times[0]), nil
		case "datetime", "eq":
			if err := m.need(1); err != nil {
				return false, err
			}
			return v.Equal(times[0]), nil
		case "le":
			if err := m.need(1); err != nil {
				return false, err
			}
			return !v.After(times[0]), nil
		case "ge":
			if err := m.need(1); err != nil {
				return false, err
			}
			return !v.Before(times[0]), nil
		case "before":
			if err := m.need(1); err != nil {
				return false, err
			}
			return day(v).before(day(times[0])), nil
		case "after":
			if err := m.need(1); err != nil {
				return false, err
			}
			return day(times[0]).before(day(v)), nil
		case "date":
			if err := m.need(1); err != nil {
				return false, err
			}
			return day(v) == day(times[0]), nil
		case "between", "datebetween":
			if err := m.need(2); err != nil {
				return false, err
			}
			d := day(v)
			return !d.before(day(times[0])) && !day(times[1]).before(d), nil
		case "today":
			return day(v) == day(now), nil
		}
	}
	return false, m.unsupported()
}

func (m *matcher) matchOther(row any) (bool, error) {
	op := m.op
	switch v := m.c.raw(row).(type) {
	case bool:
		switch op {
		case "eq", "ne":
			if err := m.need(1); err != nil {
				return false, err
			}
			want := strings.EqualFold(m.args[0], "true") || m.args[0] == "1"
			return (v == want) == (op == "eq"), nil
		case "set":
			return v, nil
		case "notset":
			return !v, nil
		}
	case string:
		if err := m.need(1); err != nil && op != "isempty" && op != "isnotempty" {
			return false, err
		}
		lv := strings.ToLower(v)
		switch op {
		case "eq", "is":
			return strings.EqualFold(v, m.args[0]), nil
		case "ne", "notis":
			return !strings.EqualFold(v, m.args[0]), nil
		case "contains":
			return strings.Contains(lv, m.lower[0]), nil
		case "notcontains":
			return !strings.Contains(lv, m.lower[0]), nil
		case "begins":
			return strings.HasPrefix(lv, m.lower[0]), nil
		case "ends":
			return strings.HasSuffix(lv, m.lower[0]), nil
		case "isempty":
			return v == "", nil
		case "isnotempty":
			return v != "", nil
		}
	}
	return false, m.unsupported()
}

// search runs an OData query over rows and returns its answer; on a bad query
// it has answered with the error itself and returns false. It runs under the
// server's lock (rows are the store's); the caller sends the answer after.
func (c *call) search(a *archive, rows []any, dst []byte) ([]byte, bool) {
	logical := strings.EqualFold(c.q.Get("$output"), "Logical") || strings.EqualFold(c.q.Get("$output"), "Raw") ||
		strings.EqualFold(c.q.Get("$mode"), "Full")
	var selected []string
	if sel := c.q.Get("$select"); sel != "" {
		for _, n := range strings.Split(sel, ",") {
			n = strings.TrimSpace(n)
			name, _, ok := a.col(n)
			if !ok {
				c.err(http.StatusBadRequest, "SoArchiveException", fmt.Sprintf("Unknown column %q in $select of %s", n, a.name))
				return nil, false
			}
			selected = append(selected, name)
		}
	} else {
		for _, n := range a.names {
			selected = append(selected, n)
		}
	}
	conds, err := parseFilter(a, c.q.Get("$filter"))
	if err != nil {
		c.err(http.StatusBadRequest, "SoArchiveException", err.Error())
		return nil, false
	}
	matchers := make([]*matcher, len(conds))
	for i, cd := range conds {
		matchers[i] = newMatcher(cd)
	}
	now := c.s.now()
	var hits []any
	for _, r := range rows {
		ok := true
		for _, m := range matchers {
			hit, err := m.match(r, c.z, now)
			if err != nil {
				c.err(http.StatusBadRequest, "SoArchiveException", err.Error())
				return nil, false
			}
			if !hit {
				ok = false
				break
			}
		}
		if ok {
			hits = append(hits, r)
		}
	}
	if err := sortRowsBy(a, hits, c.q.Get("$orderby")); err != nil {
		c.err(http.StatusBadRequest, "SoArchiveException", err.Error())
		return nil, false
	}
	skip, _ := queryInt(c.q, "$skip")
	top, hasTop := queryInt(c.q, "$top")
	if skip < 0 || top < 0 {
		c.err(http.StatusBadRequest, "SoArchiveException", "$top and $skip must not be negative")
		return nil, false
	}
	if skip > len(hits) {
		skip = len(hits)
	}
	hits = hits[skip:]
	limit := len(hits)
	if hasTop && top < limit {
		limit = top
	}
	var next *string
	if max := c.s.opts.MaxPageSize; max > 0 && limit > max {
		limit = max
		u := *c.r.URL
		q := u.Query()
		q.Set("$skip", strconv.Itoa(skip+max))
		if hasTop {
			q.Set("$top", strconv.Itoa(top-max))
		}
		u.RawQuery = q.Encode()
		link := requestBase(c.r) + u.RequestURI()
		next = &link
	}
	return renderSearch(dst, a, hits[:limit], selected, logical, c.z, c.base+"/v1/Archive/$metadata", next), true
}

// renderSearch writes the answer of a search as encoding/json wrote its
// wire.ODataResponse: members in the order of their names, rows' members too.
func renderSearch(dst []byte, a *archive, rows []any, selected []string, logical bool, z zone, metadata string, next *string) []byte {
	type member struct {
		name string
		col  column
		key  int // 1 PrimaryKey, 2 EntityName
	}
	var members []member
	seen := map[string]bool{"PrimaryKey": true, "EntityName": true}
	members = append(members, member{name: "PrimaryKey", key: 1}, member{name: "EntityName", key: 2})
	for _, n := range selected {
		if seen[n] {
			continue
		}
		seen[n] = true
		_, col, _ := a.col(n)
		members = append(members, member{name: n, col: col})
	}
	slices.SortFunc(members, func(x, y member) int { return strings.Compare(x.name, y.name) })
	heads := make([][]byte, len(members)) // `"name":`, with the comma before all but the first
	for i, m := range members {
		h := []byte{}
		if i > 0 {
			h = append(h, ',')
		}
		h = appendJSONString(h, m.name)
		heads[i] = append(h, ':')
	}
	buf := slices.Grow(dst[:0], 256+len(rows)*40*len(members))
	buf = append(buf, `{"odata.metadata":`...)
	buf = appendJSONString(buf, metadata)
	buf = append(buf, `,"odata.nextLink":`...)
	if next == nil {
		buf = append(buf, "null"...)
	} else {
		buf = appendJSONString(buf, *next)
	}
	buf = append(buf, `,"value":[`...)
	for i, r := range rows {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '{')
		for k, m := range members {
			buf = append(buf, heads[k]...)
			switch {
			case m.key == 1:
				buf = append(buf, '"')
				buf = strconv.AppendInt(buf, int64(a.key(r)), 10)
				buf = append(buf, '"')
			case m.key == 2:
				buf = appendJSONString(buf, a.entity)
			case m.col.at != nil && m.col.kind == colLocalDate:
				buf = append(buf, '"')
				buf = wire.AppendDate(buf, m.col.at(r), z.loc, z.offset)
				buf = append(buf, '"')
			case m.col.at != nil && m.col.kind == colUTCDate:
				buf = append(buf, '"')
				buf = wire.AppendDate(buf, m.col.at(r), time.UTC, z.offset)
				buf = append(buf, '"')
			case m.col.num != nil && (m.col.kind == colInt || logical):
				buf = strconv.AppendInt(buf, int64(m.col.num(r)), 10)
			default:
				buf = appendJSONValue(buf, renderValue(m.col, r, logical, z))
			}
		}
		buf = append(buf, '}')
	}
	return append(buf, "]}"...)
}

// appendJSONValue appends v as encoding/json (HTML escaping off) writes it.
func appendJSONValue(buf []byte, v any) []byte {
	switch x := v.(type) {
	case int:
		return strconv.AppendInt(buf, int64(x), 10)
	case bool:
		return strconv.AppendBool(buf, x)
	case string:
		return appendJSONString(buf, x)
	}
	return appendEncoded(buf, v)
}

// appendEncoded appends v through encoding/json, HTML escaping off.
func appendEncoded(buf []byte, v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return append(buf, "null"...)
	}
	return append(buf, bytes.TrimRight(b.Bytes(), "\n")...)
}

// appendJSONString appends s quoted as encoding/json (HTML escaping off)
// quotes it: plain printable ASCII as it is, anything else through the encoder.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return appendEncoded(buf, s)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

func renderValue(col column, r any, logical bool, z zone) any {
	switch col.kind {
	case colAssoc, colList:
		if !logical {
			return col.display(r)
		}
		return col.raw(r)
	case colLocalDate:
		return fmtLocal(col.raw(r).(time.Time), z)
	case colUTCDate:
		return fmtUTC(col.raw(r).(time.Time), z)
	default:
		return col.raw(r)
	}
}

// sortKey is one row's value of one $orderBy column, read once for the sort.
type sortKey struct {
	i int64
	t time.Time
	s string
}

func sortRowsBy(a *archive, rows []any, orderBy string) error {
	type key struct {
		col  column
		desc bool
	}
	var keys []key
	for _, part := range strings.Split(orderBy, ",") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		_, c, ok := a.col(f[0])
		if !ok {
			return odataErr{fmt.Sprintf("unknown column %q in $orderBy", f[0])}
		}
		keys = append(keys, key{col: c, desc: len(f) > 1 && strings.EqualFold(f[1], "desc")})
	}
	type item struct {
		row  any
		id   int
		keys []sortKey
	}
	items := make([]item, len(rows))
	all := make([]sortKey, len(rows)*len(keys))
	for i, r := range rows {
		ks := all[i*len(keys) : (i+1)*len(keys)]
		for k, kk := range keys {
			switch {
			case kk.col.num != nil:
				ks[k].i = int64(kk.col.num(r))
				continue
			case kk.col.at != nil:
				ks[k].t = kk.col.at(r)
				continue
			}
			switch v := kk.col.raw(r).(type) {
			case int:
				ks[k].i = int64(v)
			case bool:
				if v {
					ks[k].i = 1
				}
			case time.Time:
				ks[k].t = v
			case string:
				ks[k].s = strings.ToLower(v)
			}
		}
		items[i] = item{row: r, id: a.key(r), keys: ks}
	}
	sort.SliceStable(items, func(i, j int) bool {
		for k, kk := range keys {
			x, y := items[i].keys[k], items[j].keys[k]
			cmp := 0
			switch {
			case x.i != y.i:
				cmp = compareInts(x.i, y.i)
			case !x.t.Equal(y.t):
				cmp = x.t.Compare(y.t)
			default:
				cmp = strings.Compare(x.s, y.s)
			}
			if cmp != 0 {
				return (cmp < 0) != kk.desc
			}
		}
		return items[i].id < items[j].id
	})
	for i := range items {
		rows[i] = items[i].row
	}
	return nil
}

func compareInts(a, b int64) int {
	if a < b {
		return -1
	}
	return 1
}

func (c *call) appointmentSearch() {
	bp := c.s.answers.get()
	c.s.mu.Lock()
	body, ok := c.appointmentRows(bp.Bytes())
	c.s.mu.Unlock()
	if ok {
		writeRawJSON(c.w, http.StatusOK, body)
	}
	c.s.answers.putBytes(bp, body)
}

func (c *call) appointmentRows(dst []byte) ([]byte, bool) {
	a := c.s.appointmentArchive(c.z)
	// Narrow by diary owner first: every diary query names its associates.
	var rows []any
	owners := ownersOf(c.q.Get("$filter"))
	if owners != nil {
		for _, o := range owners {
			for _, id := range c.s.st.byOwner[o] {
				rows = append(rows, c.s.st.appts[id])
			}
		}
	} else {
		for _, id := range sortedKeys(c.s.st.appts) {
			rows = append(rows, c.s.st.appts[id])
		}
	}
	return c.search(a, rows, dst)
}

// ownersOf extracts the ids of an "associateId associateIsOneOf (..)" or
// "associateId eq N" term, nil when there is none.
func ownersOf(filter string) []int {
	toks, err := tokenize(filter)
	if err != nil {
		return nil
	}
	for i := 0; i+2 < len(toks); i++ {
		if !strings.EqualFold(toks[i], "associateId") {
			continue
		}
		op := strings.ToLower(toks[i+1])
		if op != "associateisoneof" && op != "eq" && op != "oneof" && op != "in" {
			continue
		}
		arg := toks[i+2]
		var vals []string
		if strings.HasPrefix(arg, "(") {
			vals = splitList(arg[1 : len(arg)-1])
		} else {
			vals = []string{unquote(arg)}
		}
		var out []int
		for _, v := range vals {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return nil
			}
			out = append(out, n)
		}
		return out
	}
	return nil
}

func (c *call) userSearch() {
	c.s.mu.Lock()
	var rows []any
	for _, id := range sortedKeys(c.s.st.assocs) {
		rows = append(rows, c.s.st.assocs[id])
	}
	body, ok := c.search(c.s.userArchive(), rows, nil)
	c.s.mu.Unlock()
	if ok {
		writeRawJSON(c.w, http.StatusOK, body)
	}
}

// nextLinkOf is used by tests: the URL values of a next link.
func nextLinkOf(link string) url.Values {
	u, err := url.Parse(link)
	if err != nil {
		return nil
	}
	return u.Query()
}
