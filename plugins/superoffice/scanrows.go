package superoffice

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"synchronizer/plugins/superoffice/internal/wire"
)

// The diary scan runs on every round of every link, so its page is read by a
// small decoder of its own, straight from the answer's bytes into scan rows: no
// reflection, no maps, no copies of the column texts. It reads the page as
// leniently as a generic decoding did (keys in any order and case, unknown keys
// and the columns of other $select lists skipped, an int column that is a
// numeric string read as the number, null as "not set"), and refuses what is
// not JSON, or a column of the wrong kind, with an error that says where.

// scanPage decodes one page of the scan (the OData search in scan) and appends
// its rows to rows.
type scanPage struct {
	loc  *time.Location // the zone of offset-less appointment times
	rows *[]scanRow

	// skip: an answer with this digest is not read (same is set).
	skip []byte

	count  int  // rows on the page
	more   bool // the page carried a next link
	digest []byte
	same   bool
}

// decodeJSON implements bodyDecoder.
func (p *scanPage) decodeJSON(b []byte) error {
	base := len(*p.rows)
	p.count, p.more = 0, false
	p.digest = bodyDigest(p.loc, b)
	if p.same = p.skip != nil && bytes.Equal(p.digest, p.skip); p.same {
		return nil
	}
	d := jsonReader{b: b}
	if err := p.page(&d); err != nil {
		*p.rows = (*p.rows)[:base]
		return err
	}
	return nil
}

func (p *scanPage) page(d *jsonReader) error {
	if !d.object() {
		return d.fail("the answer is not an object")
	}
	for d.more('}') {
		key, err := d.key()
		if err != nil {
			return err
		}
		switch {
		case keyIs(key, "value"):
			if err := p.values(d); err != nil {
				return err
			}
		case keyIs(key, "odata.nextLink"):
			link, null, err := d.str()
			if err != nil {
				return err
			}
			p.more = !null && len(link) > 0
		default:
			if err := d.skip(); err != nil {
				return err
			}
		}
	}
	if d.err != nil {
		return d.err
	}
	return d.end()
}

func (p *scanPage) values(d *jsonReader) error {
	if d.null() {
		return nil
	}
	if !d.array() {
		return d.fail("value is not an array")
	}
	for d.more(']') {
		if err := p.row(d); err != nil {
			return err
		}
		p.count++
	}
	return d.err
}

// scanCols are the texts of one row's date columns, as written.
type scanCols struct {
	date, endDate, registered, updated []byte
}

func (p *scanPage) row(d *jsonReader) error {
	var r scanRow
	var c scanCols
	pk := 0
	if !d.null() {
		at := d.i
		if !d.object() {
			return d.failAt(at, "a row is not an object")
		}
		for d.more('}') {
			key, err := d.key()
			if err != nil {
				return err
			}
			var n *int
			var s *[]byte
			switch {
			case keyIs(key, "appointmentId"):
				n = &r.id
			case keyIs(key, "PrimaryKey"):
				n = &pk
			case keyIs(key, "recurrenceRuleId"):
				n = &r.rule
			case keyIs(key, "rawType"):
				n = &r.typ
			case keyIs(key, "rawStatus"):
				n = &r.status
			case keyIs(key, "date"):
				s = &c.date
			case keyIs(key, "endDate"):
				s = &c.endDate
			case keyIs(key, "registeredDate"):
				s = &c.registered
			case keyIs(key, "updatedDate"):
				s = &c.updated
			}
			switch {
			case n != nil:
				if *n, err = d.looseInt(); err != nil {
					return err
				}
			case s != nil:
				if c := d.peek(); c != '"' && c != 'n' {
					return d.fail("%s is not a date", key)
				}
				if *s, _, err = d.str(); err != nil {
					return err
				}
			default:
				if err := d.skip(); err != nil {
					return err
				}
			}
		}
		if d.err != nil {
			return d.err
		}
	}
	if r.id == 0 {
		r.id = pk
	}
	if r.id == 0 {
		return fmt.Errorf("a row without appointmentId")
	}
	var err error
	if r.start, err = wire.ParseInstant(c.date, p.loc); err != nil {
		return fmt.Errorf("appointment %d: date: %w", r.id, err)
	}
	if r.end, err = wire.ParseInstant(c.endDate, p.loc); err != nil {
		return fmt.Errorf("appointment %d: endDate: %w", r.id, err)
	}
	if r.registered, err = wire.ParseInstant(c.registered, time.UTC); err != nil {
		return fmt.Errorf("appointment %d: registeredDate: %w", r.id, err)
	}
	if r.updated, err = wire.ParseInstant(c.updated, time.UTC); err != nil {
		return fmt.Errorf("appointment %d: updatedDate: %w", r.id, err)
	}
	if r.end.Before(r.start) {
		r.end = r.start
	}
	*p.rows = append(*p.rows, r)
	return nil
}

// keyIs matches a key as encoding/json matches a field name: exactly, or
// failing that without regard to case.
func keyIs(key []byte, name string) bool {
	return string(key) == name || (len(key) == len(name) && bytes.EqualFold(key, []byte(name)))
}

// jsonReader reads JSON from b in one pass, validating what it reads and what it
// skips. Its object and array helpers keep their state in the reader: more
// reports whether another member or element follows (and consumes the comma);
// after the loop, err holds what went wrong.
type jsonReader struct {
	b   []byte
	i   int
	err error
	// first is set right after an opening bracket: no comma is due before the
	// next member.
	first bool
}

// maxDepth bounds the nesting that skip follows.
const maxDepth = 10000

func (d *jsonReader) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonReader) fail(format string, args ...any) error {
	return d.failAt(d.i, format, args...)
}

func (d *jsonReader) failAt(at int, format string, args ...any) error {
	err := fmt.Errorf("decode answer at byte %d: %s", at, fmt.Sprintf(format, args...))
	if d.err == nil {
		d.err = err
	}
	return err
}

// peek returns the next byte past white space, 0 at the end.
func (d *jsonReader) peek() byte {
	d.ws()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

// object consumes "{" and reports whether it was there.
func (d *jsonReader) object() bool {
	if d.peek() != '{' {
		return false
	}
	d.i++
	d.first = true
	return true
}

// array consumes "[" and reports whether it was there.
func (d *jsonReader) array() bool {
	if d.peek() != '[' {
		return false
	}
	d.i++
	d.first = true
	return true
}

// more reports whether another member or element follows in the object or
// array being read; false at its closing bracket (consumed) or on an error.
func (d *jsonReader) more(closing byte) bool {
	if d.err != nil {
		return false
	}
	c := d.peek()
	if c == closing {
		d.i++
		d.first = false
		return false
	}
	if d.first && (c == '}' || c == ']') {
		d.fail("want a value or %q, found %q", closing, c)
		return false
	}
	if d.first {
		d.first = false
		if c == 0 {
			d.fail("unexpected end")
			return false
		}
		return true
	}
	if c != ',' {
		if c == 0 {
			d.fail("unexpected end")
		} else {
			d.fail("want , or a closing bracket, found %q", c)
		}
		return false
	}
	d.i++
	if c := d.peek(); c == '}' || c == ']' {
		d.fail("a comma before %q", c)
		return false
	}
	return true
}

// key reads a member's name and its colon.
func (d *jsonReader) key() ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.fail("want a member name")
	}
	k, err := d.text()
	if err != nil {
		return nil, err
	}
	if d.peek() != ':' {
		return nil, d.fail("want : after a member name")
	}
	d.i++
	return k, nil
}

// null consumes a null literal and reports whether it was there.
func (d *jsonReader) null() bool {
	if d.peek() == 'n' && bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	return false
}

// str reads a string or null (null true).
func (d *jsonReader) str() ([]byte, bool, error) {
	if d.null() {
		return nil, true, nil
	}
	if d.peek() != '"' {
		return nil, false, d.fail("want a string")
	}
	s, err := d.text()
	return s, false, err
}

// text reads the string at d.i: a slice of the input when it has no escapes,
// else a decoded copy.
func (d *jsonReader) text() ([]byte, error) {
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			return d.b[start:j], nil
		case c == '\\':
			return d.unescape(start, j)
		case c < 0x20:
			return nil, d.failAt(j, "a control character in a string")
		}
	}
	return nil, d.failAt(d.i, "unterminated string")
}

// unescape decodes the string that began at start, from its first escape at j,
// as encoding/json does (a lone surrogate becomes U+FFFD).
func (d *jsonReader) unescape(start, j int) ([]byte, error) {
	out := append(make([]byte, 0, j-start+16), d.b[start:j]...)
	for j < len(d.b) {
		c := d.b[j]
		switch {
		case c == '"':
			d.i = j + 1
			return out, nil
		case c < 0x20:
			return nil, d.failAt(j, "a control character in a string")
		case c != '\\':
			out = append(out, c)
			j++
			continue
		}
		if j+1 >= len(d.b) {
			break
		}
		esc := d.b[j+1]
		j += 2
		switch esc {
		case '"', '\\', '/':
			out = append(out, esc)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(d.b[j:])
			if !ok {
				return nil, d.failAt(j-2, "a bad \\u escape")
			}
			j += 4
			if utf16.IsSurrogate(r) {
				// A pair makes one rune; a lone half is U+FFFD and what follows
				// it is read on its own.
				r2 := rune(-1)
				if j+6 <= len(d.b) && d.b[j] == '\\' && d.b[j+1] == 'u' {
					if v, ok := hex4(d.b[j+2:]); ok {
						r2 = v
					}
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r, j = dec, j+6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, d.failAt(j-2, "a bad escape \\%c", esc)
		}
	}
	return nil, d.failAt(start-1, "unterminated string")
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number reads a JSON number and returns its text.
func (d *jsonReader) number() ([]byte, error) {
	start := d.i
	j := d.i
	if j < len(d.b) && d.b[j] == '-' {
		j++
	}
	switch {
	case j < len(d.b) && d.b[j] == '0':
		j++
	case j < len(d.b) && d.b[j] >= '1' && d.b[j] <= '9':
		for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
			j++
		}
	default:
		return nil, d.failAt(start, "a bad number")
	}
	if j < len(d.b) && d.b[j] == '.' {
		j++
		k := j
		for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
			j++
		}
		if j == k {
			return nil, d.failAt(start, "a bad number")
		}
	}
	if j < len(d.b) && (d.b[j] == 'e' || d.b[j] == 'E') {
		j++
		if j < len(d.b) && (d.b[j] == '+' || d.b[j] == '-') {
			j++
		}
		k := j
		for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
			j++
		}
		if j == k {
			return nil, d.failAt(start, "a bad number")
		}
	}
	d.i = j
	return d.b[start:j], nil
}

// looseInt reads an int column as the generic decoding read it: a number
// (truncated) or a numeric string; null, booleans, other strings, objects and
// arrays are 0. A number beyond the range of int is an error.
func (d *jsonReader) looseInt() (int, error) {
	switch c := d.peek(); {
	case c == '"':
		s, err := d.text()
		if err != nil {
			return 0, err
		}
		n, _ := strconv.Atoi(string(s))
		return n, nil
	case c == '-' || (c >= '0' && c <= '9'):
		num, err := d.number()
		if err != nil {
			return 0, err
		}
		if n, err := strconv.Atoi(string(num)); err == nil {
			return n, nil
		}
		f, err := strconv.ParseFloat(string(num), 64)
		if err != nil || f >= 1<<63 || f < -(1<<63) {
			return 0, d.fail("the number %s is out of range", num)
		}
		return int(f), nil
	default:
		return 0, d.skip()
	}
}

// skip reads past one value of any kind.
func (d *jsonReader) skip() error {
	return d.skipDepth(0)
}

func (d *jsonReader) skipDepth(depth int) error {
	if depth > maxDepth {
		return d.fail("nested too deep")
	}
	switch c := d.peek(); {
	case c == '{':
		d.object()
		for d.more('}') {
			if _, err := d.key(); err != nil {
				return err
			}
			if err := d.skipDepth(depth + 1); err != nil {
				return err
			}
		}
		return d.err
	case c == '[':
		d.array()
		for d.more(']') {
			if err := d.skipDepth(depth + 1); err != nil {
				return err
			}
		}
		return d.err
	case c == '"':
		_, err := d.text()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := d.number()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == 0:
		return d.fail("unexpected end")
	default:
		return d.fail("unexpected %q", c)
	}
}

func (d *jsonReader) literal(word string) error {
	if !bytes.HasPrefix(d.b[d.i:], []byte(word)) {
		return d.fail("a bad literal")
	}
	d.i += len(word)
	return nil
}

// end checks that nothing but white space follows the value.
func (d *jsonReader) end() error {
	if d.peek() != 0 {
		return d.fail("data after the answer")
	}
	return nil
}
