package superoffice

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/superoffice/internal/wire"
)

// testSeed is the seed of a randomized test: the time, or the one the variable
// env names (to replay a printed one).
func testSeed(t *testing.T, env string) uint64 {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(env); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", env, v, err)
		}
		seed = s
	}
	t.Logf("seed %d (replay with %s=%d)", seed, env, seed)
	return seed
}

func decodeScan(body string, loc *time.Location) ([]scanRow, scanPage, error) {
	var rows []scanRow
	p := scanPage{loc: loc, rows: &rows}
	err := p.decodeJSON([]byte(body))
	return rows, p, err
}

func TestScanPageDecoding(t *testing.T) {
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip("no zone database")
	}
	at := func(s string) time.Time { // a UTC wall clock
		v, err := time.Parse("2006-01-02T15:04:05", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	const regd = `"registeredDate":"2025-03-01T08:00:00+00:00"`
	cases := []struct {
		name  string
		body  string
		loc   *time.Location
		want  []scanRow
		count int
		more  bool
		err   string // part of the error; "" for none
	}{
		{name: "a page as the service writes it", body: `{"odata.metadata":"https://h/api/v1/Archive/$metadata","odata.nextLink":null,"value":[
			{"PrimaryKey":"7","EntityName":"appointment","appointmentId":7,"recurrenceRuleId":0,"rawType":1,"rawStatus":1,
			 "date":"2025-03-20T09:00:00+01:00","endDate":"2025-03-20T10:00:00+01:00","updatedDate":"0001-01-01T00:00:00+00:00",` + regd + `}]}`,
			want: []scanRow{{id: 7, typ: 1, status: 1, start: at("2025-03-20T08:00:00"), end: at("2025-03-20T09:00:00"),
				registered: at("2025-03-01T08:00:00")}}, count: 1},
		{name: "offset-less times are read in the installation's zone", loc: oslo,
			body: `{"value":[{"appointmentId":8,"date":"2025-07-01T10:00:00","endDate":"2025-07-01T11:00:00","updatedDate":"2025-03-02T08:00:00Z"}]}`,
			want: []scanRow{{id: 8, start: at("2025-07-01T08:00:00"), end: at("2025-07-01T09:00:00"), updated: at("2025-03-02T08:00:00")}}, count: 1},
		{name: "odd order, white space, unknown members of every kind, a next link",
			body: " \n{ \"value\" : [ { \"x\":{\"a\":[1,2,{\"b\":null}],\"c\":\"}\"}, \"endDate\":\"2025-03-20T10:00:00Z\" , \"rawType\" : 6," +
				"\"date\":\"2025-03-20T09:00:00Z\",\"y\":[true,false,null,-1.5e3,\"\\\"\"],\"appointmentId\":9}],\"odata.nextLink\":\"https://h/next\"}\t",
			want: []scanRow{{id: 9, typ: 6, start: at("2025-03-20T09:00:00"), end: at("2025-03-20T10:00:00")}}, count: 1, more: true},
		{name: "escaped strings", body: `{"value":[{"appointmentId":"1\u0030","da\u0074e":"2025\u002d03-20T09:00:00Z","endDate":"2025-03-20T10:00:00Z",` +
			`"text":"a \"quoted\" \\ text \ud83d\ude00 \ud800 \/ \b\f\n\r\t"}]}`,
			want: []scanRow{{id: 10, start: at("2025-03-20T09:00:00"), end: at("2025-03-20T10:00:00")}}, count: 1},
		{name: "nulls", body: `{"odata.nextLink":null,"value":[{"appointmentId":11,"recurrenceRuleId":null,"rawType":null,"rawStatus":null,` +
			`"date":"2025-03-20T09:00:00Z","endDate":null,"updatedDate":null,"registeredDate":null}]}`,
			want: []scanRow{{id: 11, start: at("2025-03-20T09:00:00"), end: at("2025-03-20T09:00:00")}}, count: 1},
		{name: "value null", body: `{"value":null}`},
		{name: "no rows", body: `{"value":[]}`},
		{name: "ints as the generic reading had them", body: `{"value":[{"appointmentId":12.9,"recurrenceRuleId":"3","rawType":"x","rawStatus":true,` +
			`"date":"2025-03-20T09:00:00Z"},{"PrimaryKey":"13","appointmentId":0,"rawType":1e0,"date":"2025-03-20T09:00:00Z"},` +
			`{"PrimaryKey":14,"rawStatus":[1],"rawType":{"a":1},"date":"2025-03-20T09:00:00Z"}]}`,
			want: []scanRow{{id: 12, rule: 3, start: at("2025-03-20T09:00:00"), end: at("2025-03-20T09:00:00")},
				{id: 13, typ: 1, start: at("2025-03-20T09:00:00"), end: at("2025-03-20T09:00:00")},
				{id: 14, start: at("2025-03-20T09:00:00"), end: at("2025-03-20T09:00:00")}}, count: 3},
		{name: "names in another case", body: `{"VALUE":[{"AppointmentID":15,"DATE":"2025-03-20T09:00:00Z","EndDate":"2025-03-20T09:30:00Z"}]}`,
			want: []scanRow{{id: 15, start: at("2025-03-20T09:00:00"), end: at("2025-03-20T09:30:00")}}, count: 1},
		{name: "an end before the start is the start", body: `{"value":[{"appointmentId":16,"date":"2025-03-20T09:00:00Z","endDate":"2025-03-20T08:00:00Z"}]}`,
			want: []scanRow{{id: 16, start: at("2025-03-20T09:00:00"), end: at("2025-03-20T09:00:00")}}, count: 1},
		{name: "a row without id", body: `{"value":[{"date":"2025-03-20T09:00:00Z"}]}`, err: "without appointmentId"},
		{name: "a null row", body: `{"value":[null]}`, err: "without appointmentId"},
		{name: "a bad date", body: `{"value":[{"appointmentId":17,"date":"yesterday"}]}`, err: `appointment 17: date: bad date "yesterday"`},
		{name: "a date that is a number", body: `{"value":[{"appointmentId":18,"endDate":5}]}`, err: "endDate is not a date"},
		{name: "a row that is a number", body: `{"value":[5]}`, err: "a row is not an object"},
		{name: "value an object", body: `{"value":{}}`, err: "value is not an array"},
		{name: "an array", body: `[]`, err: "not an object"},
		{name: "a next link that is a number", body: `{"odata.nextLink":1,"value":[]}`, err: "want a string"},
		{name: "truncated", body: `{"value":[{"appointmentId":19,"date":"2025-03-20T09:00:00Z"}`, err: "unexpected end"},
		{name: "truncated in a string", body: `{"value":[{"appointmentId":19,"date":"2025-03-`, err: "unterminated string"},
		{name: "a missing comma", body: `{"value":[{"appointmentId":19 "date":"2025-03-20T09:00:00Z"}]}`, err: "want , or a closing bracket"},
		{name: "a trailing comma", body: `{"value":[{"appointmentId":19,}]}`, err: "a comma before"},
		{name: "a missing colon", body: `{"value" []}`, err: "want : after a member name"},
		{name: "an unquoted name", body: `{value:[]}`, err: "want a member name"},
		{name: "a bad escape", body: `{"value":[],"x":"\q"}`, err: `a bad escape \q`},
		{name: "a bad unicode escape", body: `{"value":[],"x":"\u12g4"}`, err: `a bad \u escape`},
		{name: "a control character", body: "{\"value\":[],\"x\":\"a\nb\"}", err: "a control character"},
		{name: "a bad number", body: `{"value":[{"appointmentId":-}]}`, err: "a bad number"},
		{name: "a number with a bare fraction", body: `{"value":[{"appointmentId":1.}]}`, err: "a bad number"},
		{name: "a bad literal", body: `{"value":[{"appointmentId":nul}]}`, err: "a bad literal"},
		{name: "data after the answer", body: `{"value":[]} {}`, err: "data after the answer"},
		{name: "html", body: `<html>busy</html>`, err: "not an object"},
		{name: "deep nesting", body: `{"value":[],"x":` + strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2) + `}`, err: "nested too deep"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loc := c.loc
			if loc == nil {
				loc = time.UTC
			}
			rows, p, err := decodeScan(c.body, loc)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				if len(rows) != 0 {
					t.Errorf("a failed page left %d rows", len(rows))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.count != c.count || p.more != c.more {
				t.Errorf("count, more = %d, %v; want %d, %v", p.count, p.more, c.count, c.more)
			}
			if len(rows) != len(c.want) {
				t.Fatalf("rows = %+v, want %+v", rows, c.want)
			}
			for i := range rows {
				if !sameScanRow(rows[i], c.want[i]) {
					t.Errorf("row %d = %+v, want %+v", i, rows[i], c.want[i])
				}
			}
		})
	}
}

func sameScanRow(a, b scanRow) bool {
	return a.id == b.id && a.rule == b.rule && a.typ == b.typ && a.status == b.status && a.start.Equal(b.start) &&
		a.end.Equal(b.end) && a.registered.Equal(b.registered) && a.updated.Equal(b.updated)
}

// referenceScan reads a page as the scan did through encoding/json: rows as
// maps, ints through intOf, texts through strOf, dates through ParseDate.
func referenceScan(body []byte, loc *time.Location) ([]scanRow, bool, error) {
	var page struct {
		NextLink *string          `json:"odata.nextLink"`
		Value    []map[string]any `json:"value"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, false, err
	}
	var out []scanRow
	for _, m := range page.Value {
		v := map[string]any{} // names match without regard to case
		for k, x := range m {
			v[strings.ToLower(k)] = x
		}
		r := scanRow{id: intOf(v["appointmentid"]), rule: intOf(v["recurrenceruleid"]), typ: intOf(v["rawtype"]), status: intOf(v["rawstatus"])}
		if r.id == 0 {
			r.id, _ = strconv.Atoi(strOf(v["primarykey"]))
		}
		if r.id == 0 {
			return nil, false, fmt.Errorf("no id")
		}
		var errs [4]error
		r.start, _, errs[0] = wire.ParseDate(strOf(v["date"]), loc)
		r.end, _, errs[1] = wire.ParseDate(strOf(v["enddate"]), loc)
		r.registered, _, errs[2] = wire.ParseDate(strOf(v["registereddate"]), time.UTC)
		r.updated, _, errs[3] = wire.ParseDate(strOf(v["updateddate"]), time.UTC)
		for _, err := range errs {
			if err != nil {
				return nil, false, err
			}
		}
		if r.end.Before(r.start) {
			r.end = r.start
		}
		out = append(out, r)
	}
	return out, page.NextLink != nil && *page.NextLink != "", nil
}

// TestScanPageAgreesWithEncodingJSON decodes random pages (members in any order,
// escapes, unknown members, white space) with both readings, then damages them
// (cut short, a byte changed): the decoder never accepts what is not JSON and,
// on what encoding/json reads, gives its rows or a clear error.
func TestScanPageAgreesWithEncodingJSON(t *testing.T) {
	seed := testSeed(t, "SUPEROFFICE_TEST_SEED")
	rng := rand.New(rand.NewPCG(seed, 11))
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip("no zone database")
	}
	esc := func(s string) string { // escapes some characters at random
		var b strings.Builder
		for _, c := range s {
			if rng.IntN(6) == 0 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteRune(c)
			}
		}
		return b.String()
	}
	date := func() string {
		at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(400*24*3600)) * time.Second)
		switch rng.IntN(5) {
		case 0:
			return wire.ZeroDate
		case 1:
			return at.Format("2006-01-02T15:04:05Z")
		case 2:
			return at.Format("2006-01-02T15:04:05")
		}
		return wire.FormatDate(at, time.FixedZone("", (rng.IntN(27)-12)*1800), true)
	}
	junk := []string{`{"a":[1,{"b":"}"}]}`, `[true,false,null]`, `"x\"y\\z"`, `-0.5e-3`, `null`, `"\ud83d\ude00"`}
	ws := []string{"", " ", "\n", "\t ", "\r\n"}
	for i := 0; i < 400; i++ {
		var rows []string
		for n := rng.IntN(6); n > 0; n-- {
			members := []string{
				fmt.Sprintf(`"appointmentId":%d`, 1+rng.IntN(100000)),
				fmt.Sprintf(`"PrimaryKey":"%d"`, 1+rng.IntN(100000)),
				fmt.Sprintf(`"recurrenceRuleId":%d`, rng.IntN(3)),
				fmt.Sprintf(`"rawType":%d`, rng.IntN(8)),
				fmt.Sprintf(`"rawStatus":"%d"`, rng.IntN(14)),
				`"EntityName":"appointment"`,
			}
			for _, col := range []string{"date", "endDate", "registeredDate", "updatedDate"} {
				if rng.IntN(8) == 0 {
					members = append(members, `"`+col+`":null`)
				} else {
					members = append(members, `"`+esc(col)+`":"`+esc(date())+`"`)
				}
			}
			members = append(members, `"`+esc("junk")+`":`+junk[rng.IntN(len(junk))])
			rng.Shuffle(len(members), func(a, b int) { members[a], members[b] = members[b], members[a] })
			sep := ws[rng.IntN(len(ws))]
			rows = append(rows, "{"+sep+strings.Join(members, ","+sep)+"}")
		}
		next := `null`
		if rng.IntN(3) == 0 {
			next = `"https://h/next?$skip=5"`
		}
		body := []byte(`{"odata.metadata":"m","value":[` + strings.Join(rows, ",") + `],"odata.nextLink":` + next + `}`)
		for variant := 0; variant < 3; variant++ {
			b := append([]byte(nil), body...)
			switch variant {
			case 1:
				b = b[:rng.IntN(len(b))]
			case 2:
				b[rng.IntN(len(b))] = `{}[],:"\ 0a-.enult`[rng.IntN(18)]
			}
			loc := []*time.Location{time.UTC, oslo}[rng.IntN(2)]
			want, wantMore, wantErr := referenceScan(b, loc)
			got, p, err := decodeScan(string(b), loc)
			if !json.Valid(b) {
				if err == nil {
					t.Fatalf("accepted what is not JSON: %s", b)
				}
				continue
			}
			if wantErr != nil {
				if err == nil {
					t.Fatalf("accepted %s (encoding/json reading: %v)", b, wantErr)
				}
				continue
			}
			if err != nil {
				// Stricter than the generic reading on purpose: a column of the
				// wrong kind, an id beyond any int.
				if !strings.Contains(err.Error(), "is not a date") && !strings.Contains(err.Error(), "is not an") &&
					!strings.Contains(err.Error(), "want a string") && !strings.Contains(err.Error(), "out of range") {
					t.Fatalf("%s: %v, but encoding/json reads it", b, err)
				}
				continue
			}
			if p.more != wantMore || len(got) != len(want) || p.count != len(want) {
				t.Fatalf("%s: %d rows (count %d, more %v), want %d (more %v)", b, len(got), p.count, p.more, len(want), wantMore)
			}
			for k := range got {
				if !sameScanRow(got[k], want[k]) {
					t.Fatalf("%s: row %d = %+v, want %+v", b, k, got[k], want[k])
				}
			}
		}
	}
}

func BenchmarkScanPage1000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"odata.metadata":"https://h/api/v1/Archive/$metadata","odata.nextLink":null,"value":[`)
	for i := 0; i < 1000; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"PrimaryKey":"%d","EntityName":"appointment","appointmentId":%d,"recurrenceRuleId":0,"rawType":1,"rawStatus":1,`+
			`"date":"2025-03-20T09:00:00+00:00","endDate":"2025-03-20T10:00:00+00:00","updatedDate":"2025-03-02T08:00:00+00:00",`+
			`"registeredDate":"2025-03-01T08:00:00+00:00"}`, 1000+i, 1000+i)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	rows := make([]scanRow, 0, 1000)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		rows = rows[:0]
		p := scanPage{loc: time.UTC, rows: &rows}
		if err := p.decodeJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}
