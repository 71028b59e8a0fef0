package superoffice

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"synchronizer/plugins/superoffice/internal/wire"
)

func decodeAppointments(b []byte) ([]wire.Appointment, error) {
	var l appointmentList
	err := l.decodeJSON(b)
	return l.rows, err
}

func TestAppointmentListDecoding(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []wire.Appointment
		err  string
	}{
		{name: "rows", body: `[{"AppointmentId":7,"Title":"Budget","IsFree":true,"StartDate":"2025-03-20T09:00:00","TableRight":{"Mask":"Select","Reason":""}},
			{"AppointmentId":8,"Title":null,"IsFree":null,"PersonId":null,"TableRight":null}]`,
			want: []wire.Appointment{{AppointmentId: 7, Title: "Budget", IsFree: true, StartDate: "2025-03-20T09:00:00",
				TableRight: &wire.TableRight{Mask: "Select"}}, {AppointmentId: 8}}},
		{name: "odd order, other case, unknown members, escapes", body: ` [ { "title" : "a \"b\" \u00e9\ud83d\ude00", "x" : {"y":[1,{"z":null}]},
			"APPOINTMENTID" : 9 , "Description":"line\nbreak\\" } ] `,
			want: []wire.Appointment{{AppointmentId: 9, Title: "a \"b\" é😀", Description: "line\nbreak\\"}}},
		{name: "invalid UTF-8 becomes U+FFFD", body: "[{\"Title\":\"a\xffb\"}]", want: []wire.Appointment{{Title: "a\uFFFDb"}}},
		{name: "a null row", body: `[null,{"AppointmentId":1}]`, want: []wire.Appointment{{}, {AppointmentId: 1}}},
		{name: "empty", body: `[]`, want: []wire.Appointment{}},
		{name: "a string for a number", body: `[{"AppointmentId":"7"}]`, err: "want a number"},
		{name: "a fraction for a number", body: `[{"AppointmentId":7.5}]`, err: "is not an integer"},
		{name: "a number for a string", body: `[{"Title":7}]`, err: "want a string"},
		{name: "a string for a boolean", body: `[{"IsFree":"true"}]`, err: "want true or false"},
		{name: "a row that is a number", body: `[7]`, err: "not an object"},
		{name: "an object", body: `{"AppointmentId":7}`, err: "not an array"},
		{name: "truncated", body: `[{"AppointmentId":7`, err: "unexpected end"},
		{name: "garbage", body: `<html>`, err: "not an array"},
		{name: "data after", body: `[] x`, err: "data after the answer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeAppointments([]byte(c.body))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// TestAppointmentListAgreesWithEncodingJSON decodes random answers (members
// shuffled, renamed in another case, dropped, null, unknown ones added, texts
// with escapes) both ways, then damages them: both readings agree on what they
// accept and on what they read. Randomized: the seed is printed.
func TestAppointmentListAgreesWithEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t, "SUPEROFFICE_TEST_SEED"), 5))
	texts := []string{"", "plain", `quote " and \ back`, "tab\tnew\nline", "é😀", "<&>", "\u2028", "x\u0001y"}
	randomRow := func() map[string]any {
		var a wire.Appointment
		v := reflect.ValueOf(&a).Elem()
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			switch f.Kind() {
			case reflect.Int:
				f.SetInt(int64(rng.IntN(2000) - 10))
			case reflect.String:
				f.SetString(texts[rng.IntN(len(texts))])
			case reflect.Bool:
				f.SetBool(rng.IntN(2) == 0)
			case reflect.Pointer:
				if rng.IntN(2) == 0 {
					f.Set(reflect.ValueOf(&wire.TableRight{Mask: "Select, Insert", Reason: texts[rng.IntN(len(texts))]}))
				}
			}
		}
		b, _ := json.Marshal(a)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}
	for i := 0; i < 300; i++ {
		var rows []string
		for n := rng.IntN(4); n > 0; n-- {
			if rng.IntN(10) == 0 {
				rows = append(rows, "null")
				continue
			}
			m := randomRow()
			var members []string
			for k, v := range m {
				switch rng.IntN(12) {
				case 0:
					continue // dropped
				case 1:
					v = nil
				case 2:
					k = strings.ToUpper(k)
				}
				kb, _ := json.Marshal(k)
				vb, _ := json.Marshal(v)
				members = append(members, string(kb)+":"+string(vb))
			}
			if rng.IntN(3) == 0 {
				members = append(members, `"Unknown":{"a":[1,"b",null,true]}`)
			}
			rng.Shuffle(len(members), func(a, b int) { members[a], members[b] = members[b], members[a] })
			rows = append(rows, "{"+strings.Join(members, ",")+"}")
		}
		body := []byte("[" + strings.Join(rows, ",") + "]")
		for variant := 0; variant < 4; variant++ {
			b := append([]byte(nil), body...)
			switch variant {
			case 1:
				b = b[:rng.IntN(len(b))]
			case 2:
				b[rng.IntN(len(b))] = `{}[],:"\ 0a-.enult7`[rng.IntN(19)]
			case 3: // a value of another kind
				b = []byte(strings.Replace(string(b), `"AppointmentId":`, `"AppointmentId":"`+fmt.Sprint(rng.IntN(9))+`",`+`"x":`, 1))
			}
			var want []wire.Appointment
			wantErr := json.Unmarshal(b, &want)
			got, err := decodeAppointments(b)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%s\nerror %v, encoding/json %v", b, err, wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("%s\ngot  %+v\nwant %+v", b, got, want)
			}
		}
	}
}

func BenchmarkAppointmentList600(b *testing.B) {
	row := `{"AppointmentId":%d,"StartDate":"2025-03-21T09:00:00","EndDate":"2025-03-21T10:00:00","Type":"inDiary","Task":"Meeting","AssociateFullName":"User One","ContactName":"","Description":"Agenda\nwith finance","PersonFullName":"","PersonId":0,"ContactId":0,"ProjectId":0,"ProjectName":"","IsPublished":false,"AssociateId":2,"ColorIndex":0,"IsFree":false,"HasAlarm":false,"IsAlldayEvent":false,"Private":"Public","PriorityId":0,"PriorityName":"","TaskType":"Appointment","IsBookingMain":false,"IsRecurrence":false,"IsBooking":false,"ActiveDate":"2025-03-21T09:00:00","AssignmentStatus":"None","InvitationStatus":"None","BookingType":"None","Completed":"NotStarted","RecurringPattern":"Unknown","RecurringStartDate":"0001-01-01T00:00:00","RecurringEndDate":"0001-01-01T00:00:00","MotherId":0,"AssignedBy":0,"AssignedByFullName":"","RejectReason":"","Location":"Room 4","AlarmLeadTime":"00:00:00","SaleId":0,"SaleName":"","AssociateName":"USER1","CreatedDate":"2025-03-20T09:00:00","CreatedBy":"SYSTEM","CreatedByFullName":"System user","CreatedByAssociateId":1,"CautionWarning":"OK","OwnedExternally":"None","MotherAssociateId":0,"JoinVideomeetUrl":"","PreferredTZLocation":0,"Title":"Budget review","Agenda":"","InternalNotes":"","TaskId":1,"TableRight":{"Mask":"Select, Insert, Update, Delete","Reason":""}}`
	var sb strings.Builder
	sb.WriteByte('[')
	for i := 0; i < 600; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, row, 1000+i)
	}
	sb.WriteByte(']')
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var rows []wire.Appointment
			if err := json.Unmarshal(body, &rows); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appointmentList", func(b *testing.B) {
		var l appointmentList
		for b.Loop() {
			if err := l.decodeJSON(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
