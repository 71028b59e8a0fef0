package graphtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"synchronizer/plugins/m365/internal/wintz"
)

// reqCtx is what a Graph handler knows about its request.
type reqCtx struct {
	r      *http.Request
	base   string // scheme://host of the request
	path   string // escaped path, from /v1.0 on
	query  url.Values
	prin   *principal
	prefer prefer
	route  string
}

// prefer holds the Prefer header values Graph understands. The header may come as
// several lines or as one comma-joined line, in any order.
type prefer struct {
	immutableIDs bool
	tzName       string // as the client spelled it; "" = UTC
	loc          *time.Location
	maxPageSize  int
	textBody     bool
	minimal      bool
	applied      []string
}

func parsePrefer(zones *wintz.Zones, h http.Header) (prefer, *apiError) {
	p := prefer{loc: time.UTC}
	for _, line := range h.Values("Prefer") {
		for _, part := range splitOutsideQuotes(line, ',') {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			name, value, _ := strings.Cut(part, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			value = strings.Trim(strings.TrimSpace(value), `"`)
			switch name {
			case "idtype":
				p.immutableIDs = strings.EqualFold(value, "ImmutableId")
				p.applied = append(p.applied, `IdType="`+value+`"`)
			case "outlook.timezone":
				loc, _, ok := zones.Resolve(value)
				if !ok {
					return p, errf(http.StatusBadRequest, "TimeZoneNotSupportedException", "A valid TimeZone value must be specified. The following TimeZone value is not supported: '%s'.", value)
				}
				p.tzName, p.loc = value, loc
				p.applied = append(p.applied, `outlook.timezone="`+value+`"`)
			case "odata.maxpagesize":
				n, err := strconv.Atoi(value)
				if err == nil && n > 0 {
					p.maxPageSize = n
					p.applied = append(p.applied, "odata.maxpagesize="+value)
				}
			case "outlook.body-content-type":
				p.textBody = strings.EqualFold(value, "text")
				p.applied = append(p.applied, `outlook.body-content-type="`+value+`"`)
			case "return":
				p.minimal = strings.EqualFold(value, "minimal")
			}
		}
	}
	return p, nil
}

func splitOutsideQuotes(s string, sep rune) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for _, c := range s {
		switch {
		case c == '"':
			inQuote = !inQuote
			cur.WriteRune(c)
		case c == sep && !inQuote:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(c)
		}
	}
	return append(out, cur.String())
}

// zoneLabel is how the response names its zone: what the client asked for, or UTC.
func (p prefer) zoneLabel() string {
	if p.tzName == "" {
		return "UTC"
	}
	return p.tzName
}

// pageParams reads $top (or odata.maxpagesize) and $skip.
func pageParams(rc *reqCtx, def, max int) (top, skip int, _ *apiError) {
	top = def
	if rc.prefer.maxPageSize > 0 {
		top = rc.prefer.maxPageSize
	}
	if v := rc.query.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, errf(http.StatusBadRequest, "BadRequest", "Invalid $top value: '%s'.", v)
		}
		top = n
	}
	if top > max {
		top = max
	}
	if top == 0 {
		top = def
	}
	if v := rc.query.Get("$skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, errf(http.StatusBadRequest, "BadRequest", "Invalid $skip value: '%s'.", v)
		}
		skip = n
	}
	return top, skip, nil
}

// nextSkipLink is the request's own URL with $skip moved on.
func nextSkipLink(rc *reqCtx, skip int) string {
	q := url.Values{}
	for k, v := range rc.query {
		q[k] = v
	}
	q.Set("$skip", strconv.Itoa(skip))
	return rc.base + rc.path + "?" + encodeQuery(q)
}

// encodeQuery encodes like url.Values.Encode but keeps "$" readable, as Graph does.
func encodeQuery(q url.Values) string {
	return strings.ReplaceAll(q.Encode(), "%24", "$")
}

// applySelect keeps the $select-ed properties (plus the ones Graph always returns).
func applySelect(m map[string]any, sel string) map[string]any {
	if sel == "" {
		return m
	}
	keep := map[string]bool{"id": true, "@odata.etag": true, "@odata.type": true, "@odata.context": true, "@removed": true}
	for _, f := range strings.Split(sel, ",") {
		keep[strings.ToLower(strings.TrimSpace(f))] = true
	}
	out := map[string]any{}
	for k, v := range m {
		if keep[strings.ToLower(k)] || strings.HasPrefix(k, "singleValueExtendedProperties") || strings.HasPrefix(k, "extensions") {
			out[k] = v
		}
	}
	return out
}

func toMap(v any) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// parseEqFilter reads a single "field eq 'value'" clause.
func parseEqFilter(f string) (field, value string, ok bool) {
	toks, err := tokenize(f)
	if err != nil || len(toks) != 3 || toks[0].kind != tokIdent || !strings.EqualFold(toks[1].text, "eq") || toks[2].kind != tokString {
		return "", "", false
	}
	return toks[0].text, toks[2].text, true
}

// --- a small OData $filter parser for what calendar clients send ---

type tokKind int

const (
	tokIdent tokKind = iota
	tokString
	tokNumber
	tokLParen
	tokRParen
	tokColon
	tokComma
)

type token struct {
	kind tokKind
	text string
}

func tokenize(s string) ([]token, *apiError) {
	var out []token
	rs := []rune(s)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(':
			out = append(out, token{tokLParen, "("})
			i++
		case c == ')':
			out = append(out, token{tokRParen, ")"})
			i++
		case c == ':':
			out = append(out, token{tokColon, ":"})
			i++
		case c == ',':
			out = append(out, token{tokComma, ","})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			closed := false
			for i < len(rs) {
				if rs[i] == '\'' {
					if i+1 < len(rs) && rs[i+1] == '\'' {
						b.WriteRune('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteRune(rs[i])
				i++
			}
			if !closed {
				return nil, errf(http.StatusBadRequest, "BadRequest", "Unterminated string literal in the query.")
			}
			out = append(out, token{tokString, b.String()})
		case unicode.IsDigit(c) || c == '-' && i+1 < len(rs) && unicode.IsDigit(rs[i+1]):
			j := i + 1
			for j < len(rs) && (unicode.IsDigit(rs[j]) || strings.ContainsRune("-:.TZ+", rs[j])) {
				j++
			}
			out = append(out, token{tokNumber, string(rs[i:j])})
			i = j
		case unicode.IsLetter(c) || c == '_' || c == '$' || c == '@':
			j := i + 1
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || strings.ContainsRune("_/.$@", rs[j])) {
				j++
			}
			out = append(out, token{tokIdent, string(rs[i:j])})
			i = j
		default:
			return nil, errf(http.StatusBadRequest, "BadRequest", "Syntax error at position %d in '%s'.", i, s)
		}
	}
	return out, nil
}

// eventPred is a compiled $filter over events.
type eventPred func(v *eventView) bool

type filterParser struct {
	toks []token
	pos  int
	vars map[string]bool // lambda variables in scope
}

func badFilter(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes: "+format, args...)
}

func compileEventFilter(s string) (eventPred, *apiError) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks, vars: map[string]bool{}}
	pred, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, badFilter("unexpected '%s'", p.toks[p.pos].text)
	}
	return pred, nil
}

func (p *filterParser) peekWord(w string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind == tokIdent && strings.EqualFold(p.toks[p.pos].text, w)
}

func (p *filterParser) parseOr() (eventPred, *apiError) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.peekWord("or") {
		p.pos++
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l, r := left, right
		left = func(v *eventView) bool { return l(v) || r(v) }
	}
	return left, nil
}

func (p *filterParser) parseAnd() (eventPred, *apiError) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.peekWord("and") {
		p.pos++
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l, r := left, right
		left = func(v *eventView) bool { return l(v) && r(v) }
	}
	return left, nil
}

func (p *filterParser) parseUnary() (eventPred, *apiError) {
	if p.peekWord("not") {
		p.pos++
		inner, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return func(v *eventView) bool { return !inner(v) }, nil
	}
	if p.pos < len(p.toks) && p.toks[p.pos].kind == tokLParen {
		p.pos++
		inner, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.toks) || p.toks[p.pos].kind != tokRParen {
			return nil, badFilter("missing ')'")
		}
		p.pos++
		return inner, nil
	}
	return p.parseComparison()
}

func (p *filterParser) parseComparison() (eventPred, *apiError) {
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != tokIdent {
		return nil, badFilter("a property was expected")
	}
	field := p.toks[p.pos].text
	p.pos++
	lower := strings.ToLower(field)
	if lower == "singlevalueextendedproperties/any" || lower == "categories/any" {
		return p.parseAny(lower)
	}
	if p.pos+1 >= len(p.toks) || p.toks[p.pos].kind != tokIdent {
		return nil, badFilter("an operator was expected after '%s'", field)
	}
	op := strings.ToLower(p.toks[p.pos].text)
	lit := p.toks[p.pos+1]
	p.pos += 2
	get, err := eventField(lower)
	if err != nil {
		return nil, err
	}
	return comparePred(get, op, lit)
}

// parseAny handles singleValueExtendedProperties/Any(ep: ep/id eq '..' and ep/value eq '..')
// and categories/any(c: c eq '..').
func (p *filterParser) parseAny(what string) (eventPred, *apiError) {
	if p.pos+2 >= len(p.toks) || p.toks[p.pos].kind != tokLParen || p.toks[p.pos+1].kind != tokIdent || p.toks[p.pos+2].kind != tokColon {
		return nil, badFilter("malformed any()")
	}
	variable := strings.ToLower(p.toks[p.pos+1].text)
	p.pos += 3
	// Parse the lambda body: clauses joined by and/or, over var/id, var/value or var.
	type clause struct {
		field string
		op    string
		lit   token
	}
	var ors [][]clause
	cur := []clause{}
	for {
		if p.pos+2 >= len(p.toks) || p.toks[p.pos].kind != tokIdent {
			return nil, badFilter("malformed any() body")
		}
		f := strings.ToLower(p.toks[p.pos].text)
		if f != variable && !strings.HasPrefix(f, variable+"/") {
			return nil, badFilter("'%s' is not the lambda variable", p.toks[p.pos].text)
		}
		cur = append(cur, clause{field: strings.TrimPrefix(strings.TrimPrefix(f, variable), "/"), op: strings.ToLower(p.toks[p.pos+1].text), lit: p.toks[p.pos+2]})
		p.pos += 3
		if p.peekWord("and") {
			p.pos++
			continue
		}
		if p.peekWord("or") {
			p.pos++
			ors = append(ors, cur)
			cur = []clause{}
			continue
		}
		break
	}
	ors = append(ors, cur)
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != tokRParen {
		return nil, badFilter("missing ')' after any()")
	}
	p.pos++
	match := func(field, op string, lit token, val string) bool {
		want := lit.text
		switch op {
		case "eq":
			if field == "id" {
				return canonicalPropID(val) == canonicalPropID(want)
			}
			return val == want
		case "ne":
			return val != want
		}
		return false
	}
	for _, group := range ors {
		for _, c := range group {
			if c.op != "eq" && c.op != "ne" {
				return nil, badFilter("operator '%s' is not supported in any()", c.op)
			}
			if what == "categories/any" && c.field != "" || what != "categories/any" && c.field != "id" && c.field != "value" {
				return nil, badFilter("property '%s' is not supported in any()", c.field)
			}
		}
	}
	if what == "categories/any" {
		return func(v *eventView) bool {
			for _, cat := range v.ev.categories {
				for _, group := range ors {
					ok := true
					for _, c := range group {
						ok = ok && match("", c.op, c.lit, cat)
					}
					if ok {
						return true
					}
				}
			}
			return false
		}, nil
	}
	return func(v *eventView) bool {
		for _, pr := range v.ev.props {
			for _, group := range ors {
				ok := true
				for _, c := range group {
					val := pr.value
					if c.field == "id" {
						val = pr.id
					}
					ok = ok && match(c.field, c.op, c.lit, val)
				}
				if ok {
					return true
				}
			}
		}
		return false
	}, nil
}

// eventField returns an accessor for a filterable event property.
func eventField(name string) (func(v *eventView) (string, time.Time, bool), *apiError) {
	switch name {
	case "icaluid":
		return func(v *eventView) (string, time.Time, bool) { return v.icalUID(), time.Time{}, false }, nil
	case "subject":
		return func(v *eventView) (string, time.Time, bool) { return v.ev.subject, time.Time{}, false }, nil
	case "type":
		return func(v *eventView) (string, time.Time, bool) { return v.typ(), time.Time{}, false }, nil
	case "transactionid":
		return func(v *eventView) (string, time.Time, bool) { return v.ev.transactionID, time.Time{}, false }, nil
	case "showas":
		return func(v *eventView) (string, time.Time, bool) { return v.ev.showAs, time.Time{}, false }, nil
	case "sensitivity":
		return func(v *eventView) (string, time.Time, bool) { return v.ev.sensitivity, time.Time{}, false }, nil
	case "isallday":
		return func(v *eventView) (string, time.Time, bool) {
			return strconv.FormatBool(v.ev.allDay), time.Time{}, false
		}, nil
	case "iscancelled":
		return func(v *eventView) (string, time.Time, bool) {
			return strconv.FormatBool(v.ev.cancelled), time.Time{}, false
		}, nil
	case "start/datetime":
		return func(v *eventView) (string, time.Time, bool) { return "", v.start, true }, nil
	case "end/datetime":
		return func(v *eventView) (string, time.Time, bool) { return "", v.end, true }, nil
	case "lastmodifieddatetime":
		return func(v *eventView) (string, time.Time, bool) { return "", v.ev.modified, true }, nil
	case "createddatetime":
		return func(v *eventView) (string, time.Time, bool) { return "", v.ev.created, true }, nil
	}
	return nil, badFilter("property '%s' cannot be filtered on", name)
}

func comparePred(get func(v *eventView) (string, time.Time, bool), op string, lit token) (eventPred, *apiError) {
	cmpStr := func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) }
	var litTime time.Time
	if lit.kind == tokString || lit.kind == tokNumber {
		if t, err := parseGraphTime(lit.text, time.UTC); err == nil {
			litTime = t
		}
	}
	test := func(c int) bool {
		switch op {
		case "eq":
			return c == 0
		case "ne":
			return c != 0
		case "gt":
			return c > 0
		case "ge":
			return c >= 0
		case "lt":
			return c < 0
		case "le":
			return c <= 0
		}
		return false
	}
	switch op {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return nil, badFilter("operator '%s' is not supported", op)
	}
	return func(v *eventView) bool {
		s, t, isTime := get(v)
		if isTime {
			if litTime.IsZero() {
				return false
			}
			return test(t.Compare(litTime))
		}
		return test(cmpStr(s, lit.text))
	}, nil
}

// canonicalPropID normalises an extended property id: the type, GUID and the Name/Id
// keyword compare case-insensitively, the property name exactly.
func canonicalPropID(id string) string {
	f := strings.Fields(id)
	if len(f) >= 4 && strings.EqualFold(f[2], "Name") {
		return strings.ToLower(f[0]) + " " + strings.ToLower(f[1]) + " name " + strings.Join(f[3:], " ")
	}
	return strings.ToLower(strings.Join(f, " "))
}

// expandSpec is a parsed $expand.
type expandSpec struct {
	props      []string // extended property ids asked for
	allProps   bool
	extensions []string // extension ids; nil with allExt = every one
	allExt     bool
	wantExt    bool
}

func parseExpand(s string) (expandSpec, *apiError) {
	var spec expandSpec
	if strings.TrimSpace(s) == "" {
		return spec, nil
	}
	for _, item := range splitTopLevel(s) {
		item = strings.TrimSpace(item)
		name, opts, hasOpts := strings.Cut(item, "(")
		name = strings.TrimSpace(name)
		var ids []string
		all := true
		if hasOpts {
			opts = strings.TrimSuffix(strings.TrimSpace(opts), ")")
			key, val, _ := strings.Cut(opts, "=")
			if !strings.EqualFold(strings.TrimSpace(key), "$filter") {
				return spec, errf(http.StatusBadRequest, "BadRequest", "Only $filter is supported inside $expand of '%s'.", name)
			}
			var err *apiError
			ids, err = parseIDList(val)
			if err != nil {
				return spec, err
			}
			all = false
		}
		switch strings.ToLower(name) {
		case "singlevalueextendedproperties":
			if all {
				return spec, errf(http.StatusBadRequest, "ErrorInvalidRequest", "Expanding singleValueExtendedProperties requires a $filter on id.")
			}
			spec.props = append(spec.props, ids...)
		case "extensions":
			spec.wantExt = true
			spec.allExt = spec.allExt || all
			spec.extensions = append(spec.extensions, ids...)
		case "multivalueextendedproperties":
			// accepted; the emulator stores none
		default:
			return spec, errf(http.StatusBadRequest, "BadRequest", "Could not find a property named '%s' on type 'microsoft.graph.event'.", name)
		}
	}
	return spec, nil
}

// parseIDList reads "id eq 'a' or id eq 'b'".
func parseIDList(s string) ([]string, *apiError) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	var ids []string
	for i := 0; i < len(toks); {
		if i+2 >= len(toks) || !strings.EqualFold(toks[i].text, "id") || !strings.EqualFold(toks[i+1].text, "eq") || toks[i+2].kind != tokString {
			return nil, errf(http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The $filter inside $expand must be id eq '...' clauses joined by or.")
		}
		ids = append(ids, toks[i+2].text)
		i += 3
		if i < len(toks) {
			if !strings.EqualFold(toks[i].text, "or") {
				return nil, errf(http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The $filter inside $expand must be id eq '...' clauses joined by or.")
			}
			i++
		}
	}
	return ids, nil
}

func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	inQuote := false
	for i, c := range s {
		switch {
		case c == '\'':
			inQuote = !inQuote
		case c == '(' && !inQuote:
			depth++
		case c == ')' && !inQuote:
			depth--
		case c == ',' && depth == 0 && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
