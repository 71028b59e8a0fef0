package sotest_test

import (
	"fmt"
	"strconv"
	"testing"

	"synchronizer/plugins/superoffice/internal/wire"
)

// Foreign keys are found by record and by value, follow a new value, and go
// with their record or on their own.
func TestForeignKeys(t *testing.T) {
	f := newFixture(t, nil)
	const base = "/v1/ForeignApp/Sync/diary/dev1"
	ids := []int{f.create(f.user1, "2025-04-01T09:00:00"), f.create(f.user1, "2025-04-02T09:00:00")}
	save := func(id int, value string) {
		t.Helper()
		body := fmt.Sprintf(`{"Key":"syncId","TableName":"Appointment","RecordId":%d,"Value":%q}`, id, value)
		if a := f.do("POST", base+"/Key", body); a.status != 200 {
			t.Fatalf("save: %d %s", a.status, a.body)
		}
	}
	byRecord := func(id int) string {
		t.Helper()
		var k wire.ForeignKey
		a := f.do("GET", base+"/Key/syncId/appointment/"+strconv.Itoa(id), "")
		if a.status != 200 {
			t.Fatalf("by record: %d %s", a.status, a.body)
		}
		if string(a.body) == "null" {
			return ""
		}
		a.json(t, &k)
		return k.Value
	}
	byValue := func(v string) int {
		t.Helper()
		var k wire.ForeignKey
		a := f.do("GET", "/v1/ForeignApp/Sync/diary/Key/syncId/Appointment?keyvalue="+v, "")
		if a.status != 200 {
			t.Fatalf("by value: %d %s", a.status, a.body)
		}
		if string(a.body) == "null" {
			return 0
		}
		a.json(t, &k)
		return int(k.RecordId)
	}
	save(ids[0], "a")
	save(ids[1], "b")
	if byRecord(ids[0]) != "a" || byValue("b") != ids[1] {
		t.Fatalf("lookups: %q %d", byRecord(ids[0]), byValue("b"))
	}
	save(ids[0], "c") // a new value for the same key
	if byRecord(ids[0]) != "c" || byValue("c") != ids[0] || byValue("a") != 0 {
		t.Errorf("after a new value: %q, c on %d, a on %d", byRecord(ids[0]), byValue("c"), byValue("a"))
	}
	var all map[string]string
	f.do("GET", "/v1/Appointment/"+strconv.Itoa(ids[0])+"/ForeignKey", "").json(t, &all)
	if len(all) != 1 || all["syncId"] != "c" {
		t.Errorf("keys of the appointment: %v", all)
	}
	if a := f.do("DELETE", "/v1/Appointment/"+strconv.Itoa(ids[0]), ""); a.status/100 != 2 {
		t.Fatalf("delete appointment: %d", a.status)
	}
	if byValue("c") != 0 {
		t.Error("the key of a deleted appointment is still found")
	}
	if a := f.do("DELETE", base+"/Key/syncId/appointment/"+strconv.Itoa(ids[1]), ""); a.status != 204 {
		t.Fatalf("delete key: %d", a.status)
	}
	if byValue("b") != 0 || byRecord(ids[1]) != "" {
		t.Error("a deleted key is still found")
	}
}
