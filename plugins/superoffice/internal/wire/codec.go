package wire

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ZeroDate is how the WebAPI writes an empty date (an updatedDate never set).
const ZeroDate = "0001-01-01T00:00:00"

const localLayout = "2006-01-02T15:04:05"

// FormatDate writes t as the WebAPI does: the wall clock in loc without an offset,
// or with one ("+02:00") when withOffset is set (SO-TimeZone ...,includeTZOffset).
// The zero time is written as ZeroDate.
func FormatDate(t time.Time, loc *time.Location, withOffset bool) string {
	if t.IsZero() {
		return ZeroDate
	}
	if loc == nil {
		loc = time.UTC
	}
	return string(AppendDate(make([]byte, 0, 25), t, loc, withOffset))
}

// AppendDate appends t as FormatDate writes it.
func AppendDate(dst []byte, t time.Time, loc *time.Location, withOffset bool) []byte {
	if t.IsZero() {
		return append(dst, ZeroDate...)
	}
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		if !withOffset {
			return t.AppendFormat(dst, localLayout)
		}
		return t.AppendFormat(dst, "2006-01-02T15:04:05-07:00")
	}
	hour, min, sec := t.Clock()
	dst = append(dst, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-')
	dst = append2(dst, int(month), '-')
	dst = append2(dst, day, 'T')
	dst = append2(dst, hour, ':')
	dst = append2(dst, min, ':')
	dst = append(dst, byte('0'+sec/10), byte('0'+sec%10))
	if !withOffset {
		return dst
	}
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	off /= 60 // the layout shows hours and minutes
	dst = append(dst, sign)
	dst = append2(dst, off/60, ':')
	return append(dst, byte('0'+off%60/10), byte('0'+off%10))
}

// append2 appends n (0-99) in two digits, then sep.
func append2(dst []byte, n int, sep byte) []byte {
	return append(dst, byte('0'+n/10), byte('0'+n%10), sep)
}

// ParseDate reads a WebAPI date. Values with an offset or Z are exact instants
// (hasOffset true); values without one are wall-clock times in loc. The forms the
// server and SuperOffice's own JavaScript client send are accepted: fractional
// seconds, a trailing Z, a date alone. "" and ZeroDate (or earlier) give the zero
// time.
func ParseDate(s string, loc *time.Location) (t time.Time, hasOffset bool, err error) {
	if loc == nil {
		loc = time.UTC
	}
	if len(s) == len(localLayout) {
		// The form every answer carries without an offset, read without the
		// layout machinery (time.ParseInLocation gives the same).
		if t, ok := parseLocal19(s, loc); ok {
			return t, false, nil
		}
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() <= 1 {
				return time.Time{}, true, nil
			}
			return t, true, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			if t.Year() <= 1 {
				return time.Time{}, false, nil
			}
			return t, false, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("bad date %q", s)
}

// FormatTimeSpan writes a duration as a .NET TimeSpan ("00:15:00", "1.02:00:00").
func FormatTimeSpan(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	secs := int64(d / time.Second)
	days := secs / 86400
	secs %= 86400
	s := fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs%3600/60, secs%60)
	if days > 0 {
		s = fmt.Sprintf("%d.%s", days, s)
	}
	if neg {
		s = "-" + s
	}
	return s
}

// ParseTimeSpan reads a .NET TimeSpan ("00:15:00", "1.02:00:00", "-00:05:00") or an
// ISO 8601 duration ("PT15M", "P0D", "P1DT2H30M", as the JavaScript client sends).
// "" is zero.
func ParseTimeSpan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	neg := false
	if strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
	}
	var d time.Duration
	var err error
	if strings.HasPrefix(s, "P") || strings.HasPrefix(s, "p") {
		d, err = parseISODuration(s)
	} else {
		d, err = parseDotNetSpan(s)
	}
	if err != nil {
		return 0, fmt.Errorf("bad time span %q: %w", s, err)
	}
	if neg {
		d = -d
	}
	return d, nil
}

func parseDotNetSpan(s string) (time.Duration, error) {
	var days int64
	if i := strings.IndexByte(s, '.'); i >= 0 && i < strings.IndexByte(s+":", ':') {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, err
		}
		days, s = n, s[i+1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("want hh:mm[:ss]")
	}
	h, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return 0, err
	}
	m, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return 0, err
	}
	var sec float64
	if len(parts) == 3 {
		sec, err = strconv.ParseFloat(parts[2], 64)
		if err != nil {
			return 0, err
		}
	}
	return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour +
		time.Duration(m)*time.Minute + time.Duration(sec*float64(time.Second)), nil
}

func parseISODuration(s string) (time.Duration, error) {
	s = strings.ToUpper(s[1:])
	var d time.Duration
	inTime := false
	num := ""
	for _, r := range s {
		switch {
		case r == 'T':
			inTime = true
		case (r >= '0' && r <= '9') || r == '.':
			num += string(r)
		default:
			if num == "" {
				return 0, fmt.Errorf("missing number before %c", r)
			}
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, err
			}
			num = ""
			var unit time.Duration
			switch {
			case r == 'W' && !inTime:
				unit = 7 * 24 * time.Hour
			case r == 'D' && !inTime:
				unit = 24 * time.Hour
			case r == 'H' && inTime:
				unit = time.Hour
			case r == 'M' && inTime:
				unit = time.Minute
			case r == 'S' && inTime:
				unit = time.Second
			default:
				return 0, fmt.Errorf("unsupported unit %c", r)
			}
			d += time.Duration(v * float64(unit))
		}
	}
	if num != "" {
		return 0, fmt.Errorf("trailing number %q", num)
	}
	return d, nil
}

// Raw appointment status values (appointment.status, OData rawStatus).
const (
	StatusUnknownOrPostIt    = 0
	StatusNotStarted         = 1
	StatusStarted            = 2
	StatusCompleted          = 3
	StatusHidden             = 4
	StatusBooking            = 5
	StatusBookingMoved       = 6
	StatusBookingSeen        = 7
	StatusBookingMovedSeen   = 8
	StatusBookingDeclined    = 9
	StatusBookingDeleted     = 10
	StatusAssignment         = 11
	StatusAssignmentSeen     = 12
	StatusAssignmentDeclined = 13
)

var statusNames = []string{"UnknownOrPostIt", "NotStarted", "Started", "Completed", "Hidden",
	"Booking", "BookingMoved", "BookingSeen", "BookingMovedSeen", "BookingDeclined",
	"BookingDeleted", "Assignment", "AssignmentSeen", "AssignmentDeclined"}

// StatusName is the enum name of a raw status.
func StatusName(s int) string {
	if s >= 0 && s < len(statusNames) {
		return statusNames[s]
	}
	return "UnknownOrPostIt"
}

// StatusFromName reads a status enum name (or its number).
func StatusFromName(name string) (int, bool) {
	return enumIndex(statusNames, name)
}

// Raw appointment types (appointment.type, OData rawType).
const (
	TypeInDiary             = 1
	TypeInChecklist         = 2
	TypeNote                = 3
	TypeDocument            = 4
	TypeSavedReport         = 5
	TypeBookingForDiary     = 6
	TypeBookingForChecklist = 7
)

var typeNames = []string{"Unknown", "inDiary", "inChecklist", "Note", "Document", "SavedReport",
	"BookingForDiary", "BookingForChecklist", "MergeDraft", "MergeFinal"}

// TypeName is the enum name of a raw type.
func TypeName(t int) string {
	if t >= 0 && t < len(typeNames) {
		return typeNames[t]
	}
	return "Unknown"
}

// TypeFromName reads a type enum name (or its number).
func TypeFromName(name string) (int, bool) {
	return enumIndex(typeNames, name)
}

// Private values, in database order.
var privateNames = []string{"Public", "PrivateUser", "PrivateGroup"}

// PrivateName is the enum name of a raw visibility value.
func PrivateName(p int) string {
	if p >= 0 && p < len(privateNames) {
		return privateNames[p]
	}
	return "Public"
}

// PrivateFromName reads a visibility enum name (or its number).
func PrivateFromName(name string) (int, bool) {
	return enumIndex(privateNames, name)
}

func enumIndex(names []string, name string) (int, bool) {
	name = strings.TrimSpace(name)
	if n, err := strconv.Atoi(name); err == nil {
		if n >= 0 && n < len(names) {
			return n, true
		}
		return 0, false
	}
	for i, n := range names {
		if strings.EqualFold(n, name) {
			return i, true
		}
	}
	return 0, false
}

// InvitationStatus is the InvitationStatus enum of a row: what its raw status
// says about the booking, "None" for rows outside any booking.
func InvitationStatus(status int, inBooking bool) string {
	switch status {
	case StatusHidden:
		return "Hidden"
	case StatusBooking:
		return "Invitation"
	case StatusBookingMoved:
		return "Moved"
	case StatusBookingSeen:
		return "Seen"
	case StatusBookingMovedSeen:
		return "MovedSeen"
	case StatusBookingDeclined:
		return "Declined"
	case StatusBookingDeleted:
		return "Cancelled"
	}
	if inBooking {
		return "Accepted"
	}
	return "None"
}

// CompletedName is the Completed enum of a raw status.
func CompletedName(status int) string {
	switch status {
	case StatusStarted:
		return "Started"
	case StatusCompleted:
		return "Completed"
	default:
		return "NotStarted"
	}
}

// Weekday flag names of RecurrenceWeekPattern.Weekdays, Monday first.
var weekdayNames = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// FormatWeekdays writes a set of weekdays as the flags enum ("Monday, Wednesday").
func FormatWeekdays(days []time.Weekday) string {
	var set [7]bool
	for _, d := range days {
		set[(int(d)+6)%7] = true
	}
	var out []string
	for i, on := range set {
		if on {
			out = append(out, weekdayNames[i])
		}
	}
	return strings.Join(out, ", ")
}

// ParseWeekdays reads the flags enum ("Monday, Wednesday", also "Monday|Wednesday"
// or the numeric flag value with Monday = 1 ... Sunday = 64 [inferred]).
func ParseWeekdays(s string) ([]time.Weekday, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "Unknown") {
		return nil, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		var out []time.Weekday
		for i := 0; i < 7; i++ {
			if n&(1<<i) != 0 {
				out = append(out, time.Weekday((i+1)%7))
			}
		}
		return out, nil
	}
	var out []time.Weekday
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '|' || r == ' ' }) {
		found := false
		for i, n := range weekdayNames {
			if strings.EqualFold(n, part) {
				out = append(out, time.Weekday((i+1)%7))
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown weekday %q", part)
		}
	}
	return out, nil
}

// WeekdayName is the enum name of one weekday.
func WeekdayName(d time.Weekday) string { return weekdayNames[(int(d)+6)%7] }

// ParseWeekday reads one weekday enum name.
func ParseWeekday(s string) (time.Weekday, bool) {
	for i, n := range weekdayNames {
		if strings.EqualFold(n, strings.TrimSpace(s)) {
			return time.Weekday((i + 1) % 7), true
		}
	}
	return 0, false
}

// ParseInstant reads a WebAPI date like ParseDate and returns only its instant:
// the result's Location is loc for values without an offset and UTC for values
// with one (ParseDate keeps the written offset). It reads the two forms the
// server writes ("2024-05-02T09:00:00" and "2024-05-02T09:00:00+02:00", or Z)
// without the layout machinery and the others through ParseDate.
func ParseInstant(b []byte, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	switch len(b) {
	case 19:
		if t, ok := parseLocal19(b, loc); ok {
			return t, nil
		}
	case 20, 25:
		if t, ok := parseLocal19(b[:19], time.UTC); ok {
			if off, ok := parseOffset(b[19:]); ok {
				if t.IsZero() {
					return t, nil
				}
				return t.Add(-time.Duration(off) * time.Second), nil
			}
		}
	}
	t, _, err := ParseDate(string(b), loc)
	return t, err
}

// parseLocal19 reads "2006-01-02T15:04:05" in loc, checking every field as
// time.Parse does; a year up to 1 gives the zero time, as in ParseDate.
func parseLocal19[S string | []byte](s S, loc *time.Location) (time.Time, bool) {
	if len(s) != 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	min, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || min > 59 || sec > 59 {
		return time.Time{}, false
	}
	if year <= 1 {
		return time.Time{}, true
	}
	return time.Date(year, time.Month(month), day, hour, min, sec, 0, loc), true
}

// parseOffset reads "Z" or "+07:00" / "-07:00" into seconds east of UTC.
func parseOffset(b []byte) (int, bool) {
	if len(b) == 1 && b[0] == 'Z' {
		return 0, true
	}
	if len(b) != 6 || (b[0] != '+' && b[0] != '-') || b[3] != ':' {
		return 0, false
	}
	h, ok1 := digits(b[1:3])
	m, ok2 := digits(b[4:6])
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	if b[0] == '-' {
		off = -off
	}
	return off, true
}

func digits[S string | []byte](s S) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int(m-1)%7%2
}
