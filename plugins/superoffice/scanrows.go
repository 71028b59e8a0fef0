package superoffice

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The diary scan runs on every round of every link, so its page is decoded
// straight into the columns it selects (scanColumns) rather than into maps. The
// column types are as lenient as reading the values out of maps was: a number
// or a numeric string is an int, anything else is 0; a date is a string, a
// number or boolean its text.

// scanResponse is one page of the OData search of scan.
type scanResponse struct {
	NextLink *string    `json:"odata.nextLink"`
	Value    []scanWire `json:"value"`
}

// scanWire is one row of it.
type scanWire struct {
	AppointmentID    looseInt `json:"appointmentId"`
	PrimaryKey       looseStr `json:"PrimaryKey"`
	RecurrenceRuleID looseInt `json:"recurrenceRuleId"`
	RawType          looseInt `json:"rawType"`
	RawStatus        looseInt `json:"rawStatus"`
	RegisteredBy     looseInt `json:"registeredBy"`
	Date             looseStr `json:"date"`
	EndDate          looseStr `json:"endDate"`
	RegisteredDate   looseStr `json:"registeredDate"`
	UpdatedDate      looseStr `json:"updatedDate"`
}

// looseInt reads like intOf: a JSON number (truncated) or a numeric string; any
// other value is 0.
type looseInt int

func (v *looseInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		*v = 0
	case b[0] == '"':
		var s string
		if json.Unmarshal(b, &s) != nil {
			*v = 0
			return nil
		}
		n, _ := strconv.Atoi(s)
		*v = looseInt(n)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			*v = 0
			return nil
		}
		*v = looseInt(int(f))
	default: // null, true, false, objects, arrays
		*v = 0
	}
	return nil
}

// looseStr reads like strOf: a string, a number's integer text, a boolean's
// text; anything else is "".
type looseStr string

func (v *looseStr) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		*v = ""
	case b[0] == '"':
		if len(b) >= 2 && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
			*v = looseStr(b[1 : len(b)-1]) // no escapes: the text as it is
			return nil
		}
		var s string
		if json.Unmarshal(b, &s) != nil {
			*v = ""
			return nil
		}
		*v = looseStr(s)
	case b[0] == 't' || b[0] == 'f':
		*v = looseStr(strconv.FormatBool(b[0] == 't'))
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			*v = ""
			return nil
		}
		*v = looseStr(strconv.FormatInt(int64(f), 10))
	default:
		*v = ""
	}
	return nil
}
