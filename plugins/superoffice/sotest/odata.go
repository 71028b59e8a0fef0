package sotest

import (
	"fmt"
	"net/http"
	"net/url"
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
		"appointmentId":    {kind: colInt, raw: func(r any) any { return ap(r).id }},
		"associateId":      {kind: colAssoc, raw: func(r any) any { return ap(r).assoc }, display: func(r any) string { return assocName(ap(r).assoc) }},
		"date":             {kind: colLocalDate, raw: func(r any) any { return ap(r).start }},
		"endDate":          {kind: colLocalDate, raw: func(r any) any { return ap(r).end }},
		"time":             {kind: colString, raw: func(r any) any { return ap(r).start.In(z.loc).Format("15:04") }},
		"endTime":          {kind: colString, raw: func(r any) any { return ap(r).end.In(z.loc).Format("15:04") }},
		"type":             {kind: colList, raw: func(r any) any { return ap(r).task }, display: func(r any) string { return st.taskName(ap(r).task) }},
		"rawType":          {kind: colInt, raw: func(r any) any { return ap(r).typ }},
		"rawStatus":        {kind: colInt, raw: func(r any) any { return ap(r).status }},
		"text":             {kind: colString, raw: func(r any) any { return ap(r).text }},
		"location":         {kind: colString, raw: func(r any) any { return ap(r).location }},
		"completed":        {kind: colBool, raw: func(r any) any { return ap(r).status == wire.StatusCompleted }},
		"alarm":            {kind: colBool, raw: func(r any) any { return ap(r).alarm }},
		"recurring":        {kind: colBool, raw: func(r any) any { return ap(r).rule != 0 }},
		"booking":          {kind: colBool, raw: func(r any) any { return ap(r).mother != 0 }},
		"recurrenceRuleId": {kind: colInt, raw: func(r any) any { return ap(r).rule }},
		"updatedDate":      {kind: colUTCDate, raw: func(r any) any { return ap(r).updated }},
		"registeredDate":   {kind: colUTCDate, raw: func(r any) any { return ap(r).registered }},
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

// match evaluates a condition on a row.
func (cd condition) match(row any, z zone, now time.Time) (bool, error) {
	raw := cd.c.raw(row)
	op := strings.ToLower(cd.op)
	need := func(n int) error {
		if len(cd.args) < n {
			return odataErr{fmt.Sprintf("operator %s on %s needs %d value(s)", cd.op, cd.col, n)}
		}
		return nil
	}
	switch v := raw.(type) {
	case int:
		ints := func() ([]int, error) {
			var out []int
			for _, a := range cd.args {
				n, err := strconv.Atoi(strings.TrimSpace(a))
				if err != nil {
					return nil, odataErr{fmt.Sprintf("%s: %q is not a number", cd.col, a)}
				}
				out = append(out, n)
			}
			return out, nil
		}
		ns, err := ints()
		if err != nil {
			return false, err
		}
		switch op {
		case "eq", "ne", "lt", "gt", "le", "ge":
			if err := need(1); err != nil {
				return false, err
			}
			n := ns[0]
			return map[string]bool{"eq": v == n, "ne": v != n, "lt": v < n, "gt": v > n, "le": v <= n, "ge": v >= n}[op], nil
		case "between":
			if err := need(2); err != nil {
				return false, err
			}
			return v >= ns[0] && v <= ns[1], nil
		case "oneof", "associateisoneof", "in":
			for _, n := range ns {
				if v == n {
					return true, nil
				}
			}
			return false, nil
		case "associateisnotoneof", "notoneof":
			for _, n := range ns {
				if v == n {
					return false, nil
				}
			}
			return true, nil
		}
	case time.Time:
		loc := z.loc
		if cd.c.kind == colUTCDate {
			loc = time.UTC
		}
		times := make([]time.Time, len(cd.args))
		for i, a := range cd.args {
			t, _, err := wire.ParseDate(a, loc)
			if err != nil {
				return false, odataErr{fmt.Sprintf("%s: %v", cd.col, err)}
			}
			times[i] = t
		}
		day := func(t time.Time) civilDate { return dateOf(t.In(loc)) }
		switch op {
		case "beforetime", "lt":
			if err := need(1); err != nil {
				return false, err
			}
			return v.Before(times[0]), nil
		case "aftertime", "gt":
			if err := need(1); err != nil {
				return false, err
			}
			return v.After(times[0]), nil
		case "datetime", "eq":
			if err := need(1); err != nil {
				return false, err
			}
			return v.Equal(times[0]), nil
		case "le":
			if err := need(1); err != nil {
				return false, err
			}
			return !v.After(times[0]), nil
		case "ge":
			if err := need(1); err != nil {
				return false, err
			}
			return !v.Before(times[0]), nil
		case "before":
			if err := need(1); err != nil {
				return false, err
			}
			return day(v).before(day(times[0])), nil
		case "after":
			if err := need(1); err != nil {
				return false, err
			}
			return day(times[0]).before(day(v)), nil
		case "date":
			if err := need(1); err != nil {
				return false, err
			}
			return day(v) == day(times[0]), nil
		case "between", "datebetween":
			if err := need(2); err != nil {
				return false, err
			}
			d := day(v)
			return !d.before(day(times[0])) && !day(times[1]).before(d), nil
		case "today":
			return day(v) == day(now), nil
		}
	case bool:
		switch op {
		case "eq", "ne":
			if err := need(1); err != nil {
				return false, err
			}
			want := strings.EqualFold(cd.args[0], "true") || cd.args[0] == "1"
			return (v == want) == (op == "eq"), nil
		case "set":
			return v, nil
		case "notset":
			return !v, nil
		}
	case string:
		if err := need(1); err != nil && op != "isempty" && op != "isnotempty" {
			return false, err
		}
		lv := strings.ToLower(v)
		switch op {
		case "eq", "is":
			return strings.EqualFold(v, cd.args[0]), nil
		case "ne", "notis":
			return !strings.EqualFold(v, cd.args[0]), nil
		case "contains":
			return strings.Contains(lv, strings.ToLower(cd.args[0])), nil
		case "notcontains":
			return !strings.Contains(lv, strings.ToLower(cd.args[0])), nil
		case "begins":
			return strings.HasPrefix(lv, strings.ToLower(cd.args[0])), nil
		case "ends":
			return strings.HasSuffix(lv, strings.ToLower(cd.args[0])), nil
		case "isempty":
			return v == "", nil
		case "isnotempty":
			return v != "", nil
		}
	}
	return false, odataErr{fmt.Sprintf("operator %q is not supported on %s", cd.op, cd.col)}
}

// search runs an OData query over rows and answers it.
func (c *call) search(a *archive, rows []any) {
	logical := strings.EqualFold(c.q.Get("$output"), "Logical") || strings.EqualFold(c.q.Get("$output"), "Raw") ||
		strings.EqualFold(c.q.Get("$mode"), "Full")
	var selected []string
	if sel := c.q.Get("$select"); sel != "" {
		for _, n := range strings.Split(sel, ",") {
			n = strings.TrimSpace(n)
			name, _, ok := a.col(n)
			if !ok {
				c.err(http.StatusBadRequest, "SoArchiveException", fmt.Sprintf("Unknown column %q in $select of %s", n, a.name))
				return
			}
			selected = append(selected, name)
		}
	} else {
		for _, n := range a.names {
			selected = append(selected, n)
		}
		sort.Strings(selected)
	}
	conds, err := parseFilter(a, c.q.Get("$filter"))
	if err != nil {
		c.err(http.StatusBadRequest, "SoArchiveException", err.Error())
		return
	}
	now := c.s.now()
	var hits []any
	for _, r := range rows {
		ok := true
		for _, cd := range conds {
			m, err := cd.match(r, c.z, now)
			if err != nil {
				c.err(http.StatusBadRequest, "SoArchiveException", err.Error())
				return
			}
			if !m {
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
		return
	}
	skip, _ := queryInt(c.q, "$skip")
	top, hasTop := queryInt(c.q, "$top")
	if skip < 0 || top < 0 {
		c.err(http.StatusBadRequest, "SoArchiveException", "$top and $skip must not be negative")
		return
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
	out := wire.ODataResponse{Metadata: c.base + "/v1/Archive/$metadata", NextLink: next, Value: make([]map[string]any, 0, limit)}
	for _, r := range hits[:limit] {
		m := map[string]any{"PrimaryKey": strconv.Itoa(a.key(r)), "EntityName": a.entity}
		for _, n := range selected {
			_, col, _ := a.col(n)
			m[n] = renderValue(col, r, logical, c.z)
		}
		out.Value = append(out.Value, m)
	}
	c.json(http.StatusOK, out)
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
	sort.SliceStable(rows, func(i, j int) bool {
		for _, k := range keys {
			cmp := compare(k.col.raw(rows[i]), k.col.raw(rows[j]))
			if cmp != 0 {
				return (cmp < 0) != k.desc
			}
		}
		return a.key(rows[i]) < a.key(rows[j])
	})
	return nil
}

func compare(x, y any) int {
	switch a := x.(type) {
	case int:
		b := y.(int)
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
	case time.Time:
		return a.Compare(y.(time.Time))
	case string:
		return strings.Compare(strings.ToLower(a), strings.ToLower(y.(string)))
	case bool:
		b := y.(bool)
		if a != b {
			if !a {
				return -1
			}
			return 1
		}
	}
	return 0
}

func (c *call) appointmentSearch() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
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
	c.search(a, rows)
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
	defer c.s.mu.Unlock()
	var rows []any
	for _, id := range sortedKeys(c.s.st.assocs) {
		rows = append(rows, c.s.st.assocs[id])
	}
	c.search(c.s.userArchive(), rows)
}

// nextLinkOf is used by tests: the URL values of a next link.
func nextLinkOf(link string) url.Values {
	u, err := url.Parse(link)
	if err != nil {
		return nil
	}
	return u.Query()
}
