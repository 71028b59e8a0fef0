package swagger

import (
	"strings"
	"testing"
)

func TestValidateResponse(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path string
		status             int
		body               string
		wantErr            string
	}{
		{"entity ok", "GET", "/x/api/v1/Appointment/5", 200,
			`{"AppointmentId":5,"Type":"inDiary","StartDate":"2025-01-02T09:00:00+01:00","Associate":null,"Recurrence":{"WeekPattern":{"Weekdays":"Monday, Wednesday","Cycle":1}},"_Links":{"Self":"x"}}`, ""},
		{"unknown property", "GET", "/x/api/v1/Appointment/5", 200, `{"AppointmentId":5,"Privat":"Public"}`, `property "Privat"`},
		{"enum outside the list", "GET", "/x/api/v1/Appointment/5", 200, `{"Type":"Meeting"}`, `"Meeting" is not one of`},
		{"flags enum part unknown", "GET", "/x/api/v1/Appointment/5", 200, `{"Recurrence":{"WeekPattern":{"Weekdays":"Monday, Funday"}}}`, `"Funday"`},
		{"wrong type", "GET", "/x/api/v1/Appointment/5", 200, `{"AppointmentId":"5"}`, "want an integer"},
		{"null integer", "GET", "/x/api/v1/Appointment/5", 200, `{"AppointmentId":null}`, "null where"},
		{"bad date", "GET", "/x/api/v1/Appointment/5", 200, `{"StartDate":"tomorrow"}`, "bad date"},
		{"int32 overflow", "GET", "/x/api/v1/Appointment/5", 200, `{"AppointmentId":3000000000}`, "outside int32"},
		{"OData values are any", "GET", "/x/api/v1/Appointment", 200, `{"odata.metadata":"m","odata.nextLink":null,"value":[{"PrimaryKey":"1","date":"2025-01-01T00:00:00","n":1}]}`, ""},
		{"array of carriers", "POST", "/x/api/v1/Agents/Appointment/GetAssociateDiary", 200, `[{"AppointmentId":1,"Bogus":1}]`, `property "Bogus"`},
		{"agents answer null", "POST", "/x/api/v1/Agents/Appointment/GetAppointmentEntity", 200, `null`, ""},
		{"undocumented success status", "GET", "/x/api/v1/Appointment/5", 201, `{}`, "not documented"},
		{"error status passes", "GET", "/x/api/v1/Appointment/5", 404, `{"Error":true}`, ""},
		{"login host is not described", "POST", "/Login/api/PartnerSystemUser/Authenticate", 200, `{"x":1}`, ""},
		{"most specific template wins", "GET", "/x/api/v1/Appointment/default", 200, `{"AppointmentId":0}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.ValidateResponse(c.method, c.path, c.status, []byte(c.body))
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("err = %v, want %q", err, c.wantErr)
			}
		})
	}
}
