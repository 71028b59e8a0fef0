package graphtest

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestControlSurface(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	a := newAPI(t, ts, s.AdminToken())
	a.must(201, "POST", "/v1.0/users/user1@m365.test/events", meeting("m", "user2@m365.test"))
	a.must(200, "GET", "/v1.0/users/user1@m365.test/events", nil)
	st := newAPI(t, ts, "").must(200, "GET", "/_emulator/stats", nil)
	req, _ := st.body["requests"].(map[string]any)
	if req["GET /v1.0/users/{user}/events"] != float64(1) || st.body["mails_sent"] != float64(1) {
		t.Fatalf("stats %s", st.raw)
	}
	ctl := newAPI(t, ts, "")
	ctl.must(400, "POST", "/_emulator/faults", map[string]any{"throttle": 2})
	ctl.must(200, "POST", "/_emulator/faults", map[string]any{"throttle": 1, "retry_after": 7})
	ans := a.do("GET", "/v1.0/users/user1@m365.test/events", nil)
	if ans.status != 429 || ans.header.Get("Retry-After") != "7" {
		t.Fatalf("injected throttle: %d %q", ans.status, ans.header.Get("Retry-After"))
	}
	ctl.must(200, "POST", "/_emulator/faults", map[string]any{"truncate_next": 1, "server_errors": 0})
	a.lenient = true
	if cut := a.do("GET", "/v1.0/users/user1@m365.test/calendar", nil); cut.status != 200 || len(cut.raw) == 0 || cut.raw[len(cut.raw)-1] == '}' {
		t.Fatalf("truncated answer %d %q", cut.status, cut.raw)
	}
	a.lenient = false
	ctl.must(204, "POST", "/_emulator/revoke", map[string]any{"user": "user1@m365.test"})
	ctl.must(400, "POST", "/_emulator/revoke", map[string]any{"user": "nobody"})
	ctl.must(204, "POST", "/_emulator/seed", map[string]any{"user": "user3@m365.test", "events": 20, "seed": 1})
	ctl.must(204, "POST", "/_emulator/reset", nil)
	if n := len(values(a.must(200, "GET", "/v1.0/users/user3@m365.test/events", nil))); n != 0 {
		t.Fatalf("%d events after reset", n)
	}
	if st := s.Stats(); st.MailsSent != 0 || st.RequestsTotal != 1 {
		t.Fatalf("counters after reset %+v", st)
	}
}

// SeedEvents gives the documented mix, the same for the same seed.
func TestSeedEvents(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	if err := s.SeedEvents("user1@m365.test", 1200, 42); err != nil {
		t.Fatal(err)
	}
	if err := s.SeedEvents("user2@m365.test", 1200, 42); err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, ts, s.AdminToken())
	summary := func(user string) (string, map[string]int) {
		var lines []string
		kinds := map[string]int{}
		next := "/v1.0/users/" + user + "/events?$top=1000"
		for next != "" {
			p := a.must(200, "GET", next, nil)
			for _, v := range values(p) {
				lines = append(lines, fmt.Sprintf("%s|%s|%v", str(v, "subject"), str(v, "start", "dateTime"), v["isAllDay"]))
				kinds[str(v, "type")]++
				if v["isAllDay"] == true {
					kinds["allDay"]++
				}
				if str(v, "sensitivity") == "private" {
					kinds["private"]++
				}
			}
			next, _ = p.body["@odata.nextLink"].(string)
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n"), kinds
	}
	one, kinds := summary("user1@m365.test")
	two, _ := summary("user2@m365.test")
	if one == "" || one == two {
		t.Error("two accounts got the same calendar")
	}
	if kinds["seriesMaster"] != 3 || kinds["allDay"] < 60 || kinds["private"] < 60 || kinds["singleInstance"]+kinds["seriesMaster"] != 1200 {
		t.Fatalf("mix %v", kinds)
	}
	weekly := values(a.must(200, "GET", "/v1.0/users/user1@m365.test/events?$filter=subject%20eq%20%27Weekly%20team%20meeting%27", nil))
	if len(weekly) != 1 {
		t.Fatalf("weekly series: %v", weekly)
	}
	inst := values(a.must(200, "GET", "/v1.0/users/user1@m365.test/events/"+str(weekly[0], "id")+"/instances?startDateTime=2026-01-01T00:00:00Z&endDateTime=2027-01-01T00:00:00Z&$top=100", nil))
	exceptions := 0
	for _, v := range inst {
		if str(v, "type") == "exception" {
			exceptions++
		}
	}
	if len(inst) != 25 || exceptions != 1 {
		t.Fatalf("weekly series has %d instances, %d exceptions", len(inst), exceptions)
	}
	// Deterministic: a second emulator seeded alike holds the same items.
	s2, ts2, _ := newTestServer(t, Options{})
	if err := s2.SeedEvents("user1@m365.test", 1200, 42); err != nil {
		t.Fatal(err)
	}
	a = newAPI(t, ts2, s2.AdminToken())
	again, _ := summary("user1@m365.test")
	if again != one {
		t.Fatal("the same seed gave another calendar")
	}
}

func BenchmarkSeedEvents(b *testing.B) {
	s := New(Options{Now: func() time.Time { return testStart }})
	if err := s.Populate(1, 0); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.SeedEvents("user1@m365.test", 10000, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10000), "ns/event")
}
