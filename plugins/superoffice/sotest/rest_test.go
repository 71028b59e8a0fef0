package sotest_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/superoffice/internal/wire"
	"synchronizer/plugins/superoffice/sotest"
)

func (f *fixture) create(owner int, start string) int {
	f.t.Helper()
	a := f.do("POST", "/v1/Appointment", fmt.Sprintf(`{"Associate":{"AssociateId":%d},"Description":"Text","StartDate":%q,"EndDate":%q}`,
		owner, start, strings.Replace(start, "T09", "T10", 1)))
	if a.status != 200 {
		f.t.Fatalf("create: %d %s", a.status, a.body)
	}
	var e wire.AppointmentEntity
	a.json(f.t, &e)
	return int(e.AppointmentId)
}

func TestAppointmentRESTStatusCodes(t *testing.T) {
	f := newFixture(t, nil)
	id := f.create(f.user1, "2025-04-01T09:00:00")
	path := "/v1/Appointment/" + strconv.Itoa(id)
	get := f.do("GET", path, "")
	if get.status != 200 || get.header.Get("Last-Modified") == "" {
		t.Fatalf("GET: %d %v", get.status, get.header)
	}
	var e wire.AppointmentEntity
	get.json(t, &e)
	if e.StartDate != "2025-04-01T09:00:00" || e.UpdatedDate != wire.ZeroDate || e.Type != "inDiary" {
		t.Errorf("entity: start %s updated %s type %s", e.StartDate, e.UpdatedDate, e.Type)
	}
	lm := get.header.Get("Last-Modified")
	if a := f.do("GET", path, "", "If-Modified-Since", lm); a.status != 304 {
		t.Errorf("If-Modified-Since: %d", a.status)
	}
	f.clk.Add(5 * time.Second)
	if a := f.do("PUT", path, `{"Description":"Changed","StartDate":"2025-04-01T09:00:00","EndDate":"2025-04-01T10:00:00"}`, "If-Unmodified-Since", lm); a.status != 200 {
		t.Fatalf("PUT: %d %s", a.status, a.body)
	}
	f.clk.Add(5 * time.Second)
	if a := f.do("PUT", path, `{"Description":"Lost"}`, "If-Unmodified-Since", lm); a.status != 412 {
		t.Errorf("stale PUT: %d", a.status)
	}
	if a := f.do("DELETE", path, "", "If-Unmodified-Since", lm); a.status != 412 {
		t.Errorf("stale DELETE: %d", a.status)
	}
	if a := f.do("PUT", path, ""); a.status != 400 {
		t.Errorf("PUT without body: %d", a.status)
	}
	f.do("GET", path, "").json(t, &e)
	if e.Description != "Changed" || e.UpdatedDate == wire.ZeroDate {
		t.Errorf("after PUT: %q updated %s", e.Description, e.UpdatedDate)
	}
	if a := f.do("DELETE", path, ""); a.status != 204 {
		t.Errorf("DELETE: %d", a.status)
	}
	a := f.do("GET", path, "")
	var env wire.Error
	a.json(t, &env)
	if a.status != 404 || !env.Error || env.ErrorType != "SoNotFoundException" || env.ErrorMessage == "" || env.ErrorSource == "" {
		t.Errorf("GET deleted: %d %s", a.status, a.body)
	}
	// The agents answer 200 null for what does not exist.
	if a := f.do("POST", "/v1/Agents/Appointment/GetAppointmentEntity?appointmentEntityId="+strconv.Itoa(id), "null"); a.status != 200 || string(a.body) != "null" {
		t.Errorf("agent on missing entity: %d %s", a.status, a.body)
	}
	if a := f.do("GET", "/v1/Nothing", ""); a.status != 404 {
		t.Errorf("unknown route: %d", a.status)
	}
	if a := f.call(f.so.APIURL(f.srv.URL)+path, "GET", ""); a.status != 401 {
		t.Errorf("no credentials: %d", a.status)
	}
}

func TestODataSearch(t *testing.T) {
	f := newFixture(t, func(o *sotest.Options) { o.MaxPageSize = 3 })
	var ids []int
	for d := 1; d <= 7; d++ {
		ids = append(ids, f.create(f.user1, fmt.Sprintf("2025-04-%02dT09:00:00", d)))
	}
	f.create(f.user2, "2025-04-01T09:00:00")
	f.clk.Add(time.Minute)
	f.do("PUT", "/v1/Appointment/"+strconv.Itoa(ids[6]), `{"Description":"edited","StartDate":"2025-04-07T09:00:00","EndDate":"2025-04-07T10:00:00"}`)
	q := url.Values{"$select": {"appointmentId,associateId,date,updatedDate,registeredDate,type"},
		"$filter": {fmt.Sprintf("associateId associateIsOneOf (%d)", f.user1)}, "$orderBy": {"date desc"}}
	var rows []map[string]any
	next := "/v1/Appointment?" + q.Encode()
	pages := 0
	for next != "" {
		a := f.do("GET", next, "")
		if a.status != 200 {
			t.Fatalf("search: %d %s", a.status, a.body)
		}
		var resp wire.ODataResponse
		a.json(t, &resp)
		rows = append(rows, resp.Value...)
		pages++
		next = ""
		if resp.NextLink != nil {
			u, _ := url.Parse(*resp.NextLink)
			next = strings.TrimPrefix(u.RequestURI(), strings.TrimPrefix(f.so.APIURL(f.srv.URL), f.srv.URL))
		}
	}
	if pages != 3 || len(rows) != 7 {
		t.Fatalf("%d pages, %d rows", pages, len(rows))
	}
	if rows[0]["appointmentId"].(float64) != float64(ids[6]) || rows[0]["PrimaryKey"] != strconv.Itoa(ids[6]) || rows[0]["EntityName"] != "appointment" {
		t.Errorf("first row = %v", rows[0])
	}
	// SLIM shows display values; updatedDate is empty until the first change.
	if rows[0]["associateId"] != "USER1" || rows[0]["type"] != "Meeting" {
		t.Errorf("SLIM values = %v", rows[0])
	}
	if rows[1]["updatedDate"] != wire.ZeroDate || rows[0]["updatedDate"] == wire.ZeroDate {
		t.Errorf("updatedDate = %v / %v", rows[0]["updatedDate"], rows[1]["updatedDate"])
	}
	cases := []struct {
		filter string
		want   int
	}{
		{fmt.Sprintf("associateId associateIsOneOf (%d,%d)", f.user1, f.user2), 8},
		{fmt.Sprintf("associateId eq %d and date afterTime '2025-04-03T09:00:00'", f.user1), 4},
		{fmt.Sprintf("associateId eq %d and date beforeTime '2025-04-03T09:00:00'", f.user1), 2},
		{fmt.Sprintf("associateId eq %d and date between ('2025-04-02','2025-04-04')", f.user1), 3},
		{fmt.Sprintf("appointmentId between (%d,%d)", ids[0], ids[2]), 3},
		{fmt.Sprintf("appointmentId oneOf (%d,%d)", ids[0], ids[5]), 2},
		{"updatedDate afterTime '2025-03-20T09:00:30'", 1},
		{"text contains 'edit'", 1},
	}
	for _, c := range cases {
		a := f.do("GET", "/v1/Appointment?"+url.Values{"$select": {"appointmentId,associateId"}, "$filter": {c.filter}, "$output": {"Logical"}, "$top": {"100"}}.Encode(), "")
		var resp wire.ODataResponse
		a.json(t, &resp)
		// Page cap 3: count the first page and the total from $top.
		got := len(resp.Value)
		for resp.NextLink != nil {
			u, _ := url.Parse(*resp.NextLink)
			a = f.do("GET", strings.TrimPrefix(u.RequestURI(), strings.TrimPrefix(f.so.APIURL(f.srv.URL), f.srv.URL)), "")
			resp = wire.ODataResponse{}
			a.json(t, &resp)
			got += len(resp.Value)
		}
		if got != c.want {
			t.Errorf("%s: %d rows, want %d", c.filter, got, c.want)
		}
		if len(resp.Value) > 0 {
			if _, isNum := resp.Value[0]["associateId"].(float64); !isNum {
				t.Errorf("Logical associateId = %v", resp.Value[0]["associateId"])
			}
		}
	}
	for _, bad := range []string{"nosuch eq 1", "appointmentId eq 'x'", "appointmentId eq 1 or appointmentId eq 2", "date afterTime 'soon'"} {
		if a := f.do("GET", "/v1/Appointment?"+url.Values{"$filter": {bad}}.Encode(), ""); a.status != 400 {
			t.Errorf("%q: %d", bad, a.status)
		}
	}
	if a := f.do("GET", "/v1/Appointment?$select=bogus", ""); a.status != 400 {
		t.Errorf("bad $select: %d", a.status)
	}
}

// What SuperOffice's own JavaScript client sends must work: camelCase names, null
// bodies, ISO 8601 durations, UTC dates with milliseconds, odd parameter case.
func TestClientLibraryForms(t *testing.T) {
	f := newFixture(t, nil)
	def := f.do("POST", "/v1/Agents/Appointment/CreateDefaultAppointmentEntity", "null")
	if def.status != 200 {
		t.Fatalf("default: %d %s", def.status, def.body)
	}
	body := fmt.Sprintf(`{"associate":{"associateId":%d},"description":"From JS","startDate":"2025-04-01T07:00:00.000Z",
		"endDate":"2025-04-01T08:00:00.000Z","hasAlarm":true,"alarmLeadTime":"PT15M","tableRight":{"mask":3},"private":"PrivateUser"}`, f.user1)
	a := f.do("POST", "/v1/Agents/Appointment/SaveAppointmentEntity", body, "SO-TimeZone", "UTC,includeTZOffset")
	if a.status != 200 {
		t.Fatalf("save: %d %s", a.status, a.body)
	}
	var e wire.AppointmentEntity
	a.json(t, &e)
	if e.StartDate != "2025-04-01T07:00:00+00:00" || e.AlarmLeadTime != "00:15:00" || e.Private != "PrivateUser" {
		t.Errorf("saved = start %s lead %s private %s", e.StartDate, e.AlarmLeadTime, e.Private)
	}
	// Stored in the base zone: 09:00 in Oslo.
	var local wire.AppointmentEntity
	f.do("POST", fmt.Sprintf("/v1/Agents/Appointment/GetAppointmentEntity?APPOINTMENTENTITYID=%d", e.AppointmentId), "").json(t, &local)
	if local.StartDate != "2025-04-01T09:00:00" {
		t.Errorf("base zone start = %s", local.StartDate)
	}
	diary := f.post("/v1/Agents/Appointment/GetAssociateDiary", map[string]any{"associateId": f.user1,
		"startTime": "2025-04-01T00:00:00", "endTime": "2025-04-02T00:00:00", "count": 10})
	var rows []wire.Appointment
	diary.json(t, &rows)
	if len(rows) != 1 || rows[0].Description != "From JS" {
		t.Errorf("diary = %s", diary.body)
	}
	// GetAppointmentList: the rows of the ids listed, unknown ids left out; the
	// ids as the Swagger has them (an array) or as an object.
	for _, body := range []string{fmt.Sprintf(`[%d, 987654]`, e.AppointmentId), fmt.Sprintf(`{"AppointmentIds":[987654,%d]}`, e.AppointmentId)} {
		var list []wire.Appointment
		a := f.do("POST", "/v1/Agents/Appointment/GetAppointmentList", body)
		a.json(t, &list)
		if a.status != 200 || len(list) != 1 || list[0].AppointmentId != int(e.AppointmentId) || list[0].Description != "From JS" ||
			list[0].StartDate != rows[0].StartDate {
			t.Errorf("GetAppointmentList %s = %d %s", body, a.status, a.body)
		}
	}
	if a := f.do("POST", "/v1/Agents/Appointment/GetAppointmentList", `"seven"`); a.status != 400 {
		t.Errorf("GetAppointmentList without ids: %d %s", a.status, a.body)
	}
	if a := f.do("POST", fmt.Sprintf("/v1/Agents/Appointment/DeleteAppointmentEntity?AppointmentEntityId=%d", e.AppointmentId), "null"); a.status != 204 {
		t.Errorf("delete: %d", a.status)
	}
	var u wire.User
	f.post("/v1/Agents/User/GetUserFromName", map[string]string{"userName": "user2"}).json(t, &u)
	if u.AssociateId != f.user2 {
		t.Errorf("GetUserFromName = %+v", u)
	}
	var lic []wire.ExtendedLicenseInfo
	f.do("POST", "/v1/Agents/License/GetLicenseForAllOwnersFromDB", "null").json(t, &lic)
	if len(lic) != 1 || lic[0].ExtendedModuleLicenses[0].NumberOfLicensesTotal != 10 || lic[0].ExtendedModuleLicenses[0].NumberOfLicensesInUse != 2 {
		t.Errorf("licences = %s", f.do("POST", "/v1/Agents/License/GetLicenseForAllOwnersFromDB", "null").body)
	}
}

func TestDirectoryEndpoints(t *testing.T) {
	f := newFixture(t, nil)
	for _, p := range []string{"/v1/User/USER1", "/v1/User/" + strconv.Itoa(f.user1), "/v1/User/currentPrincipal", "/v1/User/currentAssociate",
		"/v1/License", "/v1/License/SuperOffice", "/v1/License/SuperOffice/user", "/v1/License/User/" + strconv.Itoa(f.user1),
		"/v1/MDOList/resource", "/v1/MDOList/task", "/v1/TimeZone", "/v1/TimeZone/base", "/v1/TimeZone/current",
		"/v1/User?$select=associateDbId,assocName,personEmail,assocType&$output=Logical", "/v1/Webhook", "/v1/Webhook/default", "/v1", ""} {
		if a := f.do("GET", p, ""); a.status != 200 {
			t.Errorf("GET %s: %d %s", p, a.status, a.body)
		}
	}
	var tz wire.TimeZoneData
	f.do("GET", "/v1/TimeZone/base", "").json(t, &tz)
	if tz.TZLocationCode != "NO" || tz.TZLocationCities != "Oslo" {
		t.Errorf("base zone = %+v", tz)
	}
	var res []wire.MDOListItem
	f.do("GET", "/v1/MDOList/resource", "").json(t, &res)
	if len(res) != 1 || res[0].Id != f.room || res[0].Type != "Location" {
		t.Errorf("resources = %+v", res)
	}
	var u wire.User
	f.do("GET", "/v1/User/"+strconv.Itoa(f.room), "").json(t, &u)
	if u.Type != "ResourceAssociate" {
		t.Errorf("resource user type = %s", u.Type)
	}
	if a := f.do("GET", "/v1/User/NOBODY", ""); a.status != 404 {
		t.Errorf("missing user: %d", a.status)
	}
}

func TestHostMoveAnd421(t *testing.T) {
	f := newFixture(t, nil)
	old := f.so.APIURL(f.srv.URL)
	var st wire.TenantState
	f.call(f.srv.URL+"/api/state/Cust7", "GET", "").json(t, &st)
	if st.Api != old || !st.IsRunning || st.State != "Running" {
		t.Fatalf("state = %+v (api %s)", st, old)
	}
	// The root host's own tenant path (where webapi_url points) is the wrong host.
	if a := f.call(f.srv.URL+"/Cust7/api/v1/User/currentPrincipal", "GET", "", "Authorization", "Bearer "+f.so.AdminToken()); a.status != 421 {
		t.Errorf("root host: %d", a.status)
	}
	f.so.MoveTenant()
	if a := f.call(old+"/v1/User/currentPrincipal", "GET", "", "Authorization", "Bearer "+f.so.AdminToken()); a.status != 421 {
		t.Errorf("old host after the move: %d", a.status)
	}
	f.call(f.srv.URL+"/api/state/Cust7", "GET", "").json(t, &st)
	if st.Api == old || st.Api != f.so.APIURL(f.srv.URL) {
		t.Errorf("state after the move = %s", st.Api)
	}
	if a := f.do("GET", "/v1/User/currentPrincipal", ""); a.status != 200 {
		t.Errorf("new host: %d", a.status)
	}
	_ = f.so.SetTenantState("OfflineMaintenance")
	if a := f.do("GET", "/v1/User/currentPrincipal", ""); a.status != http.StatusServiceUnavailable {
		t.Errorf("offline maintenance: %d", a.status)
	}
}
