package superoffice

import (
	"encoding/json"
	"testing"
)

// The scan's typed columns read every JSON value as the map-based reading did
// (intOf and strOf over what encoding/json puts in a map).
func TestScanColumnsReadLikeMaps(t *testing.T) {
	values := []string{`12`, `12.9`, `-3`, `"42"`, `"4x"`, `""`, `null`, `true`, `false`,
		`"2025-03-20T09:00:00"`, `"a\"b"`, `"\u00e9t\u00e9"`, `1e3`, `{"a":1}`, `[1]`}
	for _, raw := range values {
		var generic any
		if err := json.Unmarshal([]byte(raw), &generic); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var i looseInt
		var s looseStr
		if err := json.Unmarshal([]byte(raw), &i); err != nil {
			t.Errorf("looseInt %s: %v", raw, err)
		}
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			t.Errorf("looseStr %s: %v", raw, err)
		}
		if int(i) != intOf(generic) {
			t.Errorf("looseInt %s = %d, intOf = %d", raw, i, intOf(generic))
		}
		if string(s) != strOf(generic) {
			t.Errorf("looseStr %s = %q, strOf = %q", raw, s, strOf(generic))
		}
	}
	var page scanResponse
	body := `{"value":[{"appointmentId":7,"recurrenceRuleId":"3","rawType":1,"rawStatus":null,"registeredBy":2,
		"date":"2025-03-20T09:00:00","endDate":"2025-03-20T10:00:00","registeredDate":"2025-03-01T08:00:00","updatedDate":""},
		{"PrimaryKey":"9","date":"2025-03-21T09:00:00"}],"odata.nextLink":"next"}`
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Value) != 2 || page.NextLink == nil || *page.NextLink != "next" {
		t.Fatalf("page = %+v", page)
	}
	r := page.Value[0]
	if r.AppointmentID != 7 || r.RecurrenceRuleID != 3 || r.RawType != 1 || r.RawStatus != 0 || r.RegisteredBy != 2 ||
		r.Date != "2025-03-20T09:00:00" || r.UpdatedDate != "" || page.Value[1].PrimaryKey != "9" {
		t.Errorf("row = %+v", r)
	}
}
